//! The webhook worker: a background task in each server process that turns new change-log entries
//! into events ([`newsroom_domain::webhooks::dispatch`]) and POSTs them, signed, to partners'
//! endpoints, each endpoint's events in order.
//!
//! Every request carries the raw JSON body and these headers:
//!
//! - `X-Newsroom-Event`: `article.published`, `article.updated` or `article.removed`;
//! - `X-Newsroom-Event-Id`: the event's id, the same on every attempt, to drop a repeat;
//! - `X-Newsroom-Timestamp`: when this attempt was signed, in Unix seconds;
//! - `X-Newsroom-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the endpoint's secret,
//!   of the timestamp, a `.`, and the body. Signing the timestamp with the body (as Stripe does)
//!   lets a receiver refuse a captured request replayed later.
//!
//! A 2xx answer is a delivery; anything else, no answer within the timeout, or a refused address
//! is a failure, tried again with exponential backoff and jitter up to the configured number of
//! attempts. Redirects are not followed and no proxy is used. Unless private addresses are
//! allowed, the URL's host must be public and every address it resolves to is checked when the
//! request connects, so a name that resolves to 127.0.0.1 or 169.254.169.254 reaches nothing.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{
    background::Background,
    config::Config,
    graphql::ids::{self, Kind},
};
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use newsroom_domain::{
    Error as DomainError,
    articles::{self, Audience},
    catalog,
    clock::Clock,
    disclaimer,
    entities::{ArticleKind, License, WebhookEventKind, article, webhook_endpoint, webhook_event},
    render,
    site::SiteSettings,
    webhooks::{
        self, UrlPolicy,
        delivery::{self, Attempt, Backoff, Claimer, Sent},
        dispatch,
    },
};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use sha2::Sha256;

/// Endpoints one round claims at most.
const CLAIMS_PER_ROUND: u64 = 32;
/// Endpoints delivered to at the same time.
const CONCURRENCY: usize = 8;
/// Events sent to one endpoint per claim before it is handed back.
const EVENTS_PER_CLAIM: u64 = 50;
/// How long a claim outlives the longest attempt: it runs out only when its process died.
const LEASE_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// How the worker runs, from the configuration.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// How often it looks for work when there was none.
    pub poll: Duration,
    /// The longest one delivery may take.
    pub timeout: Duration,
    /// How retries back off, and when an event is given up.
    pub backoff: Backoff,
    /// Which URLs may be called.
    pub urls: UrlPolicy,
}

impl WebhookSettings {
    /// The settings `config` names.
    pub fn from_config(config: &Config) -> Self {
        let ms = |n: u64| TimeDelta::milliseconds(i64::try_from(n).unwrap_or(i64::MAX));
        WebhookSettings {
            poll: Duration::from_millis(config.webhook_poll_ms),
            timeout: Duration::from_millis(config.webhook_timeout_ms),
            backoff: Backoff {
                first: ms(config.webhook_retry_first_ms),
                max: ms(config.webhook_retry_max_ms),
                max_attempts: i32::try_from(config.webhook_max_attempts).unwrap_or(i32::MAX),
            },
            urls: UrlPolicy {
                allow_private: config.webhook_allow_private(),
            },
        }
    }
}

/// The event names receivers see in `X-Newsroom-Event` and the body's `type`.
pub fn event_name(kind: WebhookEventKind) -> &'static str {
    match kind {
        WebhookEventKind::Published => "article.published",
        WebhookEventKind::Updated => "article.updated",
        WebhookEventKind::Removed => "article.removed",
    }
}

/// `sha256=<hex>`: the HMAC-SHA256 of `{timestamp}.{body}` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={:x}", mac.finalize().into_bytes())
}

/// The JSON body of a delivery.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    occurred_at: DateTime<Utc>,
    article: PayloadArticle,
}

