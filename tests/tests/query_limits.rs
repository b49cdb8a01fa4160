//! Query limits at their defaults, each just under (runs) and just over (refused with an error
//! naming the limit, before the server runs a single SQL statement).

use newsroom_gateway::config::Config;
use newsroom_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    each_query_limit_admits_its_maximum_and_refuses_one_more,
    body_size_and_batches_are_limited_over_http,
);

/// Sends `query` and returns the answer: data when it ran, or the limit that refused it and how
/// many statements the server ran meanwhile.
async fn verdict(app: &TestApp, query: &str, variables: Value) -> anyhow::Result<Verdict> {
    let (statements, (status, body)) = app
        .count_statements(|| app.post_graphql(None, query, variables))
        .await?;
    anyhow::ensure!(status == 200, "status {status}: {body}");
    if let Some(error) = body["errors"].get(0) {
        let limit = error["extensions"]["limit"].as_str().unwrap_or_default();
        anyhow::ensure!(
            error["extensions"]["code"] == "BAD_USER_INPUT" && !limit.is_empty(),
            "not a limit refusal: {body}"
        );
        anyhow::ensure!(
            body.get("data").is_none(),
            "a refusal carries no data: {body}"
        );
        anyhow::ensure!(
            statements == 0,
            "{statements} statements ran for a refused query"
        );
        return Ok(Verdict::Refused {
            limit: limit.to_owned(),
            max: error["extensions"]["max"].as_u64().unwrap_or_default(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(Verdict::Ran(
        body["data"].as_object().map_or(0, |d| d.len()),
    ))
}

#[derive(Debug)]
enum Verdict {
    /// How many top-level fields the data holds.
    Ran(usize),
    Refused {
        limit: String,
        max: u64,
        message: String,
    },
}

/// Asserts `query` runs, and `over` is refused by `limit` at `max`.
async fn at_the_edge(
    app: &TestApp,
    limit: &str,
    max: u64,
    (under, under_vars): (&str, Value),
    (over, over_vars): (&str, Value),
) -> anyhow::Result<()> {
    let ran = verdict(app, under, under_vars).await?;
    assert!(
        matches!(ran, Verdict::Ran(fields) if fields > 0),
        "{limit}, just under: {ran:?}"
    );
    match verdict(app, over, over_vars).await? {
        Verdict::Refused {
            limit: refused,
            max: at,
            message,
        } => {
            assert_eq!((refused.as_str(), at), (limit, max), "{message}");
            assert!(message.contains(&max.to_string()), "{message}");
        }
        ran => panic!("{limit}, just over, ran: {ran:?}"),
    }
    Ok(())
}

const SLUG: &str = "nanchang-kaifaqu-2020-ganbu-dahui";

/// `article { related { related ... { id } } }`: `levels` deep in all.
fn nested(levels: usize) -> String {
    let related = levels - 2;
    format!(
        "{{ article(slug: \"{SLUG}\") {{ {} id {} }} }}",
        "related(first: 1) {".repeat(related),
        "}".repeat(related)
    )
}

/// `{ site { a0: name a1: name ... } }` with `n` aliases, or `n` aliased root fields.
fn aliases(n: usize, at_root: bool) -> String {
    let fields: String = (0..n)
        .map(|i| {
            if at_root {
                format!("r{i}: site {{ name }} ")
            } else {
                format!("a{i}: name ")
            }
        })
        .collect();
    if at_root {
        format!("{{ {fields} }}")
    } else {
        format!("{{ site {{ {fields} }} }}")
    }
}

/// A query costing exactly `100 * (1 + k)` (+1 with `extra`): 100 articles' `nodes`, each
/// with `k` related articles' `id` (a list costs its size times what it selects; `nodes`,
/// `id` and `totalCount` 1 each).
fn costing(k: usize, extra: bool) -> String {
    format!(
        "{{ {} articles(first: 100) {{ nodes {{ related(first: {k}) {{ id }} }} }} }}",
        if extra {
            "one: articles(first: 1) { totalCount }"
        } else {
            ""
        }
    )
}

/// `{ site { name } }` padded with a comment to exactly `len` bytes.
fn of_length(len: usize) -> String {
    let base = "{ site { name } }\n#";
    format!("{base}{}", "x".repeat(len - base.len()))
}

async fn each_query_limit_admits_its_maximum_and_refuses_one_more(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let defaults = Config::default();
    let none = json!({});
    at_the_edge(
        &app,
        "depth",
        12,
        (&nested(12), none.clone()),
        (&nested(13), none.clone()),
    )
    .await?;
    assert_eq!(defaults.graphql_max_depth, 12);
    at_the_edge(
        &app,
        "aliases",
        30,
        (&aliases(30, false), none.clone()),
        (&aliases(31, false), none.clone()),
    )
    .await?;
    at_the_edge(
        &app,
        "rootFields",
        20,
        (&aliases(20, true), none.clone()),
        (&aliases(21, true), none.clone()),
    )
    .await?;
    at_the_edge(
        &app,
        "complexity",
        5_000,
        (&costing(49, false), none.clone()),
        (&costing(49, true), none.clone()),
    )
    .await?;
    at_the_edge(
        &app,
        "queryLength",
        32_768,
        (&of_length(32_768), none.clone()),
        (&of_length(32_769), none.clone()),
    )
    .await?;
    // Page size, written in the query and passed as a variable, on each list field.
    for field in [
        "articles(first: $n) { totalCount }",
        "articles(last: $n) { totalCount }",
        "tags(first: $n) { edges { cursor } }",
        "search(query: \"开发区\", first: $n) { totalCount }",
        "recommended(kind: TEXT, first: $n) { id }",
        "clickRanking(first: $n) { rank }",
    ] {
        let query = format!("query($n: Int!) {{ {field} }}");
        at_the_edge(
            &app,
            "pageSize",
            100,
            (&query, json!({ "n": 100 })),
            (&query, json!({ "n": 101 })),
        )
        .await?;
        let inline = |n: u32| {
            query
                .replace("query($n: Int!) ", "")
                .replace("$n", &n.to_string())
        };
        at_the_edge(
            &app,
            "pageSize",
            100,
            (&inline(100), none.clone()),
            (&inline(101), none.clone()),
        )
        .await?;
    }
    // A configured limit is the one enforced.
    let strict = TestApp::spawn_with(backend, true, |c| {
        c.graphql_max_depth = 4;
        c.graphql_max_page_size = 10;
    })
    .await?;
    at_the_edge(
        &strict,
        "depth",
        4,
        (&nested(4), none.clone()),
        (&nested(5), none.clone()),
    )
    .await?;
    at_the_edge(
        &strict,
        "pageSize",
        10,
        ("{ articles(first: 10) { totalCount } }", none.clone()),
        ("{ articles(first: 11) { totalCount } }", none.clone()),
    )
    .await?;
    Ok(())
}

async fn body_size_and_batches_are_limited_over_http(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, |c| c.graphql_batch = true).await?;
    let url = format!("{}/graphql", app.address);
    let max = Config::default().max_body_bytes;
    let sized = |len: usize| {
        let json = r#"{"query": "{ site { name } }"}"#;
        format!("{json}{}", " ".repeat(len - json.len()))
    };
    for (len, status) in [(max, 200), (max + 1, 413)] {
        let response = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(sized(len))
            .send()
            .await?;
        assert_eq!(response.status().as_u16(), status, "{len} bytes");
        let body: Value = response.json().await?;
        if status == 413 {
            assert_eq!(
                body["errors"][0]["extensions"]["limit"], "bodySize",
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["max"], max, "{body}");
        } else {
            assert!(body["data"]["site"]["name"].is_string(), "{body}");
        }
    }
    // A batch of 10 runs, each answered in order; 11 is refused whole.
    let batch = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({ "query": format!("{{ n{i}: site {{ name }} }}") }))
            .collect()
    };
    let (statements, response) = app
        .count_statements(|| async {
            let response = app.client.post(&url).json(&batch(11)).send().await?;
            Ok((response.status().as_u16(), response.json::<Value>().await?))
        })
        .await?;
    assert_eq!(response.0, 400, "{}", response.1);
    assert_eq!(response.1["errors"][0]["extensions"]["limit"], "batch");
    assert_eq!(response.1["errors"][0]["extensions"]["max"], 10);
    assert_eq!(statements, 0);
    let response = app.client.post(&url).json(&batch(10)).send().await?;
    assert_eq!(response.status(), 200);
    let answers: Vec<Value> = response.json().await?;
    assert_eq!(answers.len(), 10);
    for (i, answer) in answers.iter().enumerate() {
        assert!(
            answer["data"][format!("n{i}")]["name"].is_string(),
            "{answer}"
        );
    }
    // One bad operation in a batch is answered in its place; the others run.
    let mixed = json!([
        { "query": "{ site { name } }" },
        { "query": "{ site { nosuchfield } }" },
        { "notquery": 1 },
        { "query": "{ articles(first: 500) { totalCount } }" },
    ]);
    let answers: Vec<Value> = app
        .client
        .post(&url)
        .json(&mixed)
        .send()
        .await?
        .json()
        .await?;
    assert!(answers[0]["data"]["site"]["name"].is_string());
    for answer in &answers[1..] {
        assert!(answer.get("data").is_none(), "{answer}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answer}"
        );
    }
    assert_eq!(answers[3]["errors"][0]["extensions"]["limit"], "pageSize");
    // With batching off (the default) any array is refused.
    let off = TestApp::spawn(backend, false).await?;
    let response = off
        .client
        .post(format!("{}/graphql", off.address))
        .json(&batch(1))
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "batch", "{body}");
    Ok(())
}
