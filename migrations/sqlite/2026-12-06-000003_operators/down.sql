DROP TABLE audit_log;
ALTER TABLE sessions DROP COLUMN client_addr;
ALTER TABLE users DROP COLUMN disabled_reason;
ALTER TABLE users DROP COLUMN disabled_at;
