//! `make bench-load`: the load benchmark. It seeds a PostgreSQL database of its own with the
//! benchmark corpus (unless it already holds it), starts the release server on 127.0.0.1 twice
//! (response cache on, then off), warms it, drives each workload with `oha` for a bounded time,
//! runs `pgbench` over the SQL the server runs for the home page and the article page, and prints
//! one table (requests per second, p50 and p99 latency, errors, the server's peak memory, and each
//! row's ratio to the ceiling it is bounded by), which it also writes to
//! `bench/results/<date>-<commit>.md` with the machine's core count.
//!
//! Settings (environment): `BENCH_ARTICLES` (100000), `BENCH_SECONDS` per workload (10),
//! `BENCH_CONNECTIONS` (32), `BENCH_POSTGRES_URL` (the server to create the database on,
//! `postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable`; its parameters go to the
//! server's and pgbench's connections too, see [`DEFAULT_POSTGRES_URL`]), `BENCH_DATABASE`
//! (`newsroom_bench`, with the article count appended when it is not the default),
//! `BENCH_PORT` (18080), `BENCH_SERVER`
//! (the `newsroom` binary), `BENCH_OHA`, `BENCH_PGBENCH`, `BENCH_OUT` (where the table goes).
//! The Makefile builds and installs what these name.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::corpus;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// Views seeded per article: ten million over 100,000 articles.
const VIEWS_PER_ARTICLE: i64 = 100;
/// Slugs the article-page workload spreads over.
const SPREAD: usize = 10_000;
/// Articles the beacon workload spreads over.
const BEACON_ARTICLES: usize = 50_000;

const HOME: &str = "query Home { articles(first: 20) { edges { cursor node { id slug title lead \
    publishedAt coverImage channel { slug name } source { slug name } tags { slug name } } } \
    pageInfo { hasNextPage endCursor } } }";
const ARTICLE: &str = "query Article($slug: String!) { article(slug: $slug) { id slug title lead \
    body publishedAt viewCount author coverImage originalUrl channel { slug name } \
    source { slug name homepage } tags { slug name } \
    disclaimer { kind text sourceName originalUrl license takedownContact } \
    related(first: 10) { slug title publishedAt } } }";
const RANKING: &str = "query Ranking { clickRanking(window: WEEK, first: 10) { rank views \
    article { slug title } } }";
const SEARCH: &str = "query Search($q: String!) { search(query: $q, first: 20) { edges { node { \
    score snippet article { slug title publishedAt } } } pageInfo { hasNextPage endCursor } } }";
/// A city and an industry of the corpus: the city is in nearly every article (the seed text
/// names it), the industry in one in twenty, so this is the hardest kind of two-word query.
const SEARCH_WORDS: &str = "南昌 新能源汽车";

/// The SQL the server runs for the home page (workload 1), as pgbench runs it: the page with its
/// channels and sources joined in, then its tags in one query (the dataloader's batch).
const HOME_SQL: &str = include_str!("../../../bench/sql/home.sql");
/// The SQL of the article page (workload 3), over the same spread of slugs.
const ARTICLE_SQL: &str = include_str!("../../../bench/sql/article.sql");

/// The PostgreSQL server the benchmark creates its database on, by default. The server under
/// test and pgbench both connect with the same URL's parameters, so both without TLS here:
/// on 127.0.0.1 it only encrypts loopback traffic, and whether it would be on otherwise depends
/// on the PostgreSQL server's `ssl` setting (sqlx's and libpq's default is `sslmode=prefer`;
/// Debian's PostgreSQL has `ssl = on`, the official Docker image `off`), which changed the
/// figures by machine: on one with it on, TLS cost pgbench's home page 8-36% of its rate in
/// five alternating pairs of runs (README, "Load benchmark").
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

