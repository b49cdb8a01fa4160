//! Hostile input sent to the running server: query bombs, oversized and malformed bodies, and
//! SQL-injection text and emoji in every string argument. Every answer must be a clear 4xx or a
//! GraphQL error with a client's code (never `INTERNAL`, never SQL), nothing may change that
//! should not, `/healthz` must stay up, and the process's peak memory must stay bounded.
//!
//! One test walks both backends in turn, rather than one test per backend in parallel, because
//! it measures the whole process's peak memory.

use std::collections::BTreeSet;

use newsroom_domain::entities::Role;
use newsroom_tests::{Backend, TestApp, postgres_configured};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_clear_answers_and_changes_nothing() -> anyhow::Result<()> {
    hostile(Backend::Sqlite).await?;
    if postgres_configured() {
        hostile(Backend::Postgres).await?;
    } else {
        eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
    }
    Ok(())
}

const SLUG: &str = "nanchang-kaifaqu-2020-ganbu-dahui";

/// Text meant to break out of SQL strings, LIKE patterns and FTS5 / tsquery syntax, and text
/// outside the Basic Multilingual Plane.
const PAYLOADS: &[&str] = &[
    "'; DROP TABLE articles; --",
    "\" OR \"1\"=\"1",
    "1' OR '1'='1' /*",
    "%' UNION SELECT password_hash FROM users --",
    "Robert'); DELETE FROM article_tags; --",
    "\\'\\\"\\\\%_",
    "😀🚀👨‍👩‍👧‍👦 表情 ✓",
    "\"unterminated",
    "NEAR(a b",
    "a* OR b^ NOT c:d {title}: -x & !y | z <-> w",
    "\u{202e}gnp.exe\u{feff}",
];

/// Every string argument of every root query field, each with its variable `$s`, and a label
/// `field.argument` the coverage check below compares with the schema.
const QUERIES: &[(&str, &str)] = &[
    (
        "page.slug",
        "query($s: String!) { page(slug: $s) { title } }",
    ),
    (
        "channel.slug",
        "query($s: String!) { channel(slug: $s) { name } }",
    ),
    ("tag.slug", "query($s: String!) { tag(slug: $s) { name } }"),
    (
        "source.slug",
        "query($s: String!) { source(slug: $s) { name } }",
    ),
    (
        "article.slug",
        "query($s: String) { article(slug: $s) { id } }",
    ),
    ("article.id", "query($s: ID) { article(id: $s) { id } }"),
    ("node.id", "query($s: ID!) { node(id: $s) { id } }"),
    (
        "articles.after",
        "query($s: String) { articles(first: 2, after: $s) { totalCount } }",
    ),
    (
        "articles.before",
        "query($s: String) { articles(last: 2, before: $s) { totalCount } }",
    ),
    (
        "articles.filter.channel",
        "query($s: String) { articles(filter: { channel: $s }) { totalCount } }",
    ),
    (
        "articles.filter.tag",
        "query($s: String) { articles(filter: { tag: $s }) { totalCount } }",
    ),
    (
        "articles.filter.source",
        "query($s: String) { articles(filter: { source: $s }) { totalCount } }",
    ),
    (
        "tags.after",
        "query($s: String) { tags(first: 2, after: $s) { edges { cursor } } }",
    ),
    (
        "tags.before",
        "query($s: String) { tags(last: 2, before: $s) { edges { cursor } } }",
    ),
    (
        "sources.after",
        "query($s: String) { sources(first: 2, after: $s) { edges { cursor } } }",
    ),
    (
        "sources.before",
        "query($s: String) { sources(last: 2, before: $s) { edges { cursor } } }",
    ),
    (
        "takedownRequests.after",
        "query($s: String) { takedownRequests(first: 2, after: $s) { edges { cursor } } }",
    ),
    (
        "takedownRequests.before",
        "query($s: String) { takedownRequests(last: 2, before: $s) { edges { cursor } } }",
    ),
    (
        "webhookDeliveries.endpoint",
        "query($s: ID) { webhookDeliveries(endpoint: $s, first: 2) { edges { cursor } } }",
    ),
    (
        "webhookDeliveries.after",
        "query($s: String) { webhookDeliveries(first: 2, after: $s) { edges { cursor } } }",
    ),
    (
        "webhookDeliveries.before",
        "query($s: String) { webhookDeliveries(last: 2, before: $s) { edges { cursor } } }",
    ),
    (
        "search.query",
        "query($s: String!) { search(query: $s) { totalCount edges { node { snippet } } } }",
    ),
    (
        "search.after",
        "query($s: String) { search(query: \"开发区\", after: $s) { totalCount } }",
    ),
    (
        "search.filter.channel",
        "query($s: String) { search(query: \"开发区\", filter: { channel: $s }) { totalCount } }",
    ),
    (
        "search.snippet",
        "query($s: String!) { search(query: \"开发区\", first: 2) { edges { node { snippet(highlightStart: $s, highlightEnd: $s) } } } }",
    ),
    (
        "recommended.channel",
        "query($s: String) { recommended(kind: TEXT, channel: $s) { id } }",
    ),
    (
        "clickRanking.channel",
        "query($s: String) { clickRanking(channel: $s) { rank } }",
    ),
];

