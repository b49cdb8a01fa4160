//! GraphiQL at `/graphiql`: in development the page and everything it loads come from this
//! server (no CDN, no other host), with subscriptions over the server's own WebSocket; in
//! production it is not there unless configured.

use anyhow::Context;
use newsroom_gateway::config::Environment;
use newsroom_tests::{Backend, TestApp};

/// Every `src="..."` and `href="..."` value of `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
            }
        }
    }
    found
}

/// Every `url(...)` of a style sheet, quotes removed.
fn style_urls(css: &str) -> Vec<String> {
    css.match_indices("url(")
        .filter_map(|(at, _)| {
            let rest = &css[at + 4..];
            rest.find(')')
                .map(|end| rest[..end].trim_matches(['"', '\'', ' ']).to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_all_it_loads_are_served_by_this_server() -> anyhow::Result<()> {
    let app = TestApp::spawn(Backend::Sqlite, false).await?;
    let page = app
        .client
        .get(format!("{}/graphiql", app.address))
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    let policy = page.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(
        policy.contains("connect-src 'self' ws://127.0.0.1:"),
        "{policy}"
    );
    let html = page.text().await?;
    let assets = references(&html);
    assert_eq!(assets.len(), 6, "{assets:?}");
    for asset in &assets {
        // Same origin: a path, never another host.
        assert!(
            asset.starts_with('/') && !asset.starts_with("//"),
            "`{asset}` is not served here"
        );
        let response = app
            .client
            .get(format!("{}{asset}", app.address))
            .send()
            .await?;
        assert_eq!(response.status(), 200, "{asset}");
        let media = response.headers()["content-type"].to_str()?.to_owned();
        let body = response.text().await?;
        assert!(body.len() > 50, "{asset} is empty");
        assert!(
            !body.contains("sourceMappingURL"),
            "{asset} points at a map"
        );
        if asset.ends_with(".css") {
            assert!(media.starts_with("text/css"), "{asset}: {media}");
            for url in style_urls(&body) {
                assert!(url.starts_with("data:"), "{asset} loads {url}");
            }
        } else {
            assert!(media.starts_with("text/javascript"), "{asset}: {media}");
            for cdn in ["unpkg.com/", "jsdelivr.net/", "cdnjs.", "googleapis.com/"] {
                assert!(!body.contains(cdn), "{asset} loads from {cdn}");
            }
        }
    }
    // GraphiQL is wired to this server: HTTP and WebSocket on /graphql, from the page's origin.
    let start = app
        .client
        .get(format!("{}/graphiql/start.js", app.address))
        .send()
        .await?
        .text()
        .await?;
    assert!(start.contains("subscriptionUrl"), "{start}");
    assert!(start.contains("window.location.origin"), "{start}");

    let missing = app
        .client
        .get(format!("{}/graphiql/jquery.js", app.address))
        .send()
        .await?;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await?;
    assert_eq!(body["error"]["code"], "NOT_FOUND", "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_has_no_graphiql_unless_configured() -> anyhow::Result<()> {
    let production =
        TestApp::spawn_with(Backend::Sqlite, false, |c| c.env = Environment::Production).await?;
    for path in ["/graphiql", "/graphiql/graphiql.min.js"] {
        let response = production
            .client
            .get(format!("{}{path}", production.address))
            .send()
            .await?;
        assert_eq!(response.status(), 404, "{path}");
    }
    let opted_in = TestApp::spawn_with(Backend::Sqlite, false, |c| {
        c.env = Environment::Production;
        c.graphiql = Some(true);
    })
    .await?;
    let page = opted_in
        .client
        .get(format!("{}/graphiql", opted_in.address))
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    let html = page.text().await.context("the page")?;
    assert!(html.contains("/graphiql/graphiql.min.js"));
    Ok(())
}
