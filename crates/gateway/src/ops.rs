//! Operations: security headers, CORS, request ids with logging, Prometheus metrics, and how
//! logs are written. Each piece is a middleware or a route the application wraps itself in.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use actix_cors::Cors;
use actix_web::{
    HttpMessage, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{self, HeaderName, HeaderValue},
    },
    middleware::{DefaultHeaders, Next},
    web,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use sea_orm::{DatabaseConnection, DatabaseConnectionType};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::{
    app::AppState,
    config::{Config, Environment, LogFormat},
};

/// The header carrying a request's id, in requests and responses.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The view beacon's visitor id. A portal on another origin must be allowed to send it: without
/// it the API tells readers apart by address and user agent, and behind a proxy every reader
/// with the same browser would count as one.
const VISITOR_ID: HeaderName = HeaderName::from_static("x-visitor-id");

/// The longest request id taken from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The `Retry-After` of a `503` sent because the database (or Redis) could not be reached: long
/// enough for a restarted database to come back, short enough that clients barely notice.
pub const RETRY_AFTER_SECS: u16 = 5;

/// How many distinct GraphQL operation names `/metrics` reports; later names count as `other`,
/// so that clients inventing names cannot grow the number of series without bound.
pub const MAX_OPERATION_NAMES: usize = 200;

/// The longest operation name reported; a longer one counts as `other`.
const MAX_OPERATION_NAME_LEN: usize = 100;

/// The latency buckets, in seconds, of every histogram.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Starts logging to standard error: JSON lines or human-readable text as configured, filtered
/// by `RUST_LOG` (default `info`).
pub fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init`: a second call (a test, an embedding program) keeps the first subscriber.
    let _ = match config.log_format() {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Headers every response carries. The API answers JSON, XML feeds and (in development) one
/// console page, so the policy forbids everything by default; the console sets its own.
/// `Strict-Transport-Security` is left to the TLS terminator, which knows whether HTTPS is used.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ))
        .add((
            HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin",
        ))
}

/// The policy of the development console page: its own inline script and style, and requests
/// to this server only.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Cross-origin access: the configured origins (`*` for any), or when none are configured any
/// loopback origin in development and none in production. Requests from other origins are
/// served without CORS headers (the browser then withholds the answer); preflights from them are
/// refused.
pub fn cors(config: &Config) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            VISITOR_ID,
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER, REQUEST_ID])
        .max_age(3600)
        .block_on_origin_mismatch(false);
    match &config.cors_origins {
        Some(origins) if origins.iter().any(|o| o == "*") => cors = cors.allow_any_origin(),
        Some(origins) => {
            for origin in origins {
                cors = cors.allowed_origin(origin);
            }
        }
        None if config.env == Environment::Development => {
            cors =
                cors.allowed_origin_fn(|origin, _| origin.to_str().is_ok_and(is_loopback_origin));
        }
        None => {}
    }
    cors
}

/// `http(s)://localhost`, `127.0.0.1` or `[::1]`, with any port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = crate::config::after_web_scheme(origin) else {
        return false;
    };
    let host = match rest.strip_prefix("[::1]") {
        Some(port) => return port.is_empty() || is_port(port),
        None => rest.split_once(':').map_or(rest, |(host, _)| host),
    };
    let port = &rest[host.len()..];
    matches!(host, "localhost" | "127.0.0.1") && (port.is_empty() || is_port(port))
}

fn is_port(s: &str) -> bool {
    s.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A request's id, as put in its extensions by [`request_id`].
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Whether a client's request id can be reused: 1 to 128 visible ASCII characters.
pub fn sane_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.iter().all(u8::is_ascii_graphic)
}

/// Gives each request an id (the client's `X-Request-Id` when sane, else a new UUID), runs it in
/// a tracing span carrying that id, logs its outcome, and returns the id in `X-Request-Id`.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .map(HeaderValue::as_bytes)
        .filter(|id| sane_request_id(id))
        .and_then(|id| std::str::from_utf8(id).ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// The Prometheus registry and the series the server keeps.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    operations: IntCounterVec,
    operation_latency: HistogramVec,
    /// The operation names reported so far, at most [`MAX_OPERATION_NAMES`].
    operation_names: Mutex<HashSet<String>>,
    views_buffered: IntGauge,
    views_untotalled: IntGauge,
    views_dropped: IntCounter,
    db_connections: IntGauge,
    db_connections_idle: IntGauge,
    db_connections_in_use: IntGauge,
    db_connections_max: IntGauge,
}

