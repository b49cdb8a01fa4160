//! Typed configuration, loaded once at start-up: defaults, then an optional TOML file
//! (`--config` or `NEWSROOM_CONFIG`), then environment variables. A wrong value stops the start
//! with an error naming the setting.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use newsroom_domain::db::Backend;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Development or production; production turns off conveniences that would be unsafe in public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local work: demo conveniences, automatic migrations.
    #[default]
    Development,
    /// A public deployment.
    Production,
}

/// The signing algorithm tokens must use; pinned, so a token signed any other way is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret of at least 32 bytes.
    #[default]
    HS256,
    /// Ed25519 with a PEM key pair.
    EdDSA,
    /// RSA-SHA256 with a PEM key pair.
    RS256,
}

/// Everything the server reads from its environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `DATABASE_URL`: a `sqlite:` file or a `postgres://` URL.
    pub database_url: String,
    /// `NEWSROOM_BIND`: the address to listen on.
    pub bind: SocketAddr,
    /// `NEWSROOM_ENV`: `development` or `production`.
    pub env: Environment,
    /// `REDIS_URL`: shared state across processes, when set.
    pub redis_url: Option<String>,
    /// `NEWSROOM_DB_MAX_CONNECTIONS`: the size of the database pool.
    pub db_max_connections: u32,
    /// `NEWSROOM_DB_ACQUIRE_TIMEOUT_MS`: how long a request waits for a database connection
    /// (opening one included) before it fails with a 503. When the database is down, this is how
    /// long a request takes to fail.
    pub db_acquire_timeout_ms: u64,
    /// `NEWSROOM_DB_BUSY_TIMEOUT_MS`: SQLite only; how long a write waits for another writer's
    /// lock before it fails with a 503.
    pub db_busy_timeout_ms: u64,
    /// `NEWSROOM_DB_GENERIC_PLANS`: PostgreSQL only; plan each prepared statement once per
    /// connection rather than at every execution (`plan_cache_mode = force_generic_plan`).
    pub db_generic_plans: bool,
    /// `NEWSROOM_WORKERS`: HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// `NEWSROOM_MAX_BODY_BYTES`: the largest request body accepted.
    pub max_body_bytes: usize,
    /// `NEWSROOM_JWT_ALGORITHM`: `HS256` (default), `EdDSA` or `RS256`.
    pub jwt_algorithm: JwtAlgorithm,
    /// `NEWSROOM_JWT_SECRET`: the HS256 secret, 32 bytes or more. Never printed.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    /// `NEWSROOM_JWT_SECRET_FILE`: a file holding the HS256 secret.
    pub jwt_secret_file: Option<PathBuf>,
    /// `NEWSROOM_JWT_PRIVATE_KEY_FILE`: the PEM private key for EdDSA or RS256.
    pub jwt_private_key_file: Option<PathBuf>,
    /// `NEWSROOM_JWT_PUBLIC_KEY_FILE`: the PEM public key for EdDSA or RS256.
    pub jwt_public_key_file: Option<PathBuf>,
    /// `NEWSROOM_JWT_ISSUER`: the `iss` tokens carry and must carry.
    pub jwt_issuer: String,
    /// `NEWSROOM_JWT_AUDIENCE`: the `aud` tokens carry and must carry.
    pub jwt_audience: String,
    /// `NEWSROOM_SESSION_TTL_SECS`: how long a login token lasts.
    pub session_ttl_secs: u64,
    /// `NEWSROOM_LOGIN_MAX_FAILURES`: failed logins per username or address per window.
    pub login_max_failures: u32,
    /// `NEWSROOM_LOGIN_WINDOW_SECS`: the failed-login window.
    pub login_window_secs: u64,
    /// `NEWSROOM_LOGIN_FAILURE_DELAY_MS`: how long a failed login waits before answering.
    pub login_failure_delay_ms: u64,
    /// `NEWSROOM_VIEW_WINDOW_SECS`: a visitor counts once per article within this window.
    pub view_window_secs: u64,
    /// `NEWSROOM_VIEW_FLUSH_MS`: how often buffered views are written.
    pub view_flush_ms: u64,
    /// `NEWSROOM_VIEW_TOTALS_MS`: how often the articles' view counts take up the views written
    /// since; the buckets and the windowed rankings take them at every write.
    pub view_totals_ms: u64,
    /// `NEWSROOM_VIEW_RECHECK_MS`: how long an article found visible is counted without
    /// checking again (how long views of an article just taken down may still count).
    pub view_recheck_ms: u64,
    /// `NEWSROOM_VIEW_BUFFER_MAX`: the most (article, hour) pairs of views kept in memory while
    /// they cannot be written; past that, views of new pairs are refused with a 503.
    pub view_buffer_max: usize,
    /// `NEWSROOM_SHUTDOWN_TIMEOUT_SECS`: on SIGTERM or Ctrl-C, how long requests in flight may
    /// take to finish before they are cut off (the view buffer is written after that).
    pub shutdown_timeout_secs: u64,
    /// `NEWSROOM_RANKING_REFRESH_SECS`: how long a computed ranking is served.
    pub ranking_refresh_secs: u64,
    /// `NEWSROOM_REDIS_PREFIX`: prefix of every Redis key this deployment writes.
    pub redis_prefix: String,
    /// `NEWSROOM_PARTNER_RATE_LIMIT`: requests a minute a partner's token may make, unless the
    /// token was issued with its own limit.
    pub partner_rate_limit: u32,
    /// `NEWSROOM_SEARCH_DICT`: a jieba user dictionary of the site's own words, added to the one
    /// built in. Changing it calls for `newsroom reindex`.
    pub search_dict: Option<PathBuf>,
    /// `NEWSROOM_GRAPHQL_MAX_DEPTH`: how deep fields may nest in a GraphQL query.
    pub graphql_max_depth: usize,
    /// `NEWSROOM_GRAPHQL_MAX_COMPLEXITY`: the most work one query may ask for; a field costs 1,
    /// a list field its `first` times what it selects.
    pub graphql_max_complexity: usize,
    /// `NEWSROOM_GRAPHQL_MAX_ALIASES`: aliased fields in one operation.
    pub graphql_max_aliases: usize,
    /// `NEWSROOM_GRAPHQL_MAX_ROOT_FIELDS`: top-level fields in one operation.
    pub graphql_max_root_fields: usize,
    /// `NEWSROOM_GRAPHQL_MAX_QUERY_BYTES`: the longest query text.
    pub graphql_max_query_bytes: usize,
    /// `NEWSROOM_GRAPHQL_MAX_PAGE_SIZE`: the largest `first` / `last` a query may ask for.
    pub graphql_max_page_size: u64,
    /// `NEWSROOM_GRAPHQL_BATCH`: whether a POST may carry a JSON array of operations.
    pub graphql_batch: bool,
    /// `NEWSROOM_GRAPHQL_MAX_BATCH`: operations in one batch, when batching is on.
    pub graphql_max_batch: usize,
    /// `NEWSROOM_GRAPHQL_ALLOW_LIST`: run only operations registered with
    /// `newsroom operations register`.
    pub graphql_allow_list: bool,
    /// `NEWSROOM_GRAPHQL_WS_MAX_CONNECTIONS`: subscription (WebSocket) connections one process
    /// holds at once; 0 turns subscriptions off.
    pub graphql_ws_max_connections: usize,
    /// `NEWSROOM_GRAPHQL_WS_MAX_SUBSCRIPTIONS`: subscriptions one connection may run at once.
    pub graphql_ws_max_subscriptions: usize,
    /// `NEWSROOM_GRAPHQL_WS_INIT_TIMEOUT_MS`: how long a new connection has to send its
    /// `connection_init`.
    pub graphql_ws_init_timeout_ms: u64,
    /// `NEWSROOM_GRAPHQL_WS_POLL_MS`: how often the change log is read for publications to tell
    /// subscribers.
    pub graphql_ws_poll_ms: u64,
    /// `NEWSROOM_GRAPHIQL`: whether `/graphiql` is served; unset means in development only.
    pub graphiql: Option<bool>,
    /// `NEWSROOM_WEBHOOK_TIMEOUT_MS`: how long one webhook delivery may take.
    pub webhook_timeout_ms: u64,
    /// `NEWSROOM_WEBHOOK_RETRY_FIRST_MS`: the wait after a failed delivery; it doubles with each
    /// failure in a row.
    pub webhook_retry_first_ms: u64,
    /// `NEWSROOM_WEBHOOK_RETRY_MAX_MS`: the longest wait between attempts.
    pub webhook_retry_max_ms: u64,
    /// `NEWSROOM_WEBHOOK_MAX_ATTEMPTS`: attempts at one event before it is marked failed.
    pub webhook_max_attempts: u32,
    /// `NEWSROOM_WEBHOOK_POLL_MS`: how often the delivery worker looks for work.
    pub webhook_poll_ms: u64,
    /// `NEWSROOM_WEBHOOK_ALLOW_PRIVATE`: whether webhook URLs may point at loopback, private and
    /// link-local addresses; unset means yes in development and no in production.
    pub webhook_allow_private: Option<bool>,
    /// `NEWSROOM_INGEST`: whether `serve` takes in sources' feeds by itself (`newsroom ingest`
    /// does it on demand either way).
    pub ingest: bool,
    /// `NEWSROOM_INGEST_INTERVAL_SECS`: how often each feed is fetched; after a failure the wait
    /// starts from this and doubles, up to a day.
    pub ingest_interval_secs: u64,
    /// `NEWSROOM_INGEST_TIMEOUT_MS`: how long fetching one feed may take.
    pub ingest_timeout_ms: u64,
    /// `NEWSROOM_INGEST_MAX_BYTES`: the largest feed read; a longer one fails.
    pub ingest_max_bytes: u64,
    /// `NEWSROOM_INGEST_ALLOW_PRIVATE`: whether feed URLs may point at loopback, private and
    /// link-local addresses; unset means yes in development and no in production.
    pub ingest_allow_private: Option<bool>,
    /// `NEWSROOM_CORS_ORIGINS`: the origins browsers may call the API from, comma-separated
    /// (`https://www.example.com,https://app.example.com`), or `*` for any. Unset means any
    /// `localhost` / `127.0.0.1` / `[::1]` origin in development and none in production.
    #[serde(default, deserialize_with = "comma_separated")]
    pub cors_origins: Option<Vec<String>>,
    /// `NEWSROOM_LOG_FORMAT`: `json` or `text`; unset means JSON in production, text in
    /// development.
    pub log_format: Option<LogFormat>,
    /// `NEWSROOM_RESPONSE_CACHE`: whether whole answers to anonymous readers and partners are
    /// kept in memory (see [`crate::response_cache`]).
    pub response_cache: bool,
    /// `NEWSROOM_RESPONSE_CACHE_MB`: the most memory the cached answers may take, in MiB.
    pub response_cache_mb: u64,
    /// `NEWSROOM_RESPONSE_CACHE_TTL_SECS`: the longest a cached answer is served, however
    /// quiet the content; a safety net behind invalidation.
    pub response_cache_ttl_secs: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object a line, for log collectors.
    Json,
    /// Human-readable lines.
    Text,
}

