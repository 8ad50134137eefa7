-- The change feed: every committed change that ends credentials or alters the facts cached
-- about a user, in commit order. Each instance reads the rows after the last one it saw and
-- drops what they name from its caches; rows older than an hour are purged.
-- AUTOINCREMENT: a sequence number is never reused, even after the newest rows are purged.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL,
    user_id BIGINT,
    subject TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);
