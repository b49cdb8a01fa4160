//! The one error type of the domain. Services return it; the gateway maps each variant to a
//! GraphQL `extensions.code` (and later an HTTP status) in one place, and never shows a client the
//! text of a [`Error::Database`].

use sea_orm::DbErr;

/// What went wrong in a domain operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named thing does not exist (or is not visible to the caller).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, for example `article`.
        entity: &'static str,
    },
    /// Input that breaks a rule; `field` names the argument or field at fault.
    #[error("{field}: {message}")]
    Validation {
        /// The argument or field at fault, as the client named it (`first`, `filter.channel`).
        field: String,
        /// What is wrong with it, in words a client can act on.
        message: String,
    },
    /// The change conflicts with the current state (a stale version, a duplicate).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The caller could not be identified (wrong credentials, bad or revoked token).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Too many attempts; try again after this many seconds.
    #[error("too many attempts; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// The database failed; the detail is logged, never shown to a client.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl Error {
    /// A unique-constraint violation as the validation error on `field` that the check before
    /// the write would have given (two writers raced past it); any other error as it is.
    pub fn unique_or_database(err: DbErr, field: &str, message: &str) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                Error::validation(field, message)
            }
            _ => Error::Database(err),
        }
    }

    /// Whether this is the database being unreachable or refusing work for now (see
    /// [`crate::db::is_unavailable`]): the request may succeed if tried again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Database(e) if crate::db::is_unavailable(e))
    }

    /// A validation error naming `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(err: sea_orm::TransactionError<Error>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => Error::Database(e),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

/// Result of a domain operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
