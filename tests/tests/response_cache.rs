//! The response cache, on both backends: a repeated read is a hit; other variables, another
//! caller class or an editor are not; an edit, a publication, an unpublication, a takedown and a
//! scheduled article's time coming are seen by the very next request of the same process, and
//! (PostgreSQL) by another process within a second; answers with errors are never stored; a hit
//! answers conditional GETs like a miss. `X-Cache` tells what happened.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::TimeDelta;
use newsroom_domain::{clock::Clock, entities::Role};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::{Backend, TestApp, on_both_backends, postgres_configured};
use serde_json::{Value, json};

on_both_backends!(
    a_repeat_is_a_hit_and_other_variables_or_callers_are_not,
    editors_bypass_and_mutations_are_never_cached,
    every_kind_of_change_is_seen_by_the_next_request,
    a_scheduled_article_appears_at_its_time,
    view_counts_follow_the_views_this_process_writes,
    answers_with_errors_are_never_stored,
    a_hit_answers_conditional_gets_like_a_miss,
);

const DEMO_SLUG: &str = "nanchang-kaifaqu-2020-ganbu-dahui";
const BY_SLUG: &str = "query($slug: String!) { article(slug: $slug) { id title version } }";
const NEWEST: &str = "{ articles(first: 5) { nodes { slug title } } }";

/// What a request came to: status, `X-Cache`, body.
struct Answer {
    status: u16,
    cache: String,
    body: Value,
}

async fn answer(response: reqwest::Response) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok(Answer {
        status,
        cache,
        body,
    })
}

async fn post(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Answer> {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await?).await
}

async fn rest(app: &TestApp, token: Option<&str>, path: &str) -> anyhow::Result<Answer> {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await?).await
}