struct Settings {
    articles: usize,
    seconds: u64,
    connections: usize,
    admin_url: String,
    database: String,
    port: u16,
    server: PathBuf,
    oha: PathBuf,
    pgbench: PathBuf,
    out: PathBuf,
    work: PathBuf,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let articles: usize = env_or("BENCH_ARTICLES", "100000")
            .parse()
            .context("BENCH_ARTICLES")?;
        if articles < 100 {
            bail!("BENCH_ARTICLES must be at least 100");
        }
        let default_db = if articles == corpus::ARTICLES {
            "newsroom_bench".to_owned()
        } else {
            format!("newsroom_bench_{articles}")
        };
        let target = PathBuf::from(env_or("CARGO_TARGET_DIR", "target"));
        Ok(Settings {
            articles,
            seconds: env_or("BENCH_SECONDS", "10")
                .parse()
                .context("BENCH_SECONDS")?,
            connections: env_or("BENCH_CONNECTIONS", "32")
                .parse()
                .context("BENCH_CONNECTIONS")?,
            admin_url: env_or("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
            database: env_or("BENCH_DATABASE", &default_db),
            port: env_or("BENCH_PORT", "18080")
                .parse()
                .context("BENCH_PORT")?,
            server: env_or("BENCH_SERVER", "target/release/newsroom").into(),
            oha: env_or("BENCH_OHA", "target/tools/bin/oha").into(),
            pgbench: env_or("BENCH_PGBENCH", "pgbench").into(),
            out: env_or("BENCH_OUT", "bench/results").into(),
            work: target.join("bench-load"),
        })
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let s = Settings::from_env()?;
    std::fs::create_dir_all(&s.work)?;
    let db_url = ensure_database(&s).await?;
    let db = Database::connect(&db_url).await?;
    Migrator::up(&db, None).await.context("migrating")?;
    seed(&s, &db).await?;
    // Every ranking window built, as a server's background task builds them within its first ten
    // minutes (the runs here are shorter): each flush of the beacon's views then adds to the DAY,
    // WEEK and MONTH totals, as on a site that serves all three rankings.
    newsroom_domain::views::advance_all(&db, Utc::now())
        .await
        .context("building the ranking windows")?;
    let fixtures = Fixtures::write(&s, &db).await?;
    settle(&db).await?;
    db.close().await?;

    let mut rows = Vec::new();
    println!(
        "driving each workload for {} s from {} connections",
        s.seconds, s.connections
    );
    {
        let server = Server::start(&s, &db_url, true)?;
        server.ready(&s).await?;
        register_persisted(&s).await?;
        let cached = [
            (
                "7",
                "GET /healthz",
                Load::get(format!("{}/healthz", s.base())),
                None,
            ),
            (
                "1",
                "home page, GraphQL POST",
                Load::graphql(&s, HOME, json!({})),
                Some("7"),
            ),
            (
                "2",
                "home page, persisted-query GET",
                Load::get(persisted_url(&s)?),
                Some("7"),
            ),
            (
                "3",
                "article by slug (10,000 slugs), GraphQL POST",
                fixtures.article_load(&s),
                // Nearly every request is a slug's first read: bound by the database, not HTTP.
                Some("8b"),
            ),
            (
                "4",
                "click ranking WEEK top 10",
                Load::graphql(&s, RANKING, json!({})),
                Some("7"),
            ),
            (
                "5",
                "search, two words",
                Load::graphql(&s, SEARCH, json!({ "q": SEARCH_WORDS })),
                Some("7"),
            ),
            ("6", "view beacon POST", fixtures.beacon_load(), Some("7")),
        ];
        for (id, name, load, ceiling) in cached {
            rows.push(load.run(&s, &server, id, name, ceiling)?);
        }
        server.stop()?;
    }
    // The beacon's views, written as the server stopped, left a dead row version of most
    // articles behind; the rows below and pgbench's would each meet them as far as autovacuum
    // had got by then, so both start from a vacuumed database.
    let db = Database::connect(&db_url).await?;
    settle(&db).await?;
    db.close().await?;
    {
        let server = Server::start(&s, &db_url, false)?;
        server.ready(&s).await?;
        let uncached = [
            (
                "1u",
                "home page, GraphQL POST, cache off",
                Load::graphql(&s, HOME, json!({})),
                Some("8a"),
            ),
            (
                "3u",
                "article by slug, cache off",
                fixtures.article_load(&s),
                Some("8b"),
            ),
            (
                "5u",
                "search, two words, cache off",
                Load::graphql(&s, SEARCH, json!({ "q": SEARCH_WORDS })),
                None,
            ),
        ];
        for (id, name, load, ceiling) in uncached {
            rows.push(load.run(&s, &server, id, name, ceiling)?);
        }
        server.stop()?;
    }
    rows.push(pgbench(
        &s,
        &db_url,
        "8a",
        "pgbench: SQL of the home page",
        &fixtures.home_sql,
    )?);
    rows.push(pgbench(
        &s,
        &db_url,
        "8b",
        "pgbench: SQL of the article page",
        &fixtures.article_sql,
    )?);

    let table = table(&rows);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let commit = if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    let date = Utc::now().format("%Y-%m-%d").to_string();
    let report = format!(
        "# make bench-load, {date}\n\n{cores} cores, commit {commit}, {} articles, {} s per \
         workload, {} connections (from oha and pgbench, and in the server's database pool), \
         load generator (oha) and PostgreSQL on the same machine, TLS to PostgreSQL {}.\n\n\
         {table}\n\
         Ratios: cached reads (and the beacon) to `/healthz` (7), the HTTP stack's ceiling; \
         reads with the cache off, and the article page (3: 10,000 slugs in a run are nearly all \
         first reads), to pgbench running the same SQL (8a, 8b), the database's.\n",
        s.articles,
        s.seconds,
        s.connections,
        tls(&s.admin_url, std::env::var("PGSSLMODE").ok().as_deref())
    );
    println!("\n{report}");
    std::fs::create_dir_all(&s.out)?;
    let file = s.out.join(format!("{date}-{commit}.md"));
    std::fs::write(&file, &report)?;
    println!("written to {}", file.display());
    Ok(())
}

/// Whether the benchmark's connections to PostgreSQL use TLS, as `url`'s last `sslmode` (or
/// sqlx's spelling, `ssl-mode`) says, else `PGSSLMODE` (`env`), which sqlx and libpq both read,
/// else their default, `prefer`.
fn tls(url: &str, env: Option<&str>) -> String {
    let in_url = url.split_once('?').and_then(|(_, query)| {
        query.split('&').rev().find_map(|pair| {
            pair.strip_prefix("sslmode=")
                .or_else(|| pair.strip_prefix("ssl-mode="))
        })
    });
    let mode = in_url.or(env).unwrap_or("prefer").to_ascii_lowercase();
    match mode.as_str() {
        "disable" => "off (`sslmode=disable`)".to_owned(),
        "allow" => "off unless the server requires it (`sslmode=allow`)".to_owned(),
        "prefer" => "on if the server offers it (`sslmode=prefer`)".to_owned(),
        other => format!("on (`sslmode={other}`)"),
    }
}

/// `VACUUM (ANALYZE)` of the whole database: no dead row versions for a scan to step over, the
/// visibility map set, and fresh statistics, whatever the writes before (the seed's, the
/// beacon's) left and however far autovacuum has got with them.
async fn settle(db: &DatabaseConnection) -> anyhow::Result<()> {
    println!("VACUUM (ANALYZE)");
    db.execute_unprepared("VACUUM (ANALYZE)")
        .await
        .context("vacuuming the benchmark database")?;
    Ok(())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Creates the benchmark database when it does not exist; returns its URL.
async fn ensure_database(s: &Settings) -> anyhow::Result<String> {
    if !s
        .database
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("BENCH_DATABASE must be letters, digits and underscores");
    }
    let admin = Database::connect(&s.admin_url)
        .await
        .context("connecting to BENCH_POSTGRES_URL")?;
    let exists = admin
        .query_one_raw(Statement::from_string(
            admin.get_database_backend(),
            format!(
                "SELECT 1 AS one FROM pg_database WHERE datname = '{}'",
                s.database
            ),
        ))
        .await?
        .is_some();
    if !exists {
        println!("creating database {}", s.database);
        admin
            .execute_unprepared(&format!("CREATE DATABASE {}", s.database))
            .await?;
    }
    admin.close().await?;
    let (base, query) = match s.admin_url.find('?') {
        Some(q) => (&s.admin_url[..q], &s.admin_url[q..]),
        None => (s.admin_url.as_str(), ""),
    };
    let host_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    Ok(format!("{}/{}{query}", &base[..host_end], s.database))
}

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("a count")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// Seeds the corpus, its views and its search index, unless the database already holds it.
async fn seed(s: &Settings, db: &DatabaseConnection) -> anyhow::Result<()> {
    let articles = count(db, "SELECT COUNT(*) FROM articles").await?;
    let indexed = count(db, "SELECT COUNT(*) FROM article_search").await?;
    if articles == s.articles as i64 && indexed > 0 {
        println!(
            "{} already holds {articles} articles: not seeding",
            s.database
        );
        return Ok(());
    }
    if articles != 0 {
        bail!(
            "{} holds {articles} articles, not {}: drop it (dropdb {}) or set BENCH_DATABASE",
            s.database,
            s.articles,
            s.database
        );
    }
    let started = Instant::now();
    println!("seeding {} articles into {}", s.articles, s.database);
    corpus::seed_articles(db, s.articles).await?;
    let views = VIEWS_PER_ARTICLE * s.articles as i64;
    println!(
        "  articles in {:.0} s; now about {views} views over 90 days",
        started.elapsed().as_secs_f64()
    );
    corpus::seed_views(db, Utc::now(), views).await?;
    println!(
        "  views in {:.0} s; now the search index",
        started.elapsed().as_secs_f64()
    );
    corpus::index(db).await?;
    println!("  seeded in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// pgbench's script for the home page, with the page's article ids (`1, 2, 3`) filled in.
fn home_sql(article_ids: &str) -> String {
    HOME_SQL.replace("{article_ids}", article_ids)
}

/// pgbench's script for the article page, drawing from the first `last + 1` slugs of the spread.
fn article_sql(last: usize) -> String {
    ARTICLE_SQL.replace("{spread}", &last.to_string())
}

/// Inputs of the workloads that spread over many articles.
struct Fixtures {
    bodies: PathBuf,
    beacons: PathBuf,
    home_sql: String,
    article_sql: String,
}

impl Fixtures {
    /// The article page's slugs: every tenth article from the first (never a draft, as those are
    /// every 50th), up to [`SPREAD`]; pgbench's script picks from the same ones.
    async fn write(s: &Settings, db: &DatabaseConnection) -> anyhow::Result<Self> {
        let spread = (s.articles / 10).min(SPREAD);
        let mut bodies = String::new();
        for n in 0..spread {
            let slug = format!("bench-{:06}", n * 10 + 1);
            let body = json!({ "query": ARTICLE, "variables": { "slug": slug } });
            writeln!(bodies, "{body}")?;
        }
        let bodies_path = s.work.join("article-bodies.jsonl");
        std::fs::write(&bodies_path, bodies)?;
        let ids = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT id FROM articles WHERE status = 'published' ORDER BY id LIMIT {BEACON_ARTICLES}"
                ),
            ))
            .await?;
        let mut urls = String::new();
        for row in ids {
            let id: i64 = row.try_get_by_index(0)?;
            writeln!(
                urls,
                "{}/api/v1/articles/{}/views",
                s.base(),
                encode(Kind::Article, id).0
            )?;
        }
        let beacons = s.work.join("beacon-urls.txt");
        std::fs::write(&beacons, urls)?;
        // The home page is the same 20 articles throughout: its tags' statement's ids are
        // constants.
        let page = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM articles \
                 WHERE status IN ('published', 'scheduled') AND published_at <= now() \
                 ORDER BY published_at DESC, id DESC LIMIT 20",
            ))
            .await?;
        let mut articles = page
            .iter()
            .map(|row| row.try_get_by_index::<i64>(0))
            .collect::<Result<Vec<_>, _>>()?;
        articles.sort_unstable();
        let articles = articles
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Fixtures {
            bodies: bodies_path,
            beacons,
            home_sql: home_sql(&articles),
            article_sql: article_sql(spread - 1),
        })
    }

    fn article_load(&self, s: &Settings) -> Load {
        Load::graphql_bodies(s, "-Z", self.bodies.display().to_string())
    }

    fn beacon_load(&self) -> Load {
        Load {
            url: self.beacons.display().to_string(),
            args: vec![
                "--urls-from-file".into(),
                "-m".into(),
                "POST".into(),
                "-H".into(),
                format!("User-Agent: {}", newsroom_tests::BROWSER),
            ],
        }
    }
}

