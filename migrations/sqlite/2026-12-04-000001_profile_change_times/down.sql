ALTER TABLE users DROP COLUMN phone_number_changed_at;
ALTER TABLE users DROP COLUMN avatar_url_changed_at;
ALTER TABLE users DROP COLUMN nick_name_changed_at;
