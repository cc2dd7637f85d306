-- Back to one openid per user: each account keeps the openid of its oldest identity; sessions
-- lose their app.
ALTER TABLE sessions DROP COLUMN appid;
DROP INDEX users_unionid;
ALTER TABLE users ADD COLUMN openid TEXT;
UPDATE users SET openid = (
    SELECT openid FROM identities
    WHERE identities.user_id = users.id
    ORDER BY created_at, appid, openid
    LIMIT 1
);
UPDATE users SET openid = id WHERE openid IS NULL;
ALTER TABLE users ALTER COLUMN openid SET NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_openid_key UNIQUE (openid);
DROP TABLE identities;
