//! What partners receive, on both backends: only articles they may republish, on every read path,
//! and never a taken-down one; readers never receive a taken-down one either.

use std::collections::BTreeSet;

use anyhow::Context;
use newsroom_domain::{
    clock::Clock,
    entities::{Role, article, source},
};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

on_both_backends!(
    a_partner_only_ever_receives_articles_it_may_republish,
    an_accepted_takedown_removes_the_article_from_every_read_path,
    takedown_requests_are_checked_limited_and_resolved_once,
    every_get_revalidates_with_etag_and_last_modified,
    a_partner_token_is_limited_to_its_rate_across_servers,
    replaying_the_change_log_reproduces_what_each_caller_sees,
);

/// The ids of the visible demo articles a partner may not have (their source neither is our own
/// nor allows syndication), and of those it may.
async fn split_by_license(app: &TestApp) -> anyhow::Result<(BTreeSet<i64>, BTreeSet<i64>)> {
    let (forbidden, allowed) = app.published_by_syndication().await?;
    let ids = |rows: Vec<article::Model>| rows.into_iter().map(|a| a.id).collect();
    Ok((ids(forbidden), ids(allowed)))
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

/// Every article the recommendation boxes, the related lists of the newest 60 and every ranking
/// window (GraphQL and REST) show the caller.
async fn boxes_and_rankings(app: &TestApp, token: Option<&str>) -> anyhow::Result<BTreeSet<i64>> {
    let boxes = "{ withImage: recommended(kind: WITH_IMAGE, first: 100) { id } \
                 text: recommended(kind: TEXT, first: 100) { id } \
                 day: clickRanking(window: DAY, first: 100) { article { id } } \
                 week: clickRanking(window: WEEK, first: 100) { article { id } } \
                 month: clickRanking(window: MONTH, first: 100) { article { id } } \
                 all: clickRanking(window: ALL, first: 100) { article { id } } }";
    let related = "{ articles(first: 60) { nodes { related(first: 20) { id } } } }";
    let mut ids = BTreeSet::new();
    let data = app.data_as(token, boxes, json!({})).await?;
    for key in ["withImage", "text", "day", "week", "month", "all"] {
        ids.extend(ids_in(&data[key])?);
    }
    let data = app.data_as(token, related, json!({})).await?;
    for node in data["articles"]["nodes"].as_array().context("nodes")? {
        ids.extend(ids_in(&node["related"])?);
    }
    for window in ["day", "week", "month", "all"] {
        let url = format!("{}/api/v1/rankings?window={window}&first=100", app.address);
        let mut request = app.client.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.json().await?;
        ids.extend(ids_in(&body["items"])?);
    }
    Ok(ids)
}

/// Every article of the `articles` list, page by page, and the list's total.
async fn whole_list(app: &TestApp, token: Option<&str>) -> anyhow::Result<(BTreeSet<i64>, u64)> {
    let mut seen = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .data_as(
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
    let as_reader = app.data_as(None, one, vars.clone()).await?;
    assert!(as_reader["article"]["id"].is_string(), "{as_reader}");
    let as_partner = app.data_as(partner, one, vars).await?;
    assert_eq!(
        as_partner,
        json!({ "article": null, "byId": null, "node": null }),
        "a partner cannot name its way to an article it may not have"
    );

    // Search, in GraphQL and REST: the closed article's own title finds it for a reader only.
    let title = article::Entity::find_by_id(closed)
        .one(&app.db)
        .await?
        .context("the article")?
        .title;
    let words: String = title.chars().take(12).collect();
    let search =
        "query($q: String!) { search(query: $q, first: 50) { edges { node { article { id } } } } }";
    let found = |data: Value| -> anyhow::Result<BTreeSet<i64>> {
        data["search"]["edges"]
            .as_array()
            .context("edges")?
            .iter()
            .map(|e| id_of(&e["node"]["article"]))
            .collect()
    };
    let vars = json!({ "q": words });
    assert!(found(app.data_as(None, search, vars.clone()).await?)?.contains(&closed));
    let partner_found = found(app.data_as(partner, search, vars).await?)?;
    assert!(partner_found.is_disjoint(&forbidden), "GraphQL search");
    let rest: Value = app
        .client
        .get(format!("{}/api/v1/search", app.address))
        .query(&[("q", words.as_str())])
        .bearer_auth(partner.context("token")?)
        .send()
        .await?
        .json()
        .await?;
    assert!(
        ids_in(&rest["items"])?.is_disjoint(&forbidden),
        "REST search: {rest}"
    );

    // Boxes, related articles and every ranking window, in GraphQL and REST.
    let reader_boxes = boxes_and_rankings(&app, None).await?;
    assert!(
        reader_boxes.intersection(&forbidden).next().is_some(),
        "readers see closed articles in the boxes, so the check below means something"
    );
    let partner_boxes = boxes_and_rankings(&app, partner).await?;
    assert!(!partner_boxes.is_empty());
    assert!(
        partner_boxes.is_disjoint(&forbidden),
        "boxes, related, rankings"
    );

    // A bad token is refused, never served as a reader's request.
    let url = format!("{}/api/v1/rankings", app.address);
    let refused = app
        .client
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await?;
    assert_eq!(refused.status().as_u16(), 401);
    Ok(())
}

const REQUEST: &str = "mutation($a: ID!, $c: String!, $t: String!, $r: String!) { \
    requestTakedown(articleId: $a, claimant: $c, contact: $t, reason: $r) { id status } }";
const RESOLVE: &str = "mutation($id: ID!, $accept: Boolean!, $note: String) { \
    resolveTakedown(id: $id, accept: $accept, note: $note) { id status note resolvedAt \
    resolvedBy { username } article { id status } } }";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

fn takedown_of(article: i64) -> Value {
    json!({
        "a": encode(Kind::Article, article),
        "c": "南昌日报社",
        "t": "rights@example.cn",
        "r": "本文系我社原创稿件，未经授权转载，请予删除。",
    })
}

/// Everything a caller can receive: the whole list, and every box, related list and ranking.
async fn everything_seen(app: &TestApp, token: Option<&str>) -> anyhow::Result<BTreeSet<i64>> {
    let (mut ids, _) = whole_list(app, token).await?;
    ids.extend(boxes_and_rankings(app, token).await?);
    Ok(ids)
}

async fn an_accepted_takedown_removes_the_article_from_every_read_path(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("takedown-editor", Role::Editor).await?;
    let partner = app.signed_in("takedown-partner", Role::Partner).await?;
    // The most viewed article partners may have: in lists, rankings and boxes for everyone.
    let top = app
        .data_as(
            Some(&partner),
            "{ clickRanking(window: ALL, first: 1) { article { id slug } } }",
            json!({}),
        )
        .await?;
    let target = id_of(&top["clickRanking"][0]["article"])?;
    let slug = top["clickRanking"][0]["article"]["slug"]
        .as_str()
        .context("slug")?
        .to_owned();
    for token in [None, Some(partner.as_str())] {
        assert!(everything_seen(&app, token).await?.contains(&target));
    }

    let asked = app.data_as(None, REQUEST, takedown_of(target)).await?;
    assert_eq!(asked["requestTakedown"]["status"], "PENDING");
    // Until an editor acts, nothing changes.
    assert!(everything_seen(&app, None).await?.contains(&target));
    let request_id = asked["requestTakedown"]["id"].clone();
    let resolved = app
        .graphql_as(
            Some(&editor),
            RESOLVE,
            json!({ "id": request_id, "accept": true, "note": "核实属实，予以删除" }),
        )
        .await?;
    let resolved = &resolved["data"]["resolveTakedown"];
    assert_eq!(resolved["status"], "ACCEPTED", "{resolved}");
    assert_eq!(resolved["resolvedBy"]["username"], "takedown-editor");
    assert_eq!(resolved["note"], "核实属实，予以删除");
    assert!(resolved["resolvedAt"].is_string());
    assert_eq!(resolved["article"]["status"], "TAKEN_DOWN");

    // Gone for readers and partners, on every path, from the very next request.
    for token in [None, Some(partner.as_str())] {
        assert!(
            !everything_seen(&app, token).await?.contains(&target),
            "taken down, yet still served (partner: {})",
            token.is_some()
        );
        let one = app.data_as(token,
            "query($slug: String!, $id: ID!) { article(slug: $slug) { id } node(id: $id) { id } }",
            json!({ "slug": slug, "id": encode(Kind::Article, target) }),
        )
        .await?;
        assert_eq!(one, json!({ "article": null, "node": null }));
    }
    // Its views can no longer be counted, and it cannot be published again.
    let beacon = app
        .client
        .post(format!(
            "{}/api/v1/articles/{}/views",
            app.address,
            encode(Kind::Article, target).0
        ))
        .send()
        .await?;
    assert_eq!(beacon.status().as_u16(), 404);
    let version = article::Entity::find_by_id(target)
        .one(&app.db)
        .await?
        .context("kept for the record")?
        .version;
    let again = app
        .graphql_as(
            Some(&editor),
            "mutation($id: ID!, $v: Int!) { publishArticle(id: $id, version: $v) { id } }",
            json!({ "id": encode(Kind::Article, target), "v": version }),
        )
        .await?;
    assert_eq!(code(&again), "CONFLICT", "{again}");
    // The revision records who took it down.
    let revisions = app
        .graphql_as(
            Some(&editor),
            "query($id: ID!) { article(id: $id) { status revisions { status savedBy { username } } } }",
            json!({ "id": encode(Kind::Article, target) }),
        )
        .await?;
    let article = &revisions["data"]["article"];
    assert_eq!(article["status"], "TAKEN_DOWN");
    let newest = article["revisions"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["status"] == "TAKEN_DOWN"))
        .context("a revision for the takedown")?;
    assert_eq!(newest["savedBy"]["username"], "takedown-editor");
    Ok(())
}

async fn takedown_requests_are_checked_limited_and_resolved_once(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("takedown-editor", Role::Editor).await?;
    let partner = app.signed_in("takedown-partner", Role::Partner).await?;
    let listed = "query($status: TakedownStatus) { takedownRequests(status: $status, first: 50) { \
                  edges { node { id status claimant contact reason article { id } } } } }";
    let listing = |status: Value| {
        let app = &app;
        let editor = editor.clone();
        async move {
            let body = app
                .graphql_as(Some(&editor), listed, json!({ "status": status }))
                .await?;
            anyhow::ensure!(body.get("errors").is_none(), "{body}");
            Ok::<_, anyhow::Error>(
                body["data"]["takedownRequests"]["edges"]
                    .as_array()
                    .context("edges")?
                    .clone(),
            )
        }
    };
    let (_, allowed) = split_by_license(&app).await?;
    let mut visible = allowed.iter().copied();
    let first = visible.next().context("an article")?;

    // Bad input names its field and records nothing.
    for (field, value) in [("c", " "), ("t", ""), ("r", "删除\u{7}")] {
        let mut vars = takedown_of(first);
        vars[field] = json!(value);
        let body = app.graphql(REQUEST, vars).await?;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            body["errors"][0]["extensions"]["field"].is_string(),
            "{body}"
        );
    }
    let mut vars = takedown_of(first);
    vars["r"] = json!("长".repeat(5001));
    assert_eq!(code(&app.graphql(REQUEST, vars).await?), "BAD_USER_INPUT");
    let unknown = app.graphql(REQUEST, takedown_of(999_999)).await?;
    assert_eq!(code(&unknown), "NOT_FOUND");
    let wrong_kind = json!({ "a": encode(Kind::Tag, 1), "c": "x", "t": "y", "r": "z" });
    assert_eq!(
        code(&app.graphql(REQUEST, wrong_kind).await?),
        "BAD_USER_INPUT"
    );
    assert!(listing(Value::Null).await?.is_empty(), "nothing recorded");

    // Only editors list and resolve.
    let asked = app.data_as(None, REQUEST, takedown_of(first)).await?;
    let id = asked["requestTakedown"]["id"].clone();
    for (token, expected) in [
        (None, "UNAUTHENTICATED"),
        (Some(partner.as_str()), "FORBIDDEN"),
    ] {
        let body = app.graphql_as(token, listed, json!({})).await?;
        assert_eq!(code(&body), expected, "{body}");
        let body = app
            .graphql_as(token, RESOLVE, json!({ "id": id, "accept": true }))
            .await?;
        assert_eq!(code(&body), expected, "{body}");
    }
    let pending = listing(json!("PENDING")).await?;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["node"]["claimant"], "南昌日报社");
    assert_eq!(
        pending[0]["node"]["article"]["id"],
        json!(encode(Kind::Article, first))
    );

    // Rejected: the article stays; a second decision is a conflict.
    let body = app
        .graphql_as(
            Some(&editor),
            RESOLVE,
            json!({ "id": id, "accept": false, "note": "转载已获授权" }),
        )
        .await?;
    assert_eq!(
        body["data"]["resolveTakedown"]["status"], "REJECTED",
        "{body}"
    );
    assert_eq!(
        body["data"]["resolveTakedown"]["article"]["status"],
        "PUBLISHED"
    );
    let body = app
        .graphql_as(Some(&editor), RESOLVE, json!({ "id": id, "accept": true }))
        .await?;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    let still = app
        .data_as(
            None,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": encode(Kind::Article, first) }),
        )
        .await?;
    assert!(
        still["node"]["id"].is_string(),
        "a rejected request leaves the article up"
    );
    assert!(listing(json!("PENDING")).await?.is_empty());
    assert_eq!(listing(json!("REJECTED")).await?.len(), 1);
    // An unknown request, the wrong kind of ID and an over-long note are refused, changing nothing.
    let unknown = app
        .graphql_as(
            Some(&editor),
            RESOLVE,
            json!({ "id": encode(Kind::TakedownRequest, 999_999), "accept": true }),
        )
        .await?;
    assert_eq!(code(&unknown), "NOT_FOUND", "{unknown}");
    let wrong = app
        .graphql_as(
            Some(&editor),
            RESOLVE,
            json!({ "id": encode(Kind::Article, first), "accept": true }),
        )
        .await?;
    assert_eq!(code(&wrong), "BAD_USER_INPUT", "{wrong}");
    let again = app.data_as(None, REQUEST, takedown_of(first)).await?;
    let long_note = app
        .graphql_as(
            Some(&editor),
            RESOLVE,
            json!({ "id": again["requestTakedown"]["id"], "accept": true, "note": "注".repeat(2001) }),
        )
        .await?;
    assert_eq!(code(&long_note), "BAD_USER_INPUT", "{long_note}");
    assert_eq!(long_note["errors"][0]["extensions"]["field"], "note");
    assert_eq!(listing(json!("PENDING")).await?.len(), 1, "still pending");
    let bad_cursor = app
        .graphql_as(
            Some(&editor),
            "{ takedownRequests(first: 5, after: \"nope\") { edges { cursor } } }",
            json!({}),
        )
        .await?;
    assert_eq!(code(&bad_cursor), "BAD_USER_INPUT", "{bad_cursor}");

    // One address may ask five times an hour; the sixth is refused and records nothing. Three
    // attempts counted already: the unknown article and the two requests made (bad input and
    // the wrong kind of ID are refused before counting).
    let mut made = 2;
    let mut limited = None;
    for article in visible.take(6) {
        let body = app.graphql(REQUEST, takedown_of(article)).await?;
        if code(&body) == "RATE_LIMITED" {
            limited = Some(body);
            break;
        }
        assert!(body.get("errors").is_none(), "{body}");
        made += 1;
    }
    let limited = limited.context("the sixth request of the hour is refused")?;
    assert!(
        limited["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 3600)
    );
    assert_eq!(made, 4, "the unknown article counted as an attempt");
    assert_eq!(listing(Value::Null).await?.len(), made);
    Ok(())
}

