//! Webhooks: partners register URLs and are told, by signed POSTs, when an article they may have
//! is published, updated or removed.
//!
//! The article change log ([`crate::changes`]) is the outbox: every article write fills it in its
//! own transaction, so no change can be lost between a write and its notification. [`dispatch`]
//! reads the log as partners see it and writes one event per change that matters to them; each
//! endpoint then walks the events in order ([`delivery`]), keeping in its own row how far it got,
//! so a restart resumes where the last process stopped and no event is sent twice in normal
//! operation. Signing and sending are the gateway's: this module knows no HTTP.

pub mod delivery;
pub mod dispatch;

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait, sea_query::Query,
};
use url::{Host, Url};

use crate::{
    editorial::checks,
    entities::{Role, user, webhook_attempt, webhook_endpoint, webhook_event},
    error::{Error, Result},
    pagination::{Page, PageRequest, TimeCursor},
};

/// The most endpoints one partner may register.
pub const MAX_ENDPOINTS: u64 = 10;
const MAX_URL: usize = 2000;
const MAX_DESCRIPTION: usize = 200;

/// Which URLs webhooks may be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Whether hosts on loopback, private, link-local and other non-public addresses are allowed.
    /// Refused in production, so that a partner cannot make the server call into its own network
    /// (server-side request forgery); allowed in development, where receivers run on 127.0.0.1.
    pub allow_private: bool,
}

/// Whether `ip` is an address on the public internet: not loopback, private (RFC 1918, unique
/// local), link-local (cloud metadata services live there), shared (CGNAT), unspecified,
/// multicast, broadcast, documentation, benchmarking or reserved. Written out because std's
/// `is_global` is not stable; IPv4 addresses mapped into IPv6 are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // IPv4-compatible (deprecated) and NAT64 addresses embed an IPv4 address: refuse both
        // rather than judge what they might reach.
        || s[..6] == [0; 6]
        || (s[0] == 0x64 && s[1] == 0xff9b)
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] & 0xffc0) == 0xfec0)
}

/// Checks a webhook URL: an absolute `http://` or `https://` URL of at most 2000 characters, with
/// no user name or password, whose host the policy allows. Returns it as it will be called (the
/// WHATWG form reqwest uses too, so the host checked is the host connected to).
pub fn check_url(field: &str, raw: &str, policy: UrlPolicy) -> Result<Url> {
    let raw = raw.trim();
    checks::no_control(field, raw)?;
    checks::url(field, raw)?;
    let url = Url::parse(raw)
        .map_err(|e| Error::validation(field, format!("is not a valid URL: {e}")))?;
    if url.as_str().chars().count() > MAX_URL {
        return Err(Error::validation(
            field,
            format!("must be at most {MAX_URL} characters"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::validation(
            field,
            "must not carry a user name or password: the signature authenticates the sender",
        ));
    }
    if !policy.allow_private {
        let private = match url.host() {
            Some(Host::Ipv4(ip)) => !is_public(ip.into()),
            Some(Host::Ipv6(ip)) => !is_public(ip.into()),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
            None => true,
        };
        if private {
            return Err(Error::validation(
                field,
                "must name a host on the public internet: loopback, private and link-local addresses are not allowed here",
            ));
        }
    }
    Ok(url)
}

/// Whose endpoints a caller may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A partner: its own.
    Owner(i64),
    /// Editors and admins: every partner's.
    All,
}

/// An endpoint with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint.
    pub row: webhook_endpoint::Model,
    /// The partner it belongs to.
    pub owner: user::Model,
}

/// A new endpoint and its signing secret, which is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The HMAC-SHA256 key every delivery to it is signed with.
    pub secret: String,
}

