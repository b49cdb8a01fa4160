//! Faults, end to end: the database goes away under a running server and comes back.
//!
//! On PostgreSQL a [`FaultProxy`] of the test's own sits between the server and the database;
//! cutting it drops every connection and refuses new ones. While it is cut, every request that
//! needs the database fails fast with a 503 and `SERVICE_UNAVAILABLE`, `/readyz` says so,
//! `/healthz` does not, views keep being counted into the buffer, and nothing panics. Once it
//! is restored, the same server answers normally and writes the views it kept.
//!
//! SQLite has no connection to lose. What it can refuse is writes: another process holding the
//! write lock past the busy timeout. That is the SQLite test: reads go on, writes are 503, and
//! views wait in the buffer until the lock is released.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use newsroom_domain::{
    db,
    entities::{ArticleStatus, article},
};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::{Backend, TestApp, postgres_configured, proxy};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// Counts panics anywhere in this test process (the servers run in it), by a hook.
struct PanicWatch {
    count: Arc<AtomicUsize>,
    before: usize,
}

impl PanicWatch {
    fn start() -> Self {
        static PANICS: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();
        let count = PANICS
            .get_or_init(|| {
                let count = Arc::new(AtomicUsize::new(0));
                let seen = count.clone();
                let previous = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    previous(info);
                }));
                count
            })
            .clone();
        let before = count.load(Ordering::SeqCst);
        PanicWatch { count, before }
    }

    fn assert_none(&self) {
        assert_eq!(
            self.count.load(Ordering::SeqCst),
            self.before,
            "nothing panicked"
        );
    }
}

/// Two published articles: their ids, global ids and slugs.
async fn two_published(app: &TestApp) -> anyhow::Result<[(i64, String, String); 2]> {
    let found = article::Entity::find()
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .order_by_asc(article::Column::Id)
        .all(&app.db)
        .await?;
    let pick = |a: &article::Model| (a.id, encode(Kind::Article, a.id).0, a.slug.clone());
    match found.as_slice() {
        [a, b, ..] => Ok([pick(a), pick(b)]),
        _ => anyhow::bail!("the demo has published articles"),
    }
}

/// Writing the view buffer fails because the database is unavailable (and keeps the views).
async fn assert_flush_refused(app: &TestApp) {
    let flushed = app.views.flush().await;
    assert!(
        flushed
            .as_ref()
            .is_err_and(newsroom_domain::Error::is_unavailable),
        "{flushed:?}"
    );
}

async fn view_count(app: &TestApp, id: i64) -> anyhow::Result<i64> {
    Ok(article::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .map(|a| a.view_count)
        .unwrap_or_default())
}

async fn beacon(
    app: &TestApp,
    global_id: &str,
    visitor: &str,
) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .post(format!("{}/api/v1/articles/{global_id}/views", app.address))
        .header("x-visitor-id", visitor)
        .send()
        .await?)
}

async fn get(app: &TestApp, path: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await?)
}

const LIST: &str = "{ articles(first: 3) { edges { node { title } } } }";

/// A 503 that says why and when to come back, in the REST error shape.
async fn assert_rest_unavailable(what: &str, res: reqwest::Response) -> anyhow::Result<()> {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(res.headers().contains_key("retry-after"), "{what}");
    let body: Value = res.json().await?;
    assert_eq!(
        body["error"]["code"], "SERVICE_UNAVAILABLE",
        "{what}: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("try again") || message.contains("send it again"),
        "{what}: {body}"
    );
    assert!(
        !message.to_lowercase().contains("pool"),
        "no internals: {body}"
    );
    Ok(())
}