async fn every_get_revalidates_with_etag_and_last_modified(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("cache-editor", Role::Editor).await?;
    let url = format!("{}/graphql?query=%7Bsite%7Bname%7D%7D", app.address);
    let get = |headers: Vec<(&'static str, String)>| {
        let mut request = app.client.get(&url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let header = |r: &reqwest::Response, name: &str| -> String {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };

    let first = get(vec![]).await?;
    assert_eq!(first.status().as_u16(), 200);
    let etag = header(&first, "etag");
    let modified = header(&first, "last-modified");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert!(!modified.is_empty());
    assert_eq!(header(&first, "cache-control"), "public, no-cache");
    assert!(header(&first, "vary").contains("Authorization"));
    // The same answer has the same tag.
    assert_eq!(header(&get(vec![]).await?, "etag"), etag);

    for (tag, expected) in [
        (etag.clone(), 304),
        (format!("W/{etag}"), 304),
        (format!("\"other\", {etag}"), 304),
        ("\"other\"".to_owned(), 200),
    ] {
        let r = get(vec![("if-none-match", tag.clone())]).await?;
        assert_eq!(r.status().as_u16(), expected, "If-None-Match: {tag}");
        if expected == 304 {
            assert_eq!(header(&r, "etag"), etag);
            assert!(r.bytes().await?.is_empty());
        }
    }
    let at: chrono::DateTime<chrono::Utc> = chrono::DateTime::parse_from_rfc2822(&modified)?.into();
    let date = |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let later = date(at + chrono::TimeDelta::seconds(1));
    let earlier = date(at - chrono::TimeDelta::days(1));
    assert_eq!(
        get(vec![("if-modified-since", later.clone())])
            .await?
            .status()
            .as_u16(),
        304
    );
    assert_eq!(
        get(vec![("if-modified-since", earlier)])
            .await?
            .status()
            .as_u16(),
        200
    );
    // If-None-Match decides when both are sent.
    let both = get(vec![
        ("if-none-match", "\"other\"".to_owned()),
        ("if-modified-since", later.clone()),
    ])
    .await?;
    assert_eq!(both.status().as_u16(), 200);

    // A change gives a new tag, and the old one no longer matches.
    let renamed = app
        .graphql_as(
            Some(&editor),
            "mutation { updateSiteSettings(input: { name: \"新闻网（改版）\" }) { name } }",
            json!({}),
        )
        .await?;
    assert!(renamed.get("errors").is_none(), "{renamed}");
    let changed = get(vec![("if-none-match", etag.clone())]).await?;
    assert_eq!(changed.status().as_u16(), 200);
    assert_ne!(header(&changed, "etag"), etag);

    // Signed-in answers are private; health checks are never stored; writes get no tag.
    let private = app.client.get(&url).bearer_auth(&editor).send().await?;
    assert_eq!(header(&private, "cache-control"), "private, no-cache");
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await?;
    assert_eq!(header(&health, "cache-control"), "no-store");
    let rest = app
        .client
        .get(format!("{}/api/v1/rankings", app.address))
        .send()
        .await?;
    assert!(
        !header(&rest, "etag").is_empty(),
        "REST GETs are tagged too"
    );
    let post = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ site { name } }" }))
        .send()
        .await?;
    assert!(header(&post, "etag").is_empty());
    Ok(())
}

async fn a_partner_token_is_limited_to_its_rate_across_servers(
    backend: Backend,
) -> anyhow::Result<()> {
    // Two servers on one database share the count through Redis when it is configured; without
    // it, one server is checked.
    let redis = std::env::var("TEST_REDIS_URL").ok();
    let prefix = format!("newsroom-test-{}", uuid::Uuid::new_v4().simple());
    let first = TestApp::spawn_with(backend, true, |c| {
        c.redis_url = redis.clone();
        c.redis_prefix = prefix;
        c.partner_rate_limit = 1000;
    })
    .await?;
    let second = if redis.is_some() {
        Some(first.another_server().await?)
    } else {
        None
    };
    let admin = first.signed_in("limits-admin", Role::Admin).await?;
    first.user("limited-partner", Role::Partner).await?;
    let issue = "mutation($limit: Int) { issueApiToken(user: \"limited-partner\", name: \"feed\", \
                 expiresIn: 86400, rateLimit: $limit) { token apiToken { rateLimit } } }";
    let issued = first
        .graphql_as(Some(&admin), issue, json!({ "limit": 4 }))
        .await?;
    assert_eq!(
        issued["data"]["issueApiToken"]["apiToken"]["rateLimit"], 4,
        "{issued}"
    );
    let limited = issued["data"]["issueApiToken"]["token"]
        .as_str()
        .context("a token")?
        .to_owned();
    let other = first
        .graphql_as(Some(&admin), issue, json!({ "limit": null }))
        .await?;
    let other = other["data"]["issueApiToken"]["token"]
        .as_str()
        .context("a token")?
        .to_owned();
    for bad in [0, -1, 1_000_001] {
        let body = first
            .graphql_as(Some(&admin), issue, json!({ "limit": bad }))
            .await?;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "rateLimit");
    }

    // Four requests in the minute, spread over both servers and both APIs; the fifth is refused.
    let servers: Vec<&TestApp> = std::iter::once(&first).chain(second.as_ref()).collect();
    for n in 0..4 {
        let app = servers[n % servers.len()];
        if n % 2 == 0 {
            let body = app
                .graphql_as(Some(&limited), "{ site { name } }", json!({}))
                .await?;
            assert!(body.get("errors").is_none(), "request {n}: {body}");
        } else {
            let r = app
                .client
                .get(format!("{}/api/v1/rankings", app.address))
                .bearer_auth(&limited)
                .send()
                .await?;
            assert_eq!(r.status().as_u16(), 200, "request {n}");
        }
    }
    let last = servers[servers.len() - 1];
    let (status, body) = last
        .post_graphql(Some(&limited), "{ site { name } }", json!({}))
        .await?;
    assert_eq!(status, 429, "{body}");
    assert_eq!(code(&body), "RATE_LIMITED");
    let wait = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .context("retryAfter")?;
    assert!((1..=60).contains(&wait));
    let rest = first
        .client
        .get(format!("{}/api/v1/rankings", first.address))
        .bearer_auth(&limited)
        .send()
        .await?;
    assert_eq!(rest.status().as_u16(), 429);
    let retry_after: u64 = rest
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .context("Retry-After")?;
    assert!((1..=60).contains(&retry_after));
    let rest: Value = rest.json().await?;
    assert_eq!(rest["error"]["code"], "RATE_LIMITED");

    // Another token, and readers, are not held back; the next minute starts afresh.
    let body = first
        .graphql_as(Some(&other), "{ site { name } }", json!({}))
        .await?;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        first
            .graphql("{ site { name } }", json!({}))
            .await?
            .get("errors")
            .is_none()
    );
    first
        .clock
        .set(first.clock.now() + chrono::TimeDelta::seconds(61));
    if let Some(second) = &second {
        second.clock.set(first.clock.now());
    }
    let body = first
        .graphql_as(Some(&limited), "{ site { name } }", json!({}))
        .await?;
    assert!(body.get("errors").is_none(), "a new minute: {body}");
    Ok(())
}

