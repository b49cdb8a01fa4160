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
    graphql::{
        self, NewsroomSchema, Services, documents::Documents, limits::QueryLimits,
        persisted::PersistedQueries, ws::WsSettings,
    },
    ingest::{IngestSettings, IngestWorker},
    publications::PublicationHub,
    response_cache::ResponseCache,
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
    /// Queries parsed before, by their text.
    pub documents: Arc<Documents>,
    /// Publications for subscribers, and the count of their connections.
    pub publications: Arc<PublicationHub>,
    /// How subscription connections behave.
    pub ws: WsSettings,
    /// Whole answers to reads; `None` when `NEWSROOM_RESPONSE_CACHE` is off.
    pub cache: Option<Arc<ResponseCache>>,
}

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    views: Arc<ViewService>,
    webhooks: Arc<WebhookWorker>,
    publications: Arc<PublicationHub>,
    /// Told once to begin a graceful stop (see [`Application::stop_on_signals`]).
    stopping: Arc<tokio::sync::Notify>,
    cache: Option<Arc<ResponseCache>>,
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
                totals_every: std::time::Duration::from_millis(config.view_totals_ms),
                ranking_refresh: std::time::Duration::from_secs(config.ranking_refresh_secs),
                redis_url: config.redis_url.clone(),
                redis_prefix: config.redis_prefix.clone(),
                max_buffered: config.view_buffer_max,
                recheck: std::time::Duration::from_millis(config.view_recheck_ms),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("connecting to REDIS_URL: {e}"))?;
        let cache = ResponseCache::from_config(config, db.clone(), clock.clone())
            .await
            .map_err(|e| anyhow::anyhow!("listening for content changes: {e}"))?;
        if let Some(cache) = &cache {
            views.on_write(cache.clone());
        }
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
        let publications = PublicationHub::new(
            db.clone(),
            clock.clone(),
            std::time::Duration::from_millis(config.graphql_ws_poll_ms),
            config.graphql_ws_max_connections,
        );
        publications.start().await;
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
            documents: Arc::default(),
            publications: publications.clone(),
            ws: WsSettings::from_config(config),
            cache: cache.clone(),
        };
        let max_body = config.max_body_bytes;
        let console = config.env == Environment::Development;
        let graphiql = config.graphiql();
        spawn_throttle_purge(state.db.clone(), state.clock.clone(), login_policy(config));
        let first_seen = web::Data::new(crate::caching::FirstSeen::default());
        let metrics = web::Data::from(crate::ops::Metrics::new()?);
        let ops_config = config.clone();
        let openapi = web::Data::new(rest::openapi::Document(rest::openapi::json()));
        let stopping = Arc::new(tokio::sync::Notify::new());
        let stop = stopping.clone();
        let closing = publications.clone();
        let mut server = HttpServer::new(move || {
            let app = App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::response_cache::rest_reads,
                ))
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
            let app = if graphiql {
                app.configure(crate::graphiql::routes)
            } else {
                app
            };
            if console {
                app.route("/", web::get().to(console_page))
            } else {
                app
            }
        })
        // Our own signal handling (`stop_on_signals`) rather than actix-web's, which treats
        // Ctrl-C as a forced stop that drops requests in flight. Subscription connections are
        // told to close first: a WebSocket never ends by itself, and a graceful stop waits for
        // every request.
        .shutdown_signal(async move {
            stop.notified().await;
            tracing::info!("stopping: closing subscription connections, then draining requests");
            closing.close_all();
        })
        .shutdown_timeout(config.shutdown_timeout_secs)
        .listen(listener)?;
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            views,
            webhooks,
            publications,
            stopping,
            cache,
            ingest,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes SIGTERM and SIGINT (Ctrl-C) begin a graceful stop: no new connections are taken,
    /// requests in flight get `NEWSROOM_SHUTDOWN_TIMEOUT_SECS` to finish, and then
    /// [`Application::run_until_stopped`] writes the buffers. The handlers are in place when
    /// this returns.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        let stopping = self.stopping.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            tokio::spawn(async move {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                };
                tracing::info!(signal = name, "stopping: finishing the requests in flight");
                stopping.notify_one();
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("stopping: finishing the requests in flight");
                stopping.notify_one();
            }
        });
        Ok(())
    }

    /// Serves until told to stop (a signal, see [`Application::stop_on_signals`], or the
    /// [`ServerHandle`]), drains requests, then writes the views still buffered, so a clean stop
    /// loses none, and lets the webhook worker record the attempts in flight and hand back its
    /// claims.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.publications.shutdown().await;
        if let Some(cache) = &self.cache {
            cache.stop();
        }
        tracing::info!(
            buffered_views = self.views.buffered(),
            untotalled_views = self.views.untotalled(),
            "requests drained: writing buffered views and webhook state"
        );
        let ingest = async {
            if let Some(ingest) = &self.ingest {
                ingest.shutdown().await;
            }
        };
        tokio::join!(self.views.shutdown(), self.webhooks.shutdown(), ingest);
        served
    }

    /// The view counter, to flush it from a test without waiting for its timer.
    pub fn views(&self) -> Arc<ViewService> {
        self.views.clone()
    }

    /// The response cache, if it is on: tests that write rows behind the server's back tell it.
    pub fn cache(&self) -> Option<Arc<ResponseCache>> {
        self.cache.clone()
    }

    /// The server handle, to stop it from a test. [`ServerHandle::stop`] drains like a signal
    /// does, except that it cannot tell subscription connections to close first: a test closes
    /// its own.
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
            .route(
                web::get()
                    .guard(actix_web::guard::fn_guard(graphql::ws::is_upgrade))
                    .to(graphql::ws::upgrade),
            )
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
    let options = newsroom_domain::db::PoolOptions {
        max_connections: 4,
        ..config.pool_options()
    };
    Ok(newsroom_domain::db::connect_with(url, options).await?)
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

/// Ready when the database answers and every migration this build knows has been applied: a
/// server whose schema is behind its code would fail requests one by one, so it says so here.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    use migration::MigratorTrait;
    let not_ready = |status: &str| {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::RETRY_AFTER,
                crate::ops::RETRY_AFTER_SECS.to_string(),
            ))
            .json(json!({ "status": status }))
    };
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "readiness check: database unreachable");
        return not_ready("database unreachable");
    }
    // Read-only: a probe must not create the migrations table.
    match migration::Migrator::get_pending_migrations_read_only(&state.db).await {
        Ok(pending) if pending.is_empty() => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(pending) => {
            let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
            tracing::warn!(pending = ?names, "readiness check: migrations pending");
            not_ready(&format!(
                "{} migration(s) pending: run `newsroom migrate`",
                pending.len()
            ))
        }
        // A migration this build does not know: a newer build migrated during a rolling deploy.
        // Nothing this build needs is pending, so it stays in rotation until it is replaced.
        Err(sea_orm::DbErr::Custom(why)) if why.contains("is missing") => {
            tracing::debug!(%why, "readiness check: the database has migrations newer than this build");
            HttpResponse::Ok().json(json!({ "status": "ready" }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: cannot read the applied migrations");
            not_ready("database unreachable")
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