/// A fresh signing secret: 256 random bits, with a prefix that says what it is.
fn new_secret() -> String {
    format!(
        "whsec_{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    )
}

/// Registers `url` for `owner`, a partner. It receives the events dispatched from now on. Refused
/// (changing nothing) when the URL or description is invalid, the URL is already registered by
/// this partner, or the partner already has [`MAX_ENDPOINTS`].
pub async fn register<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    owner: &user::Model,
    url: &str,
    description: Option<&str>,
    policy: UrlPolicy,
    now: DateTime<Utc>,
) -> Result<Registered> {
    if owner.role != Role::Partner || owner.disabled {
        return Err(Error::Forbidden(
            "only an enabled partner may register webhooks".into(),
        ));
    }
    let url = check_url("url", url, policy)?;
    let description = checks::optional_text("description", description, MAX_DESCRIPTION)?;
    let txn = crate::db::begin_write(db).await?;
    let mine =
        webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::UserId.eq(owner.id));
    if mine
        .clone()
        .filter(webhook_endpoint::Column::Url.eq(url.as_str()))
        .count(&txn)
        .await?
        > 0
    {
        return Err(Error::validation("url", "is already registered"));
    }
    if mine.count(&txn).await? >= MAX_ENDPOINTS {
        return Err(Error::Conflict(format!(
            "a partner may register at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
        )));
    }
    let latest: Option<i64> = webhook_event::Entity::find()
        .select_only()
        .column_as(webhook_event::Column::Id.max(), "latest")
        .into_tuple::<Option<i64>>()
        .one(&txn)
        .await?
        .flatten();
    let secret = new_secret();
    let row = webhook_endpoint::ActiveModel {
        user_id: Set(owner.id),
        url: Set(url.into()),
        description: Set(description),
        secret: Set(secret.clone()),
        created_at: Set(now),
        after_event: Set(latest.unwrap_or(0)),
        attempts: Set(0),
        failures: Set(0),
        next_attempt_at: Set(now),
        claimed_by: Set(None),
        claimed_until: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| Error::unique_or_database(e, "url", "is already registered"))?;
    txn.commit().await?;
    Ok(Registered {
        endpoint: Endpoint {
            row,
            owner: owner.clone(),
        },
        secret,
    })
}

/// Pairs endpoints with their owners, in one query.
async fn with_owners<C: ConnectionTrait>(
    db: &C,
    rows: Vec<webhook_endpoint::Model>,
) -> Result<Vec<Endpoint>> {
    let ids: HashSet<i64> = rows.iter().map(|r| r.user_id).collect();
    let owners: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    // The foreign key cascades, so every endpoint has its owner.
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let owner = owners.get(&row.user_id)?.clone();
            Some(Endpoint { row, owner })
        })
        .collect())
}

fn in_scope(scope: Scope) -> sea_orm::Select<webhook_endpoint::Entity> {
    let all = webhook_endpoint::Entity::find();
    match scope {
        Scope::Owner(user_id) => all.filter(webhook_endpoint::Column::UserId.eq(user_id)),
        Scope::All => all,
    }
}

/// The endpoints `scope` covers, oldest first.
pub async fn endpoints<C: ConnectionTrait>(db: &C, scope: Scope) -> Result<Vec<Endpoint>> {
    let rows = in_scope(scope)
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(db)
        .await?;
    with_owners(db, rows).await
}

/// One endpoint `scope` covers; another partner's is not found, as if it did not exist.
pub async fn endpoint<C: ConnectionTrait>(db: &C, scope: Scope, id: i64) -> Result<Endpoint> {
    let row = in_scope(scope)
        .filter(webhook_endpoint::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: "webhook endpoint",
        })?;
    with_owners(db, vec![row])
        .await?
        .pop()
        .ok_or(Error::NotFound {
            entity: "webhook endpoint",
        })
}

/// Deletes an endpoint `scope` covers, with its delivery log; nothing more is sent to it.
pub async fn delete<C: ConnectionTrait>(db: &C, scope: Scope, id: i64) -> Result<()> {
    let mut query =
        webhook_endpoint::Entity::delete_many().filter(webhook_endpoint::Column::Id.eq(id));
    if let Scope::Owner(user_id) = scope {
        query = query.filter(webhook_endpoint::Column::UserId.eq(user_id));
    }
    let deleted = query.exec(db).await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound {
            entity: "webhook endpoint",
        });
    }
    Ok(())
}

/// One line of the delivery log: an attempt, its event and its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The attempt.
    pub attempt: webhook_attempt::Model,
    /// What was (or was to be) sent.
    pub event: webhook_event::Model,
    /// Where.
    pub endpoint: Endpoint,
}