/// A list given either as a list (TOML) or as one comma-separated string (environment).
fn comma_separated<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    let items = match Option::<Either>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Either::One(s)) => s.split(',').map(str::to_owned).collect::<Vec<_>>(),
        Some(Either::Many(v)) => v,
    };
    Ok(Some(
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://data/newsroom.db?mode=rwc".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            env: Environment::Development,
            redis_url: None,
            db_max_connections: 16,
            db_acquire_timeout_ms: 3_000,
            db_busy_timeout_ms: 5_000,
            db_generic_plans: true,
            workers: 0,
            max_body_bytes: 256 * 1024,
            jwt_algorithm: JwtAlgorithm::HS256,
            jwt_secret: None,
            jwt_secret_file: None,
            jwt_private_key_file: None,
            jwt_public_key_file: None,
            jwt_issuer: "newsroom".into(),
            jwt_audience: "newsroom-api".into(),
            session_ttl_secs: 3600,
            login_max_failures: 5,
            login_window_secs: 900,
            login_failure_delay_ms: 300,
            view_window_secs: 1800,
            view_flush_ms: 2000,
            view_totals_ms: 30_000,
            view_recheck_ms: 5000,
            view_buffer_max: 100_000,
            shutdown_timeout_secs: 30,
            ranking_refresh_secs: 5,
            redis_prefix: "newsroom".into(),
            partner_rate_limit: 600,
            search_dict: None,
            graphql_max_depth: 12,
            graphql_max_complexity: 5_000,
            graphql_max_aliases: 30,
            graphql_max_root_fields: 20,
            graphql_max_query_bytes: 32 * 1024,
            graphql_max_page_size: newsroom_domain::pagination::MAX_PAGE_SIZE,
            graphql_batch: false,
            graphql_max_batch: 10,
            graphql_allow_list: false,
            graphql_ws_max_connections: 1_000,
            graphql_ws_max_subscriptions: 10,
            graphql_ws_init_timeout_ms: 10_000,
            graphql_ws_poll_ms: 1_000,
            graphiql: None,
            webhook_timeout_ms: 10_000,
            webhook_retry_first_ms: 5_000,
            webhook_retry_max_ms: 3_600_000,
            webhook_max_attempts: 20,
            webhook_poll_ms: 1_000,
            webhook_allow_private: None,
            ingest: false,
            ingest_interval_secs: 1800,
            ingest_timeout_ms: 10_000,
            ingest_max_bytes: 5 * 1024 * 1024,
            ingest_allow_private: None,
            cors_origins: None,
            log_format: None,
            response_cache: true,
            // With the rest of an idle server (about 65 MiB, a third of it the binary's own
            // pages) and what serving adds, a full cache keeps the process under 100 MiB.
            response_cache_mb: 16,
            response_cache_ttl_secs: 60,
        }
    }
}

