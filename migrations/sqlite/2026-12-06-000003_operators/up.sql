-- The operators' side (contract v3): bans, the client address of a session, the audit log.
-- A banned account: its logins and refreshes are refused while disabled_at is set.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN disabled_reason TEXT;
-- Where the login that opened a session came from, for operators listing sessions.
ALTER TABLE sessions ADD COLUMN client_addr TEXT;

-- One entry per login, refresh, logout, deletion, ban... written in the transaction of the
-- change it records. Never a token, code, openid, session_key or phone number: only public
-- ids, appids, addresses and outcomes. The id orders entries and is the listing's cursor: the
-- rowid, without AUTOINCREMENT, whose sequence table is one more write per entry (the purge
-- always keeps the newest entry, so ids never go back).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    appid TEXT,
    session_id TEXT,
    client_addr TEXT,
    outcome TEXT NOT NULL,
    actor TEXT
);
-- No index but the rowid: the retention purge walks the oldest ids, which are the oldest
-- entries, and an index on the account would cost every login and refresh a random page
-- written to the WAL (measured: a third of the refresh rate); one account's history is read
-- by scanning, which on an embedded deployment's table is a fraction of a second.
