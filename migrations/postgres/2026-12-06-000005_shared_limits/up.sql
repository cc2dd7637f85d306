-- Rate limits and quota pauses counted once for every instance (GCRA: one row per key holding
-- its theoretical arrival time, unix milliseconds). UNLOGGED: a counter needs no durability, so
-- spending one logs only its commit record and waits for no fsync; a crash empties the table,
-- which only forgives the counts of the last minute.
-- Fillfactor 50: a counter is updated on every attempt, and with room on its page the new
-- version goes beside the old one without touching the key's index (a HOT update).
CREATE UNLOGGED TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
) WITH (fillfactor = 50);
