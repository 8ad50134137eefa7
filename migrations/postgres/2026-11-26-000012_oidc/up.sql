-- The OpenID Connect provider (issue 13, SPEC §11): registered clients, authorization codes,
-- users' consents, and the refresh-token families issued to clients (postgres).

-- A registered client (relying party).
-- client_id: random, public. secret_hash: SHA-256 (hex) of the client secret, NULL for a public
-- client. The secret is 256 random bits, so a fast hash is as strong as bcrypt here.
-- redirect_uris / post_logout_uris: one absolute URI per line, matched exactly.
-- skip_consent: a trusted client; users are not asked.
CREATE TABLE oidc_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uris TEXT NOT NULL,
    post_logout_uris TEXT NOT NULL DEFAULT '',
    skip_consent BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    secret_rotated_at TIMESTAMP
);

-- An authorization code, stored as the SHA-256 (hex) of the code: single use (used_at set by a
-- compare-and-swap), 60 seconds, bound to its client, redirect URI, PKCE challenge, nonce and
-- user. family_id: the refresh-token family its exchange started, so that presenting it again
-- revokes what it issued. session_ref: the public id of the browser session that approved it.
-- amr: space-separated authentication methods of the sign-in.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    scope TEXT NOT NULL,
    auth_time TIMESTAMP NOT NULL,
    amr TEXT NOT NULL,
    session_ref TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    family_id TEXT
);
CREATE INDEX oidc_codes_expires_at ON oidc_codes (expires_at);

-- A user's consent to a client: the scopes granted (space-separated).
CREATE TABLE oidc_grants (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oidc_grants_client ON oidc_grants (client_id);

-- A refresh-token family issued to a client (refresh_tokens.family_id): refreshing it needs that
-- client's authentication, and its access tokens carry the client's audience and scopes.
CREATE TABLE oidc_families (
    family_id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oidc_families_client_user ON oidc_families (client_id, user_id);
