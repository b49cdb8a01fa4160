//! Fetching sources' feeds for ingest ([`newsroom_domain::ingest`] parses and stores them):
//! `newsroom ingest` on demand, and with `NEWSROOM_INGEST` set a background task in `serve` that
//! takes each due feed in.
//!
//! Requests are bounded like webhook deliveries: a timeout for the whole fetch, a size limit
//! read as the body arrives, no proxy, and (unless private addresses are allowed) only public
//! addresses, checked where the connection is made; a redirect (at most five) is followed only
//! to a URL that passes the same check. A feed that cannot be fetched, parsed or stored is
//! logged and recorded on its source, and tried again later.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::{
    Error as DomainError,
    clock::Clock,
    entities::source,
    ingest::{self, IngestReport, Schedule},
    search::Segmenter,
    webhooks::{self, UrlPolicy},
};
use sea_orm::DatabaseConnection;

use crate::{background::Background, config::Config};

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;
/// How often the background task looks for due feeds.
const POLL: Duration = Duration::from_secs(60);
/// How long a claim outlives the fetch: it runs out only when its process died.
const LEASE_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// How feeds are fetched, from the configuration.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// When feeds are fetched and failures retried.
    pub schedule: Schedule,
    /// The longest one fetch may take.
    pub timeout: Duration,
    /// The largest feed read.
    pub max_bytes: u64,
    /// Which URLs may be fetched.
    pub urls: UrlPolicy,
}

impl IngestSettings {
    /// The settings `config` names.
    pub fn from_config(config: &Config) -> Self {
        IngestSettings {
            schedule: Schedule {
                interval: TimeDelta::seconds(
                    i64::try_from(config.ingest_interval_secs).unwrap_or(1800),
                ),
                max_wait: TimeDelta::days(1),
            },
            timeout: Duration::from_millis(config.ingest_timeout_ms),
            max_bytes: config.ingest_max_bytes,
            urls: UrlPolicy {
                allow_private: config.ingest_allow_private(),
            },
        }
    }
}

/// Fetches feeds.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: IngestSettings,
}

impl Fetcher {
    /// A fetcher with its HTTP client.
    pub fn new(settings: IngestSettings) -> anyhow::Result<Self> {
        let urls = settings.urls;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else if let Err(e) = webhooks::check_url("feedUrl", attempt.url().as_str(), urls) {
                attempt.error(format!("redirected to a URL that may not be fetched: {e}"))
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .redirect(redirects)
            .no_proxy()
            .user_agent(concat!("Newsroom-Ingest/", env!("CARGO_PKG_VERSION")));
        if !urls.allow_private {
            builder = builder.dns_resolver(Arc::new(crate::webhooks::PublicAddressesOnly));
        }
        Ok(Fetcher {
            client: builder.build()?,
            settings,
        })
    }

    /// The settings it fetches with.
    pub fn settings(&self) -> &IngestSettings {
        &self.settings
    }

    /// The feed's bytes, as the server sent them (feed-rs decodes them by their XML prolog), or
    /// why they could not be had.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        webhooks::check_url("feedUrl", url, self.settings.urls)
            .map_err(|e| format!("the feed URL may not be fetched: {e}"))?;
        let too_large = || format!("the feed is larger than {} bytes", self.settings.max_bytes);
        let mut response = self
            .client
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1",
            )
            .send()
            .await
            .map_err(|e| crate::webhooks::describe(&e, self.settings.timeout))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the server answered HTTP {}", status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.settings.max_bytes)
        {
            return Err(too_large());
        }
        let limit = usize::try_from(self.settings.max_bytes).unwrap_or(usize::MAX);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| crate::webhooks::describe(&e, self.settings.timeout))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// What became of one source's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Fetched and stored.
    Stored(IngestReport),
    /// Not taken in; recorded on the source.
    Failed {
        /// Why.
        error: String,
        /// When it is tried again.
        next_attempt_at: DateTime<Utc>,
    },
}

