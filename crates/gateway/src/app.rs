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
    auth::{self, AuthKeys, AuthenticateError},
    config::{Config, Environment},
    feeds,
    graphql::{self, NewsroomSchema, Services, errors::ensure_codes, loaders::RequestContext},
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
}

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    views: Arc<ViewService>,
    webhooks: Arc<WebhookWorker>,
}

impl Application {
    /// Binds `config.bind` and builds the server over `db`, connecting to Redis when configured
    /// and starting the view flusher and the webhook worker. `segmenter` is built once by the caller (it loads the
    /// dictionaries, see [`crate::cli::segmenter`]) and shared by every worker.
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
        let limiter = crate::limits::RateLimiter::new(
            config.partner_rate_limit,
            config.redis_url.as_deref(),
            &config.redis_prefix,
        )
        .await
        .map_err(|e| anyhow::anyhow!("connecting to REDIS_URL: {e}"))?;
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
            schema: graphql::build(services, config.env == Environment::Production),
            auth,
            views: views.clone(),
            limiter: Arc::new(limiter),
            segmenter,
        };
        let max_body = config.max_body_bytes;
        let console = config.env == Environment::Development;
        spawn_throttle_purge(state.db.clone(), state.clock.clone(), login_policy(config));
        let first_seen = web::Data::new(crate::caching::FirstSeen::default());
        let metrics = web::Data::from(crate::ops::Metrics::new()?);
        let ops_config = config.clone();
        let mut server = HttpServer::new(move || {
            let app = App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::caching::conditional_get,
                ))
                .wrap(crate::ops::cors(&ops_config))
                .wrap(actix_web::middleware::from_fn(crate::ops::record_metrics))
                .wrap(actix_web::middleware::from_fn(crate::ops::request_id))
                .wrap(crate::ops::security_headers())
                .app_data(metrics.clone())
                .app_data(first_seen.clone())
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

/// Every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql_post))
        .route("/graphql", web::get().to(graphql_get))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .configure(crate::ops::routes)
        .configure(rest::routes)
        .configure(feeds::routes);
}

/// A request the GraphQL endpoint cannot even read: answered in the GraphQL error shape.
fn unreadable(status: actix_web::http::StatusCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "errors": [{ "message": message.into(), "extensions": { "code": "BAD_USER_INPUT" } }]
    }))
}

async fn graphql_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return unreadable(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as `Content-Type: application/json`",
        );
    }
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => execute(&state, &req, request).await,
        Err(e) => unreadable(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("the body is not a GraphQL request in JSON: {e}"),
        ),
    }
}

async fn graphql_get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match async_graphql::http::parse_query_string(req.query_string()) {
        Ok(request) if is_mutation(&request) => HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .json(json!({
                "errors": [{
                    "message": "mutations are sent with POST; GET runs queries only",
                    "extensions": { "code": "BAD_USER_INPUT" }
                }]
            })),
        Ok(request) => execute(&state, &req, request).await,
        Err(e) => unreadable(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("the query string is not a GraphQL request: {e}"),
        ),
    }
}

async fn execute(
    state: &AppState,
    http: &HttpRequest,
    request: async_graphql::Request,
) -> HttpResponse {
    if request.query.trim().is_empty() {
        return unreadable(
            actix_web::http::StatusCode::BAD_REQUEST,
            "the request has no `query`",
        );
    }
    // No text field can hold NUL (PostgreSQL refuses it), so no argument may carry one.
    let variables = serde_json::to_string(&request.variables).unwrap_or_default();
    if request.query.contains('\0')
        || request.query.contains("\\u0000")
        || variables.contains("\\u0000")
    {
        return unreadable(
            actix_web::http::StatusCode::BAD_REQUEST,
            "strings must not contain NUL characters",
        );
    }
    let now = state.clock.now();
    let header = http
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let caller = match auth::authenticate(&state.db, &state.auth, header, now).await {
        Ok(caller) => caller,
        Err(AuthenticateError::Refused(reason)) => return unauthenticated(reason.0),
        Err(AuthenticateError::Domain(e)) => {
            tracing::error!(error = %e, "authenticating a request failed");
            return HttpResponse::ServiceUnavailable().json(json!({
                "errors": [{
                    "message": "the server cannot check credentials right now",
                    "extensions": { "code": "INTERNAL" }
                }]
            }));
        }
    };
    match state.limiter.admit(&caller, now).await {
        Ok(Ok(())) => {}
        Ok(Err(limited)) => return rate_limited(limited),
        Err(e) => {
            tracing::error!(error = %e, "counting a partner's request failed");
            return HttpResponse::ServiceUnavailable().json(json!({
                "errors": [{
                    "message": "the server cannot count requests right now",
                    "extensions": { "code": "INTERNAL" }
                }]
            }));
        }
    }
    let client_addr = http.peer_addr().map(|a| a.ip().to_string());
    let context = RequestContext::new(state.db.clone(), now, caller, client_addr, user_agent(http));
    let mut response = state.schema.execute(request.data(context)).await;
    ensure_codes(&mut response);
    HttpResponse::Ok().json(response)
}

/// Whether the operation a request would run is a mutation (a document that does not parse is
/// left for execution to report).
fn is_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let ty = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) => ops.values().next().map(|op| op.node.ty),
    };
    ty == Some(OperationType::Mutation)
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

/// A partner over its limit: 429 with `Retry-After`, and nothing executed.
fn rate_limited(limited: crate::limits::Limited) -> HttpResponse {
    let wait = limited.retry_after_secs;
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, wait.to_string()))
        .json(json!({
            "errors": [{
                "message": format!("this token's request limit is reached; retry after {wait} seconds"),
                "extensions": { "code": "RATE_LIMITED", "retryAfter": wait }
            }]
        }))
}

/// A request whose token is refused: 401, with the reason, and nothing executed. A bad token is
/// never silently downgraded to an anonymous request.
fn unauthenticated(reason: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""))
        .json(json!({
            "errors": [{ "message": reason, "extensions": { "code": "UNAUTHENTICATED" } }]
        }))
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