impl Config {
    /// Whether webhook URLs may point at non-public addresses: as configured, else only in
    /// development.
    pub fn webhook_allow_private(&self) -> bool {
        self.webhook_allow_private
            .unwrap_or(self.env == Environment::Development)
    }

    /// Whether `/graphiql` is served: as configured, else only in development.
    pub fn graphiql(&self) -> bool {
        self.graphiql
            .unwrap_or(self.env == Environment::Development)
    }

    /// How the database pool waits: its size and timeouts, as configured.
    pub fn pool_options(&self) -> newsroom_domain::db::PoolOptions {
        newsroom_domain::db::PoolOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: std::time::Duration::from_millis(self.db_acquire_timeout_ms),
            busy_timeout: std::time::Duration::from_millis(self.db_busy_timeout_ms),
            generic_plans: self.db_generic_plans,
        }
    }

    /// Whether feed URLs may point at non-public addresses: as configured, else only in
    /// development.
    pub fn ingest_allow_private(&self) -> bool {
        self.ingest_allow_private
            .unwrap_or(self.env == Environment::Development)
    }

    /// How log lines are written: as configured, else JSON in production and text in development.
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.env {
            Environment::Production => LogFormat::Json,
            Environment::Development => LogFormat::Text,
        })
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named configuration file does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(String),
    /// A value could not be read; the message names the key and where it came from.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then `file` when given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    /// The layered sources, for callers (tests) that add their own on top.
    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file.display().to_string()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        Ok(figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL", "REDIS_URL"])
                    .map(|key| key.as_str().to_ascii_lowercase().into()),
            )
            // NEWSROOM_CONFIG names the file; NEWSROOM_USER_PASSWORD belongs to `user create`.
            .merge(Env::prefixed("NEWSROOM_").ignore(&["CONFIG", "USER_PASSWORD"])))
    }

    /// Extracts and validates a configuration.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: &str| Err(ConfigError::Invalid(msg.to_owned()));
        if Backend::of_url(&self.database_url).is_none() {
            return invalid("DATABASE_URL must start with `sqlite:` or `postgres://`");
        }
        if self.db_max_connections == 0 {
            return invalid("NEWSROOM_DB_MAX_CONNECTIONS must be at least 1");
        }
        if !(10..=600_000).contains(&self.db_acquire_timeout_ms) {
            return invalid("NEWSROOM_DB_ACQUIRE_TIMEOUT_MS must be between 10 and 600000");
        }
        if self.db_busy_timeout_ms > 600_000 {
            return invalid("NEWSROOM_DB_BUSY_TIMEOUT_MS must be at most 600000");
        }
        if self.view_buffer_max == 0 {
            return invalid("NEWSROOM_VIEW_BUFFER_MAX must be at least 1");
        }
        if self.shutdown_timeout_secs > 3600 {
            return invalid("NEWSROOM_SHUTDOWN_TIMEOUT_SECS must be at most 3600");
        }
        if self.max_body_bytes < 1024 {
            return invalid("NEWSROOM_MAX_BODY_BYTES must be at least 1024");
        }
        if !(60..=7 * 24 * 3600).contains(&self.session_ttl_secs) {
            return invalid("NEWSROOM_SESSION_TTL_SECS must be between 60 and 604800");
        }
        if self.login_max_failures == 0 || self.login_window_secs == 0 {
            return invalid(
                "NEWSROOM_LOGIN_MAX_FAILURES and NEWSROOM_LOGIN_WINDOW_SECS must be at least 1",
            );
        }
        if self.jwt_issuer.trim().is_empty() || self.jwt_audience.trim().is_empty() {
            return invalid("NEWSROOM_JWT_ISSUER and NEWSROOM_JWT_AUDIENCE must not be empty");
        }
        if self.partner_rate_limit == 0 {
            return invalid("NEWSROOM_PARTNER_RATE_LIMIT must be at least 1");
        }
        if self.view_window_secs == 0 || self.view_flush_ms < 10 || self.ranking_refresh_secs == 0 {
            return invalid(
                "NEWSROOM_VIEW_WINDOW_SECS and NEWSROOM_RANKING_REFRESH_SECS must be at least 1, NEWSROOM_VIEW_FLUSH_MS at least 10",
            );
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return invalid("REDIS_URL must start with `redis://` or `rediss://`");
        }
        if self.graphql_max_depth == 0
            || self.graphql_max_complexity == 0
            || self.graphql_max_root_fields == 0
            || self.graphql_max_batch == 0
        {
            return invalid(
                "NEWSROOM_GRAPHQL_MAX_DEPTH, _MAX_COMPLEXITY, _MAX_ROOT_FIELDS and _MAX_BATCH must be at least 1",
            );
        }
        if !(1..=newsroom_domain::pagination::MAX_PAGE_SIZE).contains(&self.graphql_max_page_size) {
            return Err(ConfigError::Invalid(format!(
                "NEWSROOM_GRAPHQL_MAX_PAGE_SIZE must be between 1 and {}",
                newsroom_domain::pagination::MAX_PAGE_SIZE
            )));
        }
        if self.graphql_max_query_bytes < 64 || self.graphql_max_query_bytes > self.max_body_bytes {
            return invalid(
                "NEWSROOM_GRAPHQL_MAX_QUERY_BYTES must be at least 64 and at most NEWSROOM_MAX_BODY_BYTES",
            );
        }
        if !(1..=1_000).contains(&self.graphql_ws_max_subscriptions) {
            return invalid("NEWSROOM_GRAPHQL_WS_MAX_SUBSCRIPTIONS must be between 1 and 1000");
        }
        if !(100..=600_000).contains(&self.graphql_ws_init_timeout_ms) {
            return invalid("NEWSROOM_GRAPHQL_WS_INIT_TIMEOUT_MS must be between 100 and 600000");
        }
        if !(10..=60_000).contains(&self.graphql_ws_poll_ms) {
            return invalid("NEWSROOM_GRAPHQL_WS_POLL_MS must be between 10 and 60000");
        }
        if !(100..=120_000).contains(&self.webhook_timeout_ms) {
            return invalid("NEWSROOM_WEBHOOK_TIMEOUT_MS must be between 100 and 120000");
        }
        if self.webhook_retry_first_ms == 0
            || self.webhook_retry_max_ms < self.webhook_retry_first_ms
        {
            return invalid(
                "NEWSROOM_WEBHOOK_RETRY_FIRST_MS must be at least 1 and NEWSROOM_WEBHOOK_RETRY_MAX_MS at least as long",
            );
        }
        if self.webhook_retry_max_ms > 7 * 24 * 3_600_000 {
            return invalid("NEWSROOM_WEBHOOK_RETRY_MAX_MS must be at most a week (604800000)");
        }
        if !(1..=100).contains(&self.webhook_max_attempts) {
            return invalid("NEWSROOM_WEBHOOK_MAX_ATTEMPTS must be between 1 and 100");
        }
        if !(10..=60_000).contains(&self.webhook_poll_ms) {
            return invalid("NEWSROOM_WEBHOOK_POLL_MS must be between 10 and 60000");
        }
        if !(1..=65_536).contains(&self.response_cache_mb) {
            return invalid("NEWSROOM_RESPONSE_CACHE_MB must be between 1 and 65536");
        }
        if !(1..=86_400).contains(&self.response_cache_ttl_secs) {
            return invalid("NEWSROOM_RESPONSE_CACHE_TTL_SECS must be between 1 and 86400");
        }
        if !(60..=7 * 24 * 3600).contains(&self.ingest_interval_secs) {
            return invalid("NEWSROOM_INGEST_INTERVAL_SECS must be between 60 and 604800");
        }
        if !(100..=120_000).contains(&self.ingest_timeout_ms) {
            return invalid("NEWSROOM_INGEST_TIMEOUT_MS must be between 100 and 120000");
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.ingest_max_bytes) {
            return invalid("NEWSROOM_INGEST_MAX_BYTES must be between 1024 and 104857600");
        }
        for origin in self.cors_origins.iter().flatten() {
            if origin != "*" && !is_origin(origin) {
                return Err(ConfigError::Invalid(format!(
                    "NEWSROOM_CORS_ORIGINS: `{origin}` is not an origin (scheme://host[:port], no path) or `*`"
                )));
            }
        }
        if let Some(path) = &self.search_dict
            && !path.is_file()
        {
            return Err(ConfigError::Invalid(format!(
                "NEWSROOM_SEARCH_DICT: {} is not a file",
                path.display()
            )));
        }
        Ok(())
    }
}

