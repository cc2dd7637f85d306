-- Webhooks (contract v3): the outbox. A change records one row per endpoint that wants its
-- event, in the change's own transaction, so nothing is lost when the server stops or the
-- receiver is down. A delivered row is deleted; one given up after 24 hours of failures keeps
-- failed_at for an operator to read and retry.
CREATE TABLE webhook_outbox (
    -- The rowid: a delivered row's may be used again, which is why the webhook-id is not it.
    id INTEGER PRIMARY KEY,
    -- The Standard Webhooks webhook-id: msg_ and a random UUID, the same on every attempt,
    -- never the same for two events (ids of two databases sending to one receiver can meet).
    message_id TEXT NOT NULL,
    -- The endpoint's key: ep_ and a digest of its URL (a URL may hold a token; this never).
    endpoint TEXT NOT NULL,
    -- The account the event is about: one account's deliveries to one endpoint keep order.
    user_id TEXT,
    event_type TEXT NOT NULL,
    -- The JSON body, as signed and sent (public ids only).
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt is due, and until when a dispatcher's claim holds it.
    next_at BIGINT NOT NULL,
    leased_until BIGINT NOT NULL DEFAULT 0,
    -- The start of its 24 hours of retries: its recording, or an operator's retry.
    window_start BIGINT NOT NULL,
    last_error TEXT,
    failed_at BIGINT
);
-- What is due for an endpoint, for its dispatchers: a failing delivery pushes its account's
-- newer ones back to its own retry, so what is due is mostly what can be sent.
CREATE INDEX webhook_outbox_due ON webhook_outbox (endpoint, next_at, id) WHERE failed_at IS NULL;
-- Whether an older delivery of the same account to the same endpoint still waits.
CREATE INDEX webhook_outbox_order ON webhook_outbox (endpoint, user_id, id) WHERE failed_at IS NULL;
-- The given-up ones, for operators, their count, and their retention.
CREATE INDEX webhook_outbox_failed ON webhook_outbox (failed_at) WHERE failed_at IS NOT NULL;
