DROP INDEX sessions_login_code;
ALTER TABLE sessions DROP COLUMN user_existed;
ALTER TABLE sessions DROP COLUMN login_code;