fn persisted_url(s: &Settings) -> anyhow::Result<String> {
    let hash = newsroom_domain::persisted::sha256_hex(HOME);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    Ok(reqwest::Url::parse_with_params(
        &format!("{}/graphql", s.base()),
        &[
            ("operationName", "Home"),
            ("extensions", extensions.as_str()),
        ],
    )?
    .to_string())
}

/// Sends the home page's query with its hash once, as an APQ client does, so the hash-only GET
/// of workload 2 is known.
async fn register_persisted(s: &Settings) -> anyhow::Result<()> {
    let hash = newsroom_domain::persisted::sha256_hex(HOME);
    let body = json!({ "query": HOME, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/graphql", s.base()))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    if answer.get("errors").is_some() {
        bail!("registering the persisted query failed: {answer}");
    }
    let check: Value = reqwest::get(persisted_url(s)?).await?.json().await?;
    if check.get("errors").is_some()
        || check["data"]["articles"]["edges"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        bail!("the persisted-query GET does not answer the home page: {check}");
    }
    Ok(())
}

/// The server under test.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(s: &Settings, db_url: &str, cache: bool) -> anyhow::Result<Self> {
        // Another process on the port would answer in its place and be measured instead.
        std::net::TcpListener::bind(("127.0.0.1", s.port)).with_context(|| {
            format!(
                "port {} is taken: stop what listens there or set BENCH_PORT",
                s.port
            )
        })?;
        let log = s.work.join(if cache {
            "server-cached.log"
        } else {
            "server-uncached.log"
        });
        let file = std::fs::File::create(&log)?;
        let child = Command::new(&s.server)
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("NEWSROOM_BIND", format!("127.0.0.1:{}", s.port))
            .env("NEWSROOM_ENV", "production")
            .env(
                "NEWSROOM_JWT_SECRET",
                "bench-secret-bench-secret-bench-secret-0123",
            )
            .env("NEWSROOM_RESPONSE_CACHE", cache.to_string())
            .env("NEWSROOM_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            // As many database connections as pgbench gets for the same SQL (8a, 8b), and as
            // the load generator has requests in flight; the default pool is 16.
            .env("NEWSROOM_DB_MAX_CONNECTIONS", s.connections.to_string())
            // oha sends every beacon as one visitor (one address, one user agent), who counts
            // once per article in the window: with the default half hour, all but the first
            // view of each article would be a repeat, dropped before the buffer. A window of a
            // second counts nearly every view, as if each came from a visitor of its own.
            .env("NEWSROOM_VIEW_WINDOW_SECS", "1")
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", s.server.display()))?;
        Ok(Server { child, log })
    }

    async fn ready(&self, s: &Settings) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/readyz", s.base());
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(&url).await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "the server did not become ready; see {}",
            self.log.display()
        )
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Forgets the peak so far, so the next reading is the peak of one workload.
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// The peak resident memory since the last reset, in MiB.
    fn peak_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// Stops the server gracefully (it writes its buffered views), or kills it after 30 s.
    fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// A run that fails midway (a workload's error, a missing tool) does not leave the server
