//! Users, passwords and logins. Passwords are stored as argon2id hashes; a login is checked
//! against the hash in constant work whether or not the user exists, and failed logins are
//! counted per username and per client address in the database, so every server process shares
//! one throttle.

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Statement,
};
use sha2::Digest;

use crate::{
    entities::{Role, login_throttle, user},
    error::{Error, Result},
};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes a password with argon2id and a fresh salt. CPU-bound (tens of milliseconds by design):
/// async callers run it on a blocking thread.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| Error::validation("password", format!("cannot be salted: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::validation("password", format!("cannot be hashed: {e}")))
}

/// Whether `password` matches the PHC string `hash`. CPU-bound, like [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, verified when the username is unknown so that a login takes as
/// long for a missing user as for a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("no password matches this hash").unwrap_or_default());

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Database(sea_orm::DbErr::Custom(format!("hashing task failed: {e}"))))
}

/// Checks a username as given to `user create`: 3 to 64 letters, digits, `_`, `-` or `.`.
pub fn validate_username(username: &str) -> Result<()> {
    let ok = (3..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "username",
            "must be 3 to 64 ASCII letters, digits, `_`, `-` or `.`",
        ))
    }
}

fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::validation(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::validation(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Creates a user. A taken username is a validation error naming `username`.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    username: &str,
    password: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<user::Model> {
    validate_username(username)?;
    validate_password(password)?;
    if by_username(db, username).await?.is_some() {
        return Err(Error::validation("username", "is taken"));
    }
    let password = password.to_owned();
    let hash = run_blocking(move || hash_password(&password)).await??;
    let row = user::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(hash),
        role: Set(role),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    row.insert(db)
        .await
        .map_err(|e| Error::unique_or_database(e, "username", "is taken"))
}

/// The user with this username.
pub async fn by_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// The user with this id.
pub async fn by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// Disables or re-enables a user; a disabled user's tokens are refused at once.
pub async fn set_disabled<C: ConnectionTrait>(
    db: &C,
    id: i64,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<user::Model> {
    let row = by_id(db, id)
        .await?
        .ok_or(Error::NotFound { entity: "user" })?;
    let mut row: user::ActiveModel = row.into();
    row.disabled = Set(disabled);
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// How many failed logins may be made in a window before the next must wait: per username from
/// one address, and (more loosely) per address whatever the username, so that guessing from one
/// place is slowed without letting anyone lock a user out from everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures allowed per username and address per window; an address alone gets four times
    /// as many.
    pub max_failures: i32,
    /// The window.
    pub window: TimeDelta,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            max_failures: 5,
            window: TimeDelta::minutes(15),
        }
    }
}

/// The throttle keys of an attempt with their limits. Usernames are hashed so that a key has a
/// fixed length whatever a client sends.
fn throttle_keys(username: &str, address: Option<&str>, policy: LoginPolicy) -> Vec<(String, i32)> {
    let digest = sha2::Sha256::digest(username.to_lowercase().as_bytes());
    let user: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let address = address.unwrap_or("unknown");
    vec![
        (format!("user:{user}@{address}"), policy.max_failures),
        (
            format!("addr:{address}"),
            policy.max_failures.saturating_mul(4),
        ),
    ]
}

/// Checks a username and password. Refused when this username from this address, or this
/// address, has failed too often in the current window (`RateLimited`, with the wait); when the
/// credentials are wrong or the user is disabled (`Unauthenticated`, one message for all, so a
/// caller cannot tell which).
///
/// Each attempt is counted before the password is checked, in one atomic statement per key, so a
/// burst of parallel guesses is limited as strictly as a sequence; a success takes its count back.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    username: &str,
    password: &str,
    address: Option<&str>,
    now: DateTime<Utc>,
    policy: LoginPolicy,
) -> Result<user::Model> {
    let keys = throttle_keys(username, address, policy);
    let mut retry_after: Option<i64> = None;
    for (key, limit) in &keys {
        let (failures, window_started_at) = count_attempt(db, key, now, policy).await?;
        if failures > *limit {
            let wait = (window_started_at + policy.window - now)
                .num_seconds()
                .max(1);
            retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
        }
    }
    if let Some(wait) = retry_after {
        return Err(Error::RateLimited {
            retry_after_secs: u64::try_from(wait).unwrap_or(1),
        });
    }

    let user = if password.len() > MAX_PASSWORD_BYTES || username.len() > 64 {
        None
    } else {
        by_username(db, username).await?
    };
    let hash = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let candidate = password.to_owned();
    let matches = run_blocking(move || verify_password(&candidate, &hash)).await?;
    match user {
        Some(user) if matches && !user.disabled => {
            // Not a failure after all: forget this username's count, give the address its back.
            login_throttle::Entity::delete_by_id(keys[0].0.clone())
                .exec(db)
                .await?;
            let backend = db.get_database_backend();
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                crate::db::placeholders(backend, "UPDATE login_throttle SET failures = failures - 1 WHERE key = ? AND failures > 0"),
                vec![keys[1].0.clone().into()],
            ))
            .await?;
            Ok(user)
        }
        _ => Err(Error::Unauthenticated("wrong username or password".into())),
    }
}

