//! Test support: a fresh, migrated database per test on SQLite and, when `TEST_POSTGRES_URL` is
//! set, on PostgreSQL; and the real server on a free port in front of it.
//!
//! Each database is uniquely named and dropped when the test ends, whatever state the server was
//! left in, so tests run in parallel and in any order.

pub mod bench;
pub mod corpus;
pub mod proxy;

use std::{future::Future, path::PathBuf, sync::Arc};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use newsroom_domain::{
    clock::ManualClock,
    db, demo,
    editorial::{NewArticle, catalog},
    entities::{ArticleKind, ArticleStatus, BodyFormat, License, Role, article, source, user},
    search::Segmenter,
    users,
};
use newsroom_gateway::{
    app::{Application, ServerHandle},
    auth::AuthKeys,
    config::Config,
    views::ViewService,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A database on the server `TEST_POSTGRES_URL` names.
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for an `async fn(Backend) -> anyhow::Result<()>`.
/// The PostgreSQL variant passes without running when `TEST_POSTGRES_URL` is not set, and says so.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                super::$test($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                if !$crate::postgres_configured() {
                    eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL variant not run");
                    return Ok(());
                }
                super::$test($crate::Backend::Postgres).await
            }
        }
    )+};
}

/// Whether PostgreSQL tests should run.
pub fn postgres_configured() -> bool {
    std::env::var("TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty())
}

/// A fresh database, removed on drop.
pub struct TestDb {
    /// The URL to connect to it.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    /// Creates an empty database on `backend` and applies every migration.
    pub async fn create(backend: Backend) -> anyhow::Result<(Self, DatabaseConnection)> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let test_db = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("newsroom-test-{unique}"));
                std::fs::create_dir_all(&dir)?;
                TestDb {
                    url: format!("sqlite://{}?mode=rwc", dir.join("newsroom.db").display()),
                    cleanup: Cleanup::Folder(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_POSTGRES_URL").context("TEST_POSTGRES_URL")?;
                let name = format!("newsroom_test_{unique}");
                let admin = Database::connect(&admin_url)
                    .await
                    .context("connecting to TEST_POSTGRES_URL")?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                TestDb {
                    url: with_database(&admin_url, &name)?,
                    cleanup: Cleanup::Database { admin_url, name },
                }
            }
        };
        let conn = db::connect(&test_db.url, 8).await?;
        Migrator::up(&conn, None)
            .await
            .context("migrating the test database")?;
        Ok((test_db, conn))
    }
}

/// `url` with its database path replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let scheme_end = url.find("://").context("TEST_POSTGRES_URL has no scheme")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    Ok(format!("{host}/{name}{query}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Folder(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                // Drop runs inside the test's runtime, which cannot block on itself: use a thread
                // with a runtime of its own.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        let admin = Database::connect(&admin_url).await?;
                        admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await?;
                        admin.close().await?;
                        anyhow::Ok(())
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop the test database {}", self.url);
                }
            }
        }
    }
}

/// The segmenter with the built-in dictionaries, loaded once for every test of a binary (it is
/// what a server builds from the default configuration).
pub fn segmenter() -> anyhow::Result<Segmenter> {
    static SEGMENTER: std::sync::OnceLock<Segmenter> = std::sync::OnceLock::new();
    if let Some(s) = SEGMENTER.get() {
        return Ok(s.clone());
    }
    let built = Segmenter::new(None)?;
    Ok(SEGMENTER.get_or_init(|| built).clone())
}

/// A new article in the `park-news` channel, with a lead and a Markdown body: the site's own, or
/// a reprint from the source named `source` (with an original URL).
pub fn park_article(title: &str, source: Option<&str>) -> NewArticle {
    NewArticle {
        title: title.to_owned(),
        slug: None,
        lead: Some("核心提示：项目建设稳步推进。".into()),
        body: "## 进展\n\n园区项目建设稳步推进，“双过半”目标如期实现。".into(),
        body_format: BodyFormat::Markdown,
        cover_image: None,
        author: None,
        channel: "park-news".into(),
        source: source.map(String::from),
        original_url: source.map(|_| "https://example.cn/original.html".into()),
        kind: if source.is_some() {
            ArticleKind::Reprint
        } else {
            ArticleKind::Original
        },
        featured: false,
        recommended: false,
        disclaimer: None,
        tags: vec![],
    }
}

