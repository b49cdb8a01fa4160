//! The one error shape of the REST API, `{"error": {"code", "field", "message"}}`, and the one
//! place domain errors become HTTP statuses. Nothing internal (SQL, driver text) reaches a client:
//! an unexpected error is logged with its cause and answered with a generic message.

use actix_web::{
    HttpResponse, ResponseError,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
};
use newsroom_domain::Error as DomainError;
use serde::Serialize;
use utoipa::ToSchema;

/// What kind of error a REST answer reports; the same codes as GraphQL's `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A parameter is missing, malformed, out of range or unknown (400).
    BadUserInput,
    /// The `Authorization` header holds a token that is refused (401).
    Unauthenticated,
    /// The caller may not do this (403).
    Forbidden,
    /// The thing named in the path does not exist or is not visible to the caller (404).
    NotFound,
    /// The request conflicts with the current state (409).
    Conflict,
    /// The partner token's request limit is reached; see `Retry-After` (429).
    RateLimited,
    /// The server failed; the cause is logged, never shown (500).
    Internal,
    /// The database cannot be reached right now; send the request again after `Retry-After`
    /// seconds (503).
    ServiceUnavailable,
}

impl ErrorCode {
    fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Every REST error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, in words a client can act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The kind of error.
    pub code: ErrorCode,
    /// The query parameter at fault, for `BAD_USER_INPUT` about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A sentence saying what was wrong.
    pub message: String,
}

/// A REST error: the status follows from the code. Handlers return it with `?`.
#[derive(Debug)]
pub struct ApiError {
    detail: ErrorDetail,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            detail: ErrorDetail {
                code,
                field: None,
                message: message.into(),
            },
            retry_after: None,
        }
    }

    /// A 400 naming the query parameter at fault: "`name` message".
    pub fn bad_parameter(name: &str, message: impl std::fmt::Display) -> Self {
        ApiError {
            detail: ErrorDetail {
                code: ErrorCode::BadUserInput,
                field: Some(name.to_owned()),
                message: format!("`{name}` {message}"),
            },
            retry_after: None,
        }
    }

    /// A 404 saying what was not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// A 429 telling the client when to come back.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "this token's request limit is reached; retry after {retry_after_secs} seconds"
                ),
            )
        }
    }

    /// A 500: the cause is logged, the client reads a generic message.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "REST request failed");
        ApiError::new(ErrorCode::Internal, "internal error; it has been logged")
    }

    /// A 503 with `Retry-After`: a store the request needs (the database, Redis) did not answer
    /// in time. The cause is logged; the client reads `message`.
    pub fn unavailable(err: impl std::fmt::Display, message: impl Into<String>) -> Self {
        tracing::warn!(error = %err, "REST request failed: a store is unavailable");
        ApiError {
            retry_after: Some(u64::from(crate::ops::RETRY_AFTER_SECS)),
            ..ApiError::new(ErrorCode::ServiceUnavailable, message)
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.detail.code, self.detail.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.detail.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(wait) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, wait.to_string()));
        }
        if self.detail.code == ErrorCode::Unauthenticated {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            ));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.detail.code,
                field: self.detail.field.clone(),
                message: self.detail.message.clone(),
            },
        })
    }
}

/// A domain error as a REST error. Validation names the query parameter: the domain's `query`
/// is `q` here, and `filter.channel` is `channel`.
impl From<&DomainError> for ApiError {
    fn from(err: &DomainError) -> Self {
        match err {
            DomainError::Validation { field, message } => {
                let field = match field.as_str() {
                    "query" => "q",
                    other => other.strip_prefix("filter.").unwrap_or(other),
                };
                ApiError::bad_parameter(field, message)
            }
            DomainError::NotFound { entity } => ApiError::not_found(format!("no such {entity}")),
            DomainError::Forbidden(message) => ApiError::new(ErrorCode::Forbidden, message),
            DomainError::Unauthenticated(message) => {
                ApiError::new(ErrorCode::Unauthenticated, message)
            }
            DomainError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            DomainError::RateLimited { retry_after_secs } => {
                ApiError::rate_limited(*retry_after_secs)
            }
            DomainError::Database(_) if err.is_unavailable() => {
                ApiError::unavailable(err, crate::graphql::errors::UNAVAILABLE_MESSAGE)
            }
            DomainError::Database(_) => ApiError::internal(err),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        ApiError::from(&err)
    }
}

/// A 500 in the REST shape, its cause logged.
pub(crate) fn internal(err: impl std::fmt::Display) -> HttpResponse {
    ApiError::internal(err).error_response()
}
