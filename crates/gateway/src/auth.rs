//! Authentication: signing and checking JWTs, and turning a request's `Authorization` header
//! into a [`Caller`].
//!
//! The algorithm is pinned by configuration and is the only one accepted; `iss`, `aud`, `sub`,
//! `exp`, `nbf` and `iat` are required. Expiry and not-before are checked here against the
//! application's clock (jsonwebtoken would check them against the system clock, and checks `nbf`
//! only when asked). A long-lived API token is also looked up by its `jti` on every request, so a
//! revoked one is refused at once; every token's user is looked up, so a disabled user is
//! refused at once too.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use newsroom_domain::{
    articles::Audience,
    entities::{Role, api_token, user},
    tokens, users,
};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, Environment, JwtAlgorithm};

/// The shortest HS256 secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Tolerated clock difference between servers, in seconds.
const LEEWAY_SECS: i64 = 5;

/// What kind of token a JWT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Issued by `login`; short-lived, not stored.
    Session,
    /// Issued by `issueApiToken`; long-lived, stored by `jti`, revocable.
    Api,
}

/// The claims every token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's role when the token was issued (the current role is read from the database).
    pub role: Role,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not valid before.
    pub nbf: i64,
    /// Expires at.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id.
    pub jti: String,
    /// Session or API token.
    pub typ: TokenKind,
}

/// The keys and rules for tokens, built once at start-up.
pub struct AuthKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    session_ttl: TimeDelta,
}

impl std::fmt::Debug for AuthKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKeys")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn read_key(path: &Path, setting: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| {
        ConfigError::Invalid(format!("{setting}: cannot read {}: {e}", path.display()))
    })
}

impl AuthKeys {
    /// Builds the keys the configuration names. Outside development a missing secret or key is
    /// an error; in development an HS256 secret is generated (and the log says so), which means
    /// tokens do not survive a restart.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let invalid = |msg: String| ConfigError::Invalid(msg);
        let (algorithm, encoding, decoding) = match config.jwt_algorithm {
            JwtAlgorithm::HS256 => {
                let secret: SecretString = match (&config.jwt_secret, &config.jwt_secret_file) {
                    (Some(secret), _) => secret.clone(),
                    (None, Some(path)) => {
                        let raw = read_key(path, "NEWSROOM_JWT_SECRET_FILE")?;
                        let text = String::from_utf8(raw).map_err(|_| {
                            invalid("NEWSROOM_JWT_SECRET_FILE must hold text".into())
                        })?;
                        SecretString::from(text.trim_end_matches(['\n', '\r']).to_owned())
                    }
                    (None, None) if config.env == Environment::Development => {
                        tracing::warn!(
                            "NEWSROOM_JWT_SECRET is not set: generated a random secret for this development run; tokens will not survive a restart"
                        );
                        let bytes: [u8; 32] = rand::random();
                        SecretString::from(
                            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                        )
                    }
                    (None, None) => {
                        return Err(invalid(
                            "NEWSROOM_JWT_SECRET or NEWSROOM_JWT_SECRET_FILE must be set outside development".into(),
                        ));
                    }
                };
                let bytes = secret.expose_secret().as_bytes();
                if bytes.len() < MIN_SECRET_BYTES {
                    return Err(invalid(format!(
                        "NEWSROOM_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"
                    )));
                }
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(bytes),
                    DecodingKey::from_secret(bytes),
                )
            }
            JwtAlgorithm::EdDSA | JwtAlgorithm::RS256 => {
                let (Some(private), Some(public)) =
                    (&config.jwt_private_key_file, &config.jwt_public_key_file)
                else {
                    return Err(invalid(
                        "NEWSROOM_JWT_PRIVATE_KEY_FILE and NEWSROOM_JWT_PUBLIC_KEY_FILE must be set for EdDSA and RS256".into(),
                    ));
                };
                let private = read_key(private, "NEWSROOM_JWT_PRIVATE_KEY_FILE")?;
                let public = read_key(public, "NEWSROOM_JWT_PUBLIC_KEY_FILE")?;
                let bad = |setting: &str, e: jsonwebtoken::errors::Error| {
                    invalid(format!("{setting}: not a usable PEM key: {e}"))
                };
                if config.jwt_algorithm == JwtAlgorithm::EdDSA {
                    (
                        Algorithm::EdDSA,
                        EncodingKey::from_ed_pem(&private)
                            .map_err(|e| bad("NEWSROOM_JWT_PRIVATE_KEY_FILE", e))?,
                        DecodingKey::from_ed_pem(&public)
                            .map_err(|e| bad("NEWSROOM_JWT_PUBLIC_KEY_FILE", e))?,
                    )
                } else {
                    (
                        Algorithm::RS256,
                        EncodingKey::from_rsa_pem(&private)
                            .map_err(|e| bad("NEWSROOM_JWT_PRIVATE_KEY_FILE", e))?,
                        DecodingKey::from_rsa_pem(&public)
                            .map_err(|e| bad("NEWSROOM_JWT_PUBLIC_KEY_FILE", e))?,
                    )
                }
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        // Checked against the application's clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(AuthKeys {
            algorithm,
            encoding,
            decoding,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            session_ttl: TimeDelta::seconds(i64::try_from(config.session_ttl_secs).unwrap_or(3600)),
        })
    }

    /// How long a login token lasts.
    pub fn session_ttl(&self) -> TimeDelta {
        self.session_ttl
    }

    /// Signs a token for `user`.
    pub fn sign(
        &self,
        user: &user::Model,
        kind: TokenKind,
        jti: &str,
        issued: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role,
            iat: issued.timestamp(),
            nbf: issued.timestamp(),
            exp: expires.timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: jti.to_owned(),
            typ: kind,
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)
    }

    /// Checks a token's signature, algorithm, issuer, audience and times. The message says what
    /// is wrong without echoing the token.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                AuthError(match e.kind() {
                    ErrorKind::InvalidIssuer => "the token was issued by someone else",
                    ErrorKind::InvalidAudience => "the token is for another audience",
                    ErrorKind::InvalidAlgorithm => {
                        "the token is signed with an algorithm this server does not accept"
                    }
                    ErrorKind::InvalidSignature => "the token's signature is not valid",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                    _ => "the token is malformed",
                })
            })?;
        let claims = data.claims;
        let now = now.timestamp();
        if claims.exp <= now - LEEWAY_SECS {
            return Err(AuthError("the token has expired"));
        }
        if claims.nbf > now + LEEWAY_SECS {
            return Err(AuthError("the token is not valid yet"));
        }
        Ok(claims)
    }
}

