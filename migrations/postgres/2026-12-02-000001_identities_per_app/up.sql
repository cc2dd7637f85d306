-- Several mini programs, one account per person. A user (account) is no longer keyed by an
-- openid: each (appid, openid) pair is an identity of one account, and an account may hold the
-- person's unionid, the same in every app of the Open Platform account.
--
-- Existing users become accounts with one identity each, and existing sessions stay as they
-- are; both get the appid '' here, which the server replaces with WECHAT_APPID at start-up
-- (the app every existing row came from). No user, session or sealed value changes otherwise,
-- so tokens issued before keep working.

CREATE TABLE identities (
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE INDEX identities_user_id ON identities (user_id);

INSERT INTO identities (appid, openid, user_id, created_at)
SELECT '', openid, id, created_at FROM users;

ALTER TABLE users DROP COLUMN openid;

-- One app gives one openid per person, so a unionid cannot have been on two accounts; should it
-- be, the newer ones let go of it, and their next login merges them into the oldest.
UPDATE users SET unionid = NULL
WHERE unionid IS NOT NULL AND EXISTS (
    SELECT 1 FROM users AS older
    WHERE older.unionid = users.unionid
      AND (older.created_at, older.id) < (users.created_at, users.id)
);
CREATE UNIQUE INDEX users_unionid ON users (unionid);

ALTER TABLE sessions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