/// The HS256 secret test servers sign with.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The configuration test servers run with: port 0, a known secret, no login delay.
pub fn test_config(database_url: &str) -> anyhow::Result<Config> {
    Ok(Config {
        database_url: database_url.to_owned(),
        bind: "127.0.0.1:0".parse()?,
        workers: 2,
        jwt_secret: Some(TEST_JWT_SECRET.to_owned().into()),
        login_failure_delay_ms: 0,
        ..Config::default()
    })
}

/// Polls `done` every 20 ms until it holds; fails naming `what` after about ten seconds (a guard
/// against hanging, never a measure).
pub async fn eventually<F, Fut>(what: &str, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    for _ in 0..500 {
        if done().await? {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    anyhow::bail!("{what} never happened")
}

/// The instant test servers believe it is, unless a test moves their clock.
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The real server on a free port over a fresh database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A connection to the same database, for arranging and checking rows.
    pub db: DatabaseConnection,
    /// The server's clock.
    pub clock: ManualClock,
    /// The text of each statement the server's pool has run, in order.
    statement_log: Arc<std::sync::Mutex<Vec<String>>>,
    /// An HTTP client that identifies as a browser, so its views count.
    pub client: reqwest::Client,
    /// The server's view counter, to flush it without waiting.
    pub views: Arc<ViewService>,
    handle: ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
    config: Config,
    test_db: Arc<TestDb>,
}

/// The user agent test clients send: a browser's, so views count.
pub const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

impl TestApp {
    /// The URL of the server's database.
    pub fn database_url(&self) -> &str {
        &self.test_db.url
    }

    /// Starts a server on `backend`, with the demo content loaded.
    pub async fn with_demo(backend: Backend) -> anyhow::Result<Self> {
        Self::spawn(backend, true).await
    }

    /// Starts a server on `backend`, with the demo content when `demo` is set.
    pub async fn spawn(backend: Backend, demo: bool) -> anyhow::Result<Self> {
        Self::spawn_with(backend, demo, |_| ()).await
    }

    /// Like [`TestApp::spawn`], with changes to the test configuration.
    pub async fn spawn_with(
        backend: Backend,
        demo: bool,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        Self::start(backend, demo, tweak, false).await
    }

    /// Like [`TestApp::spawn_with`] with the demo content, the server stopping gracefully on
    /// SIGTERM and SIGINT as `newsroom serve` does. Signals reach every server of the test
    /// process: a test using this belongs in a test binary of its own, with no other server
    /// running at the same time.
    pub async fn spawn_stopping_on_signals(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        Self::start(backend, true, tweak, true).await
    }

    async fn start(
        backend: Backend,
        demo: bool,
        tweak: impl FnOnce(&mut Config),
        signals: bool,
    ) -> anyhow::Result<Self> {
        let (test_db, setup) = TestDb::create(backend).await?;
        if demo {
            let txn = setup.begin().await?;
            demo::seed(&txn, &segmenter()?).await?;
            demo::seed_recent_views(&txn, test_now()).await?;
            txn.commit().await?;
        }
        let mut config = test_config(&test_db.url)?;
        tweak(&mut config);
        Self::serve(
            Arc::new(test_db),
            setup,
            config,
            ManualClock::new(test_now()),
            signals,
        )
        .await
    }

    /// Another server process on the same database (and Redis, if configured), with its own
    /// buffers and caches, like a second gateway behind a load balancer.
    pub async fn another_server(&self) -> anyhow::Result<Self> {
        let setup = db::connect(&self.test_db.url, 4).await?;
        Self::serve(
            self.test_db.clone(),
            setup,
            self.config.clone(),
            self.clock.clone(),
            false,
        )
        .await
    }

    /// Stops this server gracefully and starts a fresh one on the same database.
    pub async fn restart(self) -> anyhow::Result<Self> {
        self.restart_with(|_| ()).await
    }

    /// Like [`TestApp::restart`], with changes to the configuration.
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let (test_db, mut config, clock) = (
            self.test_db.clone(),
            self.config.clone(),
            self.clock.clone(),
        );
        tweak(&mut config);
        self.stop().await?;
        let setup = db::connect(&test_db.url, 4).await?;
        Self::serve(test_db, setup, config, clock, false).await
    }

    /// Starts the server over `config.database_url` (the test database, unless the test routed
    /// it elsewhere, such as through a [`proxy::FaultProxy`]), with the configured timeouts.
    async fn serve(
        test_db: Arc<TestDb>,
        setup: DatabaseConnection,
        config: Config,
        clock: ManualClock,
        signals: bool,
    ) -> anyhow::Result<Self> {
        let pool = db::PoolOptions {
            max_connections: 8,
            ..config.pool_options()
        };
        let mut server_db = db::connect_with(&config.database_url, pool).await?;
        let statement_log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = statement_log.clone();
        server_db.set_metric_callback(move |metric| {
            if let Ok(mut log) = log.lock() {
                log.push(metric.statement.sql.clone());
            }
        });
        let keys = AuthKeys::from_config(&config)?;
        let app = Application::build(
            &config,
            keys,
            server_db,
            Arc::new(clock.clone()),
            segmenter()?,
        )
        .await?;
        let address = format!("http://127.0.0.1:{}", app.port());
        if signals {
            app.stop_on_signals()?;
        }
        let mut setup = setup;
        if let Some(cache) = app.cache() {
            // A test that arranges rows mid-test writes behind the server's back, as a CLI
            // would; it tells this server's response cache at once, as the server's own writes
            // do (other servers hear of it through PostgreSQL, or not at all on SQLite).
            setup.set_metric_callback(move |info| {
                let sql = info.statement.sql.trim_start();
                if !sql
                    .get(..6)
                    .is_some_and(|w| w.eq_ignore_ascii_case("select"))
                {
                    cache.content_changed();
                }
            });
        }
        let handle = app.handle();
        let views = app.views();
        let running = tokio::spawn(app.run_until_stopped());
        Ok(TestApp {
            address,
            db: setup,
            clock,
            statement_log,
            client: reqwest::Client::builder().user_agent(BROWSER).build()?,
            views,
            handle,
            running,
            config,
            test_db,
        })
    }

    /// POSTs a GraphQL query and returns the whole response body, after checking it was a 200.
    pub async fn graphql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        self.graphql_as(None, query, variables).await
    }

    /// Like [`TestApp::graphql`], with `Authorization: Bearer <token>` when a token is given.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.post_graphql(token, query, variables).await?;
        anyhow::ensure!(status == 200, "status {status}: {body}");
        Ok(body)
    }

    /// POSTs a GraphQL query with an optional token; returns the status and the body.
    pub async fn post_graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// Creates a user with `role` directly in the database and returns it and its password.
    pub async fn user(&self, username: &str, role: Role) -> anyhow::Result<(user::Model, String)> {
        let password = format!("{username}-密码-correct-horse");
        let user = users::create(&self.db, username, &password, role, test_now()).await?;
        Ok((user, password))
    }

    /// Signs in over the API and returns the session token.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let body = self
            .data(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
                json!({ "u": username, "p": password }),
            )
            .await?;
        body["login"]["token"]
            .as_str()
            .map(String::from)
            .context("no token in the login answer")
    }

    /// A signed-in user of `role`: creates it and returns a session token.
    pub async fn signed_in(&self, username: &str, role: Role) -> anyhow::Result<String> {
        let (_, password) = self.user(username, role).await?;
        self.login(username, &password).await
    }

    /// Opens a source to syndication, or closes it, at `now`, as an editor saving it would.
    pub async fn flip_syndication(
        &self,
        source_id: i64,
        now: DateTime<Utc>,
    ) -> newsroom_domain::Result<source::Model> {
        let current = source::Entity::find_by_id(source_id)
            .one(&self.db)
            .await?
            .ok_or(newsroom_domain::Error::NotFound { entity: "source" })?;
        let words = segmenter()
            .map_err(|e| newsroom_domain::Error::Database(sea_orm::DbErr::Custom(e.to_string())))?;
        catalog::save_source(
            &self.db,
            &words,
            Some(current.id),
            catalog::SourceInput {
                slug: current.slug,
                name: current.name,
                homepage: current.homepage,
                feed_url: current.feed_url,
                feed_channel: match current.feed_channel_id {
                    Some(id) => newsroom_domain::entities::channel::Entity::find_by_id(id)
                        .one(&self.db)
                        .await?
                        .map(|c| c.slug),
                    None => None,
                },
                license: current.license,
                syndication_allowed: !current.syndication_allowed,
                disclaimer: current.disclaimer,
                takedown_contact: current.takedown_contact,
            },
            now,
        )
        .await
    }

    /// Like [`TestApp::graphql`], but fails when the response carries any error.
    pub async fn data(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        self.data_as(None, query, variables).await
    }

    /// Like [`TestApp::graphql_as`], but fails when the response carries any error; returns
    /// its `data`.
    pub async fn data_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        let body = self.graphql_as(token, query, variables).await?;
        anyhow::ensure!(body.get("errors").is_none(), "unexpected errors: {body}");
        Ok(body["data"].clone())
    }

    /// How many of the statements the server ran while `f` ran read from or wrote to `table`
    /// (named as sea-orm quotes it, `"article_tags"`). Unlike [`Self::count_statements`], a
    /// background task's statement on another table does not count.
    pub async fn count_statements_on<F, Fut, T>(
        &self,
        table: &str,
        f: F,
    ) -> anyhow::Result<(usize, T)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let quoted = format!("\"{table}\"");
        self.statements_during(f, |sql| sql.contains(&quoted)).await
    }

    /// The statements the server ran while `f` ran.
    pub async fn count_statements<F, Fut, T>(&self, f: F) -> anyhow::Result<(usize, T)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        self.statements_during(f, |_| true).await
    }

    /// How many of the statements the server ran while `f` ran `counts`.
    async fn statements_during<F, Fut, T>(
        &self,
        f: F,
        counts: impl Fn(&str) -> bool,
    ) -> anyhow::Result<(usize, T)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let log = || {
            self.statement_log
                .lock()
                .map_err(|_| anyhow::anyhow!("the statement log is poisoned"))
        };
        let before = log()?.len();
        let out = f().await?;
        let count = log()?[before..].iter().filter(|sql| counts(sql)).count();
        Ok((count, out))
    }

    /// The published articles a partner may not have (their source is neither the site's own
    /// nor allows syndication), and those it may, read from the database.
    pub async fn published_by_syndication(
        &self,
    ) -> anyhow::Result<(Vec<article::Model>, Vec<article::Model>)> {
        let closed: Vec<i64> = source::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|s| !s.syndication_allowed && s.license != License::Own)
            .map(|s| s.id)
            .collect();
        Ok(article::Entity::find()
            .filter(article::Column::Status.eq(ArticleStatus::Published))
            .all(&self.db)
            .await?
            .into_iter()
            .partition(|a| a.source_id.is_some_and(|s| closed.contains(&s))))
    }

    /// Stops the server gracefully and waits until it has drained and written its buffers. The
    /// database stays until the `TestApp` is dropped, so what the server left can be checked.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        self.stopped().await
    }

    /// Waits until the server has stopped by itself (after a signal) and written its buffers.
    pub async fn stopped(&mut self) -> anyhow::Result<()> {
        (&mut self.running).await??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_into_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "t1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t1").unwrap(),
            "postgres://u:p@h/t1?sslmode=disable"
        );
    }
}
