//! Lists read article bodies only when a selection asks for them (a page of bodies costs more
//! than the rest of the page), yet every way of asking for a body gets it, on both backends.

use anyhow::Context;
use newsroom_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(every_way_of_selecting_a_body_gets_it);

const SLUG: &str = "nanchang-kaifaqu-2020-ganbu-dahui";

async fn every_way_of_selecting_a_body_gets_it(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let one = app
        .data(
            "query($s: String!) { article(slug: $s) { body related(first: 3) { slug } } }",
            json!({ "s": SLUG }),
        )
        .await?;
    let body = one["article"]["body"].as_str().context("body")?.to_owned();
    assert!(!body.is_empty());
    let bodies_of = |list: &Value| -> Vec<String> {
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|a| a["body"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    for query in [
        "{ articles(first: 3) { nodes { slug body } } }",
        "{ articles(first: 3) { edges { node { slug b: body(format: TEXT) } } } }",
        "{ articles(first: 3) { nodes { slug ...B } } } fragment B on Article { body }",
        "{ articles(first: 3) { nodes { slug ... on Node { ... on Article { body } } } } }",
    ] {
        let data = app.data(query, json!({})).await?;
        let list = &data["articles"];
        let nodes = if list["nodes"].is_array() {
            list["nodes"].clone()
        } else {
            let edges = list["edges"].as_array().context("edges")?;
            Value::Array(
                edges
                    .iter()
                    .map(|e| json!({ "body": e["node"]["b"] }))
                    .collect(),
            )
        };
        let bodies = bodies_of(&nodes);
        assert_eq!(bodies.len(), 3, "{query}");
        assert!(bodies.iter().all(|b| !b.is_empty()), "{query}: {data}");
    }
    let related = app
        .data(
            "query($s: String!) { article(slug: $s) { related(first: 3) { ...R } } } \
             fragment R on Article { slug body }",
            json!({ "s": SLUG }),
        )
        .await?;
    let bodies = bodies_of(&related["article"]["related"]);
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| !b.is_empty()), "{related}");
    // The same article's body is the same whichever way it was read.
    let slug = one["article"]["related"][0]["slug"]
        .as_str()
        .context("a related slug")?;
    let direct = app
        .data(
            "query($s: String!) { article(slug: $s) { body } }",
            json!({ "s": slug }),
        )
        .await?;
    assert_eq!(direct["article"]["body"].as_str(), Some(bodies[0].as_str()));
    Ok(())
}