/// Why a presented token was refused. The message is safe to show the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub &'static str);

/// A caller the server has identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The user row, read on this request.
    pub user: user::Model,
    /// What kind of token identified them.
    pub kind: TokenKind,
    /// The token's id, which rate limits count by.
    pub jti: String,
    /// The token's own limit in requests a minute, if it was issued with one.
    pub rate_limit: Option<i32>,
}

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Caller {
    /// No token: a reader.
    #[default]
    Anonymous,
    /// A valid token's user.
    User(AuthUser),
}

impl Caller {
    /// The user's role, if any.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::User(u) => Some(u.user.role),
        }
    }

    /// Whether the caller may see and write editorial content.
    pub fn is_editorial(&self) -> bool {
        self.role().is_some_and(Role::is_editorial)
    }

    /// What the caller may see of articles: partners only what may be syndicated.
    pub fn audience(&self) -> Audience {
        match self.role() {
            Some(Role::Admin | Role::Editor) => Audience::Editor,
            Some(Role::Partner) => Audience::Partner,
            None => Audience::Reader,
        }
    }
}

/// Identifies the caller of a request from its `Authorization` header value.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    keys: &AuthKeys,
    header: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Caller, AuthenticateError> {
    let Some(header) = header else {
        return Ok(Caller::Anonymous);
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthenticateError::Refused(AuthError(
            "the Authorization header must be `Bearer <token>`",
        )))?;
    let claims = keys
        .verify(token, now)
        .map_err(AuthenticateError::Refused)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| AuthenticateError::Refused(AuthError("the token's subject is not a user")))?;
    let mut rate_limit = None;
    if claims.typ == TokenKind::Api {
        let row: Option<api_token::Model> = tokens::active(db, &claims.jti, now).await?;
        match row {
            Some(row) if row.user_id == user_id => rate_limit = row.rate_limit,
            _ => {
                return Err(AuthenticateError::Refused(AuthError(
                    "the token has been revoked or has expired",
                )));
            }
        }
    }
    let user = users::by_id(db, user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or(AuthenticateError::Refused(AuthError(
            "the token's user is disabled or gone",
        )))?;
    Ok(Caller::User(AuthUser {
        user,
        kind: claims.typ,
        jti: claims.jti,
        rate_limit,
    }))
}

/// Why a request could not be authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The token is refused; the client should get a 401 with this message.
    #[error(transparent)]
    Refused(AuthError),
    /// The lookup failed; a 500-class failure, logged, never shown.
    #[error(transparent)]
    Domain(#[from] newsroom_domain::Error),
}

/// Why a request was refused before it ran: each HTTP layer (GraphQL, REST) answers in its own
/// format, from this one decision.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A token was sent and refused (never silently treated as anonymous).
    Unauthenticated(&'static str),
    /// The caller is over its request limit; retry after this many seconds.
    RateLimited(u64),
    /// A store the check needs (database, Redis) did not answer; the cause is logged here.
    Unavailable(&'static str),
}

/// Authenticates the request's `Authorization` header and counts `operations` (at least one)
/// against the caller's rate limit.
pub(crate) async fn admit(
    state: &crate::app::AppState,
    http: &actix_web::HttpRequest,
    operations: usize,
) -> Result<Caller, Refusal> {
    let header = http
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    admit_header(state, header, operations).await
}

/// [`admit`] for an `Authorization` value that came some other way (a WebSocket's
/// `connection_init` payload).
pub(crate) async fn admit_header(
    state: &crate::app::AppState,
    header: Option<&str>,
    operations: usize,
) -> Result<Caller, Refusal> {
    let now = state.clock.now();
    let caller = match authenticate(&state.db, &state.auth, header, now).await {
        Ok(caller) => caller,
        Err(AuthenticateError::Refused(reason)) => return Err(Refusal::Unauthenticated(reason.0)),
        Err(AuthenticateError::Domain(e)) => {
            tracing::error!(error = %e, "authenticating a request failed");
            return Err(Refusal::Unavailable(
                "the server cannot check credentials right now",
            ));
        }
    };
    count(state, &caller, operations).await?;
    if caller.is_editorial() {
        // Editors write, and writes index: have the keyword table ready for them.
        state.segmenter.warm_keywords();
    }
    Ok(caller)
}

/// Counts `operations` (at least one) against `caller`'s rate limit.
pub(crate) async fn count(
    state: &crate::app::AppState,
    caller: &Caller,
    operations: usize,
) -> Result<(), Refusal> {
    let now = state.clock.now();
    for _ in 0..operations.max(1) {
        match state.limiter.admit(caller, now).await {
            Ok(Ok(())) => {}
            Ok(Err(limited)) => return Err(Refusal::RateLimited(limited.retry_after_secs)),
            Err(e) => {
                tracing::error!(error = %e, "counting a partner's request failed");
                return Err(Refusal::Unavailable(
                    "the server cannot count requests right now",
                ));
            }
        }
    }
    Ok(())
}
