ALTER TABLE refresh_tokens DROP COLUMN checked_at;
