//! The response cache: whole answers to reads, kept in this process's memory so a repeated read
//! costs no database work, no resolvers and no serialization.
//!
//! - **What is cached.** GraphQL queries (POST, GET, persisted-query GET) whose root fields are
//!   all public reads ([`crate::graphql::cacheable`]), and REST `GET /api/v1/...` routes other
//!   than the change log; only `200` answers without GraphQL errors.
//! - **For whom.** Per caller class: anonymous readers share one set of answers and partners
//!   another (a partner sees the partner audience's articles, the same for every partner, and
//!   per-partner fields are never cached). Editors and admins always bypass the cache. A partner
//!   is still authenticated and counted against its rate limit on every request.
//! - **Until when.** Any content change empties it: in this process at once (a GraphQL mutation
//!   that can change content), in every process through PostgreSQL `NOTIFY`, sent by triggers on
//!   the content tables when the writing transaction commits, whoever wrote (another server, the
//!   CLI, SQL by hand). An answer also lapses when the next scheduled article becomes visible
//!   (by the injected clock), and after `NEWSROOM_RESPONSE_CACHE_TTL_SECS` whatever happens.
//! - **View counts and rankings** move with every counted view, which is no content change:
//!   answers that carry them are kept at most `NEWSROOM_RANKING_REFRESH_SECS` (how stale a
//!   ranking may already be), and dropped when this process writes its buffered views.
//!
//! A generation number makes invalidation race-free: a request notes the generation before it
//! reads the database and stores its answer only if no change came in meanwhile, so an answer
//! computed from data older than the last change can never be stored after it.
//!
//! Memory is bounded: answers are weighed by their size (`NEWSROOM_RESPONSE_CACHE_MB`).

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpMessage, HttpResponse, ResponseError,
    body::{self, BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderName, HeaderValue},
    },
    middleware::Next,
    web::{self, Bytes},
};
use chrono::{DateTime, Utc};
use newsroom_domain::{articles::Audience, clock::Clock};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use crate::{app::AppState, auth::Caller, config::Config};

/// The header that tells whether an answer came from the cache: `HIT`, `MISS` (looked up and
/// not found; stored when it may be) or `BYPASS` (not looked up: an editor, a mutation).
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// The PostgreSQL channel the content triggers notify (migration `000015`).
pub const CHANNEL: &str = "newsroom_content";

/// Who an answer was computed for; answers are shared within a class only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Anonymous readers.
    Reader,
    /// Syndication partners: they see the partner audience's articles.
    Partner,
}

impl Class {
    /// The class of `caller`; `None` for editors and admins, who bypass the cache.
    pub fn of(caller: &Caller) -> Option<Class> {
        match caller.audience() {
            Audience::Reader => Some(Class::Reader),
            Audience::Partner => Some(Class::Partner),
            Audience::Editor => None,
        }
    }
}

/// What identifies a request apart from its caller class: a SHA-256 over its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request([u8; 32]);

impl Request {
    /// Digests `parts` (each length-prefixed, so no two lists of parts collide by concatenation).
    pub fn digest(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Request(hasher.finalize().into())
    }
}

type Key = (Class, Request);

/// One cached answer.
#[derive(Debug)]
pub struct Cached {
    body: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
    generation: u64,
    /// The view generation, for answers that carry view counts or rankings.
    views: Option<u64>,
    /// When the next scheduled article becomes visible; the answer is stale from then.
    until: Option<DateTime<Utc>>,
    /// The GraphQL operation's name, for the metrics of a hit answered before parsing.
    operation: Option<String>,
}

/// An answer to store: its bytes, their media type and, for GraphQL, the operation's name.
#[derive(Debug)]
pub struct Answer {
    /// The serialized answer.
    pub body: Bytes,
    /// Its `Content-Type`.
    pub content_type: HeaderValue,
    /// The GraphQL operation's name, when it has one (REST answers have none).
    pub operation: Option<String>,
}

impl Cached {
    /// The name of the GraphQL operation this answers, when it has one.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// The answer, marked as a hit. It carries its `ETag`, so the conditional-GET layer need
    /// not hash the body again.
    pub fn response(&self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, self.content_type.clone()))
            .insert_header((header::ETAG, self.etag.clone()))
            .insert_header((X_CACHE, HeaderValue::from_static("HIT")))
            .body(self.body.clone())
    }
}

/// What a request notes before it reads the database, to store its answer afterwards.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    generation: u64,
    views: u64,
    until: Option<DateTime<Utc>>,
}