/// Counts one attempt for `key` in one statement, starting a new window when the last one ended,
/// and returns the count and the window's start, so concurrent attempts from several processes
/// are all counted and each sees its own position.
async fn count_attempt<C: ConnectionTrait>(
    db: &C,
    key: &str,
    now: DateTime<Utc>,
    policy: LoginPolicy,
) -> Result<(i32, DateTime<Utc>)> {
    let window_start = now - policy.window;
    let backend = db.get_database_backend();
    let sql = "INSERT INTO login_throttle (key, failures, window_started_at) VALUES (?, 1, ?) \
        ON CONFLICT (key) DO UPDATE SET \
        failures = CASE WHEN login_throttle.window_started_at <= ? THEN 1 ELSE login_throttle.failures + 1 END, \
        window_started_at = CASE WHEN login_throttle.window_started_at <= ? THEN excluded.window_started_at \
        ELSE login_throttle.window_started_at END \
        RETURNING failures, window_started_at";
    let values: Vec<sea_orm::Value> = vec![
        key.into(),
        now.into(),
        window_start.into(),
        window_start.into(),
    ];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            crate::db::placeholders(backend, sql),
            values,
        ))
        .await?
        .ok_or_else(|| {
            Error::Database(sea_orm::DbErr::Custom(
                "the throttle upsert returned no row".into(),
            ))
        })?;
    Ok((
        row.try_get("", "failures")?,
        row.try_get("", "window_started_at")?,
    ))
}

/// Counts one attempt against `key` (at most `limit` in `window`) in the shared throttle table,
/// for actions anyone may take; `RateLimited`, with the wait, once the limit is passed.
pub(crate) async fn count_within<C: ConnectionTrait>(
    db: &C,
    key: &str,
    limit: i32,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Result<()> {
    let policy = LoginPolicy {
        max_failures: limit,
        window,
    };
    let (count, started) = count_attempt(db, key, now, policy).await?;
    if count > limit {
        let wait = (started + window - now).num_seconds().max(1);
        return Err(Error::RateLimited {
            retry_after_secs: u64::try_from(wait).unwrap_or(1),
        });
    }
    Ok(())
}

/// Removes throttle rows whose window has ended (the longest of the login and takedown windows),
/// so the table stays small.
pub async fn purge_throttle<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    policy: LoginPolicy,
) -> Result<u64> {
    // The table also counts takedown requests, over their own window: keep the longer.
    let window = policy.window.max(crate::takedowns::REQUEST_WINDOW);
    Ok(login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::WindowStartedAt.lte(now - window))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_password(
            "no password matches this hash",
            "$argon2id$garbage"
        ));
    }

    #[test]
    fn usernames_and_passwords_are_validated() {
        assert!(validate_username("zhao.haidong").is_ok());
        for bad in ["ab", "赵海东", "a b", "x'; --", &"a".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
        assert!(validate_password("short").is_err());
        assert!(validate_password("十个字的密码一二三四").is_ok());
        assert!(validate_password(&"x".repeat(2000)).is_err());
    }
}
