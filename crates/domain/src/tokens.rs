//! Long-lived API tokens for partners and services. Each issued token is a row found by its
//! `jti`; the signed token itself is made by the gateway. Revoking the row refuses the token at
//! once, on every server process, because every request with such a token looks the row up.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::{
    entities::{api_token, user},
    error::{Error, Result},
};

/// The longest lifetime a token may be issued with.
pub const MAX_LIFETIME_DAYS: i64 = 3 * 366;

/// The highest per-token limit, in requests a minute.
pub const MAX_RATE_LIMIT: i32 = 1_000_000;

/// Records a new token for `user_id`, valid for `lifetime`, limited to `rate_limit` requests a
/// minute (`None`: the deployment's default), and returns its row (with the `jti` the signed
/// token must carry).
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    name: &str,
    lifetime: TimeDelta,
    rate_limit: Option<i32>,
    issued_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<api_token::Model> {
    if rate_limit.is_some_and(|n| !(1..=MAX_RATE_LIMIT).contains(&n)) {
        return Err(Error::validation(
            "rateLimit",
            format!("must be between 1 and {MAX_RATE_LIMIT} requests a minute"),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::validation("name", "must be 1 to 100 characters"));
    }
    if lifetime <= TimeDelta::zero() || lifetime > TimeDelta::days(MAX_LIFETIME_DAYS) {
        return Err(Error::validation(
            "expiresIn",
            format!("must be between 1 second and {MAX_LIFETIME_DAYS} days"),
        ));
    }
    let owner = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::validation("user", "no such user"))?;
    if owner.disabled {
        return Err(Error::validation("user", "is disabled"));
    }
    let row = api_token::ActiveModel {
        jti: Set(uuid::Uuid::new_v4().simple().to_string()),
        user_id: Set(owner.id),
        name: Set(name.to_owned()),
        issued_by: Set(issued_by),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
        revoked_at: Set(None),
        rate_limit: Set(rate_limit),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Revokes a token. Revoking a revoked token changes nothing and is not an error.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<api_token::Model> {
    let row = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: "API token",
        })?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    let mut active: api_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(now));
    Ok(active.update(db).await?)
}

/// The token with this `jti` if it is neither revoked nor expired at `now`.
pub async fn active<C: ConnectionTrait>(
    db: &C,
    jti: &str,
    now: DateTime<Utc>,
) -> Result<Option<api_token::Model>> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::Jti.eq(jti))
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(api_token::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// Every token, newest first; for admins.
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .order_by_desc(api_token::Column::CreatedAt)
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await?)
}