/// The article an event is about: its id and slug, and for a publication or an update the article
/// as partners may have it now, with its attribution and disclaimer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadArticle {
    id: String,
    slug: String,
    #[serde(flatten)]
    content: Option<Content>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    url: Option<String>,
    title: String,
    lead: Option<String>,
    body_html: String,
    author: Option<String>,
    cover_image: Option<String>,
    kind: ArticleKind,
    published_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    version: i32,
    source: Option<SourceRef>,
    original_url: Option<String>,
    disclaimer: Option<DisclaimerRef>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceRef {
    slug: String,
    name: String,
    homepage: Option<String>,
    license: License,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DisclaimerRef {
    text: String,
    source_name: Option<String>,
    original_url: Option<String>,
    license: License,
    takedown_contact: Option<String>,
}

/// The article's content as a partner receives it.
async fn content(
    db: &DatabaseConnection,
    site: &SiteSettings,
    a: article::Model,
) -> Result<Content, DomainError> {
    let source = match a.source_id {
        Some(id) => catalog::sources_by_ids(db, &[id]).await?.pop(),
        None => None,
    };
    let notice = disclaimer::resolve(&a, source.as_ref(), site).map(|d| DisclaimerRef {
        text: d.text,
        source_name: d.source_name,
        original_url: d.original_url,
        license: d.license,
        takedown_contact: d.takedown_contact,
    });
    Ok(Content {
        url: site.article_url(&a.slug),
        body_html: render::to_html(&a.body, a.body_format),
        source: source.map(|s| SourceRef {
            slug: s.slug,
            name: s.name,
            homepage: s.homepage,
            license: s.license,
        }),
        disclaimer: notice,
        title: a.title,
        lead: a.lead,
        author: a.author,
        cover_image: a.cover_image,
        kind: a.kind,
        published_at: a.published_at,
        updated_at: a.updated_at,
        version: a.version,
        original_url: a.original_url,
    })
}

/// Resolves names for webhook requests to public addresses only, so that a public name cannot
/// lead a request into the server's own network. Addresses are checked here, where the connection
/// is made, not when the URL was registered: a name can resolve differently later.
pub(crate) struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| webhooks::is_public(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address; private, loopback and link-local addresses are not allowed"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client deliveries use: bounded time, no redirects, no proxy, and only public
/// addresses unless `urls` allows private ones.
pub fn client(timeout: Duration, urls: UrlPolicy) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Newsroom-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !urls.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
    }
    builder.build()
}