/// Lets the notifications of the writes so far arrive. On PostgreSQL a write's own `NOTIFY`
/// reaches the server some time after the write's response (which already emptied the cache),
/// and empties it once more: a read in between is stored, then dropped. They arrive within
/// milliseconds; this waits well past that.
async fn settle(app: &TestApp) {
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Reads the demo article over GraphQL and REST until both answers are cached (after
/// [`settle`], a repeat is a hit at once; the wait is a second line).
async fn warm(app: &TestApp, vars: &Value, path: &str) -> anyhow::Result<()> {
    settle(app).await;
    let graphql = within_a_second(|| async {
        Ok(post(app, None, BY_SLUG, vars.clone()).await?.cache == "HIT")
    })
    .await?;
    anyhow::ensure!(graphql, "the GraphQL read was never a hit");
    let over_rest =
        within_a_second(|| async { Ok(rest(app, None, path).await?.cache == "HIT") }).await?;
    anyhow::ensure!(over_rest, "the REST read was never a hit");
    Ok(())
}

/// The demo article's global id and version, read as an editor.
async fn demo_article(app: &TestApp, editor: &str) -> anyhow::Result<(String, i64)> {
    let data = app
        .data_as(Some(editor), BY_SLUG, json!({ "slug": DEMO_SLUG }))
        .await?;
    let id = data["article"]["id"].as_str().context("id")?.to_owned();
    let version = data["article"]["version"].as_i64().context("version")?;
    Ok((id, version))
}

async fn a_repeat_is_a_hit_and_other_variables_or_callers_are_not(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let vars = json!({ "slug": DEMO_SLUG });
    let first = post(&app, None, BY_SLUG, vars.clone()).await?;
    assert_eq!((first.status, first.cache.as_str()), (200, "MISS"));
    let again = post(&app, None, BY_SLUG, vars.clone()).await?;
    assert_eq!(again.cache, "HIT");
    assert_eq!(again.body, first.body, "a hit is the answer the miss gave");

    // Other variables, another operation text: misses.
    let other = post(&app, None, BY_SLUG, json!({ "slug": "no-such-article" })).await?;
    assert_eq!(other.cache, "MISS");
    assert_eq!(other.body["data"]["article"], Value::Null);
    let spaced = post(&app, None, &format!("{BY_SLUG} "), vars.clone()).await?;
    assert_eq!(spaced.cache, "MISS");

    // The same query by GET, and as a persisted-query GET by its hash.
    let url = format!("{}/graphql", app.address);
    let params = [
        ("query", BY_SLUG.to_owned()),
        ("variables", vars.to_string()),
    ];
    let get = answer(app.client.get(&url).query(&params).send().await?).await?;
    assert_eq!(
        get.cache, "HIT",
        "GET and POST of one query share an answer"
    );
    let hash = newsroom_domain::persisted::sha256_hex(BY_SLUG);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    let register = [
        ("query", BY_SLUG.to_owned()),
        ("variables", vars.to_string()),
        ("extensions", extensions.clone()),
    ];
    answer(app.client.get(&url).query(&register).send().await?).await?;
    let by_hash = [("variables", vars.to_string()), ("extensions", extensions)];
    let first = answer(app.client.get(&url).query(&by_hash).send().await?).await?;
    assert_eq!(first.cache, "MISS");
    let again = answer(app.client.get(&url).query(&by_hash).send().await?).await?;
    assert_eq!(again.cache, "HIT");
    assert_eq!(
        again.body["data"]["article"]["title"],
        first.body["data"]["article"]["title"]
    );

    // REST: a repeat is a hit; a different query string is not.
    let path = format!("/api/v1/articles/{DEMO_SLUG}");
    assert_eq!(rest(&app, None, &path).await?.cache, "MISS");
    let hit = rest(&app, None, &path).await?;
    assert_eq!((hit.status, hit.cache.as_str()), (200, "HIT"));
    assert_eq!(hit.body["slug"], DEMO_SLUG);
    assert_eq!(
        rest(&app, None, "/api/v1/articles?first=3").await?.cache,
        "MISS"
    );
    assert_eq!(
        rest(&app, None, "/api/v1/articles?first=3").await?.cache,
        "HIT"
    );
    assert_eq!(
        rest(&app, None, "/api/v1/articles?first=4").await?.cache,
        "MISS"
    );

    // A partner is another class: its first read misses, and it never gets a reader's answer.
    let partner = app.signed_in("cache-partner", Role::Partner).await?;
    let list = "{ articles(first: 100) { totalCount } }";
    settle(&app).await;
    let reader = post(&app, None, list, json!({})).await?;
    post(&app, None, list, json!({})).await?;
    let as_partner = post(&app, Some(&partner), list, json!({})).await?;
    assert_eq!(as_partner.cache, "MISS");
    assert_ne!(
        as_partner.body, reader.body,
        "the demo has articles partners may not have"
    );
    let again = post(&app, Some(&partner), list, json!({})).await?;
    assert_eq!(
        (again.cache.as_str(), &again.body),
        ("HIT", &as_partner.body)
    );
    assert_eq!(post(&app, None, list, json!({})).await?.body, reader.body);
    let partner_rest = rest(&app, Some(&partner), "/api/v1/articles?first=3").await?;
    assert_eq!(partner_rest.cache, "MISS");
    assert_eq!(
        rest(&app, Some(&partner), "/api/v1/articles?first=3")
            .await?
            .cache,
        "HIT"
    );

    // What is one partner's own is never cached.
    let mine = "{ me { username } site { name } }";
    for _ in 0..2 {
        let me = post(&app, Some(&partner), mine, json!({})).await?;
        assert_eq!(me.cache, "BYPASS");
        assert_eq!(me.body["data"]["me"]["username"], "cache-partner");
    }
    // A refused token is refused, never served a cached answer.
    let refused = rest(&app, Some("not-a-token"), "/api/v1/articles?first=3").await?;
    assert_eq!(refused.status, 401);
    let refused = post(&app, Some("not-a-token"), list, json!({})).await?;
    assert_eq!(refused.status, 401);
    Ok(())
}

async fn editors_bypass_and_mutations_are_never_cached(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("cache-editor", Role::Editor).await?;
    let vars = json!({ "slug": DEMO_SLUG });
    post(&app, None, BY_SLUG, vars.clone()).await?;
    for _ in 0..2 {
        let read = post(&app, Some(&editor), BY_SLUG, vars.clone()).await?;
        assert_eq!((read.status, read.cache.as_str()), (200, "BYPASS"));
        let read = rest(&app, Some(&editor), "/api/v1/articles?first=2").await?;
        assert_eq!((read.status, read.cache.as_str()), (200, "BYPASS"));
    }
    // An editor sees drafts through the same query a reader's cached answer hides them from.
    let created = app
        .data_as(
            Some(&editor),
            "mutation { createArticle(input: { title: \"缓存草稿\", body: \"正文\", channel: \"park-news\" }) { slug } }",
            json!({}),
        )
        .await?;
    let slug = created["createArticle"]["slug"].as_str().context("slug")?;
    let vars = json!({ "slug": slug });
    assert_eq!(
        post(&app, None, BY_SLUG, vars.clone()).await?.body["data"]["article"],
        Value::Null
    );
    let as_editor = post(&app, Some(&editor), BY_SLUG, vars.clone()).await?;
    assert_eq!(as_editor.body["data"]["article"]["title"], "缓存草稿");

    let view = "mutation($id: ID!) { recordView(articleId: $id, visitorId: \"v\") { counted } }";
    let (id, _) = demo_article(&app, &editor).await?;
    for _ in 0..2 {
        let counted = post(&app, None, view, json!({ "id": id })).await?;
        assert_eq!(counted.cache, "BYPASS");
    }
    Ok(())
}

async fn every_kind_of_change_is_seen_by_the_next_request(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("cache-editor", Role::Editor).await?;
    let (id, version) = demo_article(&app, &editor).await?;
    let vars = json!({ "slug": DEMO_SLUG });
    let rest_path = format!("/api/v1/articles/{DEMO_SLUG}");
    let mutate = |query: String| {
        let editor = editor.clone();
        let app_ref = &app;
        async move { app_ref.data_as(Some(&editor), &query, json!({})).await }
    };

    // An edit.
    warm(&app, &vars, &rest_path).await?;
    mutate(format!(
        "mutation {{ updateArticle(id: \"{id}\", version: {version}, input: {{ title: \"缓存之后的新标题\" }}) {{ id }} }}"
    ))
    .await?;
    let read = post(&app, None, BY_SLUG, vars.clone()).await?;
    assert_eq!(read.cache, "MISS");
    assert_eq!(read.body["data"]["article"]["title"], "缓存之后的新标题");
    assert_eq!(
        rest(&app, None, &rest_path).await?.body["title"],
        "缓存之后的新标题"
    );

    // Unpublished, published again.
    warm(&app, &vars, &rest_path).await?;
    mutate(format!(
        "mutation {{ unpublishArticle(id: \"{id}\", version: {}) {{ id }} }}",
        version + 1
    ))
    .await?;
    assert_eq!(
        post(&app, None, BY_SLUG, vars.clone()).await?.body["data"]["article"],
        Value::Null
    );
    assert_eq!(rest(&app, None, &rest_path).await?.status, 404);
    mutate(format!(
        "mutation {{ publishArticle(id: \"{id}\", version: {}) {{ id }} }}",
        version + 2
    ))
    .await?;
    let back = post(&app, None, BY_SLUG, vars.clone()).await?;
    assert_eq!(back.body["data"]["article"]["id"], id.as_str());

    // A change to what surrounds articles (a source's syndication) reaches the partner class.
    let partner = app.signed_in("cache-partner", Role::Partner).await?;
    let list = "{ articles(first: 100) { totalCount } }";
    let before = post(&app, Some(&partner), list, json!({})).await?;
    assert_eq!(
        post(&app, Some(&partner), list, json!({})).await?.cache,
        "HIT"
    );
    let sources = app
        .data_as(
            Some(&editor),
            "{ sources(first: 100) { nodes { id slug name syndicationAllowed license } } }",
            json!({}),
        )
        .await?;
    let closed = sources["sources"]["nodes"]
        .as_array()
        .context("sources")?
        .iter()
        .find(|s| s["syndicationAllowed"] == json!(false) && s["license"] != json!("OWN"))
        .context("a closed source")?
        .clone();
    app.data_as(
        Some(&editor),
        "mutation($id: ID!, $slug: String!, $name: String!, $license: License!) { \
         updateSource(id: $id, input: { slug: $slug, name: $name, license: $license, \
         syndicationAllowed: true }) { id } }",
        json!({ "id": closed["id"], "slug": closed["slug"], "name": closed["name"], "license": closed["license"] }),
    )
    .await?;
    let after = post(&app, Some(&partner), list, json!({})).await?;
    assert_eq!(after.cache, "MISS");
    assert_ne!(
        after.body, before.body,
        "the partner now sees the source's articles"
    );

    // A takedown.
    warm(&app, &vars, &rest_path).await?;
    let requested = app
        .data(
            "mutation($id: ID!) { requestTakedown(articleId: $id, claimant: \"南昌日报社\", contact: \"rights@example.cn\", reason: \"未经授权转载\") { id } }",
            json!({ "id": id }),
        )
        .await?;
    // Asking is no change: the cached answer stands.
    assert_eq!(post(&app, None, BY_SLUG, vars.clone()).await?.cache, "HIT");
    let request_id = requested["requestTakedown"]["id"]
        .as_str()
        .context("request")?;
    mutate(format!(
        "mutation {{ resolveTakedown(id: \"{request_id}\", accept: true) {{ status }} }}"
    ))
    .await?;
    assert_eq!(
        post(&app, None, BY_SLUG, vars).await?.body["data"]["article"],
        Value::Null
    );
    assert_eq!(rest(&app, None, &rest_path).await?.status, 404);
    Ok(())
}

async fn a_scheduled_article_appears_at_its_time(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("cache-editor", Role::Editor).await?;
    let created = app
        .data_as(
            Some(&editor),
            "mutation { createArticle(input: { title: \"定时发布的缓存稿件\", body: \"正文\", channel: \"park-news\" }) { id slug } }",
            json!({}),
        )
        .await?;
    let id = created["createArticle"]["id"].as_str().context("id")?;
    let slug = created["createArticle"]["slug"].as_str().context("slug")?;
    let at = app.clock.now() + TimeDelta::hours(1);
    app.data_as(
        Some(&editor),
        "mutation($id: ID!, $at: DateTime!) { scheduleArticle(id: $id, version: 1, at: $at) { id } }",
        json!({ "id": id, "at": at }),
    )
    .await?;
    let vars = json!({ "slug": slug });
    let shows = |body: &Value| body.to_string().contains(slug);
    settle(&app).await;
    assert!(!shows(&post(&app, None, NEWEST, json!({})).await?.body));
    let cached = post(&app, None, NEWEST, json!({})).await?;
    assert_eq!(cached.cache, "HIT");
    assert_eq!(
        post(&app, None, BY_SLUG, vars.clone()).await?.body["data"]["article"],
        Value::Null
    );
    assert_eq!(
        rest(&app, None, "/api/v1/articles?first=5").await?.cache,
        "MISS"
    );

    // Just before its time nothing changes; at its time, with no one writing, it is there.
    app.clock.advance(TimeDelta::minutes(59));
    assert_eq!(post(&app, None, NEWEST, json!({})).await?.cache, "HIT");
    app.clock.advance(TimeDelta::minutes(1));
    let newest = post(&app, None, NEWEST, json!({})).await?;
    assert_eq!(newest.cache, "MISS");
    assert!(shows(&newest.body), "{}", newest.body);
    assert_eq!(
        post(&app, None, BY_SLUG, vars).await?.body["data"]["article"]["id"],
        id
    );
    let listed = rest(&app, None, "/api/v1/articles?first=5").await?;
    assert!(shows(&listed.body));
    Ok(())
}

async fn view_counts_follow_the_views_this_process_writes(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("cache-editor", Role::Editor).await?;
    let (id, _) = demo_article(&app, &editor).await?;
    let counted = "query($slug: String!) { article(slug: $slug) { viewCount } }";
    let vars = json!({ "slug": DEMO_SLUG });
    let before = post(&app, None, counted, vars.clone()).await?;
    assert_eq!(post(&app, None, counted, vars.clone()).await?.cache, "HIT");
    // A title-only answer is not about views.
    post(&app, None, BY_SLUG, vars.clone()).await?;

    let beacon = app
        .client
        .post(format!("{}/api/v1/articles/{id}/views", app.address))
        .header("x-visitor-id", "cache-visitor")
        .send()
        .await?;
    assert_eq!(beacon.status().as_u16(), 204);
    app.views.flush().await?;
    let after = post(&app, None, counted, vars.clone()).await?;
    assert_eq!(after.cache, "MISS");
    assert_eq!(
        after.body["data"]["article"]["viewCount"].as_i64(),
        before.body["data"]["article"]["viewCount"]
            .as_i64()
            .map(|n| n + 1)
    );
    assert_eq!(post(&app, None, BY_SLUG, vars).await?.cache, "HIT");
    Ok(())
}

async fn answers_with_errors_are_never_stored(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let bad = "{ search(query: \"\", first: 5) { totalCount } }";
    for _ in 0..2 {
        let refused = post(&app, None, bad, json!({})).await?;
        assert_eq!(refused.cache, "MISS");
        assert_eq!(
            refused.body["errors"][0]["extensions"]["code"],
            "BAD_USER_INPUT"
        );
    }
    // A field error beside data.
    let partial = "{ site { name } node(id: \"not-an-id\") { id } }";
    for _ in 0..2 {
        let answer = post(&app, None, partial, json!({})).await?;
        assert_eq!(answer.cache, "MISS");
        assert!(answer.body["errors"].is_array());
    }
    // REST refusals.
    for _ in 0..2 {
        let missing = rest(&app, None, "/api/v1/articles/no-such-article").await?;
        assert_eq!((missing.status, missing.cache.as_str()), (404, "MISS"));
        let wrong = rest(&app, None, "/api/v1/articles?first=1000").await?;
        assert_eq!((wrong.status, wrong.cache.as_str()), (400, "MISS"));
    }
    Ok(())
}

async fn a_hit_answers_conditional_gets_like_a_miss(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let url = format!("{}/api/v1/articles/{DEMO_SLUG}", app.address);
    let miss = app.client.get(&url).send().await?;
    let etag = miss.headers().get("etag").context("etag")?.clone();
    let modified = miss.headers().get("last-modified").context("date")?.clone();
    let hit = app.client.get(&url).send().await?;
    assert_eq!(
        hit.headers().get("x-cache").map(|v| v.as_bytes()),
        Some(&b"HIT"[..])
    );
    assert_eq!(hit.headers().get("etag"), Some(&etag));
    assert_eq!(hit.headers().get("last-modified"), Some(&modified));
    let unchanged = app
        .client
        .get(&url)
        .header("if-none-match", etag.clone())
        .send()
        .await?;
    assert_eq!(unchanged.status().as_u16(), 304);
    assert!(unchanged.bytes().await?.is_empty());
    let head = app.client.head(&url).send().await?;
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers().get("etag"), Some(&etag));
    Ok(())
}

/// Two server processes on one PostgreSQL database: a change made through one, or straight in
/// the database (as the CLI would), is seen by the other within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_sees_a_change_within_a_second() -> anyhow::Result<()> {
    if !postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL variant not run");
        return Ok(());
    }
    let first = TestApp::with_demo(Backend::Postgres).await?;
    let second = first.another_server().await?;
    let editor = first.signed_in("cache-editor", Role::Editor).await?;
    let (id, version) = demo_article(&first, &editor).await?;
    let vars = json!({ "slug": DEMO_SLUG });
    post(&second, None, BY_SLUG, vars.clone()).await?;
    assert_eq!(
        post(&second, None, BY_SLUG, vars.clone()).await?.cache,
        "HIT"
    );

    first
        .data_as(
            Some(&editor),
            &format!("mutation {{ updateArticle(id: \"{id}\", version: {version}, input: {{ title: \"另一进程看到的标题\" }}) {{ id }} }}"),
            json!({}),
        )
        .await?;
    let seen = within_a_second(|| async {
        let read = post(&second, None, BY_SLUG, vars.clone()).await?;
        Ok(read.body["data"]["article"]["title"] == "另一进程看到的标题")
    })
    .await?;
    assert!(seen, "the edit reached the other process within a second");

    // Straight in the database, as `newsroom` subcommands or SQL by hand would write.
    let path = format!("/api/v1/articles/{DEMO_SLUG}");
    rest(&second, None, &path).await?;
    assert_eq!(rest(&second, None, &path).await?.cache, "HIT");
    let row_id = newsroom_gateway::graphql::ids::decode(&id)
        .map(|(_, row)| row)
        .context("row id")?;
    use sea_orm::ConnectionTrait;
    first
        .db
        .execute_unprepared(&format!(
            "UPDATE articles SET status = 'taken_down' WHERE id = {row_id}"
        ))
        .await?;
    let gone =
        within_a_second(|| async { Ok(rest(&second, None, &path).await?.status == 404) }).await?;
    assert!(
        gone,
        "the takedown reached the other process within a second"
    );
    assert_eq!(rest(&first, None, &path).await?.status, 404);
    assert_eq!(encode(Kind::Article, row_id).0, id);
    Ok(())
}

