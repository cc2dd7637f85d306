-- A copy of a login code that reaches another instance gets the first answer (contract v2,
-- "Limits"): the session remembers a digest of the code that opened it (hex SHA-256 of the
-- appid and the code; never the code) and whether that login found an existing account.
-- Both go with the session when it is purged or its account deleted.
ALTER TABLE sessions ADD COLUMN login_code TEXT;
ALTER TABLE sessions ADD COLUMN user_existed BOOLEAN;
CREATE INDEX sessions_login_code ON sessions (login_code);
