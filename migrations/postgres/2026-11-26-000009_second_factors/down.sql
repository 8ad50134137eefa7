ALTER TABLE refresh_tokens DROP COLUMN auth_time;
DROP TABLE pending_logins;
DROP TABLE recovery_codes;
DROP TABLE totp_secrets;
ALTER TABLE users DROP COLUMN service;