/// holding the port and its database connections: it is killed with the run.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One workload for oha: a target (URL, or a file of URLs) and the request's shape.
struct Load {
    url: String,
    args: Vec<String>,
}

impl Load {
    fn get(url: String) -> Self {
        Load { url, args: vec![] }
    }

    fn graphql(s: &Settings, query: &str, variables: Value) -> Self {
        let body = json!({ "query": query, "variables": variables }).to_string();
        Load::graphql_bodies(s, "-d", body)
    }

    /// GraphQL POSTs with the body oha's `flag` names: `-d` one body, `-Z` a file of them.
    fn graphql_bodies(s: &Settings, flag: &str, bodies: String) -> Self {
        Load {
            url: format!("{}/graphql", s.base()),
            args: vec![
                "-m".into(),
                "POST".into(),
                "-T".into(),
                "application/json".into(),
                flag.into(),
                bodies,
            ],
        }
    }

    fn oha(&self, s: &Settings, seconds: u64) -> anyhow::Result<Value> {
        let out = Command::new(&s.oha)
            .args(["--no-tui", "--output-format", "json", "-w"])
            .args([
                "-z",
                &format!("{seconds}s"),
                "-c",
                &s.connections.to_string(),
            ])
            .args(&self.args)
            .arg(&self.url)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", s.oha.display()))?;
        if !out.status.success() {
            bail!("oha failed on {}", self.url);
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Warms the server with two seconds of the workload, then measures it.
    fn run(
        &self,
        s: &Settings,
        server: &Server,
        id: &str,
        name: &str,
        ceiling: Option<&'static str>,
    ) -> anyhow::Result<Row> {
        self.oha(s, 2)?;
        server.reset_peak();
        let result = self.oha(s, s.seconds)?;
        let peak = server.peak_mib();
        let pct = |p: &str| result["latencyPercentiles"][p].as_f64().unwrap_or(f64::NAN) * 1000.0;
        let mut errors: u64 = result["errorDistribution"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        if let Some(statuses) = result["statusCodeDistribution"].as_object() {
            errors += statuses
                .iter()
                .filter(|(code, _)| !code.starts_with('2'))
                .filter_map(|(_, n)| n.as_u64())
                .sum::<u64>();
        }
        let row = Row {
            id: id.to_owned(),
            name: name.to_owned(),
            rps: result["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
            p50: pct("p50"),
            p99: pct("p99"),
            errors,
            peak,
            ceiling,
        };
        println!("  {}", row.line());
        Ok(row)
    }
}

/// Runs `script` with pgbench as the load generator runs the server: same connections, same
/// time, prepared statements, one latency per transaction logged.
fn pgbench(s: &Settings, db_url: &str, id: &str, name: &str, script: &str) -> anyhow::Result<Row> {
    let dir = s.work.join(format!("pgbench-{id}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let script_path = dir.join("script.sql");
    std::fs::write(&script_path, script)?;
    let run = |seconds: u64, log: bool| -> anyhow::Result<String> {
        let mut cmd = Command::new(&s.pgbench);
        // The session setting the server's pool uses (`NEWSROOM_DB_GENERIC_PLANS`, on by
        // default), so pgbench runs the same statements under the same planning.
        cmd.env("PGOPTIONS", "-c plan_cache_mode=force_generic_plan")
            .args(["-n", "-M", "prepared", "-j", "2"])
            .args(["-c", &s.connections.to_string(), "-T", &seconds.to_string()])
            .arg("-f")
            .arg(&script_path);
        if log {
            cmd.arg("-l")
                .arg(format!("--log-prefix={}", dir.join("log").display()));
        }
        let out = cmd
            .arg(db_url)
            .output()
            .with_context(|| format!("running {}", s.pgbench.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!(
                "pgbench failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(text)
    };
    run(2, false)?;
    let text = run(s.seconds, true)?;
    let tps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    let failed = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("number of failed transactions: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("log"))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    latencies.push(us / 1000.0);
                }
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let row = Row {
        id: id.to_owned(),
        name: name.to_owned(),
        rps: tps,
        p50: pct(0.50),
        p99: pct(0.99),
        errors: failed,
        peak: None,
        ceiling: None,
    };
    println!("  {}", row.line());
    Ok(row)
}

/// One line of the table.
struct Row {
    id: String,
    name: String,
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    peak: Option<f64>,
    /// The row whose rate bounds this one.
    ceiling: Option<&'static str>,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "{} {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            self.id, self.name, self.rps, self.p50, self.p99, self.errors
        )
    }
}

fn table(rows: &[Row]) -> String {
    let rates: BTreeMap<&str, f64> = rows.iter().map(|r| (r.id.as_str(), r.rps)).collect();
    let mut out = String::from(
        "| # | workload | req/s | p50 ms | p99 ms | errors | server peak MiB | ratio to ceiling |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for r in rows {
        let ratio = match r.ceiling.and_then(|c| rates.get(c).map(|rate| (c, *rate))) {
            Some((c, rate)) if rate > 0.0 => format!("{:.2} of {c}", r.rps / rate),
            _ if r.id == "7" || r.id.starts_with('8') => "ceiling".to_owned(),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            r.id,
            r.name,
            r.rps,
            r.p50,
            r.p99,
            r.errors,
            r.peak.map_or("-".to_owned(), |m| format!("{m:.0}")),
            ratio
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use newsroom_tests::{Backend, TestDb, postgres_configured};
    use sea_orm::ConnectionTrait;

    #[test]
    fn the_report_says_whether_postgres_is_reached_over_tls() {
        use super::{DEFAULT_POSTGRES_URL, tls};
        let plain = "postgres://postgres@127.0.0.1:5432/postgres";
        assert_eq!(tls(DEFAULT_POSTGRES_URL, None), "off (`sslmode=disable`)");
        assert_eq!(
            tls(DEFAULT_POSTGRES_URL, Some("require")),
            "off (`sslmode=disable`)"
        );
        assert_eq!(
            tls(plain, None),
            "on if the server offers it (`sslmode=prefer`)"
        );
        assert_eq!(tls(plain, Some("Disable")), "off (`sslmode=disable`)");
        assert_eq!(
            tls("postgres://h/db?application_name=x&sslmode=require", None),
            "on (`sslmode=require`)"
        );
        assert_eq!(
            tls("postgres://h/db?sslmode=require&ssl-mode=disable", None),
            "off (`sslmode=disable`)"
        );
    }

    #[test]
    fn the_article_script_names_its_spread() {
        assert!(super::ARTICLE_SQL.contains("{spread}"));
        assert!(super::HOME_SQL.contains("{article_ids}"));
    }

    /// A statement of a pgbench script as pgbench prepares it (`-M prepared`): its `\gset` cut
    /// off, and each `:variable` a parameter of a type PostgreSQL infers.
    fn as_prepared(line: &str) -> String {
        let sql = line.split(" \\gset").next().unwrap_or(line);
        let chars: Vec<char> = sql.chars().collect();
        let mut names: Vec<String> = Vec::new();
        let mut out = String::with_capacity(sql.len());
        let mut i = 0;
        while i < chars.len() {
            let starts_name = |k: usize| chars.get(k).is_some_and(|c| c.is_ascii_lowercase());
            if chars[i] == ':' && chars.get(i + 1) == Some(&':') {
                out.push_str("::");
                i += 2;
            } else if chars[i] == ':' && starts_name(i + 1) {
                let end = (i + 1..chars.len())
                    .find(|&k| !(chars[k].is_ascii_alphanumeric() || chars[k] == '_'))
                    .unwrap_or(chars.len());
                let name: String = chars[i + 1..end].iter().collect();
                let n = match names.iter().position(|known| *known == name) {
                    Some(n) => n + 1,
                    None => {
                        names.push(name);
                        names.len()
                    }
                };
                out.push_str(&format!("${n}"));
                i = end;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    /// pgbench aborts on the first statement PostgreSQL refuses, at the end of a long run: every
    /// statement of both scripts is prepared here, on the current schema, as pgbench would.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pgbench_scripts_prepare_on_the_current_schema() -> anyhow::Result<()> {
        if !postgres_configured() {
            eprintln!("TEST_POSTGRES_URL is not set: not run");
            return Ok(());
        }
        let (_test_db, db) = TestDb::create(Backend::Postgres).await?;
        let home = super::home_sql("1, 2");
        let article = super::article_sql(9);
        let statements: Vec<&str> = [home.as_str(), article.as_str()]
            .into_iter()
            .flat_map(str::lines)
            .filter(|line| !line.starts_with("--") && !line.starts_with('\\'))
            .filter(|line| !line.trim().is_empty())
            .collect();
        // The home page's two statements and the article page's four.
        assert_eq!(statements.len(), 6, "{statements:?}");
        for (n, statement) in statements.iter().enumerate() {
            let sql = as_prepared(statement);
            db.execute_unprepared(&format!("PREPARE bench_{n} AS {sql}"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}: {sql}"))?;
        }
        Ok(())
    }
}
