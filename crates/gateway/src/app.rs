//! The HTTP application: one state built at start-up, the routes, and a server bound to a port
//! the caller can read back (tests bind port 0 and ask which port they got).

use std::{net::TcpListener, sync::Arc};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    dev::Server,
    http::header::{self, ContentType},
    web,
};
use newsroom_domain::{clock::Clock, search::Segmenter, users::LoginPolicy};

pub use actix_web::dev::ServerHandle;
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::{
    auth::AuthKeys,
    config::{Config, Environment},
    feeds,
    graphql::{self, NewsroomSchema, Services, limits::QueryLimits, persisted::PersistedQueries},
    ingest::{IngestSettings, IngestWorker},
    rest,
    views::{ViewService, ViewSettings},
    webhooks::{WebhookSettings, WebhookWorker},
};

/// What every request handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The pool.
    pub db: DatabaseConnection,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// The schema, built once.
    pub schema: NewsroomSchema,
    /// The token keys.
    pub auth: Arc<AuthKeys>,
    /// The view counter and ranking cache.
    pub views: Arc<ViewService>,
    /// Partners' request limits.
    pub limiter: Arc<crate::limits::RateLimiter>,
    /// Cuts queries into words for search.
    pub segmenter: Segmenter,
    /// What one GraphQL request may ask for.
    pub limits: QueryLimits,
    /// The largest request body read.
    pub max_body_bytes: usize,
    /// Automatic persisted queries and the allow-list.
    pub persisted: Arc<PersistedQueries>,
}

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    views: Arc<ViewService>,
    webhooks: Arc<WebhookWorker>,
    ingest: Option<Arc<IngestWorker>>,
}

impl Application {
    /// Binds `config.bind` and builds the server over `db`, connecting to Redis when configured
    /// and starting the view flusher, the webhook worker and (with `NEWSROOM_INGEST`) the feed
    /// ingest. `segmenter` is built once by the caller (it loads the dictionaries, see
    /// [`crate::cli::segmenter`]) and shared by every worker.
    pub async fn build(
        config: &Config,
        auth: AuthKeys,
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        segmenter: Segmenter,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)?;
        let port = listener.local_addr()?.port();
        let auth = Arc::new(auth);
        let views = ViewService::new(
            db.clone(),
            clock.clone(),
            ViewSettings {
                window: chrono::TimeDelta::seconds(
                    i64::try_from(config.view_window_secs).unwrap_or(1800),
                ),
                flush_every: std::time::Duration::from_millis(config.view_flush_ms),
                ranking_refresh: std::time::Duration::from_secs(config.ranking_refresh_secs),
                redis_url: config.redis_url.clone(),
                redis_prefix: config.redis_prefix.clone(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("connecting to REDIS_URL: {e}"))?;
        views.start();
        let webhook_settings = WebhookSettings::from_config(config);
        let webhooks = WebhookWorker::new(
            worker_pool(config, &db).await?,
            clock.clone(),
            webhook_settings.clone(),
        )?;
        webhooks.start();
        let ingest = if config.ingest {
            let worker = IngestWorker::new(
                worker_pool(config, &db).await?,
                segmenter.clone(),
                clock.clone(),
                IngestSettings::from_config(config),
            )?;
            worker.start();
            Some(worker)
        } else {
            None
        };
        let limiter = crate::limits::RateLimiter::new(
            config.partner_rate_limit,
            config.redis_url.as_deref(),
            &config.redis_prefix,
        )
        .await
        .map_err(|e| anyhow::anyhow!("connecting to REDIS_URL: {e}"))?;
        let limits = QueryLimits::from_config(config);
        let services = Services {
            auth: auth.clone(),
            login_policy: login_policy(config),
            login_failure_delay: std::time::Duration::from_millis(config.login_failure_delay_ms),
            views: views.clone(),
            segmenter: segmenter.clone(),
            webhook_urls: webhook_settings.urls,
        };
        let state = AppState {
            db,
            clock,
            schema: graphql::build(services, config.env == Environment::Production, limits),
            auth,
            views: views.clone(),
            limiter: Arc::new(limiter),
            segmenter,
            limits,
            max_body_bytes: config.max_body_bytes,
            persisted: Arc::new(PersistedQueries::new(config.graphql_allow_list)),
        };
        let max_body = config.max_body_bytes;
        let console = config.env == Environment::Development;
        spawn_throttle_purge(state.db.clone(), state.clock.clone(), login_policy(config));
        let first_seen = web::Data::new(crate::caching::FirstSeen::default());
        let metrics = web::Data::from(crate::ops::Metrics::new()?);
        let ops_config = config.clone();
        let openapi = web::Data::new(rest::openapi::Document(rest::openapi::json()));
        let mut server = HttpServer::new(move || {
            let app = App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::caching::conditional_get,
                ))
                .wrap(actix_web::middleware::from_fn(head_as_get))
                .wrap(crate::ops::cors(&ops_config))
                .wrap(actix_web::middleware::from_fn(crate::ops::record_metrics))
                .wrap(actix_web::middleware::from_fn(crate::ops::request_id))
                .wrap(crate::ops::security_headers())
                .app_data(metrics.clone())
                .app_data(first_seen.clone())
                .app_data(openapi.clone())
                .app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(max_body))
                .configure(routes);
            if console {
                app.route("/", web::get().to(console_page))
            } else {
                app
            }
        })
        .listen(listener)?;
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            views,
            webhooks,
            ingest,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop (SIGINT / SIGTERM), drains requests, then writes
    /// the views still buffered, so a clean stop loses none, and lets the webhook worker record
    /// the attempts in flight and hand back its claims.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.views.shutdown().await;
        self.webhooks.shutdown().await;
        if let Some(ingest) = &self.ingest {
            ingest.shutdown().await;
        }
        served
    }

    /// The view counter, to flush it from a test without waiting for its timer.
    pub fn views(&self) -> Arc<ViewService> {
        self.views.clone()
    }

    /// The server handle, to stop it from a test.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }
}

