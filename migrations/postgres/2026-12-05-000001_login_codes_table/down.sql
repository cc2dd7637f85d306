ALTER TABLE sessions ADD COLUMN login_code TEXT;
ALTER TABLE sessions ADD COLUMN user_existed BOOLEAN;
CREATE INDEX sessions_login_code ON sessions (login_code);
UPDATE sessions SET login_code = (
    SELECT code FROM login_codes WHERE login_codes.session_id = sessions.id LIMIT 1
), user_existed = (
    SELECT user_existed FROM login_codes WHERE login_codes.session_id = sessions.id LIMIT 1
) WHERE id IN (SELECT session_id FROM login_codes);
DROP TABLE login_codes;
