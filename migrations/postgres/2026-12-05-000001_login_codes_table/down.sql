-- The codes go back to the columns of sessions this release left in place.
UPDATE sessions SET login_code = (
    SELECT code FROM login_codes WHERE login_codes.session_id = sessions.id
), user_existed = (
    SELECT user_existed FROM login_codes WHERE login_codes.session_id = sessions.id
) WHERE id IN (SELECT session_id FROM login_codes);
DROP TABLE login_codes;