/// What follows `http://` or `https://` in `s`, if it starts with either.
pub(crate) fn after_web_scheme(s: &str) -> Option<&str> {
    s.strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
}

/// Whether `s` is a browser origin: `http(s)://host[:port]` with nothing after it.
fn is_origin(s: &str) -> bool {
    let Some(rest) = after_web_scheme(s) else {
        return false;
    };
    !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest.chars().all(|c| c.is_ascii_graphic())
}

/// Names the environment variable behind a figment error where there is one, since that is what
/// an operator typed.
fn describe(errors: figment::Error) -> String {
    errors
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let var = match key.as_str() {
                "database_url" | "redis_url" => key.to_ascii_uppercase(),
                "" => String::new(),
                other => format!("NEWSROOM_{}", other.to_ascii_uppercase()),
            };
            let origin = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            let mut kind = e.kind.to_string();
            if kind.contains("unknown field") {
                kind = kind.split(", expected").next().unwrap_or(&kind).to_owned();
            }
            if var.is_empty() {
                format!("{kind} (from {origin})")
            } else {
                format!("{var}: {kind} (from {origin})")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use figment::providers::Serialized;

    use super::*;

    fn with(key: &str, value: &str) -> Result<Config, ConfigError> {
        Config::from_figment(
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Serialized::global(key, value)),
        )
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config =
            Config::from_figment(Figment::from(Serialized::defaults(Config::default()))).unwrap();
        assert_eq!(config.database_url, "sqlite://data/newsroom.db?mode=rwc");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.env, Environment::Development);
    }

    #[test]
    fn wrong_values_name_the_setting() {
        let err = with("bind", "not-an-address").unwrap_err().to_string();
        assert!(err.contains("NEWSROOM_BIND"), "{err}");
        let err = with("env", "staging").unwrap_err().to_string();
        assert!(err.contains("NEWSROOM_ENV"), "{err}");
        let err = with("database_url", "mysql://x").unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let err = with("redis_url", "http://x").unwrap_err().to_string();
        assert!(err.contains("REDIS_URL"), "{err}");
        let err = with("search_dict", "/nonexistent/dict.txt")
            .unwrap_err()
            .to_string();
        assert!(err.contains("NEWSROOM_SEARCH_DICT"), "{err}");
        for (config, setting) in [
            (
                Config {
                    webhook_timeout_ms: 0,
                    ..Config::default()
                },
                "NEWSROOM_WEBHOOK_TIMEOUT_MS",
            ),
            (
                Config {
                    webhook_max_attempts: 0,
                    ..Config::default()
                },
                "NEWSROOM_WEBHOOK_MAX_ATTEMPTS",
            ),
            (
                Config {
                    webhook_retry_max_ms: 10,
                    ..Config::default()
                },
                "NEWSROOM_WEBHOOK_RETRY_MAX_MS",
            ),
            (
                Config {
                    webhook_poll_ms: 0,
                    ..Config::default()
                },
                "NEWSROOM_WEBHOOK_POLL_MS",
            ),
            (
                Config {
                    graphql_ws_max_subscriptions: 0,
                    ..Config::default()
                },
                "NEWSROOM_GRAPHQL_WS_MAX_SUBSCRIPTIONS",
            ),
            (
                Config {
                    graphql_ws_init_timeout_ms: 5,
                    ..Config::default()
                },
                "NEWSROOM_GRAPHQL_WS_INIT_TIMEOUT_MS",
            ),
            (
                Config {
                    graphql_ws_poll_ms: 0,
                    ..Config::default()
                },
                "NEWSROOM_GRAPHQL_WS_POLL_MS",
            ),
            (
                Config {
                    db_acquire_timeout_ms: 0,
                    ..Config::default()
                },
                "NEWSROOM_DB_ACQUIRE_TIMEOUT_MS",
            ),
            (
                Config {
                    view_buffer_max: 0,
                    ..Config::default()
                },
                "NEWSROOM_VIEW_BUFFER_MAX",
            ),
            (
                Config {
                    response_cache_mb: 0,
                    ..Config::default()
                },
                "NEWSROOM_RESPONSE_CACHE_MB",
            ),
            (
                Config {
                    response_cache_ttl_secs: 0,
                    ..Config::default()
                },
                "NEWSROOM_RESPONSE_CACHE_TTL_SECS",
            ),
            (
                Config {
                    ingest_interval_secs: 5,
                    ..Config::default()
                },
                "NEWSROOM_INGEST_INTERVAL_SECS",
            ),
            (
                Config {
                    ingest_max_bytes: 10,
                    ..Config::default()
                },
                "NEWSROOM_INGEST_MAX_BYTES",
            ),
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(setting), "{err}");
        }
    }

    #[test]
    fn private_webhook_addresses_are_allowed_in_development_only_unless_configured() {
        let mut config = Config::default();
        assert!(config.webhook_allow_private());
        config.env = Environment::Production;
        assert!(!config.webhook_allow_private());
        config.webhook_allow_private = Some(true);
        assert!(config.webhook_allow_private());
    }

    #[test]
    fn ingest_is_off_unless_configured() {
        let config =
            Config::from_figment(Figment::from(Serialized::defaults(Config::default()))).unwrap();
        assert!(!config.ingest);
        assert!(config.ingest_allow_private());
        let config = Config::from_figment(
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Serialized::global("ingest", true)),
        )
        .unwrap();
        assert!(config.ingest);
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list_of_origins() {
        let config = with(
            "cors_origins",
            " https://www.example.com, http://localhost:3000 ,",
        )
        .unwrap();
        assert_eq!(
            config.cors_origins.unwrap(),
            ["https://www.example.com", "http://localhost:3000"]
        );
        let config = Config::from_figment(
            Figment::from(Serialized::defaults(Config::default())).merge(Serialized::global(
                "cors_origins",
                vec!["https://a.example", "*"],
            )),
        )
        .unwrap();
        assert_eq!(config.cors_origins.unwrap(), ["https://a.example", "*"]);
        for bad in ["example.com", "https://example.com/path", "ftp://x"] {
            let err = with("cors_origins", bad).unwrap_err().to_string();
            assert!(err.contains("NEWSROOM_CORS_ORIGINS"), "{err}");
        }
    }

    #[test]
    fn graphiql_is_served_in_development_only_unless_configured() {
        let mut config = Config::default();
        assert!(config.graphiql());
        config.env = Environment::Production;
        assert!(!config.graphiql());
        config.graphiql = Some(true);
        assert!(config.graphiql());
    }

    #[test]
    fn logs_are_json_in_production_unless_configured() {
        let mut config = Config::default();
        assert_eq!(config.log_format(), LogFormat::Text);
        config.env = Environment::Production;
        assert_eq!(config.log_format(), LogFormat::Json);
        config.log_format = Some(LogFormat::Text);
        assert_eq!(config.log_format(), LogFormat::Text);
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/newsroom.toml"))).unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }
}
