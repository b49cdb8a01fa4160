//! The one place where errors become what a GraphQL client sees: every error carries
//! `extensions.code`, and nothing internal (SQL, driver text, paths) ever leaves the server.

use std::sync::Arc;

use async_graphql::{ErrorExtensions, Response, ServerError};
use newsroom_domain::Error as DomainError;

/// The codes a client can rely on in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// No or an invalid token.
    Unauthenticated,
    /// The caller may not do this.
    Forbidden,
    /// No such thing.
    NotFound,
    /// An argument is wrong; `extensions.field` names it.
    BadUserInput,
    /// The change conflicts with the current state.
    Conflict,
    /// Too many requests.
    RateLimited,
    /// Our fault; the detail is in the server log.
    Internal,
    /// The database (or Redis) cannot be reached right now; the request may be sent again
    /// shortly. The HTTP answer is `503` with `Retry-After`.
    ServiceUnavailable,
    /// An automatic persisted query's hash this server does not know: send the query with it.
    PersistedQueryNotFound,
    /// In allow-list mode, an operation that is not registered.
    PersistedQueryNotInList,
}

impl Code {
    /// The code as it appears in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Conflict => "CONFLICT",
            Code::RateLimited => "RATE_LIMITED",
            Code::Internal => "INTERNAL",
            Code::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Code::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
        }
    }
}

/// An error with a code.
pub fn coded(code: Code, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// A `BAD_USER_INPUT` error naming the argument at fault in `extensions.field`.
pub fn bad_input(field: &str, message: impl std::fmt::Display) -> async_graphql::Error {
    let field = field.to_owned();
    async_graphql::Error::new(format!("`{field}` {message}")).extend_with(move |_, e| {
        e.set("code", Code::BadUserInput.as_str());
        e.set("field", field.as_str());
    })
}

const INTERNAL_MESSAGE: &str = "internal error; it has been logged";

/// What a client reads when the database cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str =
    "the database is unavailable right now; try again in a few seconds";

/// Whether `error` carries `code`.
pub fn has_code(error: &ServerError, code: Code) -> bool {
    error
        .extensions
        .as_ref()
        .and_then(|ext| ext.get("code"))
        .is_some_and(|c| *c == async_graphql::Value::from(code.as_str()))
}

/// Converts a domain error. Database errors are logged with their cause and replaced by a
/// generic message.
pub fn from_domain(err: DomainError) -> async_graphql::Error {
    from_domain_ref(&err)
}

/// Converts a domain error held by reference (a dataloader or cache shares one among callers).
pub fn from_domain_ref(err: &DomainError) -> async_graphql::Error {
    match err {
        DomainError::NotFound { entity } => coded(Code::NotFound, format!("{entity} not found")),
        DomainError::Validation { field, message } => bad_input(field, message),
        DomainError::Conflict(message) => coded(Code::Conflict, message.clone()),
        DomainError::Forbidden(message) => coded(Code::Forbidden, message.clone()),
        DomainError::Unauthenticated(message) => coded(Code::Unauthenticated, message.clone()),
        DomainError::RateLimited { retry_after_secs } => {
            let retry_after_secs = *retry_after_secs;
            coded(
                Code::RateLimited,
                format!("too many attempts; retry after {retry_after_secs} seconds"),
            )
            .extend_with(move |_, e| e.set("retryAfter", retry_after_secs))
        }
        DomainError::Database(cause) if err.is_unavailable() => {
            tracing::warn!(error = %cause, "database unavailable while resolving a GraphQL field");
            coded(Code::ServiceUnavailable, UNAVAILABLE_MESSAGE)
        }
        DomainError::Database(cause) => {
            tracing::error!(error = %cause, "database error while resolving a GraphQL field");
            coded(Code::Internal, INTERNAL_MESSAGE)
        }
    }
}

/// `.gql()` on domain results, so that a domain error is never turned into a client message by
/// async-graphql's blanket `From<Display>` (which would show its text).
pub trait GqlResultExt<T> {
    /// Maps the error through [`from_domain`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T, DomainError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(from_domain)
    }
}

impl<T> GqlResultExt<T> for Result<T, Arc<DomainError>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|err| from_domain_ref(&err))
    }
}

/// The safety net over a whole response: every error must carry a code. async-graphql's own
/// parse, validation and argument-coercion errors are the client's fault and become
/// `BAD_USER_INPUT`; any other uncoded error from a resolver is unexpected, so it is logged and
/// its text replaced.
pub fn ensure_codes(response: &mut Response) {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        // A value of the wrong type inside an input object given as a variable passes
        // validation (a custom scalar such as `DateTime` is checked only when it is read) and
        // fails while the resolver reads its arguments, in async-graphql's own words:
        // `Expected input type "DateTime", found 1593590400. (occurred while parsing "...")`.
        let client_fault = error.path.is_empty()
            || error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value for argument")
            || error.message.starts_with("Expected input type")
            || error.message.contains("(occurred while parsing \"");
        if client_fault {
            set_code(error, Code::BadUserInput);
        } else {
            tracing::error!(message = %error.message, path = ?error.path, "uncoded resolver error");
            error.message = INTERNAL_MESSAGE.into();
            set_code(error, Code::Internal);
        }
    }
}

fn set_code(error: &mut ServerError, code: Code) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
}
