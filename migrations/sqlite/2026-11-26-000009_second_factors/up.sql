-- Second factors (issue 11): TOTP secrets, recovery codes, sign-ins waiting for their second
-- step, and service accounts (sqlite).

-- A service account may use HTTP Basic with its password alone, second factor or not.
ALTER TABLE users ADD COLUMN service BOOLEAN NOT NULL DEFAULT 0;

-- One TOTP secret per user, sealed with AES-256-GCM under the master secret
-- (keys.master_secret_file; the associated data names the user), never stored in the clear.
-- confirmed_at NULL: enrolment started, not active until a valid code confirms it.
-- last_step: the last accepted time step (Unix time / 30); only a later one is accepted, by a
-- compare-and-swap, so one code is accepted once, on every instance.
CREATE TABLE totp_secrets (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    sealed_with TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    last_step BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes, stored as SHA-256 (hex) only.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX recovery_codes_user_code ON recovery_codes (user_id, code_hash);

-- A password checked, its sign-in waiting for the second step (or, under auth.require_mfa, for
-- enrolment): keyed by the SHA-256 (hex) of the random value the browser's cookie or the API
-- client's mfa_token carries; single use (used_at), at most 5 minutes.
-- purpose: 'second_factor' | 'enrolment'; door: 'html' | 'api'.
CREATE TABLE pending_logins (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    door TEXT NOT NULL,
    next_path TEXT,
    checked_at TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX pending_logins_user_id ON pending_logins (user_id);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

-- When the sign-in that started a refresh-token family completed (every factor): the access
-- tokens' auth_time, carried over by rotation (a refresh is not a sign-in). NULL for rows from
-- before: checked_at stands in.
ALTER TABLE refresh_tokens ADD COLUMN auth_time TIMESTAMP;
