-- The key store: JWT signing keys and the session cookie key, each private part sealed with
-- AES-256-GCM under the master secret (keys.master_secret_file), so that every instance with
-- the database URL and that secret uses the same keys (PostgreSQL).
-- state: 'next' (published, not signing yet), 'active' (signing, or verifying what it signed
-- until those tokens expired), 'retired' (neither).
CREATE TABLE key_store (
    kid TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    state TEXT NOT NULL,
    public_pem TEXT,
    sealed BYTEA NOT NULL,
    sealed_with TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    activates_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);
CREATE INDEX key_store_purpose_state ON key_store (purpose, state);
