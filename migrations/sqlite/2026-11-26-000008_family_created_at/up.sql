-- When the refresh-token family started (its first sign-in), carried over by rotation: past
-- token.refresh_max_age from it the family cannot be refreshed, however recently it rotated.
-- Existing rows get their family's start from the sign-in check time that every row of a
-- family carries (the first rows of a long-lived family may already have been purged), else
-- the family's earliest row. NULL only for a row written by an older binary during an upgrade:
-- the row's checked_at (else created_at) stands in.
ALTER TABLE refresh_tokens ADD COLUMN family_created_at TIMESTAMP;
UPDATE refresh_tokens SET family_created_at = (
    SELECT MIN(COALESCE(f.checked_at, f.created_at))
    FROM refresh_tokens f
    WHERE f.family_id = refresh_tokens.family_id
);
