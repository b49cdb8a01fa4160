//! Automatic persisted queries (Apollo's APQ protocol) and the allow-list mode.
//!
//! A client sends `extensions.persistedQuery = { version: 1, sha256Hash }` with no query; when
//! the server knows the hash it runs that query, else it answers `PersistedQueryNotFound`
//! (`extensions.code` `PERSISTED_QUERY_NOT_FOUND`) and the client sends the hash with the query,
//! which the server checks, runs and remembers. Over GET the URL then names the query by hash,
//! so CDNs can cache it.
//!
//! Hashes are resolved here, in the HTTP layer, before anything else reads the query, so every
//! check (GET runs no mutation, the query limits) sees the text it will run. async-graphql's own
//! APQ extension resolves them inside execution, where GET's check cannot see them, and keeps
//! them only in one process.
//!
//! Known queries: those this process was sent (an LRU bounded by bytes; a cache miss costs the
//! client one round trip, so it need not be shared between processes), and the operations
//! registered in the database (`newsroom operations register`). With
//! `NEWSROOM_GRAPHQL_ALLOW_LIST=true` only registered operations run, whether named by hash or
//! sent in full.

use std::{sync::Arc, time::Duration};

use async_graphql::ServerError;
use newsroom_domain::persisted;
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};

use crate::graphql::errors::{Code, UNAVAILABLE_MESSAGE};

/// The known queries and the mode.
pub struct PersistedQueries {
    /// Queries clients sent with their hash, by hash.
    sent: moka::future::Cache<String, Arc<str>>,
    /// Registered operations by hash (`None`: not registered), looked up at most every
    /// [`REGISTERED_TTL`] per hash.
    registered: moka::future::Cache<String, Option<Arc<str>>>,
    allow_list: bool,
}

/// How long a registration (or its absence) is trusted before the database is asked again: a
/// newly registered or removed operation takes effect within this.
pub const REGISTERED_TTL: Duration = Duration::from_secs(30);

/// Bytes of query text remembered from clients.
const SENT_CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

/// What a request's `extensions.persistedQuery` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRef(String);

/// A refusal: a GraphQL request error with its code.
fn refused(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

/// Reads `extensions.persistedQuery`, if any.
pub fn hash_of(extensions: &Map<String, Value>) -> Result<Option<HashRef>, ServerError> {
    let Some(persisted) = extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let bad = |message: &str| refused(message, Code::BadUserInput.as_str());
    let Value::Object(persisted) = persisted else {
        return Err(bad("`extensions.persistedQuery` must be an object"));
    };
    if persisted.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(bad(
            "only version 1 of `extensions.persistedQuery` is supported",
        ));
    }
    let hash = persisted
        .get("sha256Hash")
        .and_then(Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            bad("`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits")
        })?;
    Ok(Some(HashRef(hash.to_ascii_lowercase())))
}

/// The query a request will run, and whether to remember it once it passes every check.
pub struct Resolved {
    /// The query text.
    pub query: String,
    /// The hash to remember it by, when the client sent both.
    pub remember: Option<String>,
}

impl PersistedQueries {
    /// An empty store; `allow_list` restricts the server to registered operations.
    pub fn new(allow_list: bool) -> Self {
        PersistedQueries {
            sent: moka::future::Cache::builder()
                .weigher(|hash: &String, query: &Arc<str>| {
                    u32::try_from(hash.len() + query.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(SENT_CAPACITY_BYTES)
                .build(),
            registered: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(REGISTERED_TTL)
                .build(),
            allow_list,
        }
    }

    /// Whether only registered operations run.
    pub fn allow_list(&self) -> bool {
        self.allow_list
    }

    /// The query to run: the one sent (checked against its hash, and against the allow-list in
    /// that mode), or the one the hash names. `Ok(None)` when there is neither.
    pub async fn resolve(
        &self,
        db: &DatabaseConnection,
        query: Option<String>,
        hash: Option<HashRef>,
    ) -> Result<Option<Resolved>, ServerError> {
        let query = query.filter(|q| !q.trim().is_empty());
        match (query, hash) {
            (None, None) => Ok(None),
            // The text's SHA-256 is needed only against a claimed hash or the allow-list: 1.4%
            // of an article page's instructions, for nothing, on every other request.
            (Some(query), None) if !self.allow_list => Ok(Some(Resolved {
                query,
                remember: None,
            })),
            (Some(query), hash) => {
                let actual = persisted::sha256_hex(&query);
                if let Some(HashRef(claimed)) = &hash
                    && *claimed != actual
                {
                    return Err(refused(
                        "provided sha does not match query",
                        Code::BadUserInput.as_str(),
                    ));
                }
                if self.allow_list && self.registered(db, &actual).await?.is_none() {
                    return Err(not_in_list());
                }
                let remember = hash.map(|_| actual).filter(|_| !self.allow_list);
                Ok(Some(Resolved { query, remember }))
            }
            (None, Some(HashRef(hash))) => {
                let known = match self.sent.get(&hash).await {
                    Some(query) if !self.allow_list => Some(query),
                    _ => self.registered(db, &hash).await?,
                };
                match known {
                    Some(query) => Ok(Some(Resolved {
                        query: query.to_string(),
                        remember: None,
                    })),
                    None => Err(refused(
                        "PersistedQueryNotFound",
                        Code::PersistedQueryNotFound.as_str(),
                    )),
                }
            }
        }
    }

    /// Remembers a query that passed every check, under its hash.
    pub async fn remember(&self, hash: String, query: &str) {
        self.sent.insert(hash, Arc::from(query)).await;
    }

    async fn registered(
        &self,
        db: &DatabaseConnection,
        hash: &str,
    ) -> Result<Option<Arc<str>>, ServerError> {
        let db = db.clone();
        let key = hash.to_owned();
        self.registered
            .try_get_with(key.clone(), async move {
                persisted::find(&db, &key)
                    .await
                    .map(|row| row.map(|r| Arc::from(r.query.as_str())))
            })
            .await
            .map_err(|e| {
                if e.is_unavailable() {
                    tracing::warn!(error = %e, "looking up a registered operation: database unavailable");
                    refused(UNAVAILABLE_MESSAGE, Code::ServiceUnavailable.as_str())
                } else {
                    tracing::error!(error = %e, "looking up a registered operation failed");
                    refused(
                        "internal error; it has been logged",
                        Code::Internal.as_str(),
                    )
                }
            })
    }
}

fn not_in_list() -> ServerError {
    refused(
        "this server runs registered operations only, and this is not one of them",
        Code::PersistedQueryNotInList.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_is_read_strictly() {
        let ext = |v: Value| hash_of(v.as_object().unwrap_or(&Map::new()));
        let hash = "A".repeat(64);
        assert_eq!(ext(serde_json::json!({})).ok(), Some(None));
        assert_eq!(
            ext(serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })).ok(),
            Some(Some(HashRef("a".repeat(64))))
        );
        for bad in [
            serde_json::json!({ "persistedQuery": "x" }),
            serde_json::json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": "g".repeat(64) } }),
        ] {
            assert!(ext(bad).is_err());
        }
    }
}