/// Asks `check` until it says yes or a second has passed.
async fn within_a_second<F, Fut>(check: F) -> anyhow::Result<bool>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if check().await? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Feed ingest's bookkeeping (a source's `feed_*` columns, a claim that changes no row) and a new
/// draft change nothing a reader sees, so they notify no server; an edit of a source's public
/// columns and a published insert do.
#[tokio::test]
async fn feed_bookkeeping_and_drafts_notify_no_one() -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    if !postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL variant not run");
        return Ok(());
    }
    let (test_db, db) = newsroom_tests::TestDb::create(Backend::Postgres).await?;
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&test_db.url).await?;
    listener.listen("newsroom_content").await?;
    // Arranging: a channel and a source (both notify), then a marker to wait for.
    for sql in [
        "INSERT INTO channels (id, slug, name, created_at) VALUES (1, 'c', 'c', now())",
        "INSERT INTO sources (id, slug, name, license, syndication_allowed, created_at, updated_at) \
         VALUES (1, 's', 's', 'permission_granted', false, now(), now())",
        "NOTIFY newsroom_content, 'arranged'",
    ] {
        db.execute_unprepared(sql).await?;
    }
    while next(&mut listener).await? != "arranged" {}

    // Quiet: each in its own transaction, then a marker. Had any of them notified, its
    // notification would arrive before the marker.
    for sql in [
        "UPDATE sources SET feed_checked_at = now(), feed_next_at = now(), \
           feed_failures = feed_failures + 1, feed_error = 'timed out', updated_at = now() \
         WHERE id = 1",
        "UPDATE sources SET feed_next_at = now() WHERE id = 1 AND feed_failures > 99",
        "INSERT INTO articles (slug, title, body, channel_id, source_id, kind, status, \
           created_at, updated_at) \
         VALUES ('d', '草稿', '正文', 1, 1, 'reprint', 'draft', now(), now())",
        "NOTIFY newsroom_content, 'quiet'",
    ] {
        db.execute_unprepared(sql).await?;
    }
    assert_eq!(next(&mut listener).await?, "quiet");

    // Loud: what readers see.
    for sql in [
        "UPDATE sources SET name = '新来源' WHERE id = 1",
        "INSERT INTO articles (slug, title, body, channel_id, kind, status, published_at, \
           created_at, updated_at) \
         VALUES ('p', '已发布', '正文', 1, 'original', 'published', now(), now(), now())",
    ] {
        db.execute_unprepared(sql).await?;
        assert_eq!(next(&mut listener).await?, "", "{sql}");
    }
    Ok(())
}

/// The payload of the next notification `listener` receives.
async fn next(listener: &mut sea_orm::sqlx::postgres::PgListener) -> anyhow::Result<String> {
    let notification = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .context("no notification within 10 s")??;
    Ok(notification.payload().to_owned())
}
