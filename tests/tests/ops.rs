//! Operations, end to end on the real server: security headers on every kind of response, CORS
//! by configured origin, request ids echoed or replaced, and `/metrics` in the Prometheus text
//! format counting requests by route pattern.

use anyhow::Context;
use newsroom_domain::{
    catalog,
    entities::{ArticleStatus, article, article_tag, channel, source, tag},
};
use newsroom_gateway::{
    config::Environment,
    graphql::ids::{Kind, encode},
};
use newsroom_tests::{Backend, TestApp, TestDb, on_both_backends};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use std::collections::HashMap;

use reqwest::{Method, StatusCode, header::HeaderMap};

on_both_backends!(
    metrics_count_requests_by_route_pattern_and_status,
    metrics_count_graphql_operations_by_name_and_outcome,
    readyz_is_false_while_a_migration_is_pending,
    the_pool_plans_statements_once_unless_told_otherwise,
    a_dropped_transaction_is_rolled_back_as_its_connection_returns,
    rows_decode_nulls_and_name_the_column_of_a_bad_value,
    columns_are_found_by_name_in_any_order,
    lists_of_ids_find_each_row_once,
);

/// The one row `sql` answers; none is an error naming the statement.
async fn one_row(
    db: &sea_orm::DatabaseConnection,
    sql: &str,
) -> anyhow::Result<sea_orm::QueryResult> {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("no row from {sql}"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_security_headers(what: &str, headers: &HeaderMap) {
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(header(headers, "x-frame-options"), Some("DENY"), "{what}");
    let csp = header(headers, "content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "{what}: HSTS is left to the TLS terminator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() -> anyhow::Result<()> {
    let app = TestApp::spawn(Backend::Sqlite, false).await?;
    let ok = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await?;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_security_headers("200", ok.headers());

    let missing = app
        .client
        .get(format!("{}/no/such/page", app.address))
        .send()
        .await?;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers("404", missing.headers());

    let refused = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "text/plain")
        .body("{ __typename }")
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_security_headers("415", refused.headers());

    let bad = app
        .client
        .post(format!("{}/api/v1/articles/not-an-id/views", app.address))
        .send()
        .await?;
    assert!(bad.status().is_client_error(), "{}", bad.status());
    assert_security_headers("REST error", bad.headers());

    // The development console runs its own inline script, under a policy of its own.
    let console = app.client.get(format!("{}/", app.address)).send().await?;
    assert_eq!(console.status(), StatusCode::OK);
    let csp = header(console.headers(), "content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'unsafe-inline'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        header(console.headers(), "x-content-type-options"),
        Some("nosniff")
    );
    Ok(())
}

/// A browser's preflight for a GraphQL POST from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .request(Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        )
        .send()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_admits_the_configured_origins_only() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(Backend::Sqlite, false, |config| {
        config.env = Environment::Production;
        config.cors_origins = Some(vec!["https://www.example.com".into()]);
    })
    .await?;

    let allowed = preflight(&app, "https://www.example.com").await?;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let h = allowed.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some("https://www.example.com")
    );
    let methods = header(h, "access-control-allow-methods").unwrap_or_default();
    for method in ["GET", "POST", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = header(h, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(headers.contains("content-type"), "{headers}");
    assert!(headers.contains("authorization"), "{headers}");
    assert!(h.get("x-request-id").is_some());
    assert_security_headers("preflight", h);

    // A frontend's view beacon names its visitor (`X-Visitor-Id`) from the page's origin.
    let beacon = app
        .client
        .request(
            Method::OPTIONS,
            format!("{}/api/v1/articles/QXJ0aWNsZTox/views", app.address),
        )
        .header("origin", "https://www.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-visitor-id")
        .send()
        .await?;
    assert!(beacon.status().is_success(), "{}", beacon.status());
    let headers = header(beacon.headers(), "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(headers.contains("x-visitor-id"), "{headers}");

    let refused = preflight(&app, "https://evil.example").await?;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "a disallowed origin gets no CORS headers"
    );
    assert!(!refused.status().is_success(), "{}", refused.status());
    // A loopback origin is a development convenience only.
    let local = preflight(&app, "http://localhost:3000").await?;
    assert!(local.headers().get("access-control-allow-origin").is_none());

    // An actual request from an allowed origin exposes the headers scripts may read.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", "https://www.example.com")
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some("https://www.example.com")
    );
    let exposed = header(res.headers(), "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in ["etag", "retry-after", "x-request-id"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // From another origin the request is served (non-browser clients send Origin too), but
    // without CORS headers, so a browser withholds the answer from the page.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_admits_loopback_origins_by_default() -> anyhow::Result<()> {
    let app = TestApp::spawn(Backend::Sqlite, false).await?;
    let local = preflight(&app, "http://localhost:5173").await?;
    assert!(local.status().is_success(), "{}", local.status());
    assert_eq!(
        header(local.headers(), "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let lookalike = preflight(&app, "http://localhost.evil.example").await?;
    assert!(
        lookalike
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    Ok(())
}

async fn request_id_for(app: &TestApp, sent: Option<&[u8]>) -> anyhow::Result<String> {
    let mut req = app.client.get(format!("{}/healthz", app.address));
    if let Some(id) = sent {
        req = req.header(
            "x-request-id",
            reqwest::header::HeaderValue::from_bytes(id)?,
        );
    }
    let res = req.send().await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(header(res.headers(), "x-request-id")
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sane_request_id_is_echoed_and_any_other_replaced() -> anyhow::Result<()> {
    let app = TestApp::spawn(Backend::Sqlite, false).await?;
    assert_eq!(
        request_id_for(&app, Some(b"trace-42.abc_DEF")).await?,
        "trace-42.abc_DEF"
    );
    let generated = request_id_for(&app, None).await?;
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    let long = [b'a'; 129];
    let replacing = [&long[..], "café".as_bytes(), b"with space", b"tab\there"];
    for sent in replacing {
        let got = request_id_for(&app, Some(sent)).await?;
        assert!(uuid::Uuid::parse_str(&got).is_ok(), "{sent:?} -> {got}");
    }
    let longest = [b'z'; 128];
    assert_eq!(
        request_id_for(&app, Some(&longest)).await?.as_bytes(),
        &longest[..]
    );
    // Two requests without an id get different ones.
    assert_ne!(request_id_for(&app, None).await?, generated);
    // Errors carry it too.
    let res = app
        .client
        .get(format!("{}/no/such/page", app.address))
        .header("x-request-id", "lost-1")
        .send()
        .await?;
    assert_eq!(header(res.headers(), "x-request-id"), Some("lost-1"));
    Ok(())
}

/// One sample of a scrape.
#[derive(Debug)]
struct Sample {
    metric: String,
    labels: HashMap<String, String>,
    value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Parses one sample line of the Prometheus text format (version 0.0.4):
/// `name{label="value",...} value`, label values escaped with `\\`, `\"` and `\n`.
fn parse_sample(line: &str) -> anyhow::Result<Sample> {
    let bad = || anyhow::anyhow!("not a Prometheus sample line: {line}");
    let name_end = line.find(['{', ' ']).ok_or_else(bad)?;
    let metric = &line[..name_end];
    anyhow::ensure!(
        !metric.is_empty()
            && metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !metric.starts_with(|c: char| c.is_ascii_digit()),
        "bad metric name in {line}"
    );
    let mut labels = HashMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (name, after) = inner.split_once("=\"").ok_or_else(bad)?;
            anyhow::ensure!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad label name in {line}"
            );
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().ok_or_else(bad)? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or_else(bad)?.1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        _ => return Err(bad()),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.insert(name.to_owned(), value);
            inner = &after[end + 1..];
            inner = inner.strip_prefix(',').unwrap_or(inner);
        }
    }
    let value = rest.strip_prefix(' ').ok_or_else(bad)?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse::<f64>().map_err(|_| bad())?,
    };
    Ok(Sample {
        metric: metric.to_owned(),
        labels,
        value,
    })
}

/// Scrapes `/metrics`, checking every line is Prometheus text: `# HELP` / `# TYPE` comments
/// before their samples, and sample lines.
async fn scrape(app: &TestApp) -> anyhow::Result<Vec<Sample>> {
    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = header(res.headers(), "content-type")
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(content_type.contains("version=0.0.4"), "{content_type}");
    let text = res.text().await?;
    let mut typed = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            if let Some(rest) = comment.strip_prefix("TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| anyhow::anyhow!("{line}"))?;
                anyhow::ensure!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "unknown type in {line}"
                );
                typed.insert(name.to_owned(), kind.to_owned());
            }
            continue;
        }
        let sample = parse_sample(line)?;
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                sample
                    .metric
                    .strip_suffix(suffix)
                    .filter(|base| typed.get(*base).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(&sample.metric);
        anyhow::ensure!(typed.contains_key(family), "no # TYPE before {line}");
        samples.push(sample);
    }
    anyhow::ensure!(!samples.is_empty(), "an empty scrape");
    Ok(samples)
}

/// The `newsroom_http_requests_total` sample for these labels (0 when absent).
fn requests(scrape: &[Sample], method: &str, route: &str, status: &str) -> f64 {
    scrape
        .iter()
        .filter(|s| s.metric == "newsroom_http_requests_total")
        .filter(|s| {
            s.label("method") == Some(method)
                && s.label("route") == Some(route)
                && s.label("status") == Some(status)
        })
        .map(|s| s.value)
        .sum()
}

fn gauge(scrape: &[Sample], metric: &str) -> Option<f64> {
    scrape.iter().find(|s| s.metric == metric).map(|s| s.value)
}

async fn metrics_count_requests_by_route_pattern_and_status(
    backend: Backend,
) -> anyhow::Result<()> {
    // Views stay buffered for the whole test, so the gauge can be checked without a race.
    let app = TestApp::spawn_with(backend, true, |config| config.view_flush_ms = 3_600_000).await?;
    let before = scrape(&app).await?;
    let route = "/feeds/{kind}/{slug}/{file}";
    let known = requests(&before, "GET", route, "404");

    for (path, status) in [
        (
            "/feeds/channel/no-such-channel/rss.xml",
            StatusCode::NOT_FOUND,
        ),
        (
            "/feeds/channel/another-missing-one/rss.xml",
            StatusCode::NOT_FOUND,
        ),
        ("/healthz", StatusCode::OK),
        ("/nothing/here/at/all", StatusCode::NOT_FOUND),
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await?;
        assert_eq!(res.status(), status, "{path}");
    }

    let after = scrape(&app).await?;
    assert_eq!(requests(&after, "GET", route, "404"), known + 2.0);
    assert!(requests(&after, "GET", "/healthz", "200") >= 1.0);
    assert_eq!(requests(&after, "GET", "unmatched", "404"), 1.0);
    // The raw path never becomes a label.
    for sample in &after {
        for value in sample.labels.values() {
            assert!(!value.contains("no-such-channel"), "{sample:?}");
            assert!(!value.contains("nothing/here"), "{sample:?}");
        }
    }
    // The latency histogram has observations for the route.
    let observed = after
        .iter()
        .find(|s| {
            s.metric == "newsroom_http_request_duration_seconds_count"
                && s.label("route") == Some(route)
        })
        .ok_or_else(|| anyhow::anyhow!("no latency histogram for {route}"))?;
    assert_eq!(observed.value, known + 2.0);
    assert!(after.iter().any(|s| {
        s.metric == "newsroom_http_request_duration_seconds_bucket"
            && s.label("route") == Some(route)
            && s.label("le") == Some("+Inf")
            && s.value == known + 2.0
    }));
    // The pool is in use and the view buffer is reported.
    let open = gauge(&after, "newsroom_db_pool_connections")
        .ok_or_else(|| anyhow::anyhow!("no pool gauge"))?;
    assert!(open >= 1.0, "{open}");
    assert!(gauge(&after, "newsroom_db_pool_connections_idle").is_some());
    assert!(gauge(&after, "newsroom_db_pool_connections_in_use").is_some());
    // The test server's pool holds at most 8.
    assert_eq!(gauge(&after, "newsroom_db_pool_connections_max"), Some(8.0));
    assert_eq!(gauge(&after, "newsroom_views_dropped_total"), Some(0.0));
    assert_eq!(gauge(&after, "newsroom_views_buffered"), Some(0.0));
    assert_eq!(gauge(&after, "newsroom_views_untotalled"), Some(0.0));

    let published = article::Entity::find()
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .one(&app.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo has a published article"))?;
    let res = app
        .client
        .post(format!(
            "{}/api/v1/articles/{}/views",
            app.address,
            encode(Kind::Article, published.id).0
        ))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let last = scrape(&app).await?;
    assert_eq!(gauge(&last, "newsroom_views_buffered"), Some(1.0));
    assert_eq!(gauge(&last, "newsroom_views_untotalled"), Some(1.0));
    assert_eq!(
        requests(&last, "POST", "/api/v1/articles/{id}/views", "204"),
        1.0
    );
    Ok(())
}

/// The `newsroom_graphql_operations_total` sample for these labels (0 when absent).
fn operations(scrape: &[Sample], operation: &str, outcome: &str) -> f64 {
    scrape
        .iter()
        .filter(|s| s.metric == "newsroom_graphql_operations_total")
        .filter(|s| s.label("operation") == Some(operation) && s.label("outcome") == Some(outcome))
        .map(|s| s.value)
        .sum()
}

async fn metrics_count_graphql_operations_by_name_and_outcome(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::spawn(backend, true).await?;
    let url = format!("{}/graphql", app.address);
    for _ in 0..2 {
        app.data("query HomePage { site { name } }", serde_json::json!({}))
            .await?;
    }
    // The operation picked by `operationName` is the one counted.
    app.client
        .get(&url)
        .query(&[
            (
                "query",
                "query A { site { name } } query B { channels { slug } }",
            ),
            ("operationName", "B"),
        ])
        .send()
        .await?;
    app.data("{ site { name } }", serde_json::json!({})).await?;
    let (_, bad) = app
        .post_graphql(
            None,
            "query Search { search(query: \"\") { totalCount } }",
            serde_json::json!({}),
        )
        .await?;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
    let (status, _) = app
        .post_graphql(None, "query Broken { site { ", serde_json::json!({}))
        .await?;
    assert_eq!(status, 200);
    let refused = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{ site { name } }")
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let scrape1 = scrape(&app).await?;
    assert_eq!(operations(&scrape1, "HomePage", "ok"), 2.0);
    assert_eq!(operations(&scrape1, "B", "ok"), 1.0);
    assert_eq!(operations(&scrape1, "A", "ok"), 0.0);
    assert_eq!(operations(&scrape1, "Search", "BAD_USER_INPUT"), 1.0);
    // Unnamed, unparsable and unreadable operations share one label.
    assert_eq!(operations(&scrape1, "anonymous", "ok"), 1.0);
    assert_eq!(operations(&scrape1, "anonymous", "BAD_USER_INPUT"), 2.0);
    let latency = scrape1
        .iter()
        .find(|s| {
            s.metric == "newsroom_graphql_operation_duration_seconds_count"
                && s.label("operation") == Some("HomePage")
        })
        .ok_or_else(|| anyhow::anyhow!("no latency histogram for HomePage"))?;
    assert_eq!(latency.value, 2.0);

    // Clients inventing names cannot add series without bound: past the first names (HomePage,
    // B, Search, and as many new ones as fit), every name counts as `other`.
    let cap = newsroom_gateway::ops::MAX_OPERATION_NAMES;
    for i in 0..cap {
        app.data(
            &format!("query Invented{i} {{ __typename }}"),
            serde_json::json!({}),
        )
        .await?;
    }
    let scrape2 = scrape(&app).await?;
    let names: std::collections::HashSet<&str> = scrape2
        .iter()
        .filter(|s| s.metric == "newsroom_graphql_operations_total")
        .filter_map(|s| s.label("operation"))
        .filter(|n| !["anonymous", "other"].contains(n))
        .collect();
    assert_eq!(names.len(), cap, "{names:?}");
    assert_eq!(operations(&scrape2, "other", "ok"), 3.0);
    assert!(names.contains("HomePage") && !names.contains(format!("Invented{}", cap - 1).as_str()));
    Ok(())
}

/// A server whose database is behind its code (a migration rolled back, or a deploy that has not
/// run `newsroom migrate`) is not ready, says why, and is ready again once migrated.
async fn readyz_is_false_while_a_migration_is_pending(backend: Backend) -> anyhow::Result<()> {
    use migration::MigratorTrait;
    let app = TestApp::spawn(backend, false).await?;
    let readyz = format!("{}/readyz", app.address);
    assert_eq!(
        app.client.get(&readyz).send().await?.status(),
        StatusCode::OK
    );

    // Migrations run on a connection of their own. On the test's pool, `up` could land on a
    // SQLite connection that read the schema before `down` dropped the index, and SQLite
    // refuses to create an index its stale copy still lists ("index ... already exists"; seen
    // once in a full run).
    let migrator = newsroom_domain::db::connect(app.database_url(), 1).await?;
    migration::Migrator::down(&migrator, Some(1)).await?;
    let response = app.client.get(&readyz).send().await?;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await?;
    assert_eq!(
        body["status"], "1 migration(s) pending: run `newsroom migrate`",
        "{body}"
    );
    // The process itself is fine.
    let healthz = format!("{}/healthz", app.address);
    assert_eq!(
        app.client.get(&healthz).send().await?.status(),
        StatusCode::OK
    );

    migration::Migrator::up(&migrator, None).await?;
    assert_eq!(
        app.client.get(&readyz).send().await?.status(),
        StatusCode::OK
    );

    // A newer build has migrated during a rolling deploy: nothing this one needs is pending.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) \
             VALUES ('m20991231_000001_from_a_newer_build', 0)",
        )
        .await?;
    let response = app.client.get(&readyz).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

/// `NEWSROOM_DB_GENERIC_PLANS` (on by default) reaches every PostgreSQL connection of the pool as
/// `plan_cache_mode`; off, the server's own setting stands. SQLite has no such thing and connects
/// either way.
async fn the_pool_plans_statements_once_unless_told_otherwise(
    backend: Backend,
) -> anyhow::Result<()> {
    use newsroom_domain::db::{PoolOptions, connect_with};
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn(backend, false).await?;
    for generic_plans in [true, false] {
        let options = PoolOptions {
            max_connections: 2,
            generic_plans,
            ..PoolOptions::default()
        };
        let db = connect_with(app.database_url(), options).await?;
        if backend == Backend::Postgres {
            let row = one_row(&db, "SHOW plan_cache_mode").await?;
            let mode: String = row.try_get("", "plan_cache_mode")?;
            assert_eq!(mode == "force_generic_plan", generic_plans, "{mode}");
        } else {
            db.execute_unprepared("SELECT 1").await?;
        }
        db.close().await?;
    }
    Ok(())
}

/// A transaction dropped without a commit (a request cancelled mid-way) is rolled back as its
/// connection goes back to the pool, not when that connection is next used, so its locks do not
/// outlive it. The pool skips its test of a returning connection only when the connection's last
/// exchange ran to completion (vendor/README.md). A dropped transaction fails that check twice
/// over (its rollback is queued, and the transaction is still open), so this guards the check as
/// a whole, not the queue alone.
async fn a_dropped_transaction_is_rolled_back_as_its_connection_returns(
    backend: Backend,
) -> anyhow::Result<()> {
    use newsroom_domain::db::{PoolOptions, connect_with};
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = TestApp::spawn(backend, false).await?;
    let pool = connect_with(app.database_url(), PoolOptions::with_max(2)).await?;
    pool.execute_unprepared("CREATE TABLE pool_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        .await?;
    pool.execute_unprepared("INSERT INTO pool_probe (id, n) VALUES (1, 0)")
        .await?;

    let tx = pool.begin().await?;
    tx.execute_unprepared("UPDATE pool_probe SET n = 1 WHERE id = 1")
        .await?;
    drop(tx);

    // Another pool writes the same row. Were the row (PostgreSQL) or the database (SQLite) still
    // locked by the dropped transaction, this would wait out the lock timeout (PostgreSQL) or
    // the busy timeout (SQLite) and fail; `pool` is not used again to flush the rollback.
    let other = app.db.begin().await?;
    if backend == Backend::Postgres {
        other
            .execute_unprepared("SET LOCAL lock_timeout = '10s'")
            .await?;
    }
    other
        .execute_unprepared("UPDATE pool_probe SET n = n + 2 WHERE id = 1")
        .await?;
    other.commit().await?;
    let row = one_row(&app.db, "SELECT n FROM pool_probe WHERE id = 1").await?;
    let n: i32 = row.try_get("", "n")?;
    assert_eq!(n, 2, "the dropped transaction's update was rolled back");
    pool.close().await?;
    Ok(())
}

/// A PostgreSQL connection whose statement ran to completion is back in the pool by the time the
/// statement's future returns (the patched sqlx, vendor/README.md): the pool releases it as it
/// drops, where sqlx spawned a task to do so. On this test's runtime of one thread such a task
/// could not have run yet, so the check fails without the patch. A connection cancelled
/// mid-statement still goes back through that task, which drains it (the ping) first.
#[tokio::test]
async fn a_finished_statement_frees_its_connection_at_once() -> anyhow::Result<()> {
    use newsroom_domain::db::{PoolOptions, connect_with};
    use std::time::Duration;
    if !newsroom_tests::postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: the PostgreSQL pool test is not run");
        return Ok(());
    }
    let (test_db, _) = TestDb::create(Backend::Postgres).await?;
    let db = connect_with(&test_db.url, PoolOptions::with_max(1)).await?;
    let pool = db.get_postgres_connection_pool();

    for statement in ["SELECT 1", "SELECT pg_sleep(0.01)"] {
        db.execute_unprepared(statement).await?;
        assert_eq!(
            (pool.size(), pool.num_idle()),
            (1, 1),
            "after {statement}: one connection, idle"
        );
    }

    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        db.execute_unprepared("SELECT pg_sleep(0.5)"),
    )
    .await;
    assert!(cancelled.is_err(), "the sleep was cancelled: {cancelled:?}");
    assert_eq!(
        pool.num_idle(),
        0,
        "a connection cancelled mid-statement is drained before it goes back"
    );
    // It does go back, its sleep's answer drained: the next statement gets its own answer.
    let row = one_row(&db, "SELECT CAST(2 AS BIGINT) AS n").await?;
    assert_eq!(row.try_get::<i64>("", "n")?, 2);
    assert_eq!((pool.size(), pool.num_idle()), (1, 1));
    db.close().await?;
    Ok(())
}

/// Values as the patched sea-orm decodes them (`vendor/README.md`): an `Option` reads a NULL as
/// `None` without decoding it, and a value by the position its name was found at. Nothing a
/// caller sees changes: `Option<Option<_>>` reads a NULL as `Some(None)`, a missing column is
/// `None`, and a NULL or a value of the wrong type fails with an error naming its column.
async fn rows_decode_nulls_and_name_the_column_of_a_bad_value(
    backend: Backend,
) -> anyhow::Result<()> {
    let (_test_db, db) = TestDb::create(backend).await?;
    let row = one_row(
        &db,
        "SELECT CAST(7 AS BIGINT) AS id, '南昌' AS slug, CAST(NULL AS BIGINT) AS parent_id, \
         CAST(NULL AS TEXT) AS note, 'seven' AS view_total",
    )
    .await?;
    assert_eq!(row.try_get::<Option<i64>>("", "id")?, Some(7));
    assert_eq!(row.try_get::<i64>("", "id")?, 7);
    assert_eq!(
        row.try_get::<Option<String>>("", "slug")?.as_deref(),
        Some("南昌")
    );
    assert_eq!(row.try_get::<Option<i64>>("", "parent_id")?, None);
    assert_eq!(row.try_get::<Option<String>>("", "note")?, None);
    assert_eq!(
        row.try_get::<Option<Option<String>>>("", "note")?,
        Some(None)
    );
    assert_eq!(
        row.try_get::<Option<Option<String>>>("", "slug")?,
        Some(Some("南昌".to_owned()))
    );
    assert_eq!(row.try_get::<Option<String>>("", "no_such_column")?, None);
    // A type sqlx cannot decode on either backend is refused even for a NULL, as upstream does:
    // only the built-in types that fail on every NULL take the short way.
    assert!(row.try_get::<Option<u64>>("", "parent_id").is_err());

    let Err(null) = row.try_get::<String>("", "note") else {
        anyhow::bail!("a NULL read as a String");
    };
    let null = null.to_string();
    assert!(null.contains("null") && null.contains("note"), "{null}");
    let Err(bad) = row.try_get::<Option<i64>>("", "view_total") else {
        anyhow::bail!("text read as an Option<i64>");
    };
    assert!(bad.to_string().contains("view_total"), "{bad}");
    let Err(bad) = row.try_get::<i64>("", "view_total") else {
        anyhow::bail!("text read as an i64");
    };
    assert!(bad.to_string().contains("view_total"), "{bad}");
    Ok(())
}

/// Columns found by name, as the patched sqlx-postgres finds them (`vendor/README.md`: the
/// column after the last one found is tried before the map of names): in the select list's
/// order, out of it, twice over, after a name that is not there, and with a name the select
/// list repeats, where the map alone answers, with the last column of that name.
async fn columns_are_found_by_name_in_any_order(backend: Backend) -> anyhow::Result<()> {
    let (_test_db, db) = TestDb::create(backend).await?;
    let sql = "SELECT CAST(1 AS BIGINT) AS a, CAST(2 AS BIGINT) AS b, '南昌' AS c, \
               CAST(4 AS BIGINT) AS d";
    let row = one_row(&db, sql).await?;
    for (name, want) in [
        ("a", 1),
        ("b", 2),
        ("d", 4),
        ("a", 1),
        ("d", 4),
        ("b", 2),
        ("b", 2),
    ] {
        assert_eq!(row.try_get::<i64>("", name)?, want, "{name}");
    }
    assert_eq!(row.try_get::<String>("", "c")?, "南昌");
    assert!(row.try_get::<i64>("", "e").is_err());
    assert_eq!(row.try_get::<Option<i64>>("", "d")?, Some(4));
    assert_eq!(row.try_get::<i64>("", "a")?, 1);

    let row = one_row(
        &db,
        "SELECT CAST(1 AS BIGINT) AS a, CAST(2 AS BIGINT) AS b, CAST(3 AS BIGINT) AS a",
    )
    .await?;
    // First, where the column after the last one found (none yet) is the first `a`.
    assert_eq!(row.try_get::<i64>("", "a")?, 3);
    assert_eq!(row.try_get::<i64>("", "b")?, 2);
    assert_eq!(row.try_get::<i64>("", "a")?, 3);
    assert_eq!(row.try_get::<Option<i64>>("", "a")?, Some(3));
    Ok(())
}

/// The read path's lists of ids (`db::id_in`: one `bigint[]` on PostgreSQL, `IN` on SQLite,
/// `=` for one id) find each row asked for once, whatever the order, repeats and unknown ids,
/// and nothing for no ids.
async fn lists_of_ids_find_each_row_once(backend: Backend) -> anyhow::Result<()> {
    let (_test_db, db) = TestDb::create(backend).await?;
    newsroom_domain::demo::seed(&db, &newsroom_tests::segmenter()?).await?;
    fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
        ids.sort_unstable();
        ids
    }
    fn asking(ids: &[i64]) -> Vec<i64> {
        vec![ids[2], ids[0], ids[2], i64::MAX, -1]
    }

    let ids = all_ids::<source::Entity>(&db, source::Column::Id).await?;
    assert!(ids.len() >= 3, "the demo has sources");
    let found = catalog::sources_by_ids(&db, &asking(&ids)).await?;
    assert_eq!(
        sorted(found.iter().map(|s| s.id).collect()),
        [ids[0], ids[2]]
    );
    assert!(catalog::sources_by_ids(&db, &[]).await?.is_empty());
    let one = catalog::sources_by_ids(&db, &[ids[1]]).await?;
    assert_eq!(one.iter().map(|s| s.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(catalog::sources_by_ids(&db, &[i64::MAX]).await?.is_empty());

    let ids = all_ids::<channel::Entity>(&db, channel::Column::Id).await?;
    let found = catalog::channels_by_ids(&db, &asking(&ids)).await?;
    assert_eq!(
        sorted(found.iter().map(|c| c.id).collect()),
        [ids[0], ids[2]]
    );
    assert!(catalog::channels_by_ids(&db, &[]).await?.is_empty());
    let one = catalog::channels_by_ids(&db, &[ids[1]]).await?;
    assert_eq!(one.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(catalog::channels_by_ids(&db, &[-1]).await?.is_empty());

    let ids = all_ids::<tag::Entity>(&db, tag::Column::Id).await?;
    let found = catalog::tags_by_ids(&db, &asking(&ids)).await?;
    assert_eq!(
        sorted(found.iter().map(|t| t.id).collect()),
        [ids[0], ids[2]]
    );

    let mut tagged = all_ids::<article_tag::Entity>(&db, article_tag::Column::ArticleId).await?;
    tagged.dedup();
    let by_article = catalog::tags_of_articles(&db, &asking(&tagged)).await?;
    assert_eq!(
        sorted(by_article.keys().copied().collect()),
        [tagged[0], tagged[2]]
    );
    assert!(by_article.values().all(|tags| !tags.is_empty()));
    // Each article's list in a batch is its list alone, in its order: the rows of several
    // articles are cut into one run each.
    for article in [tagged[0], tagged[2]] {
        let one = catalog::tags_of_articles(&db, &[article]).await?;
        assert_eq!(
            by_article.get(&article),
            one.get(&article),
            "article {article}"
        );
    }
    assert!(catalog::tags_of_articles(&db, &[]).await?.is_empty());
    assert!(
        catalog::tags_of_articles(&db, &[i64::MAX])
            .await?
            .is_empty()
    );
    Ok(())
}

/// Every id of a table, in order.
async fn all_ids<E: EntityTrait>(
    db: &sea_orm::DatabaseConnection,
    id: E::Column,
) -> anyhow::Result<Vec<i64>> {
    Ok(E::find()
        .select_only()
        .column(id)
        .order_by_asc(id)
        .into_tuple()
        .all(db)
        .await?)
}
