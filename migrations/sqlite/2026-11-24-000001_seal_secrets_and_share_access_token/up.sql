-- Session keys are now sealed (AES-256-GCM) by the server before they are stored. Keys stored
-- in plain text before this migration are wiped rather than kept readable: those users log in
-- again before their open data can be decrypted.
UPDATE sessions SET session_key = '' WHERE session_key NOT LIKE 'v1.%';

-- One row per mini program: the WeChat access token every instance shares (sealed), its
-- use-until time, the lease an instance takes while it fetches a new one, and how many
-- fetches were made in all, so quota burn is visible.
CREATE TABLE access_tokens (
    appid TEXT PRIMARY KEY NOT NULL,
    token TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    fetches BIGINT NOT NULL DEFAULT 0
);
