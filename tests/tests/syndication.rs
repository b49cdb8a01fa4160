//! What partners receive, on both backends: only articles they may republish, on every read path,
//! and never a taken-down one; readers never receive a taken-down one either.

use std::collections::BTreeSet;

use anyhow::Context;
use newsroom_domain::entities::{ArticleStatus, License, Role, article, source};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

on_both_backends!(a_partner_only_ever_receives_articles_it_may_republish,);

/// The ids of the visible demo articles a partner may not have (their source neither is our own
/// nor allows syndication), and of those it may.
async fn split_by_license(app: &TestApp) -> anyhow::Result<(BTreeSet<i64>, BTreeSet<i64>)> {
    let closed: BTreeSet<i64> = source::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .filter(|s| !s.syndication_allowed && s.license != License::Own)
        .map(|s| s.id)
        .collect();
    let (mut forbidden, mut allowed) = (BTreeSet::new(), BTreeSet::new());
    for a in article::Entity::find()
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .all(&app.db)
        .await?
    {
        if a.source_id.is_some_and(|s| closed.contains(&s)) {
            forbidden.insert(a.id);
        } else {
            allowed.insert(a.id);
        }
    }
    Ok((forbidden, allowed))
}

fn id_of(node: &Value) -> anyhow::Result<i64> {
    let id = node["id"].as_str().context("an id")?;
    newsroom_gateway::graphql::ids::decode(id)
        .filter(|(kind, _)| *kind == Kind::Article)
        .map(|(_, row)| row)
        .context("an article id")
}

/// Every article a query's list holds, wherever in the answer it sits.
fn ids_in(list: &Value) -> anyhow::Result<BTreeSet<i64>> {
    list.as_array()
        .context("a list")?
        .iter()
        .map(|item| id_of(item.get("article").unwrap_or(item)))
        .collect()
}

async fn data_as(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> anyhow::Result<Value> {
    let body = app.graphql_as(token, query, vars).await?;
    anyhow::ensure!(body.get("errors").is_none(), "unexpected errors: {body}");
    Ok(body["data"].clone())
}

/// Every article of the `articles` list, page by page, and the list's total.
async fn whole_list(app: &TestApp, token: Option<&str>) -> anyhow::Result<(BTreeSet<i64>, u64)> {
    let mut seen = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let data = data_as(
            app,
            token,
            "query($after: String) { articles(first: 100, after: $after) { totalCount \
             pageInfo { hasNextPage endCursor } nodes { id } } }",
            json!({ "after": after }),
        )
        .await?;
        let list = &data["articles"];
        let total = list["totalCount"].as_u64().context("a total")?;
        seen.extend(ids_in(&list["nodes"])?);
        if list["pageInfo"]["hasNextPage"] != json!(true) {
            return Ok((seen, total));
        }
        after = list["pageInfo"]["endCursor"].as_str().map(String::from);
    }
}

async fn a_partner_only_ever_receives_articles_it_may_republish(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let partner = app.signed_in("syndication-partner", Role::Partner).await?;
    let partner = Some(partner.as_str());
    let (forbidden, allowed) = split_by_license(&app).await?;
    anyhow::ensure!(
        !forbidden.is_empty() && !allowed.is_empty(),
        "the demo has both kinds"
    );

    // The list, its total and every page.
    let (reader_list, reader_total) = whole_list(&app, None).await?;
    let (partner_list, partner_total) = whole_list(&app, partner).await?;
    assert!(reader_list.intersection(&forbidden).next().is_some());
    assert!(partner_list.is_disjoint(&forbidden), "the list");
    assert_eq!(
        partner_list, allowed,
        "a partner receives every article it may have"
    );
    assert_eq!(partner_total as usize, allowed.len());
    assert_eq!(reader_total as usize, allowed.len() + forbidden.len());

    // One article by slug, by id and as a node.
    let closed = *forbidden.first().context("a closed article")?;
    let slug = article::Entity::find_by_id(closed)
        .one(&app.db)
        .await?
        .context("the article")?
        .slug;
    let one = "query($slug: String!, $id: ID!) { article(slug: $slug) { id } byId: article(id: $id) { id } \
               node(id: $id) { id } }";
    let vars = json!({ "slug": slug, "id": encode(Kind::Article, closed) });
    let as_reader = data_as(&app, None, one, vars.clone()).await?;
    assert!(as_reader["article"]["id"].is_string(), "{as_reader}");
    let as_partner = data_as(&app, partner, one, vars).await?;
    assert_eq!(
        as_partner,
        json!({ "article": null, "byId": null, "node": null }),
        "a partner cannot name its way to an article it may not have"
    );

    // Boxes, related articles and every ranking window.
    let boxes = "{ withImage: recommended(kind: WITH_IMAGE, first: 100) { id } \
                 text: recommended(kind: TEXT, first: 100) { id } \
                 day: clickRanking(window: DAY, first: 100) { article { id } } \
                 week: clickRanking(window: WEEK, first: 100) { article { id } } \
                 month: clickRanking(window: MONTH, first: 100) { article { id } } \
                 all: clickRanking(window: ALL, first: 100) { article { id } } }";
    let related = "{ articles(first: 60) { nodes { related(first: 20) { id } } } }";
    let collect = |boxes: &Value, related: &Value| -> anyhow::Result<BTreeSet<i64>> {
        let mut ids = BTreeSet::new();
        for key in ["withImage", "text", "day", "week", "month", "all"] {
            ids.extend(ids_in(&boxes[key])?);
        }
        for node in related["articles"]["nodes"].as_array().context("nodes")? {
            ids.extend(ids_in(&node["related"])?);
        }
        Ok(ids)
    };
    let reader_boxes = collect(
        &data_as(&app, None, boxes, json!({})).await?,
        &data_as(&app, None, related, json!({})).await?,
    )?;
    assert!(
        reader_boxes.intersection(&forbidden).next().is_some(),
        "readers see closed articles in the boxes, so the check below means something"
    );
    let partner_boxes = collect(
        &data_as(&app, partner, boxes, json!({})).await?,
        &data_as(&app, partner, related, json!({})).await?,
    )?;
    assert!(!partner_boxes.is_empty());
    assert!(
        partner_boxes.is_disjoint(&forbidden),
        "boxes, related, rankings"
    );

    // The REST ranking, with the partner's token; a bad token is refused, not served as a reader.
    for window in ["day", "week", "month", "all"] {
        let url = format!("{}/api/v1/rankings?window={window}&first=100", app.address);
        let body: Value = app
            .client
            .get(&url)
            .bearer_auth(partner.context("token")?)
            .send()
            .await?
            .json()
            .await?;
        let items = ids_in(&body["items"])?;
        assert!(items.is_disjoint(&forbidden), "REST {window} ranking");
        let refused = app
            .client
            .get(&url)
            .bearer_auth("not-a-token")
            .send()
            .await?;
        assert_eq!(refused.status().as_u16(), 401);
    }
    Ok(())
}
