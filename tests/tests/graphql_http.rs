//! GraphQL over HTTP conformance: the `graphql-http` audit suite (npm) run against the real
//! server, in development and in production mode, failing on any MUST or SHOULD it reports; and
//! the answers the audit does not look at (406, 405 with `Allow`, 413, 415, no data on request
//! errors, no query text echoed, no suggestions in production).

use std::{path::PathBuf, process::Command};

use anyhow::Context;
use newsroom_gateway::config::Environment;
use newsroom_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

/// `tests/graphql-http`, with its pinned packages installed (`npm ci`) when they are missing.
fn audit_dir() -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("graphql-http");
    if !dir.join("node_modules/graphql-http/package.json").is_file() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .context("running `npm ci` in tests/graphql-http (Node 20 and npm are needed)")?;
        anyhow::ensure!(status.success(), "`npm ci` in tests/graphql-http failed");
    }
    Ok(dir)
}

/// Runs the audit against `app` and fails with its report when anything but a MAY fails.
fn audit(app: &TestApp) -> anyhow::Result<()> {
    let dir = audit_dir()?;
    let output = Command::new("node")
        .arg("audit.mjs")
        .arg(format!("{}/graphql", app.address))
        .current_dir(&dir)
        .output()
        .context("running node (Node 20 is needed)")?;
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    anyhow::ensure!(
        output.status.success(),
        "the graphql-http audit failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    anyhow::ensure!(
        report.contains(" 0 failed"),
        "the audit printed no summary:\n{report}"
    );
    Ok(())
}

// The audit is about HTTP, not storage: one backend is enough for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_http_audit_passes_in_development_and_production() -> anyhow::Result<()> {
    let app = TestApp::spawn(Backend::Sqlite, false).await?;
    audit(&app)?;
    let production =
        TestApp::spawn_with(Backend::Sqlite, false, |c| c.env = Environment::Production).await?;
    audit(&production)?;
    Ok(())
}

on_both_backends!(
    answers_follow_the_accept_header,
    requests_that_are_not_graphql_get_a_clear_4xx,
    request_errors_keep_the_query_and_the_schema_to_themselves,
);

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn send(
    app: &TestApp,
    accept: Option<&str>,
    body: Value,
) -> anyhow::Result<(u16, String, Value)> {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((status, content_type, response.json().await?))
}

async fn answers_follow_the_accept_header(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let ok = json!({ "query": "{ site { name } }" });
    let parse_error = json!({ "query": "{ site { name }" });
    let validation_error = json!({ "query": "{ site { nosuchfield } }" });
    let variable_error =
        json!({ "query": "query($s: String!) { article(slug: $s) { id } }", "variables": {} });
    let field_error = json!({ "query": "{ articles(first: 2, last: 2) { totalCount } }" });
    let all_skipped = json!({
        "query": "query($s: Boolean!) { site @skip(if: $s) { name } }",
        "variables": { "s": true },
    });

    for accept in [
        GRAPHQL_RESPONSE,
        "application/json;q=0.5, application/graphql-response+json",
    ] {
        let (status, content_type, body) = send(&app, Some(accept), ok.clone()).await?;
        assert_eq!(
            (status, content_type.starts_with(GRAPHQL_RESPONSE)),
            (200, true)
        );
        assert!(body["data"]["site"]["name"].is_string(), "{body}");
        // Request errors: 400 and no `data` at all.
        for request_error in [&parse_error, &validation_error, &variable_error] {
            let (status, content_type, body) =
                send(&app, Some(accept), request_error.clone()).await?;
            assert_eq!(status, 400, "{request_error}: {body}");
            assert!(content_type.starts_with(GRAPHQL_RESPONSE));
            assert!(body.get("data").is_none(), "{body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
        // An operation whose every field is skipped ran, with nothing to run: 200, null data.
        let (status, _, body) = send(&app, Some(accept), all_skipped.clone()).await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], Value::Null, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        // A field error is an execution result: 200 with data.
        let (status, _, body) = send(&app, Some(accept), field_error.clone()).await?;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("data").is_some(), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "last", "{body}");
    }
    // application/json (asked for, implied by */*, or by no Accept): 200 whatever happened.
    for accept in [Some("application/json"), Some("*/*"), None] {
        for request in [
            &ok,
            &parse_error,
            &validation_error,
            &variable_error,
            &field_error,
        ] {
            let (status, content_type, body) = send(&app, accept, request.clone()).await?;
            assert_eq!(status, 200, "{accept:?} {request}: {body}");
            assert!(
                content_type.starts_with("application/json"),
                "{content_type}"
            );
        }
    }
    // Nothing acceptable: 406.
    let (status, _, body) = send(&app, Some("text/html"), ok.clone()).await?;
    assert_eq!(status, 406, "{body}");
    // GET negotiates the same way.
    let get = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ site { nosuchfield } }")])
        .header("accept", GRAPHQL_RESPONSE)
        .send()
        .await?;
    assert_eq!(get.status(), 400);
    Ok(())
}

