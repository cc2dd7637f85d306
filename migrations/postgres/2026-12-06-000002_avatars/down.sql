DROP TABLE media_objects;
DROP TABLE media_verdicts;
DROP TABLE media_files;
DROP INDEX users_avatar_media;
ALTER TABLE users DROP COLUMN avatar_media;
