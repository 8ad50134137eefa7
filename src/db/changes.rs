//! Functions over the `changes` table: the change feed behind the caches (`auth::cache`).
//!
//! Every committed change that ends credentials or alters the facts cached about a user is
//! recorded here, in the transaction that makes it, and every instance (and nothing else)
//! reads the rows after the last one it saw. Rows are numbered in commit order: SQLite runs
//! one writer at a time, and on PostgreSQL [`record`] takes a transaction-scoped advisory lock
//! first, so a reader that saw row `n` can never later find a row below `n` committing (a plain
//! sequence would allow that: numbers are handed out before commit, in any order).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::changes as ch;
use crate::domain::clock::now;

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Every session, refresh-token family and access token of the user issued so far ended
    /// (password change, disable, delete, demotion, sign-out everywhere).
    UserRevoked { user_id: i64 },
    /// Facts cached about the user changed without ending anything (promotion, re-enable).
    UserChanged { user_id: i64 },
    /// One refresh-token family ended (logout, RFC 7009 revocation, reuse detected).
    Family { family_id: String, user_id: i64 },
    /// One session ended (logout, "end this session"); `id` is its stored id (SHA-256 hex).
    Session { id: String },
    /// The key store changed (a key rotated in, was retired, imported or re-sealed): every
    /// instance loads its signing keys again.
    Keys,
}

impl Change {
    fn parts(&self) -> (&'static str, Option<i64>, Option<&str>) {
        match self {
            Self::UserRevoked { user_id } => ("user_revoked", Some(*user_id), None),
            Self::UserChanged { user_id } => ("user_changed", Some(*user_id), None),
            Self::Family { family_id, user_id } => ("family", Some(*user_id), Some(family_id)),
            Self::Session { id } => ("session", None, Some(id)),
            Self::Keys => ("keys", None, None),
        }
    }

    /// The change a row holds; `None` for a kind this version does not know (a newer
    /// instance wrote it): the reader then flushes its caches rather than guess.
    fn from_row(kind: &str, user_id: Option<i64>, subject: Option<String>) -> Option<Self> {
        Some(match kind {
            "user_revoked" => Self::UserRevoked { user_id: user_id? },
            "user_changed" => Self::UserChanged { user_id: user_id? },
            "family" => Self::Family {
                family_id: subject?,
                user_id: user_id?,
            },
            "session" => Self::Session { id: subject? },
            "keys" => Self::Keys,
            _ => return None,
        })
    }
}

/// A change as read from the feed: its number, and what it says (`None`: unknown kind).
pub type FeedEntry = (i64, Option<Change>);

/// Arbitrary, fixed: the advisory lock that orders writers of the feed on PostgreSQL.
const FEED_LOCK: i64 = 0x6761_7465_6665_6564; // "gatefeed"

/// Records `change`. Call it inside the write transaction of the change itself (last, so the
/// PostgreSQL lock is held briefly), so that the row commits if and only if the change does.
pub fn record(conn: &mut AnyConnection, change: &Change) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(FEED_LOCK)
            .execute(pg)?;
    }
    let (kind, user_id, subject) = change.parts();
    diesel::insert_into(ch::table)
        .values((
            ch::kind.eq(kind),
            ch::user_id.eq(user_id),
            ch::subject.eq(subject),
            ch::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The number of the newest recorded change (0 when none).
pub fn latest(conn: &mut AnyConnection) -> QueryResult<i64> {
    let seq: Option<i64> = ch::table
        .select(diesel::dsl::max(ch::seq))
        .get_result(conn)?;
    Ok(seq.unwrap_or(0))
}

/// Up to `limit` changes after `after`, oldest first.
pub fn after(conn: &mut AnyConnection, after: i64, limit: i64) -> QueryResult<Vec<FeedEntry>> {
    let rows: Vec<(i64, String, Option<i64>, Option<String>)> = ch::table
        .filter(ch::seq.gt(after))
        .order(ch::seq.asc())
        .limit(limit)
        .select((ch::seq, ch::kind, ch::user_id, ch::subject))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(seq, kind, user_id, subject)| (seq, Change::from_row(&kind, user_id, subject)))
        .collect())
}

/// Deletes changes recorded before `before`; returns how many. An instance that has not read
/// the feed for that long has stopped trusting its caches long ago and flushes them.
pub fn purge_before(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(ch::table.filter(ch::created_at.lt(before))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_as_itself() {
        for change in [
            Change::UserRevoked { user_id: 7 },
            Change::UserChanged { user_id: 8 },
            Change::Family {
                family_id: "f".into(),
                user_id: 9,
            },
            Change::Session { id: "ab".into() },
            Change::Keys,
        ] {
            let (kind, user_id, subject) = change.parts();
            let back = Change::from_row(kind, user_id, subject.map(str::to_string));
            assert_eq!(back, Some(change));
        }
        assert_eq!(
            Change::from_row("key_retired", None, Some("k".into())),
            None
        );
    }
}
