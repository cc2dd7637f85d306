-- The operators' side (contract v3): bans, the client address of a session, the audit log.
-- A banned account: its logins and refreshes are refused while disabled_at is set.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN disabled_reason TEXT;
-- Where the login that opened a session came from, for operators listing sessions.
ALTER TABLE sessions ADD COLUMN client_addr TEXT;

-- One entry per login, refresh, logout, deletion, ban... written in the transaction of the
-- change it records. Never a token, code, openid, session_key or phone number: only public
-- ids, appids, addresses and outcomes. The id orders entries and is the listing's cursor.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    appid TEXT,
    session_id TEXT,
    client_addr TEXT,
    outcome TEXT NOT NULL,
    actor TEXT
);
-- One account's history. No index on `at`: the retention purge walks the oldest ids (the
-- primary key), which are the oldest entries, and every index is a cost of every login.
CREATE INDEX audit_log_user ON audit_log (user_id, id) WHERE user_id IS NOT NULL;
