-- Several mini programs, one account per person. A user (account) is no longer keyed by an
-- openid: each (appid, openid) pair is an identity of one account, and an account may hold the
-- person's unionid, the same in every app of the Open Platform account.
--
-- Existing users become accounts with one identity each, and existing sessions stay as they
-- are; both get the appid '' here, which the server replaces with WECHAT_APPID at start-up
-- (the app every existing row came from). No user, session or sealed value changes otherwise,
-- so tokens issued before keep working.
--
-- SQLite cannot drop a UNIQUE column, so users is rebuilt. The migration runs in a transaction,
-- where foreign_keys cannot be switched off; with the checks deferred to the commit, the old
-- table is dropped under the sessions that reference it (no reference has an ON DELETE
-- action), and re-inserting every user into the new table satisfies them again.
PRAGMA defer_foreign_keys = ON;

CREATE TEMPORARY TABLE users_before AS SELECT * FROM users;
DROP TABLE users;

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    unionid TEXT UNIQUE,
    nick_name TEXT,
    avatar_url TEXT,
    gender INTEGER,
    phone_number TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One app gives one openid per person, so a unionid cannot have been on two accounts; should it
-- be, the newer ones let go of it, and their next login merges them into the oldest.
INSERT INTO users (id, unionid, nick_name, avatar_url, gender, phone_number, created_at, updated_at)
SELECT id,
       CASE WHEN EXISTS (
           SELECT 1 FROM users_before AS older
           WHERE older.unionid = users_before.unionid
             AND (older.created_at < users_before.created_at
                  OR (older.created_at = users_before.created_at AND older.id < users_before.id))
       ) THEN NULL ELSE unionid END,
       nick_name, avatar_url, gender, phone_number, created_at, updated_at
FROM users_before;

CREATE TABLE identities (
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE INDEX identities_user_id ON identities (user_id);
INSERT INTO identities (appid, openid, user_id, created_at)
SELECT '', openid, id, created_at FROM users_before;

DROP TABLE users_before;

ALTER TABLE sessions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