/// The cursor of a log line: when it was attempted, and its id.
pub fn delivery_cursor(attempt: &webhook_attempt::Model) -> TimeCursor {
    TimeCursor {
        at: attempt.attempted_at,
        id: attempt.id,
    }
}

/// One page of the delivery log `scope` covers, newest first, optionally of one endpoint (which
/// must be in scope). Three queries whatever the page's size: the attempts, their events, their
/// endpoints with owners.
pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
    endpoint_id: Option<i64>,
    page: &PageRequest<TimeCursor>,
) -> Result<Page<Delivery>> {
    let mut base = webhook_attempt::Entity::find();
    if let Some(id) = endpoint_id {
        endpoint(db, scope, id).await?;
        base = base.filter(webhook_attempt::Column::EndpointId.eq(id));
    } else if let Scope::Owner(user_id) = scope {
        base = base.filter(
            webhook_attempt::Column::EndpointId.in_subquery(
                Query::select()
                    .column(webhook_endpoint::Column::Id)
                    .from(webhook_endpoint::Entity)
                    .and_where(webhook_endpoint::Column::UserId.eq(user_id))
                    .to_owned(),
            ),
        );
    }
    let attempts = crate::pagination::newest_first(
        db,
        base,
        webhook_attempt::Column::AttemptedAt,
        webhook_attempt::Column::Id,
        page,
    )
    .await?;
    let event_ids: HashSet<i64> = attempts.items.iter().map(|a| a.event_id).collect();
    let events: HashMap<i64, webhook_event::Model> = webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.is_in(event_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let endpoint_ids: HashSet<i64> = attempts.items.iter().map(|a| a.endpoint_id).collect();
    let rows = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(endpoint_ids))
        .all(db)
        .await?;
    let endpoints: HashMap<i64, Endpoint> = with_owners(db, rows)
        .await?
        .into_iter()
        .map(|e| (e.row.id, e))
        .collect();
    // Foreign keys keep every attempt's event and endpoint; a row deleted between the queries
    // drops out of the page rather than failing it.
    let has_previous = attempts.has_previous;
    let has_next = attempts.has_next;
    let items = attempts
        .items
        .into_iter()
        .filter_map(|attempt| {
            let event = events.get(&attempt.event_id)?.clone();
            let endpoint = endpoints.get(&attempt.endpoint_id)?.clone();
            Some(Delivery {
                attempt,
                event,
                endpoint,
            })
        })
        .collect();
    Ok(Page {
        items,
        has_previous,
        has_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy {
        allow_private: false,
    };
    const LOOSE: UrlPolicy = UrlPolicy {
        allow_private: true,
    };

    fn field_of(result: Result<Url>) -> String {
        match result {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn public_addresses_are_told_from_the_rest() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn webhook_urls_are_checked_and_normalized() {
        assert_eq!(
            check_url(
                "url",
                " https://Partner.example.com:8443/hooks?x=1 ",
                STRICT
            )
            .unwrap()
            .as_str(),
            "https://partner.example.com:8443/hooks?x=1"
        );
        assert!(check_url("url", "http://127.0.0.1:9000/hook", LOOSE).is_ok());
        for bad in [
            "",
            "ftp://example.com/x",
            "example.com/hook",
            "http://",
            "http:// example.com",
            "https://user:pw@example.com/",
            "https://user@example.com/",
            "http://exa mple.com/",
            "http://[::1/",
        ] {
            assert_eq!(field_of(check_url("url", bad, LOOSE)), "url", "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2000));
        assert_eq!(field_of(check_url("url", &long, LOOSE)), "url");
        for private in [
            "http://127.0.0.1/hook",
            "http://localhost:8080/hook",
            "http://api.localhost/hook",
            "http://LOCALHOST./hook",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:9000/",
            "http://[::ffff:127.0.0.1]/",
            // The WHATWG parser reads these as 127.0.0.1, as reqwest would.
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
        ] {
            assert_eq!(
                field_of(check_url("url", private, STRICT)),
                "url",
                "{private}"
            );
            assert!(check_url("url", private, LOOSE).is_ok(), "{private}");
        }
    }

    #[test]
    fn secrets_are_long_and_fresh() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_") && a.len() == 6 + 43, "{a}");
    }
}
