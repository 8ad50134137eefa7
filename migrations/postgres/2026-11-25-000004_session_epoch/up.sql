-- Sessions signed in before this instant are no longer valid, whatever store holds them
-- (the Redis store cannot be searched by user from a transaction).
ALTER TABLE users ADD COLUMN sessions_revoked_at TIMESTAMP;

-- Facts about this installation shared by every instance (e.g. the Redis key prefix).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
