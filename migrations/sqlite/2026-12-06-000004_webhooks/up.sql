-- Webhooks (contract v3): the outbox. A change records one row per endpoint that wants its
-- event, in the change's own transaction, so nothing is lost when the server stops or the
-- receiver is down. A delivered row is deleted; one given up after 24 hours of failures keeps
-- failed_at for an operator to read and retry.
CREATE TABLE webhook_outbox (
    -- AUTOINCREMENT: a delivered row is deleted, and a rowid used again would give a new event
    -- the message id (`webhook-id`) of one a receiver already saw, and dropped as a duplicate.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The endpoint's key (its URL as configured).
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
-- What is due, for the dispatchers.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE failed_at IS NULL;
-- Whether an older delivery of the same account to the same endpoint still waits.
CREATE INDEX webhook_outbox_order ON webhook_outbox (endpoint, user_id, id) WHERE failed_at IS NULL;
