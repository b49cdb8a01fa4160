//! Property tests of argument parsing through the real server: random filters, page arguments
//! and search queries sent over GraphQL (as variables) and REST (as query parameters) to a
//! server over a demo database, on SQLite and, when `TEST_POSTGRES_URL` is set, PostgreSQL. Every answer must be a success or a client error naming what
//! was wrong, never a 5xx or an `INTERNAL` error. `make test` runs proptest's default number of
//! cases; `make fuzz` many more (`PROPTEST_CASES`).

use newsroom_tests::{Backend, TestApp, postgres_configured};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Strings a client might put in any argument.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9-]{0,12}",
        Just("parks".to_owned()),
        Just("park-news".to_owned()),
        Just("' OR 1=1 --".to_owned()),
        Just("\u{0}".to_owned()),
        Just("南昌开发区".to_owned()),
        Just("🚀".repeat(40)),
        Just("x".repeat(300)),
    ]
}

/// Values of a time argument: valid times at the edges of what databases hold, and not times.
fn time() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("2020-07-01T08:00:00Z")),
        Just(json!("0001-01-01T00:00:00Z")),
        Just(json!("9999-12-31T23:59:59.999999Z")),
        Just(json!("+10000-01-01T00:00:00Z")),
        Just(json!("-0001-01-01T00:00:00Z")),
        Just(json!("2020-02-30T00:00:00Z")),
        Just(json!(1_593_590_400)),
        text().prop_map(Value::from),
    ]
}

/// A JSON value of any kind, for arguments given the wrong type.
fn anything() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ]
}

fn filter() -> impl Strategy<Value = Value> {
    let field = |name: &'static str, value: BoxedStrategy<Value>| {
        proptest::option::of(value).prop_map(move |v| v.map(|v| (name.to_owned(), v)))
    };
    let kind = prop_oneof![
        Just(json!("REPRINT")),
        Just(json!("ORIGINAL")),
        Just(json!("reprint")),
        anything(),
    ]
    .boxed();
    let flag = prop_oneof![any::<bool>().prop_map(Value::from), anything()].boxed();
    let status = prop_oneof![
        Just(json!(["DRAFT"])),
        Just(json!(["PUBLISHED"])),
        anything()
    ]
    .boxed();
    (
        field(
            "channel",
            prop_oneof![text().prop_map(Value::from), anything()].boxed(),
        ),
        field("tag", text().prop_map(Value::from).boxed()),
        field("source", text().prop_map(Value::from).boxed()),
        field("kind", kind),
        field("publishedAfter", time().boxed()),
        field("publishedBefore", time().boxed()),
        field("featured", flag.clone()),
        field("recommended", flag),
        field("status", status),
        field("bogus", anything().boxed()),
    )
        .prop_map(|fields| {
            let (a, b, c, d, e, f, g, h, i, j) = fields;
            Value::Object(
                [a, b, c, d, e, f, g, h, i, j]
                    .into_iter()
                    .flatten()
                    .collect::<Map<_, _>>(),
            )
        })
}

fn size() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..120).prop_map(Value::from),
        Just(json!(i64::from(i32::MAX) + 1)),
        anything(),
    ]
}

/// A GraphQL answer a client can act on: 200 (request errors are 200 under
/// `application/json`) or, for what is not GraphQL at all (a NUL character), 400; every error
/// with a code and none of them `INTERNAL`.
fn check_graphql(status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(status == 200 || status == 400, "{} {}", status, body);
    for error in body["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str().unwrap_or("none");
        prop_assert!(
            ["BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN"].contains(&code),
            "{}",
            body
        );
    }
    Ok(())
}

/// Runs a property against a server on each backend (PostgreSQL when `TEST_POSTGRES_URL` is
/// set): the proptest loop is synchronous, the server and its client async, so each case blocks
/// on the runtime the server runs in.
fn against_server<S: Strategy>(
    strategy: S,
    test: impl Fn(&tokio::runtime::Runtime, &TestApp, S::Value) -> Result<(), TestCaseError>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut backends = vec![Backend::Sqlite];
    if postgres_configured() {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        let app = runtime.block_on(TestApp::with_demo(backend))?;
        let mut runner = proptest::test_runner::TestRunner::default();
        let result = runner.run(&strategy, |input| test(&runtime, &app, input));
        drop(app);
        result.map_err(|e| anyhow::anyhow!("{backend:?}: {e}"))?;
    }
    Ok(())
}

const ARTICLES_AND_SEARCH: &str = "query($f: ArticleFilterInput, $first: Int, $last: Int, $after: String, $before: String, $q: String!) {
    articles(first: $first, last: $last, after: $after, before: $before, filter: $f) { totalCount edges { cursor } }
    search(query: $q, first: $first, after: $after, filter: $f) { totalCount edges { cursor } }
}";

#[test]
fn fuzz_graphql_filters_and_page_arguments() -> anyhow::Result<()> {
    against_server(
        (filter(), size(), size(), anything(), anything(), text()),
        |runtime, app, (filter, first, last, after, before, q)| {
            let variables = json!({
                "f": filter, "first": first, "last": last, "after": after, "before": before, "q": q,
            });
            let (status, body) = runtime
                .block_on(app.post_graphql(None, ARTICLES_AND_SEARCH, variables))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_graphql(status, &body)
        },
    )
}

/// REST parameter names, the routes' own and not.
const PARAMETERS: &[&str] = &[
    "first",
    "after",
    "last",
    "before",
    "channel",
    "tag",
    "source",
    "kind",
    "publishedAfter",
    "publishedBefore",
    "featured",
    "recommended",
    "orderBy",
    "q",
    "highlightStart",
    "highlightEnd",
    "window",
    "since",
    "limit",
    "chanel",
];

/// A route and its query parameters.
fn rest_request() -> impl Strategy<Value = (&'static str, Vec<(&'static str, String)>)> {
    let value = prop_oneof![
        text(),
        time().prop_map(|t| t.to_string().trim_matches('"').to_owned())
    ];
    let route = prop::sample::select(vec![
        "/api/v1/articles",
        "/api/v1/search",
        "/api/v1/rankings",
        "/api/v1/tags",
        "/api/v1/changes",
        "/feeds/rss.xml",
    ]);
    (
        route,
        prop::collection::vec((prop::sample::select(PARAMETERS), value), 0..5),
    )
}

#[test]
fn fuzz_rest_parameters() -> anyhow::Result<()> {
    against_server(rest_request(), |runtime, app, (route, parameters)| {
        let (status, body) = runtime
            .block_on(async {
                let res = app
                    .client
                    .get(format!("{}{route}", app.address))
                    .query(&parameters)
                    .send()
                    .await?;
                let status = res.status().as_u16();
                anyhow::Ok((status, res.text().await?))
            })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            [200, 400, 404].contains(&status),
            "{} {:?} answered {}: {}",
            route,
            parameters,
            status,
            body
        );
        if status != 200 {
            let error: Value = serde_json::from_str(&body)
                .map_err(|e| TestCaseError::fail(format!("{route}: {e}: {body}")))?;
            prop_assert!(error["error"]["message"].is_string(), "{}", body);
        }
        Ok(())
    })
}