/// The codes a client's mistake may get.
const CLIENT_CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "FORBIDDEN",
    "UNAUTHENTICATED",
    "RATE_LIMITED",
];

/// Asserts an answer is a clear one: a 4xx, or a 200 whose errors all carry a client's code,
/// and no trace of SQL or the driver anywhere.
fn assert_clear(what: &str, status: u16, body: &Value) {
    let shown: String = body.to_string().chars().take(400).collect();
    assert!(
        status == 200 || (400..500).contains(&status),
        "{what}: status {status}: {shown}"
    );
    if status != 200 {
        assert!(body["errors"][0]["message"].is_string(), "{what}: {shown}");
    }
    for error in body["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        assert!(
            CLIENT_CODES.contains(&code),
            "{what}: code {code:?}: {shown}"
        );
    }
    let text = body.to_string().to_lowercase();
    for leak in [
        "sqlx",
        "sqlite",
        "postgres",
        "syntax error at or near",
        "fts5",
        "tsquery",
    ] {
        assert!(!text.contains(leak), "{what}: leaks {leak:?}: {shown}");
    }
}

async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> anyhow::Result<(u16, Value)> {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Peak resident memory of this process since the last reset, and the reset (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn hostile(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let before = app
        .data(
            "{ articles { totalCount } tags(first: 100) { edges { cursor } } }",
            json!({}),
        )
        .await?;
    let measured = reset_peak_rss();
    let baseline = peak_rss_kib().unwrap_or_default();

    bombs(&app).await?;
    bodies(&app).await?;
    // Eighteen 10 MB bodies were sent, sixteen at once; a server that read them would have peaked
    // far above this. (Measured before the logins below: each argon2 check takes 19 MiB, which
    // the allocator keeps per thread.)
    if measured && let Some(peak) = peak_rss_kib() {
        let grown_mib = peak.saturating_sub(baseline) / 1024;
        assert!(grown_mib < 96, "peak memory grew by {grown_mib} MiB");
    }
    injections(&app).await?;

    // The server still answers, and nothing a reader sees changed.
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await?;
    assert_eq!(health.status(), 200);
    let after = app
        .data(
            "{ articles { totalCount } tags(first: 100) { edges { cursor } } }",
            json!({}),
        )
        .await?;
    assert_eq!(after["articles"], before["articles"]);
    let seed = app
        .data(
            &format!("{{ article(slug: \"{SLUG}\") {{ title viewCount }} }}"),
            json!({}),
        )
        .await?;
    assert_eq!(seed["article"]["viewCount"], 40);
    Ok(())
}

async fn bombs(app: &TestApp) -> anyhow::Result<()> {
    let mut cases: Vec<(&str, String)> = Vec::new();
    // Depth: a thousand nested related articles, and sixteen thousand nested braces.
    cases.push((
        "depth bomb",
        format!(
            "{{ article(slug: \"{SLUG}\") {{ {} id {} }} }}",
            "related(first: 100) {".repeat(1_000),
            "}".repeat(1_000)
        ),
    ));
    cases.push((
        "brace bomb",
        format!("{}{}", "{a".repeat(10_000), "}".repeat(10_000)),
    ));
    cases.push((
        "long brace bomb",
        format!("{}{}", "{a".repeat(16_000), "}".repeat(16_000)),
    ));
    // A thousand aliases of a connection field.
    cases.push((
        "1,000 aliases",
        format!(
            "{{ {} }}",
            (0..1_000)
                .map(|i| format!("a{i}:articles{{totalCount}}"))
                .collect::<String>()
        ),
    ));
    // Fragments: each spreading the one before twice, forty deep (2^40 fields); a cycle.
    let mut fragments = String::from("{ ...F40 } fragment F0 on Query { site { name } }");
    for i in 1..=40 {
        fragments.push_str(&format!(
            " fragment F{i} on Query {{ ...F{j} ...F{j} }}",
            j = i - 1
        ));
    }
    cases.push(("fragment bomb", fragments));
    cases.push((
        "fragment cycle",
        "{ ...A } fragment A on Query { site { name } ...B } fragment B on Query { ...A }".into(),
    ));
    // A thousand directives on one field, a thousand operations in one document.
    cases.push((
        "1,000 directives",
        format!(
            "{{ site {{ name {} }} }}",
            "@include(if: true) ".repeat(1_000)
        ),
    ));
    cases.push((
        "1,000 operations",
        (0..1_000)
            .map(|i| format!("query Q{i} {{ site {{ name }} }} "))
            .collect(),
    ));
    cases.push((
        "huge numbers",
        "{ articles(first: 1e400) { totalCount } recommended(kind: TEXT, first: 99999999999999999999) { id } }".into(),
    ));
    for (what, query) in cases {
        let (statements, (status, body)) = app
            .count_statements(|| app.post_graphql(None, &query, json!({})))
            .await?;
        assert_clear(what, status, &body);
        assert!(
            body["errors"][0]["message"].is_string(),
            "{what} was not refused"
        );
        assert!(body.get("data").is_none(), "{what} ran");
        assert_eq!(statements, 0, "{what} touched the database");
    }
    Ok(())
}

async fn bodies(app: &TestApp) -> anyhow::Result<()> {
    let ten_mib = 10 * 1024 * 1024;
    let big_string = bytes::Bytes::from(serde_json::to_vec(&json!({
        "query": "query($s: String!) { search(query: $s) { totalCount } }",
        "variables": { "s": "字".repeat(ten_mib / 3) },
    }))?);
    let big_query = bytes::Bytes::from(serde_json::to_vec(
        &json!({ "query": "{".repeat(ten_mib) }),
    )?);
    let batch: Value = (0..1_000)
        .map(|_| json!({ "query": "{ site { name } }" }))
        .collect();
    let nested_json = format!(
        "{{\"query\": \"{{ site {{ name }} }}\", \"variables\": {{\"x\": {}{}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let cases: Vec<(&str, &str, reqwest::Body, u16)> = vec![
        (
            "10 MB string variable",
            "application/json",
            big_string.clone().into(),
            413,
        ),
        (
            "10 MB query",
            "application/json",
            big_query.clone().into(),
            413,
        ),
        (
            "1,000-operation batch",
            "application/json",
            serde_json::to_vec(&batch)?.into(),
            400,
        ),
        (
            "invalid UTF-8",
            "application/json",
            b"{\"query\": \"{ site(\xc3\x28) }\"}".to_vec().into(),
            400,
        ),
        (
            "malformed JSON",
            "application/json",
            "{\"query\": \"{ site { name } }\",".into(),
            400,
        ),
        (
            "JSON nested 100,000 deep",
            "application/json",
            nested_json.into(),
            400,
        ),
        ("text/plain", "text/plain", "{ site { name } }".into(), 415),
        (
            "form",
            "application/x-www-form-urlencoded",
            "query=%7B%7D".into(),
            415,
        ),
    ];
    for (what, content_type, body, status) in cases {
        let (got, answer) = post_raw(app, content_type, body).await?;
        assert_eq!(got, status, "{what}");

        assert_clear(what, got, &answer);
    }
    // The same 10 MB, sixteen at once, half of them streamed without a Content-Length:
    // refused without being read.
    let mut sends = Vec::new();
    for i in 0..16 {
        if i % 2 == 0 {
            let body = big_string.clone();
            sends.push(tokio::spawn({
                let client = app.client.clone();
                let url = format!("{}/graphql", app.address);
                async move {
                    let response = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    anyhow::Ok(response.status().as_u16())
                }
            }));
        } else {
            let (address, body) = (app.address.clone(), big_query.clone());
            sends.push(tokio::spawn(async move {
                tokio::task::spawn_blocking(move || chunked_post(&address, &body)).await?
            }));
        }
    }
    for send in sends {
        assert_eq!(send.await??, 413);
    }
    Ok(())
}

/// POSTs `body` to `/graphql` in 64 KiB chunks with `Transfer-Encoding: chunked` (so no
/// `Content-Length` warns the server), and returns the status line's code. Writing stops when the
/// server has answered and closed.
fn chunked_post(address: &str, body: &[u8]) -> anyhow::Result<u16> {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )?;
    for chunk in body.chunks(64 * 1024) {
        let sent = write!(stream, "{:x}\r\n", chunk.len())
            .and_then(|()| stream.write_all(chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
        if sent.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no status line in {:?}",
                answer.chars().take(200).collect::<String>()
            )
        })?;
    Ok(code)
}

async fn injections(app: &TestApp) -> anyhow::Result<()> {
    // The list above covers every String and ID argument of every root query field.
    let schema = app
        .data(
            "{ __schema { queryType { fields { name args { name type { name ofType { name } } } } } } }",
            json!({}),
        )
        .await?;
    let mut string_args = BTreeSet::new();
    for field in schema["__schema"]["queryType"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for arg in field["args"].as_array().into_iter().flatten() {
            let ty = arg["type"]["name"]
                .as_str()
                .or(arg["type"]["ofType"]["name"].as_str());
            if matches!(ty, Some("String" | "ID")) {
                string_args.insert(format!(
                    "{}.{}",
                    field["name"].as_str().unwrap_or(""),
                    arg["name"].as_str().unwrap_or("")
                ));
            }
        }
    }
    let covered: BTreeSet<String> = QUERIES
        .iter()
        .map(|(label, _)| (*label).to_owned())
        .collect();
    let missing: Vec<_> = string_args.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "string arguments not probed: {missing:?}"
    );

    for payload in PAYLOADS {
        for (label, query) in QUERIES {
            let (status, body) = app
                .post_graphql(None, query, json!({ "s": payload }))
                .await?;
            assert_clear(&format!("{label} = {payload}"), status, &body);
        }
        // Literal strings in the query text too, not only variables.
        let literal = format!(
            "{{ article(slug: {}) {{ id }} search(query: {}) {{ totalCount }} }}",
            serde_json::to_string(payload)?,
            serde_json::to_string(payload)?
        );
        let (status, body) = app.post_graphql(None, &literal, json!({})).await?;
        assert_clear(&format!("literal {payload}"), status, &body);
        // Mutations anyone may call.
        let (status, body) = app
            .post_graphql(
                None,
                "mutation($s: String!) { login(username: $s, password: $s) { token } }",
                json!({ "s": payload }),
            )
            .await?;
        assert_clear(&format!("login {payload}"), status, &body);
    }
    // What is stored comes back byte for byte: the text was data, never SQL.
    let article_id = app
        .data(
            &format!("{{ article(slug: \"{SLUG}\") {{ id }} }}"),
            json!({}),
        )
        .await?["article"]["id"]
        .clone();
    let editor = app.signed_in("hostile-editor", Role::Editor).await?;
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let (status, body) = app
            .post_graphql(
                None,
                "mutation($a: ID!, $s: String!) { requestTakedown(articleId: $a, claimant: $s, contact: \"legal@example.com\", reason: $s) { claimant reason } }",
                json!({ "a": article_id, "s": payload }),
            )
            .await?;
        assert_clear(&format!("requestTakedown {payload}"), status, &body);
        if body.get("errors").is_none() {
            assert_eq!(body["data"]["requestTakedown"]["claimant"], *payload);
            assert_eq!(body["data"]["requestTakedown"]["reason"], *payload);
        }
        let slug = format!("hostile-{i}");
        let (status, body) = app
            .post_graphql(
                Some(&editor),
                "mutation($slug: String!, $s: String!) { createTag(slug: $slug, name: $s) { name } }",
                json!({ "slug": slug, "s": payload }),
            )
            .await?;
        assert_clear(&format!("createTag {payload}"), status, &body);
        assert_eq!(body["data"]["createTag"]["name"], *payload, "{body}");
        let read = app
            .data(
                "query($s: String!) { tag(slug: $s) { name } }",
                json!({ "s": slug }),
            )
            .await?;
        assert_eq!(read["tag"]["name"], *payload);
    }
    Ok(())
}
