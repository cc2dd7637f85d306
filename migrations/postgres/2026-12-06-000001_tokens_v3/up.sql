-- Tokens other services verify (issue #22).

-- Refresh tokens: each session counts them. The current one is number refresh_counter; a
-- refresh spends it and moves the counter on (one row update, no table of tokens). The times
-- of the last two refreshes decide whether a spent token presented again is an answer lost on
-- the way (tolerated) or a theft signal (the session ends).
ALTER TABLE sessions ADD COLUMN refresh_counter BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refreshed_at BIGINT;
ALTER TABLE sessions ADD COLUMN prior_refreshed_at BIGINT;
-- A refresh updates no indexed column: with room left in its page the new row version goes
-- there (a HOT update) and none of the table's four indexes is written. Pages filled to 100 %
-- leave no room, and every refresh would write all four. Pages written from now on keep 10 %.
ALTER TABLE sessions SET (fillfactor = 90);

-- The asymmetric keys tokens are signed with, shared by every instance. The private half is
-- sealed under SESSION_KEY_SECRET like the session_keys. Generations are unique, so that two
-- instances rotating at the same moment make one key.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    generation BIGINT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL
);

-- Sessions that ended, for the revocation feed: written in the transaction that ends them
-- (logout, logout everywhere, deletion, merge, a stale key), stamped with the database's own
-- clock so that every instance's ends are in one order, and purged once no token of theirs can
-- live. A session may appear twice (revoked, then deleted with its account): the feed's
-- readers take an end as often as it comes.
CREATE TABLE ended_sessions (
    session_id TEXT NOT NULL,
    ended_at_ms BIGINT NOT NULL
);
CREATE INDEX ended_sessions_ended_at_ms ON ended_sessions (ended_at_ms);
