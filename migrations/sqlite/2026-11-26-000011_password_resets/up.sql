-- Admin tools (issue 12): one-time password-reset links, and sign-in counts per hour for the
-- admin overview (sqlite).

-- A reset link an administrator issued: only the SHA-256 (hex) of its random token (32 bytes)
-- is kept. At most one per user (issuing a new link replaces the old one); used once
-- (used_at, set by a compare-and-swap), 30 minutes.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX password_resets_user_id ON password_resets (user_id);

-- Completed and failed sign-ins (every surface) per UTC hour, for the admin overview's chart:
-- one small upsert per sign-in, correct across instances.
CREATE TABLE sign_in_stats (
    hour TIMESTAMP PRIMARY KEY NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0
);