/// The next instant an article becomes visible by itself, as known at one generation.
#[derive(Debug, Clone, Copy)]
struct Horizon {
    generation: u64,
    from: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

/// How long answers live: volatile ones (view counts, rankings) shorter.
struct Lifetimes {
    ttl: Duration,
    volatile_ttl: Duration,
}

impl Lifetimes {
    fn of(&self, value: &Cached) -> Option<Duration> {
        Some(if value.views.is_some() {
            self.volatile_ttl
        } else {
            self.ttl
        })
    }
}

impl moka::Expiry<Key, Arc<Cached>> for Lifetimes {
    fn expire_after_create(&self, _: &Key, value: &Arc<Cached>, _: Instant) -> Option<Duration> {
        self.of(value)
    }

    fn expire_after_update(
        &self,
        _: &Key,
        value: &Arc<Cached>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.of(value)
    }
}

/// The cache of one server process.
pub struct ResponseCache {
    entries: moka::sync::Cache<Key, Arc<Cached>>,
    generation: AtomicU64,
    views: AtomicU64,
    /// False while a PostgreSQL deployment has no live `LISTEN`: changes made elsewhere could go
    /// unnoticed, so nothing is served or stored until it is back.
    listening: AtomicBool,
    horizon: tokio::sync::Mutex<Option<Horizon>>,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    listener: OnceLock<tokio::task::JoinHandle<()>>,
}

/// Bytes an entry costs beyond its body: key, headers, bookkeeping.
const ENTRY_OVERHEAD: usize = 256;

impl ResponseCache {
    /// The cache `config` asks for, or `None` when it is off. On PostgreSQL it listens for
    /// content changes before it returns, so no change committed after the start is missed.
    pub async fn from_config(
        config: &Config,
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        if !config.response_cache {
            return Ok(None);
        }
        let lifetimes = Lifetimes {
            ttl: Duration::from_secs(config.response_cache_ttl_secs),
            volatile_ttl: Duration::from_secs(
                config
                    .ranking_refresh_secs
                    .min(config.response_cache_ttl_secs),
            ),
        };
        let postgres = db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        let cache = Arc::new(ResponseCache {
            entries: moka::sync::Cache::builder()
                .weigher(|_: &Key, value: &Arc<Cached>| {
                    u32::try_from(value.body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
                })
                .max_capacity(config.response_cache_mb * 1024 * 1024)
                .expire_after(lifetimes)
                .build(),
            generation: AtomicU64::new(0),
            views: AtomicU64::new(0),
            listening: AtomicBool::new(!postgres),
            horizon: tokio::sync::Mutex::new(None),
            db,
            clock,
            listener: OnceLock::new(),
        });
        if postgres {
            let listener = listen(&config.database_url).await?;
            cache.listening.store(true, Ordering::SeqCst);
            let task = tokio::spawn(follow(cache.clone(), config.database_url.clone(), listener));
            let _ = cache.listener.set(task);
        }
        // The first ticket looks for the next scheduled article; doing it now spares the first
        // request that query.
        let _ = cache.ticket().await;
        Ok(Some(cache))
    }

    /// The answer stored for `request` of `class`, unless it has gone stale.
    pub fn get(&self, class: Class, request: Request) -> Option<Arc<Cached>> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let entry = self.entries.get(&(class, request))?;
        let now = self.clock.now();
        let fresh = entry.generation == self.generation.load(Ordering::SeqCst)
            && entry
                .views
                .is_none_or(|v| v == self.views.load(Ordering::SeqCst))
            && entry.until.is_none_or(|until| now < until);
        fresh.then_some(entry)
    }

    /// Notes the generation (and when the next scheduled article appears) before a request reads
    /// the database. `None` when that cannot be known, and the answer should not be stored.
    ///
    /// It never waits: while the notifications connection is down nothing is stored anyway,
    /// and while another request is finding the next scheduled article this one runs without
    /// storing its answer. In a database outage a request must fail after one acquire timeout,
    /// not queue for this lookup behind every request before it.
    pub async fn ticket(&self) -> Option<Ticket> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let views = self.views.load(Ordering::SeqCst);
        let now = self.clock.now();
        let Ok(mut horizon) = self.horizon.try_lock() else {
            return None;
        };
        let known = (*horizon).filter(|h| {
            h.generation == generation && h.from <= now && h.next.is_none_or(|next| now < next)
        });
        let next = match known {
            Some(h) => h.next,
            None => match newsroom_domain::articles::next_visible_at(&self.db, now).await {
                Ok(next) => {
                    *horizon = Some(Horizon {
                        generation,
                        from: now,
                        next,
                    });
                    next
                }
                Err(e) => {
                    tracing::warn!(error = %e, "finding the next scheduled article failed; not caching");
                    return None;
                }
            },
        };
        Some(Ticket {
            generation,
            views,
            until: next,
        })
    }

