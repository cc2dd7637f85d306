-- When each field a WeChat event may clear last changed (contract v3, "v2 rules tightened"): an
-- event changes a field only if it was made later than the field's last change, so a late or
-- replayed event never undoes a change made after it. NULL for rows from before: the row's
-- updated_at stands in for them.
ALTER TABLE users ADD COLUMN nick_name_changed_at BIGINT;
ALTER TABLE users ADD COLUMN avatar_url_changed_at BIGINT;
ALTER TABLE users ADD COLUMN phone_number_changed_at BIGINT;