/// A copy kept from the change log: article id to version.
#[derive(Default)]
struct Replica {
    since: Option<String>,
    articles: std::collections::BTreeMap<i64, i64>,
}

impl Replica {
    /// Reads the log from where the copy stopped to its current end, applying each entry.
    async fn catch_up(&mut self, app: &TestApp, token: Option<&str>) -> anyhow::Result<()> {
        loop {
            let mut url = format!("{}/api/v1/changes?limit=7", app.address);
            if let Some(since) = &self.since {
                url.push_str(&format!("&since={since}"));
            }
            let mut request = app.client.get(&url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let page: Value = request.send().await?.json().await?;
            for item in page["items"]
                .as_array()
                .with_context(|| format!("items in {page}"))?
            {
                let id = id_of(item)?;
                match item["type"].as_str() {
                    Some("upsert") => {
                        let version = item["article"]["version"].as_i64().context("version")?;
                        self.articles.insert(id, version);
                    }
                    Some("remove") => {
                        self.articles.remove(&id);
                    }
                    other => anyhow::bail!("unknown change {other:?}"),
                }
            }
            self.since = page["next"].as_str().map(String::from);
            if page["hasMore"] != json!(true) {
                return Ok(());
            }
        }
    }
}

/// What a caller sees now: article id to version, from the `articles` list.
async fn seen_with_versions(
    app: &TestApp,
    token: Option<&str>,
) -> anyhow::Result<std::collections::BTreeMap<i64, i64>> {
    let (ids, _) = whole_list(app, token).await?;
    let mut out = std::collections::BTreeMap::new();
    for id in ids {
        let a = article::Entity::find_by_id(id)
            .one(&app.db)
            .await?
            .context("article")?;
        out.insert(id, i64::from(a.version));
    }
    Ok(out)
}

async fn replaying_the_change_log_reproduces_what_each_caller_sees(
    backend: Backend,
) -> anyhow::Result<()> {
    use newsroom_domain::{
        editorial::{self, Actor, ArticlePatch, NewArticle, Transition},
        takedowns,
    };
    use rand::{Rng, SeedableRng, rngs::StdRng};

    // The walk spans hours of the test clock; the partner's session must outlast it.
    let app = TestApp::spawn_with(backend, true, |c| c.session_ttl_secs = 24 * 3600).await?;
    let (editor, _) = app.user("log-editor", Role::Editor).await?;
    let actor = Actor { user_id: editor.id };
    let partner = app.signed_in("log-partner", Role::Partner).await?;
    let (mut reader_copy, mut partner_copy) = (Replica::default(), Replica::default());
    let words = newsroom_tests::segmenter()?;
    let mut rng = StdRng::seed_from_u64(2020);
    let mut now = app.clock.now();
    let mut ids: Vec<i64> = article::Entity::find()
        .all(&app.db)
        .await?
        .iter()
        .map(|a| a.id)
        .take(12)
        .collect();
    let closed = source::Entity::find()
        .filter(source::Column::Slug.eq("nanchang-kaifaqu"))
        .one(&app.db)
        .await?
        .context("a closed source")?;
    for step in 0..80 {
        now += chrono::TimeDelta::minutes(1);
        app.clock.set(now);
        let id = ids[rng.random_range(0..ids.len())];
        let version = match article::Entity::find_by_id(id).one(&app.db).await? {
            Some(a) => a.version,
            None => 0,
        };
        // Refusals (a taken-down article cannot be published, a deleted one is gone) are part
        // of a random walk; what matters is that every accepted write is logged.
        let _ = match rng.random_range(0..9) {
            0 | 1 => {
                let reprint = rng.random_bool(0.5);
                let created = editorial::create(
                    &app.db,
                    &words,
                    actor,
                    now,
                    NewArticle {
                        original_url: reprint.then(|| format!("https://example.cn/{step}.html")),
                        ..newsroom_tests::park_article(
                            &format!("开发区动态第{step}期"),
                            reprint.then_some("nanchang-kaifaqu"),
                        )
                    },
                )
                .await?;
                ids.push(created.id);
                Ok(())
            }
            2 | 3 => editorial::transition(
                &app.db,
                &words,
                actor,
                now,
                id,
                version,
                Transition::PublishNow,
            )
            .await
            .map(drop),
            4 => editorial::update(
                &app.db,
                &words,
                actor,
                now,
                id,
                version,
                ArticlePatch {
                    title: Some(format!("更新：第{step}步")),
                    ..Default::default()
                },
            )
            .await
            .map(drop),
            5 => editorial::transition(
                &app.db,
                &words,
                actor,
                now,
                id,
                version,
                Transition::Unpublish,
            )
            .await
            .map(drop),
            6 => {
                let at = now + chrono::TimeDelta::minutes(rng.random_range(1..20));
                editorial::transition(
                    &app.db,
                    &words,
                    actor,
                    now,
                    id,
                    version,
                    Transition::Schedule(at),
                )
                .await
                .map(drop)
            }
            7 => {
                let address = format!("192.0.2.{step}");
                match takedowns::request(
                    &app.db,
                    now,
                    Some(&address),
                    takedowns::NewTakedown {
                        article_id: id,
                        claimant: "权利人".into(),
                        contact: "rights@example.cn".into(),
                        reason: "侵权".into(),
                    },
                )
                .await
                {
                    Ok(r) => takedowns::resolve(&app.db, &words, actor, now, r.id, true, None)
                        .await
                        .map(drop),
                    Err(e) => Err(e),
                }
            }
            _ if step % 2 == 0 => editorial::delete(&app.db, now, id, version).await,
            // The closed source opens to partners, or closes again.
            _ => app.flip_syndication(closed.id, now).await.map(drop),
        };
        if step % 9 == 0 {
            reader_copy.catch_up(&app, None).await?;
            partner_copy.catch_up(&app, Some(&partner)).await?;
        }
    }
    // End with the source open, so partners must have learnt of its articles from the log.
    let open = source::Entity::find_by_id(closed.id)
        .one(&app.db)
        .await?
        .context("source")?
        .syndication_allowed;
    if !open {
        app.flip_syndication(closed.id, now).await?;
    }
    // Once the last writes have settled and the schedules have come due, each copy is exact.
    app.clock.set(now + chrono::TimeDelta::hours(1));
    reader_copy.catch_up(&app, None).await?;
    partner_copy.catch_up(&app, Some(&partner)).await?;
    let reader_now = seen_with_versions(&app, None).await?;
    assert_eq!(reader_copy.articles, reader_now, "the reader's copy");
    assert_eq!(
        partner_copy.articles,
        seen_with_versions(&app, Some(&partner)).await?,
        "the partner's copy"
    );
    assert!(
        reader_now.len() > 200,
        "the demo's articles are in the log too"
    );

    // A bad cursor or limit is refused with the parameter named.
    for query in ["since=not-a-cursor", "limit=0", "limit=501", "limit=x"] {
        let r = app
            .client
            .get(format!("{}/api/v1/changes?{query}", app.address))
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 400, "{query}");
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
    }
    Ok(())
}
