DROP TABLE meta;
ALTER TABLE users DROP COLUMN sessions_revoked_at;
