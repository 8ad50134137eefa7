-- Passkeys and security keys (WebAuthn, issue 11 item 2): the registered credentials, and the
-- ceremonies in flight (sqlite).

-- One registered authenticator of a user, named by the user.
-- credential_id: the WebAuthn credential id, base64url (unique: one credential, one account).
-- user_handle: the WebAuthn user handle given at registration (a random UUID per user, never
-- the user id), which a username-less sign-in returns.
-- credential: webauthn-rs's Passkey as JSON (public key, sign counter, backup flags); only
-- public material. sign_count repeats its counter for a compare-and-swap on use.
-- discoverable: registered with a resident key requested (usable without a username).
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    user_handle TEXT NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    discoverable BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE UNIQUE INDEX passkeys_credential_id ON passkeys (credential_id);
CREATE UNIQUE INDEX passkeys_user_name ON passkeys (user_id, name);

-- A WebAuthn ceremony in flight: its challenge and the rest of webauthn-rs's state (JSON),
-- keyed by the SHA-256 (hex) of a random id that the browser sends back; single use (deleted
-- when used), at most 5 minutes.
-- purpose: 'register' | 'second_factor' | 'sign_in'.
-- owner: what the outstanding ceremonies are counted against ('user:ID', 'pending:HASH' or,
-- for an anonymous username-less sign-in, 'ip:ADDRESS').
-- pending_hash: a second factor's pending sign-in. name: a registration's chosen name.
CREATE TABLE passkey_challenges (
    id_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    owner TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    pending_hash TEXT,
    name TEXT,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX passkey_challenges_owner ON passkey_challenges (owner, expires_at);
CREATE INDEX passkey_challenges_expires_at ON passkey_challenges (expires_at);
