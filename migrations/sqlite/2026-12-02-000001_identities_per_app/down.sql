-- Back to one openid per user: each account keeps the openid of its oldest identity; sessions
-- lose their app.
PRAGMA defer_foreign_keys = ON;

ALTER TABLE sessions DROP COLUMN appid;

CREATE TEMPORARY TABLE users_before AS
SELECT users.*,
       COALESCE((SELECT openid FROM identities
                 WHERE identities.user_id = users.id
                 ORDER BY created_at, appid, openid LIMIT 1), users.id) AS openid
FROM users;
DROP TABLE identities;
DROP TABLE users;
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    openid TEXT NOT NULL UNIQUE,
    unionid TEXT,
    nick_name TEXT,
    avatar_url TEXT,
    gender INTEGER,
    phone_number TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO users (id, openid, unionid, nick_name, avatar_url, gender, phone_number, created_at, updated_at)
SELECT id, openid, unionid, nick_name, avatar_url, gender, phone_number, created_at, updated_at
FROM users_before;
DROP TABLE users_before;