/// Answers `HEAD` wherever `GET` is served (RFC 9110, 9.3.2): the request is routed and answered
/// as a `GET`, so the status and headers (`ETag`, `Content-Length`, ...) are the same, and the
/// HTTP layer, which remembers the request was a `HEAD`, sends no body. One middleware rather
/// than a `HEAD` route beside each `GET`, so no route can forget it.
async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql::http::post))
            .route(web::get().to(graphql::http::get))
            .default_service(web::to(graphql::http::other_method)),
    )
    .route("/healthz", web::get().to(healthz))
    .route("/readyz", web::get().to(readyz))
    .configure(crate::ops::routes)
    .configure(rest::routes)
    .configure(feeds::routes);
}

/// A small pool of its own for the webhook worker, so that deliveries never wait for, or hold,
/// the connections requests use. An in-memory SQLite database exists only in its own pool, so it
/// is shared instead.
async fn worker_pool(
    config: &Config,
    shared: &DatabaseConnection,
) -> anyhow::Result<DatabaseConnection> {
    let url = &config.database_url;
    if url.starts_with("sqlite:") && newsroom_domain::db::sqlite_file(url).is_none() {
        return Ok(shared.clone());
    }
    Ok(newsroom_domain::db::connect(url, 4).await?)
}

fn login_policy(config: &Config) -> LoginPolicy {
    LoginPolicy {
        max_failures: i32::try_from(config.login_max_failures).unwrap_or(i32::MAX),
        window: chrono::TimeDelta::seconds(i64::try_from(config.login_window_secs).unwrap_or(900)),
    }
}

/// Every ten minutes, forgets failed-login windows that have ended, so the table stays small.
fn spawn_throttle_purge(db: DatabaseConnection, clock: Arc<dyn Clock>, policy: LoginPolicy) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            if let Err(e) = newsroom_domain::users::purge_throttle(&db, clock.now(), policy).await {
                tracing::warn!(error = %e, "purging the login throttle failed");
            }
        }
    });
}

/// The request's `User-Agent`, if it is text.
pub fn user_agent(http: &HttpRequest) -> Option<String> {
    http.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "database unreachable" }))
        }
    }
}

/// A small query console that needs no network: the page and its script are served from here.
async fn console_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CONTENT_SECURITY_POLICY, crate::ops::CONSOLE_CSP))
        .body(include_str!("console.html"))
}