/// Fetches, parses and stores the feed of `source` at `now`. A failure is logged and recorded on
/// the source (nothing of the feed is kept); only a failure to record it is an error.
pub async fn ingest_source(
    db: &DatabaseConnection,
    segmenter: &Segmenter,
    fetcher: &Fetcher,
    source: &source::Model,
    now: DateTime<Utc>,
) -> Result<Outcome, DomainError> {
    let schedule = fetcher.settings.schedule;
    let Some(url) = source.feed_url.as_deref() else {
        return Ok(Outcome::Stored(IngestReport::default()));
    };
    let taken = async {
        let bytes = fetcher.fetch(url).await?;
        let feed = ingest::parse(&bytes, url).map_err(|e| e.to_string())?;
        ingest::store(db, segmenter, source.id, feed, now, &schedule)
            .await
            .map_err(|e| match e {
                // Editors read this; what the database said stays in the log.
                DomainError::Database(err) => {
                    tracing::warn!(error = %err, source = %source.slug, "storing a feed failed");
                    "the feed could not be stored (a database error; see the server log)".to_owned()
                }
                other => other.to_string(),
            })
    }
    .await;
    match taken {
        Ok(report) => {
            for skipped in &report.skipped {
                tracing::warn!(
                    source = %source.slug,
                    item = skipped.position,
                    reason = %skipped.reason,
                    "feed item skipped"
                );
            }
            tracing::info!(
                source = %source.slug,
                created = report.created.len(),
                known = report.known,
                skipped = report.skipped.len(),
                "feed taken in"
            );
            Ok(Outcome::Stored(report))
        }
        Err(error) => {
            let next_attempt_at =
                ingest::record_failure(db, source.id, &error, now, &schedule).await?;
            tracing::warn!(source = %source.slug, %error, %next_attempt_at, "feed not taken in; will retry");
            Ok(Outcome::Failed {
                error,
                next_attempt_at,
            })
        }
    }
}

/// Takes feeds in for one server process, when `NEWSROOM_INGEST` is set.
pub struct IngestWorker {
    db: DatabaseConnection,
    segmenter: Segmenter,
    clock: Arc<dyn Clock>,
    fetcher: Fetcher,
    background: Background,
}

impl IngestWorker {
    /// A worker over `db`; [`IngestWorker::start`] starts it.
    pub fn new(
        db: DatabaseConnection,
        segmenter: Segmenter,
        clock: Arc<dyn Clock>,
        settings: IngestSettings,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(IngestWorker {
            db,
            segmenter,
            clock,
            fetcher: Fetcher::new(settings)?,
            background: Background::default(),
        }))
    }

    /// Starts the background task: a round at once, then one a minute, until
    /// [`IngestWorker::shutdown`].
    pub fn start(self: &Arc<Self>) {
        let worker = self.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = worker.round().await {
                    tracing::warn!(error = %e, "ingest round failed; will retry");
                }
                if !worker.background.pause(POLL).await {
                    break;
                }
            }
        });
        self.background.started(task);
    }

    /// Stops the task after the feed in hand (each fetch bounded by the timeout).
    pub async fn shutdown(&self) {
        self.background.stop().await;
    }

    /// Takes in every due feed this process manages to claim.
    async fn round(&self) -> Result<(), DomainError> {
        let lease = TimeDelta::from_std(self.fetcher.settings.timeout).unwrap_or(TimeDelta::MAX)
            + LEASE_MARGIN;
        for source in ingest::due(&self.db, self.clock.now()).await? {
            if self.background.stopping() {
                break;
            }
            let now = self.clock.now();
            if !ingest::claim(&self.db, source.id, now, lease).await? {
                continue;
            }
            ingest_source(&self.db, &self.segmenter, &self.fetcher, &source, now).await?;
        }
        Ok(())
    }
}
