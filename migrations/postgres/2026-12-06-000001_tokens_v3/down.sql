DROP TABLE ended_sessions;
DROP TABLE signing_keys;
ALTER TABLE sessions RESET (fillfactor);
ALTER TABLE sessions DROP COLUMN prior_refreshed_at;
ALTER TABLE sessions DROP COLUMN refreshed_at;
ALTER TABLE sessions DROP COLUMN refresh_counter;