async fn requests_that_are_not_graphql_get_a_clear_4xx(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn(backend, false).await?;
    let url = format!("{}/graphql", app.address);
    let raw = |content_type: Option<&'static str>, body: Vec<u8>| {
        let mut request = app.client.post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let query = br#"{"query": "{ site { name } }"}"#.to_vec();
    let cases: Vec<(Option<&'static str>, Vec<u8>, u16, &str)> = vec![
        (None, query.clone(), 415, "Content-Type"),
        (Some("text/plain"), query.clone(), 415, "Content-Type"),
        (
            Some("application/json; charset=latin1"),
            query.clone(),
            415,
            "Content-Type",
        ),
        (Some("application/json"), Vec::new(), 400, "no body"),
        (
            Some("application/json"),
            b"{\"query\": ".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            Some("application/json"),
            b"[1, 2".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            Some("application/json"),
            b"\"{ site { name } }\"".to_vec(),
            400,
            "JSON object",
        ),
        (Some("application/json"), b"{}".to_vec(), 400, "no `query`"),
        (
            Some("application/json"),
            b"{\"query\": \"\xff\xfe\"}".to_vec(),
            400,
            "UTF-8",
        ),
        (
            Some("application/json"),
            b"{\"query\": 7}".to_vec(),
            400,
            "`query` must be a string",
        ),
        (
            Some("application/json"),
            b"{\"query\": \"{ site { name } }\", \"variables\": [1]}".to_vec(),
            400,
            "`variables` must be an object",
        ),
        (
            Some("application/json"),
            b"[{\"query\": \"{ site { name } }\"}]".to_vec(),
            400,
            "batched requests are off",
        ),
        (
            Some("application/json"),
            [
                b"{\"query\": \"".as_slice(),
                &vec![b'a'; 10 * 1024 * 1024],
                b"\"}",
            ]
            .concat(),
            413,
            "body size limit",
        ),
    ];
    for (content_type, body, status, says) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let response = raw(content_type, body).await?;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{content_type:?} {shown}"
        );
        let body: Value = response.json().await?;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{shown}: {body}");
        assert!(
            body["errors"][0]["extensions"]["code"].is_string(),
            "{body}"
        );
    }
    // GET runs queries only: a mutation is 405 with `Allow: POST`, even as one of several
    // operations; other methods are 405 with `Allow: GET, HEAD, POST`.
    for (query, name) in [
        (
            "mutation { login(username: \"a\", password: \"b\") { token } }",
            None,
        ),
        (
            "query Q { site { name } } mutation M { login(username: \"a\", password: \"b\") { token } }",
            Some("M"),
        ),
    ] {
        let mut params = vec![("query", query)];
        if let Some(name) = name {
            params.push(("operationName", name));
        }
        let get = app.client.get(&url).query(&params).send().await?;
        assert_eq!(get.status(), 405);
        assert_eq!(
            get.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some("POST")
        );
    }
    let named = app
        .client
        .get(&url)
        .query(&[
            (
                "query",
                "query Q { site { name } } mutation M { login(username: \"a\", password: \"b\") { token } }",
            ),
            ("operationName", "Q"),
        ])
        .send()
        .await?;
    assert_eq!(named.status(), 200, "operationName is read from GET");
    let put = app
        .client
        .put(&url)
        .json(&json!({ "query": "{ site { name } }" }))
        .send()
        .await?;
    assert_eq!(put.status(), 405);
    assert_eq!(
        put.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, HEAD, POST")
    );
    // Every method the Allow header lists is answered (HEAD as GET, with no body).
    let head = app
        .client
        .head(&url)
        .query(&[("query", "{ site { name } }")])
        .send()
        .await?;
    assert_eq!(head.status(), 200);
    let delete = app.client.delete(&url).send().await?;
    assert_eq!(delete.status(), 405);
    assert_eq!(
        delete.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, HEAD, POST")
    );
    // Unreadable query strings are 400, not 500.
    let bad = app.client.get(format!("{url}?query=%FF%FE")).send().await?;
    assert_eq!(bad.status(), 400);
    let bad = app
        .client
        .get(&url)
        .query(&[("query", "{ site { name } }"), ("variables", "[1]")])
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    // The server is still up.
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await?;
    assert_eq!(health.status(), 200);
    Ok(())
}

async fn request_errors_keep_the_query_and_the_schema_to_themselves(
    backend: Backend,
) -> anyhow::Result<()> {
    // A parse error gives a position, not the query text back.
    let app = TestApp::spawn(backend, false).await?;
    let long = format!("{{ site {{ name {} (", "padding ".repeat(2_000));
    let (status, _, body) = send(&app, None, json!({ "query": long })).await?;
    assert_eq!(status, 200);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("syntax error at line 1, column"),
        "{body}"
    );
    assert!(!body.to_string().contains("padding padding"), "{body}");
    assert!(
        body["errors"][0]["locations"][0]["column"].is_number(),
        "{body}"
    );

    // In development, a misspelt field gets a suggestion; in production, where introspection
    // is off, it does not: the suggestion would tell what introspection hides.
    let misspelt = json!({ "query": "{ site { nme } }" });
    let (_, _, body) = send(&app, None, misspelt.clone()).await?;
    assert!(body.to_string().contains("Did you mean"), "{body}");
    let production =
        TestApp::spawn_with(backend, false, |c| c.env = Environment::Production).await?;
    let (_, _, body) = send(&production, None, misspelt).await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(!body.to_string().contains("Did you mean"), "{body}");
    let (_, _, body) = send(
        &production,
        None,
        json!({ "query": "{ __schema { types { name } } }" }),
    )
    .await?;
    assert_eq!(
        body["data"]["__schema"],
        Value::Null,
        "introspection is off: {body}"
    );
    Ok(())
}
