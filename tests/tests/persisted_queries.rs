//! Automatic persisted queries (Apollo's protocol) over POST and GET, and the allow-list mode
//! where only registered operations run.

use newsroom_domain::persisted;
use newsroom_tests::{Backend, TestApp, on_both_backends, test_now};
use serde_json::{Value, json};

on_both_backends!(
    queries_are_persisted_by_hash_over_post_and_get,
    the_allow_list_runs_registered_operations_only,
);

const SITE: &str = "query Site { site { name } }";

fn extension(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, accept: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", accept)
        .json(&body)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

async fn get(app: &TestApp, hash: &str, name: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[
            ("operationName", name),
            ("extensions", &extension(hash).to_string()),
        ])
        .send()
        .await?)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

async fn queries_are_persisted_by_hash_over_post_and_get(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let hash = persisted::sha256_hex(SITE);
    // Unknown hash: PersistedQueryNotFound, a request error (no data).
    let (status, body) = post(
        &app,
        "application/json",
        json!({ "extensions": extension(&hash) }),
    )
    .await?;
    assert_eq!(
        (status, code(&body)),
        (200, "PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert!(body.get("data").is_none(), "{body}");
    let (status, body) = post(
        &app,
        "application/graphql-response+json",
        json!({ "extensions": extension(&hash) }),
    )
    .await?;
    assert_eq!(
        (status, code(&body)),
        (400, "PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    let response = get(&app, &hash, "Site").await?;
    let body: Value = response.json().await?;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");

    // Sent with its hash, the query runs and is remembered.
    let (status, body) = post(
        &app,
        "application/json",
        json!({ "query": SITE, "extensions": extension(&hash) }),
    )
    .await?;
    assert_eq!(status, 200);
    let name = body["data"]["site"]["name"].clone();
    assert!(name.is_string(), "{body}");
    // Now the hash alone runs it, over POST and over GET, where the answer is cacheable.
    let (_, body) = post(
        &app,
        "application/json",
        json!({ "extensions": extension(&hash) }),
    )
    .await?;
    assert_eq!(body["data"]["site"]["name"], name, "{body}");
    let upper = hash.to_ascii_uppercase();
    let response = get(&app, &upper, "Site").await?;
    assert_eq!(response.status(), 200);
    let etag = response
        .headers()
        .get("etag")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no ETag on a persisted GET"))?;
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cache_control.contains("public"), "{cache_control}");
    let body: Value = response.json().await?;
    assert_eq!(body["data"]["site"]["name"], name);
    let revalidated = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[
            ("operationName", "Site"),
            ("extensions", &extension(&hash).to_string()),
        ])
        .header("if-none-match", etag)
        .send()
        .await?;
    assert_eq!(revalidated.status(), 304);

    // A hash that does not match the query, a version other than 1, a malformed hash.
    for (body, says) in [
        (
            json!({ "query": "{ site { slogan } }", "extensions": extension(&hash) }),
            "does not match",
        ),
        (
            json!({ "query": SITE, "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } }),
            "version 1",
        ),
        (json!({ "extensions": extension("abc") }), "64 hexadecimal"),
    ] {
        let (status, answer) = post(&app, "application/json", body).await?;
        assert_eq!((status, code(&answer)), (200, "BAD_USER_INPUT"), "{answer}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{answer}"
        );
    }

    // A query refused by a limit is not remembered.
    let greedy = "{ articles(first: 500) { totalCount } }";
    let greedy_hash = persisted::sha256_hex(greedy);
    let (_, body) = post(
        &app,
        "application/json",
        json!({ "query": greedy, "extensions": extension(&greedy_hash) }),
    )
    .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "pageSize",
        "{body}"
    );
    let (_, body) = post(
        &app,
        "application/json",
        json!({ "extensions": extension(&greedy_hash) }),
    )
    .await?;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");

    // A persisted mutation still runs over POST only: over GET its hash gets 405.
    let login = "mutation Login { login(username: \"nobody\", password: \"wrong\") { token } }";
    let login_hash = persisted::sha256_hex(login);
    let (status, body) = post(
        &app,
        "application/json",
        json!({ "query": login, "extensions": extension(&login_hash) }),
    )
    .await?;
    assert_eq!((status, code(&body)), (200, "UNAUTHENTICATED"), "{body}");
    let response = get(&app, &login_hash, "Login").await?;
    assert_eq!(response.status(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );

    // An operation registered in the database is known by hash without being sent first.
    let channels = "query Channels { channels { slug } }";
    persisted::register(&app.db, channels, Some("Channels"), test_now()).await?;
    let response = get(&app, &persisted::sha256_hex(channels), "Channels").await?;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await?;
    assert!(body["data"]["channels"].is_array(), "{body}");
    Ok(())
}

async fn the_allow_list_runs_registered_operations_only(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, |c| c.graphql_allow_list = true).await?;
    let (row, new) = persisted::register(&app.db, SITE, Some("Site"), test_now()).await?;
    assert!(new);
    let (again, new) = persisted::register(&app.db, SITE, Some("Site"), test_now()).await?;
    assert!(
        !new && again.id == row.id,
        "registering twice keeps one row"
    );
    let hash = row.sha256;
    // Registered: runs sent in full, by hash over POST, by hash over GET.
    for body in [
        json!({ "query": SITE }),
        json!({ "query": SITE, "extensions": extension(&hash) }),
        json!({ "extensions": extension(&hash) }),
    ] {
        let (status, answer) = post(&app, "application/json", body).await?;
        assert_eq!(status, 200);
        assert!(answer["data"]["site"]["name"].is_string(), "{answer}");
    }
    let response = get(&app, &hash, "Site").await?;
    assert_eq!(response.status(), 200);
    // Not registered: refused in full, with its hash, and by hash; sending it with its hash
    // does not register it.
    let other = "{ site { slogan } }";
    let other_hash = persisted::sha256_hex(other);
    for (body, expected) in [
        (json!({ "query": other }), "PERSISTED_QUERY_NOT_IN_LIST"),
        (
            json!({ "query": other, "extensions": extension(&other_hash) }),
            "PERSISTED_QUERY_NOT_IN_LIST",
        ),
        (
            json!({ "extensions": extension(&other_hash) }),
            "PERSISTED_QUERY_NOT_FOUND",
        ),
    ] {
        let (statements, (status, answer)) = app
            .count_statements(|| post(&app, "application/json", body.clone()))
            .await?;
        assert_eq!((status, code(&answer)), (200, expected), "{body}: {answer}");
        assert!(answer.get("data").is_none(), "{answer}");
        assert!(statements <= 1, "only the registry was read: {statements}");
    }
    let (status, _) = post(
        &app,
        "application/graphql-response+json",
        json!({ "query": other }),
    )
    .await?;
    assert_eq!(status, 400);
    Ok(())
}