/// A GraphQL 503 under `media`: the errors say `SERVICE_UNAVAILABLE`.
async fn assert_graphql_unavailable(what: &str, res: reqwest::Response) -> anyhow::Result<()> {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(res.headers().contains_key("retry-after"), "{what}");
    let body: Value = res.json().await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{what}: {body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("unavailable"), "{what}: {body}");
    Ok(())
}

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_503_and_the_server_resumes_by_itself() -> anyhow::Result<()> {
    if !postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: the PostgreSQL outage test is not run");
        return Ok(());
    }
    let panics = PanicWatch::start();
    let proxy = proxy::FaultProxy::start(proxy::postgres_address().await?).await?;
    let app = TestApp::spawn_with(Backend::Postgres, true, |config| {
        config.database_url = proxy.route(&config.database_url);
        // Fail fast: a request waits this long for a connection the database will not give.
        config.db_acquire_timeout_ms = 300;
        // Views are written when the test says so.
        config.view_flush_ms = 3_600_000;
        // Every view asks the database, so that views during the cut take the outage path.
        config.view_recheck_ms = 0;
        // Every request below must reach the database. With the cache on, an answer stored
        // before the cut may still be served in the moment before the cache hears that its
        // notifications connection is gone (it then stops serving until it is back).
        config.response_cache = false;
    })
    .await?;
    let [(seen_id, seen, seen_slug), (_, unseen, _)] = two_published(&app).await?;

    // Before: everything answers, and the article is seen by one visitor.
    assert_eq!(get(&app, "/readyz").await?.status(), StatusCode::OK);
    app.data(LIST, json!({})).await?;
    assert_eq!(
        beacon(&app, &seen, "before").await?.status(),
        StatusCode::NO_CONTENT
    );
    app.views.flush().await?;
    let counted_before = view_count(&app, seen_id).await?;

    proxy.cut().await;

    // The process is up; the database is not.
    assert_eq!(get(&app, "/healthz").await?.status(), StatusCode::OK);
    let ready = get(&app, "/readyz").await?;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = ready.json().await?;
    assert_eq!(body["status"], "database unreachable");

    // GraphQL: 503 under either media type, over POST and GET.
    for accept in ["application/json", "application/graphql-response+json"] {
        let res = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("accept", accept)
            .json(&json!({ "query": LIST }))
            .send()
            .await?;
        assert_graphql_unavailable(accept, res).await?;
    }
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", LIST)])
        .send()
        .await?;
    assert_graphql_unavailable("GET /graphql", res).await?;
    // A query that needs no database still runs.
    let typename = app.data("{ __typename }", json!({})).await?;
    assert_eq!(typename["__typename"], "Query");

    // REST and feeds: 503 in the REST error shape.
    for path in [
        "/api/v1/articles?first=2".to_owned(),
        format!("/api/v1/articles/{seen_slug}"),
        "/api/v1/channels".to_owned(),
        "/feeds/rss.xml".to_owned(),
        "/sitemap.xml".to_owned(),
    ] {
        assert_rest_unavailable(&path, get(&app, &path).await?).await?;
    }

    // Views of an article seen lately are still counted; one that cannot be checked is a 503.
    for visitor in ["during-1", "during-2", "during-3"] {
        assert_eq!(
            beacon(&app, &seen, visitor).await?.status(),
            StatusCode::NO_CONTENT
        );
    }
    let counted = app
        .data(
            "mutation($id: ID!) { recordView(articleId: $id, visitorId: \"during-4\") { counted } }",
            json!({ "id": seen }),
        )
        .await?;
    assert_eq!(counted["recordView"]["counted"], true);
    assert_rest_unavailable(
        "a view of an unchecked article",
        beacon(&app, &unseen, "during-1").await?,
    )
    .await?;
    // The buffer cannot be written, and keeps every view.
    assert_flush_refused(&app).await;
    assert_eq!(app.views.buffered(), 4);
    // Operators see it: the buffer and the failed operations are in /metrics.
    let metrics = get(&app, "/metrics").await?.text().await?;
    assert_eq!(metric(&metrics, "newsroom_views_buffered "), Some(4.0));
    assert!(
        metric(
            &metrics,
            "newsroom_graphql_operations_total{operation=\"anonymous\",outcome=\"SERVICE_UNAVAILABLE\"}"
        )
        .is_some_and(|n| n >= 3.0),
        "{metrics}"
    );

    proxy.restore().await?;

    // The same server, not restarted, answers the very next requests: every request during the
    // cut found its connection dead and closed it, and the pool tests a connection that has been
    // idle for a second before handing it out, so it drops the dead ones and opens new ones.
    assert_eq!(get(&app, "/readyz").await?.status(), StatusCode::OK);
    let list = app.data(LIST, json!({})).await?;
    assert_eq!(list["articles"]["edges"].as_array().map(Vec::len), Some(3));
    for path in [
        "/api/v1/articles?first=2".to_owned(),
        format!("/api/v1/articles/{seen_slug}"),
        "/feeds/rss.xml".to_owned(),
    ] {
        assert_eq!(get(&app, &path).await?.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(
        beacon(&app, &unseen, "after").await?.status(),
        StatusCode::NO_CONTENT
    );
    // The views kept through the outage are written, each once.
    app.views.flush().await?;
    assert_eq!(app.views.buffered(), 0);
    assert_eq!(view_count(&app, seen_id).await?, counted_before + 4);
    panics.assert_none();
    Ok(())
}

/// A pooled connection the database dropped while it sat idle fails at most the one statement
/// it is handed out for, and is then closed, not put back: the pool returns a connection
/// untested only after an exchange that ran to completion, and a failed one is tested (and
/// found dead) on its way back. Which statements fail depends on which connection the pool hands
/// out (a replacement opened after the first failure may come before the other dead one), so the
/// test bounds how many do: were a failed connection put back untested, every one would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_fails_one_statement_at_most_and_is_replaced() -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    if !postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: the PostgreSQL connection test is not run");
        return Ok(());
    }
    const CONNECTIONS: u32 = 2;
    let proxy = proxy::FaultProxy::start(proxy::postgres_address().await?).await?;
    let app = TestApp::spawn(Backend::Postgres, false).await?;
    let pool = db::connect_with(
        &proxy.route(app.database_url()),
        db::PoolOptions::with_max(CONNECTIONS),
    )
    .await?;
    // Both connections open, each last used for a statement that ran to completion.
    let sleep = || pool.execute_unprepared("SELECT pg_sleep(0.05)");
    let (a, b) = tokio::join!(sleep(), sleep());
    a?;
    b?;

    proxy.cut().await;
    proxy.restore().await?;

    let mut failures = 0;
    for _ in 0..20 {
        if let Err(err) = pool.execute_unprepared("SELECT 1").await {
            assert!(db::is_unavailable(&err), "{err}");
            failures += 1;
        }
    }
    assert!(
        failures <= CONNECTIONS,
        "{failures} of 20 statements failed on {CONNECTIONS} dropped connections"
    );
    pool.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_sqlite_write_lock_is_503_for_writes_and_views_wait_for_it() -> anyhow::Result<()> {
    let panics = PanicWatch::start();
    let app = TestApp::spawn_with(Backend::Sqlite, true, |config| {
        config.db_busy_timeout_ms = 50;
        config.view_flush_ms = 3_600_000;
    })
    .await?;
    let [(id, global_id, _), _] = two_published(&app).await?;
    let counted_before = view_count(&app, id).await?;

    // Another process takes the write lock and keeps it.
    let lock = db::begin_write(&app.db).await?;

    // Readers go on (WAL), so the server is ready and reads answer.
    assert_eq!(get(&app, "/readyz").await?.status(), StatusCode::OK);
    app.data(LIST, json!({})).await?;
    assert_eq!(
        get(&app, "/api/v1/articles?first=2").await?.status(),
        StatusCode::OK
    );
    // Views are counted and wait.
    for visitor in ["locked-1", "locked-2"] {
        assert_eq!(
            beacon(&app, &global_id, visitor).await?.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_flush_refused(&app).await;
    assert_eq!(app.views.buffered(), 2);
    // A write is a 503 that says to try again, not a 500.
    let takedown = "mutation($id: ID!) { requestTakedown(articleId: $id, claimant: \"南昌日报社\", contact: \"rights@example.cn\", reason: \"未经授权转载\") { id } }";
    let (status, body) = app
        .post_graphql(None, takedown, json!({ "id": global_id }))
        .await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );

    lock.rollback().await?;

    app.views.flush().await?;
    assert_eq!(view_count(&app, id).await?, counted_before + 2);
    let (status, body) = app
        .post_graphql(None, takedown, json!({ "id": global_id }))
        .await?;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    panics.assert_none();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_view_buffer_refuses_new_views_with_503_and_keeps_what_it_holds()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(Backend::Sqlite, true, |config| {
        config.db_busy_timeout_ms = 50;
        config.view_flush_ms = 3_600_000;
        config.view_buffer_max = 1;
    })
    .await?;
    let [(first_id, first, _), (second_id, second, _)] = two_published(&app).await?;
    let before = (
        view_count(&app, first_id).await?,
        view_count(&app, second_id).await?,
    );
    let lock = db::begin_write(&app.db).await?;
    assert_eq!(
        beacon(&app, &first, "a").await?.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.views.flush().await.is_err());
    // The buffer holds one (article, hour): more views of it fit, another article's do not.
    assert_eq!(
        beacon(&app, &first, "b").await?.status(),
        StatusCode::NO_CONTENT
    );
    assert_rest_unavailable("a view past the buffer", beacon(&app, &second, "a").await?).await?;
    let metrics = get(&app, "/metrics").await?.text().await?;
    assert_eq!(metric(&metrics, "newsroom_views_dropped_total "), Some(1.0));
    lock.rollback().await?;
    app.views.flush().await?;
    assert_eq!(view_count(&app, first_id).await?, before.0 + 2);
    // The refused view was not remembered: sent again, it counts.
    assert_eq!(
        beacon(&app, &second, "a").await?.status(),
        StatusCode::NO_CONTENT
    );
    app.views.flush().await?;
    assert_eq!(view_count(&app, second_id).await?, before.1 + 1);
    Ok(())
}
