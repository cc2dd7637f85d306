-- Uploaded avatars (contract v3, "The profile, the way WeChat offers it today").
-- The stored file an account shows as its avatar; NULL when its avatar is an external URL or
-- none. Every change of avatar, deletion or merge goes through the store, which keeps this
-- column right; a file no row names is deleted from the media store (media_files).
ALTER TABLE users ADD COLUMN avatar_media TEXT;
CREATE INDEX users_avatar_media ON users (avatar_media) WHERE avatar_media IS NOT NULL;

-- Every file stored for an account, from before it is stored until it is deleted from the
-- media store: registered (created_at), attached once an account shows it (attached_at), and
-- the content check WeChat runs on it (check_trace_id), and when WeChat found it risky
-- (rejected_at: never shown again). No foreign key: a deleted account's files outlive its row
-- until they are gone from the store.
CREATE TABLE media_files (
    name TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attached_at BIGINT,
    check_trace_id TEXT,
    rejected_at BIGINT
);
CREATE INDEX media_files_check ON media_files (check_trace_id) WHERE check_trace_id IS NOT NULL;

-- Risky verdicts that arrived before their check was noted (WeChat can answer before
-- media_check_async's own answer is recorded): applied when it is, dropped after a day.
CREATE TABLE media_verdicts (
    trace_id TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL
);

-- The database media store (MEDIA_STORE unset): the files themselves, written once.
CREATE TABLE media_objects (
    name TEXT PRIMARY KEY NOT NULL,
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
