//! The internal failures that both surfaces share: a full hashing queue, a lock on the
//! username or client IP, a backing service that does not answer, and everything unexpected.
//! The HTML (`web::error::PageError`) and JSON (`api::error::ApiError`) error types render
//! them; causes are logged, never sent.

use crate::db::DbError;

/// Seconds a client should wait before retrying after a 503 (full hashing queue, store down).
pub const BUSY_RETRY_AFTER_SECS: u32 = 2;

/// A request that could not be served for a reason that is not the client's input.
#[derive(thiserror::Error)]
pub enum Failure {
    /// The password hashing queue is full: 503 with `Retry-After`.
    #[error("too many password checks at once")]
    Busy,
    /// Too many failed logins for the username or client IP: 429 with `Retry-After`.
    #[error("too many failed logins; retry in {retry_after} s")]
    Locked { retry_after: u64 },
    /// A backing service (database, session store) does not answer: 503.
    #[error("temporarily unavailable")]
    Unavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unexpected(e) => write!(f, "{e:?}"),
            other => write!(f, "{other}"),
        }
    }
}

impl From<DbError> for Failure {
    /// A database that does not answer is a 503 (the client may retry), anything else a 500.
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the database does not answer");
            Self::Unavailable
        } else {
            Self::Unexpected(e.into())
        }
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Self::from(DbError::from(e))
    }
}