    /// Stores an answer computed under `ticket`, unless content (or, for a `volatile` answer,
    /// view counts) changed since the ticket was taken.
    pub fn put(
        &self,
        class: Class,
        request: Request,
        ticket: Ticket,
        answer: Answer,
        volatile: bool,
    ) {
        let Answer {
            body,
            content_type,
            operation,
        } = answer;
        let unchanged = self.listening.load(Ordering::SeqCst)
            && ticket.generation == self.generation.load(Ordering::SeqCst)
            && (!volatile || ticket.views == self.views.load(Ordering::SeqCst));
        if !unchanged {
            return;
        }
        let etag = HeaderValue::from_str(&crate::caching::etag_of(&body))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        self.entries.insert(
            (class, request),
            Arc::new(Cached {
                body,
                content_type,
                etag,
                generation: ticket.generation,
                views: volatile.then_some(ticket.views),
                until: ticket.until,
                operation,
            }),
        );
    }

    /// Content changed: every stored answer is stale.
    pub fn content_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }

    /// This process wrote view counts: answers carrying them are stale.
    pub fn views_written(&self) {
        self.views.fetch_add(1, Ordering::SeqCst);
    }

    /// Stops following PostgreSQL's notifications.
    pub fn stop(&self) {
        if let Some(task) = self.listener.get() {
            task.abort();
        }
    }
}

async fn listen(url: &str) -> anyhow::Result<sea_orm::sqlx::postgres::PgListener> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Empties the cache on every notification. When the connection drops the cache stops serving
/// until it is listening again (sqlx reconnects and listens again on its own), and empties
/// itself then, since changes may have been missed meanwhile.
async fn follow(
    cache: Arc<ResponseCache>,
    url: String,
    mut listener: sea_orm::sqlx::postgres::PgListener,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => cache.content_changed(),
            Ok(None) => {
                tracing::warn!("lost the content notifications connection; reconnected");
                cache.content_changed();
            }
            Err(e) => {
                tracing::warn!(error = %e, "content notifications failed; not caching until they are back");
                cache.listening.store(false, Ordering::SeqCst);
                cache.content_changed();
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    match listen(&url).await {
                        Ok(fresh) => {
                            listener = fresh;
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "reconnecting for content notifications")
                        }
                    }
                }
                cache.content_changed();
                cache.listening.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Marks a response with the cache's verdict.
pub fn mark(response: &mut HttpResponse, verdict: &'static str) {
    response
        .headers_mut()
        .insert(X_CACHE, HeaderValue::from_static(verdict));
}

/// The middleware that caches REST reads (`GET /api/v1/...`, except the change log, whose
/// answers move with the clock). It admits the caller itself, once: a partner is authenticated
/// and counted here, and the handler finds the caller in the request's extensions.
pub async fn rest_reads(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let cacheable = *req.method() == Method::GET
        && req.path().starts_with("/api/v1/")
        && req.path() != "/api/v1/changes";
    let Some((state, cache)) = state
        .and_then(|s| s.cache.clone().map(|c| (s, c)))
        .filter(|_| cacheable)
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let caller = if req.headers().contains_key(header::AUTHORIZATION) {
        match crate::auth::admit(&state, req.request(), 1).await {
            Ok(caller) => caller,
            Err(refusal) => {
                let error = crate::rest::refused(refusal).error_response();
                return Ok(req.into_response(error));
            }
        }
    } else {
        Caller::Anonymous
    };
    let class = Class::of(&caller);
    req.extensions_mut().insert(crate::rest::Admitted(caller));
    let Some(class) = class else {
        let mut res = next.call(req).await?.map_into_boxed_body();
        res.headers_mut()
            .insert(X_CACHE, HeaderValue::from_static("BYPASS"));
        return Ok(res);
    };
    let request = Request::digest(&[
        b"rest",
        req.path().as_bytes(),
        req.query_string().as_bytes(),
    ]);
    if let Some(hit) = cache.get(class, request) {
        return Ok(req.into_response(hit.response()));
    }
    let ticket = cache.ticket().await;
    // Every REST article carries its view count; the ranking is all view counts.
    let volatile = req.path().starts_with("/api/v1/articles")
        || req.path() == "/api/v1/rankings"
        || req.path() == "/api/v1/search";
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        let mut res = res.map_into_boxed_body();
        res.headers_mut()
            .insert(X_CACHE, HeaderValue::from_static("MISS"));
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("unreadable response body"))?;
    let content_type = res.headers().get(header::CONTENT_TYPE).cloned();
    if let (Some(ticket), Some(content_type)) = (ticket, content_type) {
        cache.put(
            class,
            request,
            ticket,
            Answer {
                body: bytes.clone(),
                content_type,
                operation: None,
            },
            volatile,
        );
    }
    res.headers_mut()
        .insert(X_CACHE, HeaderValue::from_static("MISS"));
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))))
}