/// What went wrong with a request, for the delivery log: the kind of failure and its innermost
/// cause, without the URL.
pub(crate) fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let what = if err.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    if std::ptr::addr_eq(cause, err) {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

/// Delivers webhooks for one server process.
pub struct WebhookWorker {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    settings: WebhookSettings,
    client: reqwest::Client,
    claimer: Claimer,
    background: Background,
}

impl WebhookWorker {
    /// A worker over `db` (a pool of its own, so deliveries never hold the request pool's
    /// connections); [`WebhookWorker::start`] starts it.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> anyhow::Result<Arc<Self>> {
        let client = client(settings.timeout, settings.urls)?;
        let lease = TimeDelta::from_std(settings.timeout).unwrap_or(TimeDelta::MAX) + LEASE_MARGIN;
        Ok(Arc::new(WebhookWorker {
            db,
            clock,
            client,
            claimer: Claimer {
                worker: uuid::Uuid::new_v4().to_string(),
                lease,
            },
            settings,
            background: Background::default(),
        }))
    }

    /// Starts the background task: a round of work, then another at once while there was work,
    /// else after the poll interval, until [`WebhookWorker::shutdown`].
    pub fn start(self: &Arc<Self>) {
        let worker = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let busy = match worker.round().await {
                    Ok(busy) => busy,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook round failed; will retry");
                        false
                    }
                };
                if worker.background.stopping() {
                    break;
                }
                if !busy && !worker.background.pause(worker.settings.poll).await {
                    break;
                }
            }
        });
        self.background.started(task);
    }

    /// Stops the task after the attempts in flight (each bounded by the timeout) are recorded,
    /// and hands back this process's claims so that another process may go on at once.
    pub async fn shutdown(&self) {
        self.background.stop().await;
        if let Err(e) = delivery::release(&self.db, &self.claimer, None).await {
            tracing::warn!(error = %e, "handing back webhook claims failed; they lapse by themselves");
        }
    }

    /// One round: new log entries into events, then the due endpoints. Returns whether there was
    /// work and all went well, so that the next round can follow at once; after a failure the
    /// worker waits for the poll interval rather than hammer a database that is failing.
    async fn round(&self) -> Result<bool, DomainError> {
        let now = self.clock.now();
        let more = match dispatch::dispatch(&self.db, now).await {
            Ok(more) => more,
            Err(e) => {
                // Events already dispatched can still be delivered.
                tracing::warn!(error = %e, "reading the change log into webhook events failed; will retry");
                false
            }
        };
        let claimed = delivery::claim(&self.db, now, &self.claimer, CLAIMS_PER_ROUND).await?;
        let mut busy = more || !claimed.is_empty();
        let failed = AtomicBool::new(false);
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |endpoint| {
                let failed = &failed;
                async move {
                    let id = endpoint.id;
                    if let Err(e) = self.deliver(endpoint).await {
                        failed.store(true, Ordering::SeqCst);
                        tracing::warn!(error = %e, endpoint = id, "delivering webhooks failed; will retry");
                    }
                    if let Err(e) = delivery::release(&self.db, &self.claimer, Some(id)).await {
                        tracing::warn!(error = %e, endpoint = id, "handing back a webhook claim failed");
                    }
                }
            })
            .await;
        busy &= !failed.load(Ordering::SeqCst);
        Ok(busy)
    }

    /// Sends `endpoint`'s next events in order, while they are delivered.
    async fn deliver(&self, mut endpoint: webhook_endpoint::Model) -> Result<(), DomainError> {
        let events = delivery::pending(&self.db, &endpoint, EVENTS_PER_CLAIM).await?;
        let site = SiteSettings::load(&self.db).await?;
        for event in events {
            if self.background.stopping() {
                break;
            }
            let attempt = self.attempt(&endpoint, &event, &site).await?;
            let done = matches!(attempt.sent, Sent::Answered(200..=299) | Sent::Withheld);
            let now = self.clock.now();
            let next = delivery::record(
                &self.db,
                now,
                &self.claimer,
                &self.settings.backoff,
                &endpoint,
                &event,
                attempt,
            )
            .await?;
            match next {
                Some(next) if done => endpoint = next,
                _ => break,
            }
        }
        Ok(())
    }

    /// Makes one attempt at `event`. A publication or update whose article partners may no
    /// longer have is withheld: its content is not pushed, and the removal that follows is sent.
    async fn attempt(
        &self,
        endpoint: &webhook_endpoint::Model,
        event: &webhook_event::Model,
        site: &SiteSettings,
    ) -> Result<Attempt, DomainError> {
        let now = self.clock.now();
        let content = match event.kind {
            WebhookEventKind::Removed => None,
            WebhookEventKind::Published | WebhookEventKind::Updated => {
                let shown =
                    articles::visible_by_ids(&self.db, now, Audience::Partner, &[event.article_id])
                        .await?
                        .remove(&event.article_id);
                let Some(article) = shown else {
                    return Ok(Attempt {
                        sent: Sent::Withheld,
                        duration_ms: None,
                    });
                };
                Some(content(&self.db, site, article).await?)
            }
        };
        let failed = |error: String| Attempt {
            sent: Sent::Failed(error),
            duration_ms: None,
        };
        if let Err(e) = webhooks::check_url("url", &endpoint.url, self.settings.urls) {
            return Ok(failed(format!("the URL may not be called: {e}")));
        }
        let payload = Payload {
            id: &event.uid,
            kind: event_name(event.kind),
            occurred_at: event.occurred_at,
            article: PayloadArticle {
                id: ids::encode(Kind::Article, event.article_id).0,
                slug: event.slug.clone(),
                content,
            },
        };
        let body = match serde_json::to_vec(&payload) {
            Ok(body) => body,
            Err(e) => return Ok(failed(format!("the body could not be written: {e}"))),
        };
        let timestamp = now.timestamp();
        let started = Instant::now();
        let answer = self
            .client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Newsroom-Event", event_name(event.kind))
            .header("X-Newsroom-Event-Id", &event.uid)
            .header(
                "X-Newsroom-Delivery-Attempt",
                (endpoint.attempts + 1).to_string(),
            )
            .header("X-Newsroom-Timestamp", timestamp.to_string())
            .header(
                "X-Newsroom-Signature",
                signature(&endpoint.secret, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).ok();
        Ok(Attempt {
            sent: match answer {
                Ok(response) => Sent::Answered(response.status().as_u16()),
                Err(e) => Sent::Failed(describe(&e, self.settings.timeout)),
            },
            duration_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"whsec_test", b'1700000000.{"a":1}', sha256).
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(
            signature("whsec_test", 1_700_000_001, br#"{"a":1}"#),
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#)
        );
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_reach_nothing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let strict = client(
            Duration::from_secs(5),
            UrlPolicy {
                allow_private: false,
            },
        )
        .unwrap();
        let err = strict
            .post(format!("http://localhost:{port}/hook"))
            .send()
            .await
            .unwrap_err();
        let text = describe(&err, Duration::from_secs(5));
        assert!(text.contains("no public address"), "{text}");
        // The same request with private addresses allowed reaches the listener.
        let loose = client(
            Duration::from_secs(5),
            UrlPolicy {
                allow_private: true,
            },
        )
        .unwrap();
        let request = tokio::spawn(async move {
            loose
                .post(format!("http://localhost:{port}/hook"))
                .send()
                .await
        });
        assert!(listener.accept().await.is_ok());
        request.abort();
    }
}
