-- The digests of login codes move out of sessions into a table of their own (issue #21).
-- They are asked for only within CODE_REPLAY_SECS of a login (a copy of a code reaching
-- another instance), but as a column of sessions their index held one random key per session
-- ever opened: every login wrote to a random page of an index as large as the sessions table
-- (on PostgreSQL, a whole page in the WAL the first time each is written after a checkpoint).
-- Here they live only for the replay window and a minute's margin: the server purges them
-- every 5 s, so the table and its index stay the size of about a minute of logins.
-- A code's row belongs to its session and goes with it, deleted in the same transaction when
-- the session is purged or deleted with its account. Not by a foreign key: its check would
-- run a query per login (about a tenth of PostgreSQL's CPU per login went to foreign-key
-- checks), and only the store's own deletions need to follow it.
CREATE TABLE login_codes (
    session_id TEXT PRIMARY KEY NOT NULL,
    -- hex SHA-256 of the appid, the code and the first sender's address; never the code
    code TEXT NOT NULL,
    -- whether the login found an existing account (the first answer's "created" is its negation)
    user_existed BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_codes_code ON login_codes (code);
CREATE INDEX login_codes_created_at ON login_codes (created_at);

-- Codes of the last six minutes (the longest CODE_REPLAY_SECS, 300, and a margin) are carried
-- over, so a replay that straddles the upgrade is still answered.
INSERT INTO login_codes (session_id, code, user_existed, created_at)
SELECT id, login_code, COALESCE(user_existed, TRUE), created_at FROM sessions
WHERE login_code IS NOT NULL AND created_at >= extract(epoch FROM now())::bigint - 360;

-- sessions.login_code and sessions.user_existed, and the index on login_code, stay for now:
-- during a rolling upgrade, instances of the previous release still write and read them (and
-- would fail every login without them). This release no longer writes them (a NULL goes to
-- the right edge of the index: no random page), and a later release drops them.