impl Metrics {
    /// Registers every series.
    pub fn new() -> Result<Arc<Self>, prometheus::Error> {
        let registry = Registry::new_custom(Some("newsroom".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to produce a response, by route pattern",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let operations = IntCounterVec::new(
            Opts::new(
                "graphql_operations_total",
                "GraphQL operations answered, by operation name (`anonymous` when unnamed, `other` past the first names) and outcome (`ok` or the first error's code)",
            ),
            &["operation", "outcome"],
        )?;
        let operation_latency = HistogramVec::new(
            HistogramOpts::new(
                "graphql_operation_duration_seconds",
                "Time to answer the request carrying a GraphQL operation, by operation name",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let views_buffered = IntGauge::new(
            "views_buffered",
            "Views counted in memory and not yet written to the hourly buckets",
        )?;
        let views_untotalled = IntGauge::new(
            "views_untotalled",
            "Views counted that the articles' view counts have not taken up yet (written every NEWSROOM_VIEW_TOTALS_MS)",
        )?;
        let views_dropped = IntCounter::new(
            "views_dropped_total",
            "Views refused because the buffer was full (the database unwritable for long)",
        )?;
        let db_connections = IntGauge::new(
            "db_pool_connections",
            "Connections open in the request database pool",
        )?;
        let db_connections_idle = IntGauge::new(
            "db_pool_connections_idle",
            "Open connections in the request database pool not in use",
        )?;
        let db_connections_in_use = IntGauge::new(
            "db_pool_connections_in_use",
            "Connections of the request database pool serving a query or transaction",
        )?;
        let db_connections_max = IntGauge::new(
            "db_pool_connections_max",
            "The most connections the request database pool opens",
        )?;
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(operations.clone()),
            Box::new(operation_latency.clone()),
            Box::new(views_buffered.clone()),
            Box::new(views_untotalled.clone()),
            Box::new(views_dropped.clone()),
            Box::new(db_connections.clone()),
            Box::new(db_connections_idle.clone()),
            Box::new(db_connections_in_use.clone()),
            Box::new(db_connections_max.clone()),
        ] {
            registry.register(collector)?;
        }
        Ok(Arc::new(Metrics {
            registry,
            requests,
            latency,
            operations,
            operation_latency,
            operation_names: Mutex::new(HashSet::new()),
            views_buffered,
            views_untotalled,
            views_dropped,
            db_connections,
            db_connections_idle,
            db_connections_in_use,
            db_connections_max,
        }))
    }

    /// Counts a GraphQL operation: `name` as the document named it (`None` when it did not, or
    /// was refused before it could be read), `outcome` `ok` or an error code, and how long the
    /// request carrying it took.
    pub fn observe_operation(&self, name: Option<&str>, outcome: &str, elapsed: Duration) {
        let label = match name {
            None => "anonymous",
            Some(name) => {
                let mut known = self
                    .operation_names
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if known.contains(name) {
                    name
                } else if known.len() < MAX_OPERATION_NAMES && name.len() <= MAX_OPERATION_NAME_LEN
                {
                    known.insert(name.to_owned());
                    name
                } else {
                    "other"
                }
            }
        };
        self.operations.with_label_values(&[label, outcome]).inc();
        self.operation_latency
            .with_label_values(&[label])
            .observe(elapsed.as_secs_f64());
    }

    /// The registry in the Prometheus text format, after reading the gauges.
    fn render(&self, state: &AppState) -> Result<String, prometheus::Error> {
        self.views_buffered.set(state.views.buffered());
        self.views_untotalled.set(state.views.untotalled());
        let dropped = state.views.dropped();
        self.views_dropped
            .inc_by(dropped.saturating_sub(self.views_dropped.get()));
        if let Some(pool) = pool_use(&state.db) {
            self.db_connections.set(i64::from(pool.size));
            self.db_connections_idle.set(i64::from(pool.idle));
            self.db_connections_in_use
                .set(i64::from(pool.size.saturating_sub(pool.idle)));
            self.db_connections_max.set(i64::from(pool.max));
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// What a pool holds at one moment.
struct PoolUse {
    size: u32,
    idle: u32,
    max: u32,
}

/// Open, idle and the most connections of the pool, for the pooled drivers.
fn pool_use(db: &DatabaseConnection) -> Option<PoolUse> {
    let (size, idle, max) = match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return None,
    };
    Some(PoolUse {
        size,
        idle: u32::try_from(idle).unwrap_or(u32::MAX),
        max,
    })
}

/// Counts each request by method, route pattern (never the raw path, so the number of series
/// stays bounded; `unmatched` for a path no route knows) and status, and times it.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let method = res.request().method().as_str().to_owned();
        let method = match method.as_str() {
            "GET" | "POST" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "PATCH" => method,
            _ => "other".to_owned(),
        };
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics
            .requests
            .with_label_values(&[method.as_str(), route.as_str(), res.status().as_str()])
            .inc();
        metrics
            .latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// The operations routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn metrics(metrics: web::Data<Metrics>, state: web::Data<AppState>) -> HttpResponse {
    match metrics.render(&state) {
        Ok(text) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            HttpResponse::InternalServerError().json(serde_json::json!({
                "error": { "code": "INTERNAL", "message": "metrics are unavailable" }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_recognised() {
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "https://127.0.0.1:8443",
            "http://[::1]:5173",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com",
            "http://127.0.0.1.nip.io",
            "https://example.com",
            "http://localhost:abc",
            "http://[::1]x",
            "null",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn only_short_visible_ascii_request_ids_are_kept() {
        assert!(sane_request_id(b"abc-123_XYZ"));
        assert!(!sane_request_id(b""));
        assert!(!sane_request_id(b"has space"));
        assert!(!sane_request_id("é".as_bytes()));
        assert!(!sane_request_id(&[b'a'; 129]));
        assert!(sane_request_id(&[b'a'; 128]));
    }
}
