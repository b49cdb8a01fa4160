//! Registered GraphQL operations (the allow-list): stored by the SHA-256 of their exact text, so
//! a client can name one by hash, as automatic persisted queries do. The gateway checks a
//! document parses before registering it; here it is text.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use crate::{
    entities::persisted_operation::{self, Entity as PersistedOperation, Model},
    error::{Error, Result},
};

/// The lowercase hex SHA-256 of `query`, the name APQ clients give it.
pub fn sha256_hex(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}

/// Registers `query` under its hash; registering the same text again changes nothing and
/// returns the row there is. The boolean says whether it was new.
pub async fn register(
    db: &impl ConnectionTrait,
    query: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Model, bool)> {
    if query.trim().is_empty() {
        return Err(Error::validation("query", "must not be empty"));
    }
    let sha256 = sha256_hex(query);
    if let Some(existing) = find(db, &sha256).await? {
        return Ok((existing, false));
    }
    let row = persisted_operation::ActiveModel {
        sha256: Set(sha256),
        name: Set(name.map(|n| n.chars().take(200).collect())),
        query: Set(query.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, true))
}

/// The registered operation with this hash.
pub async fn find(db: &impl ConnectionTrait, sha256: &str) -> Result<Option<Model>> {
    Ok(PersistedOperation::find()
        .filter(persisted_operation::Column::Sha256.eq(sha256))
        .one(db)
        .await?)
}

/// Every registered operation, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Model>> {
    Ok(PersistedOperation::find()
        .order_by_asc(persisted_operation::Column::Id)
        .all(db)
        .await?)
}

/// Removes the operation with this hash; whether there was one.
pub async fn remove(db: &impl ConnectionTrait, sha256: &str) -> Result<bool> {
    let removed = PersistedOperation::delete_many()
        .filter(persisted_operation::Column::Sha256.eq(sha256))
        .exec(db)
        .await?;
    Ok(removed.rows_affected > 0)
}
