//! Graceful shutdown, end to end, through the very path `newsroom serve` takes: a real SIGTERM
//! sent to this process, caught by the server's handler. The server stops taking connections,
//! lets the request in flight finish and answer, and writes the buffered views before it exits.
//!
//! A signal reaches every server of a process, so this binary holds one test, which runs the
//! backends one after the other.

use newsroom_domain::{
    db,
    entities::{ArticleStatus, article, takedown_request},
};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::{Backend, TestApp, eventually, postgres_configured};
use reqwest::StatusCode;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_writes_the_view_buffer() -> anyhow::Result<()> {
    stop_gracefully(Backend::Sqlite).await?;
    if postgres_configured() {
        stop_gracefully(Backend::Postgres).await?;
    } else {
        eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL variant not run");
    }
    Ok(())
}

/// The pool gauge of connections in use, from `/metrics`.
async fn connections_in_use(app: &TestApp) -> anyhow::Result<f64> {
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("newsroom_db_pool_connections_in_use "))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no pool gauge in {text}"))
}

async fn stop_gracefully(backend: Backend) -> anyhow::Result<()> {
    let mut app = TestApp::spawn_stopping_on_signals(backend, |config| {
        // Views are written only at the stop; the request in flight may wait long for its lock.
        config.view_flush_ms = 3_600_000;
        config.db_busy_timeout_ms = 60_000;
    })
    .await?;
    let published = article::Entity::find()
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .order_by_asc(article::Column::Id)
        .one(&app.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo has a published article"))?;
    let global_id = encode(Kind::Article, published.id).0;
    for visitor in ["a", "b", "c"] {
        let res = app
            .client
            .post(format!("{}/api/v1/articles/{global_id}/views", app.address))
            .header("x-visitor-id", visitor)
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.views.buffered(), 3);

    // A request that will be in flight when the signal comes: a write held up by a lock the test
    // holds, so that it cannot finish before the test lets it.
    let lock = match backend {
        Backend::Sqlite => db::begin_write(&app.db).await?,
        Backend::Postgres => {
            let lock = app.db.begin().await?;
            lock.execute_unprepared("LOCK TABLE takedown_requests IN ACCESS EXCLUSIVE MODE")
                .await?;
            lock
        }
    };
    let request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({
            "query": "mutation($id: ID!) { requestTakedown(articleId: $id, claimant: \"南昌日报社\", contact: \"rights@example.cn\", reason: \"未经授权转载\") { status } }",
            "variables": { "id": global_id },
        }));
    let in_flight = tokio::spawn(request.send());
    eventually("the request taking a connection", || async {
        Ok(connections_in_use(&app).await? >= 1.0)
    })
    .await?;

    std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()?;
    // The server takes no new connections...
    let address = app.address.trim_start_matches("http://").to_owned();
    eventually("the listener closing", || async {
        Ok(tokio::net::TcpStream::connect(&address).await.is_err())
    })
    .await?;
    // ...and the request in flight, once free to go on, is answered in full.
    lock.rollback().await?;
    let answered = in_flight.await??;
    assert_eq!(answered.status(), StatusCode::OK);
    let body: Value = answered.json().await?;
    assert_eq!(
        body["data"]["requestTakedown"]["status"], "PENDING",
        "{body}"
    );

    app.stopped().await?;
    let written = article::Entity::find_by_id(published.id)
        .one(&app.db)
        .await?
        .map(|a| a.view_count);
    assert_eq!(written, Some(published.view_count + 3), "{backend:?}");
    assert_eq!(takedown_request::Entity::find().count(&app.db).await?, 1);
    // Nothing is left for a later write: the buffer was emptied into the database.
    assert_eq!(app.views.buffered(), 0);
    Ok(())
}
