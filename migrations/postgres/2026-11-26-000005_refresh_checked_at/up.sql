-- When the credentials behind a refresh-token family were checked (the sign-in that started
-- it, carried over by rotation): a family checked before the user's last password change or
-- revocation is refused, even if it was created after it. NULL for families from before this
-- column: their creation time stands in.
ALTER TABLE refresh_tokens ADD COLUMN checked_at TIMESTAMP;
