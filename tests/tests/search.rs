//! Search end to end: the labelled set, what character-level search gets wrong, the index
//! following every publishing step, paging, REST, and bad input; on both backends.

use std::collections::HashSet;

use anyhow::{Context, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use migration::MigratorTrait;
use newsroom_domain::{
    articles::Audience,
    demo::SEED_ARTICLE_SLUG,
    editorial::{self, Actor, NewArticle, Transition},
    entities::{ArticleKind, ArticleStatus, BodyFormat, Role, article},
    pagination::PageRequest,
    search::{self, SearchQuery},
};
use newsroom_tests::{Backend, TestApp, TestDb, on_both_backends, segmenter, test_now};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, Statement,
};
use serde::Deserialize;
use serde_json::{Value, json};

on_both_backends!(
    the_labelled_set_finds_what_readers_mean,
    what_character_level_search_gets_wrong_comes_out_right,
    every_publishing_step_shows_in_the_very_next_query,
    pages_cover_every_hit_once_in_rank_order,
    bad_input_is_named_and_operators_are_text,
    the_rest_endpoint_serves_the_same_hits,
    renaming_a_tag_or_source_is_searchable_at_once,
);

/// PostgreSQL only: its postings and the migration that converted the old ranking vectors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_postings_keep_the_old_ranking() -> anyhow::Result<()> {
    if !newsroom_tests::postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL test not run");
        return Ok(());
    }
    the_postings_migration_converts_ranking_vectors().await
}

const SEARCH: &str =
    "query($q: String!, $first: Int, $after: String, $filter: ArticleFilterInput) {
    search(query: $q, first: $first, after: $after, filter: $filter) {
        totalCount
        edges { cursor node { score snippet article { slug title channel { slug } } } }
        pageInfo { hasNextPage hasPreviousPage endCursor }
    } }";

/// The labelled set's file.
#[derive(Debug, Deserialize)]
struct Labelled {
    article: Vec<Fixture>,
    query: Vec<Judged>,
}

#[derive(Debug, Deserialize)]
struct Fixture {
    slug: String,
    published: DateTime<Utc>,
    channel: String,
    source: String,
    kind: String,
    tags: Vec<String>,
    title: String,
    lead: String,
    body: String,
}

#[derive(Debug, Deserialize)]
struct Judged {
    q: String,
    expect: Vec<String>,
    #[serde(default)]
    first: bool,
    #[serde(default)]
    absent: Vec<String>,
}

fn labelled() -> anyhow::Result<Labelled> {
    let text = include_str!("../search/labelled.toml");
    Ok(toml::from_str(text)?)
}

/// The demo, plus the labelled set's articles written and published through the editorial path
/// (so they are indexed as any editor's article is).
async fn app_with_labelled_articles(backend: Backend) -> anyhow::Result<(TestApp, Labelled)> {
    let app = TestApp::with_demo(backend).await?;
    let set = labelled()?;
    let (editor, _) = app.user("labelled-set-editor", Role::Editor).await?;
    let actor = Actor { user_id: editor.id };
    let segmenter = segmenter()?;
    for f in &set.article {
        let kind = match f.kind.as_str() {
            "reprint" => ArticleKind::Reprint,
            _ => ArticleKind::Original,
        };
        let new = NewArticle {
            title: f.title.clone(),
            slug: Some(f.slug.clone()),
            lead: Some(f.lead.clone()),
            body: f.body.trim().to_owned(),
            body_format: BodyFormat::Markdown,
            cover_image: None,
            author: None,
            channel: f.channel.clone(),
            source: Some(f.source.clone()),
            original_url: (kind == ArticleKind::Reprint)
                .then(|| format!("https://news.example.cn/{}.html", f.slug)),
            kind,
            featured: false,
            recommended: false,
            disclaimer: None,
            tags: f.tags.clone(),
        };
        let draft = editorial::create(&app.db, &segmenter, actor, f.published, new).await?;
        editorial::transition(
            &app.db,
            &segmenter,
            actor,
            f.published,
            draft.id,
            draft.version,
            Transition::PublishNow,
        )
        .await?;
    }
    Ok((app, set))
}

/// The slugs of the first page of hits for `q`.
async fn hits(app: &TestApp, q: &str) -> anyhow::Result<Vec<String>> {
    let data = app.data(SEARCH, json!({ "q": q, "first": 20 })).await?;
    Ok(edges(&data)?
        .iter()
        .filter_map(|e| e["node"]["article"]["slug"].as_str().map(String::from))
        .collect())
}

fn edges(data: &Value) -> anyhow::Result<&Vec<Value>> {
    data["search"]["edges"].as_array().context("edges")
}

async fn the_labelled_set_finds_what_readers_mean(backend: Backend) -> anyhow::Result<()> {
    let (app, set) = app_with_labelled_articles(backend).await?;
    ensure!(
        set.query.len() >= 30,
        "the labelled set needs 30 queries or more"
    );
    let mut precisions = Vec::new();
    let mut failures = Vec::new();
    for judged in &set.query {
        let found = hits(&app, &judged.q).await?;
        if judged.expect.is_empty() {
            if !found.is_empty() {
                failures.push(format!("{}: expected nothing, found {found:?}", judged.q));
            }
            continue;
        }
        let k = judged.expect.len().min(5);
        let relevant = found[..k.min(found.len())]
            .iter()
            .filter(|slug| judged.expect.contains(slug))
            .count();
        precisions.push(relevant as f64 / k as f64);
        for slug in &judged.expect {
            if !found.contains(slug) {
                failures.push(format!("{}: {slug} not found in {found:?}", judged.q));
            }
        }
        if judged.first && found.first() != judged.expect.first() {
            failures.push(format!(
                "{}: {} is not first in {found:?}",
                judged.q, judged.expect[0]
            ));
        }
        for slug in &judged.absent {
            if found.contains(slug) {
                failures.push(format!("{}: {slug} must not be found", judged.q));
            }
        }
    }
    let precision = precisions.iter().sum::<f64>() / precisions.len() as f64;
    eprintln!(
        "{backend:?}: precision at 5 over {} queries: {precision:.3}",
        precisions.len()
    );
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    ensure!(precision >= 0.9, "precision at 5 is {precision:.3}");
    Ok(())
}

async fn what_character_level_search_gets_wrong_comes_out_right(
    backend: Backend,
) -> anyhow::Result<()> {
    let (app, _) = app_with_labelled_articles(backend).await?;
    let like = |pattern: &str| {
        let sql = format!(
            "SELECT slug FROM articles WHERE title || COALESCE(lead, '') || body LIKE '%{pattern}%'"
        );
        let backend = app.db.get_database_backend();
        let db = &app.db;
        async move {
            let rows = db
                .query_all_raw(Statement::from_string(backend, sql))
                .await?;
            rows.iter()
                .map(|r| r.try_get::<String>("", "slug"))
                .collect::<Result<HashSet<_>, _>>()
        }
    };
    // 南京市长江大桥 is 南京市 / 长江大桥: LIKE finds a mayor (市长) in it, search does not.
    assert!(like("市长").await?.contains("set-bridge"));
    let mayor = hits(&app, "市长").await?;
    assert!(
        mayor.contains(&"set-battery-signing".to_owned()),
        "{mayor:?}"
    );
    assert!(!mayor.contains(&"set-bridge".to_owned()), "{mayor:?}");
    // A word cut by a line break: LIKE misses it, search finds it and shows it whole.
    assert!(!like("区块链").await?.contains("set-wrapped-lines"));
    let data = app.data(SEARCH, json!({ "q": "区块链" })).await?;
    let hit = &edges(&data)?[0]["node"];
    assert_eq!(hit["article"]["slug"], "set-wrapped-lines");
    let snippet = hit["snippet"].as_str().context("snippet")?;
    assert!(snippet.contains("推动<mark>区块链</mark>技术"), "{snippet}");
    // A two-character word inside a longer one is found by its part, and marked as a word.
    let data = app.data(SEARCH, json!({ "q": "长江" })).await?;
    let bridge = edges(&data)?
        .iter()
        .find(|e| e["node"]["article"]["slug"] == "set-bridge")
        .context("the bridge by 长江")?;
    let snippet = bridge["node"]["snippet"].as_str().context("snippet")?;
    assert!(snippet.contains("南京市<mark>长江</mark>大桥"), "{snippet}");
    // Markers are the caller's; the text around them is escaped.
    let data = app
        .data(
            "{ search(query: \"市长\") { edges { node { snippet(highlightStart: \"[\", highlightEnd: \"]\") } } } }",
            json!({}),
        )
        .await?;
    let snippet = data["search"]["edges"][0]["node"]["snippet"]
        .as_str()
        .context("snippet")?;
    assert!(
        snippet.contains("[市长]") || snippet.contains("副[市长]"),
        "{snippet}"
    );
    assert!(!snippet.contains("<mark>"), "{snippet}");
    Ok(())
}

async fn every_publishing_step_shows_in_the_very_next_query(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let token = app.signed_in("search-editor", Role::Editor).await?;
    let edit = |query: &'static str, vars: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            let body = app.graphql_as(Some(&token), query, vars).await?;
            ensure!(body.get("errors").is_none(), "{body}");
            Ok::<Value, anyhow::Error>(body["data"].clone())
        }
    };
    let created = edit(
        "mutation { createArticle(input: { title: \"赣州稀土新材料产业园开园\", channel: \"parks\",
            body: \"首批入驻的稀土永磁企业达到12家。\", tags: [\"industrial-park\"] }) { id version slug } }",
        json!({}),
    )
    .await?;
    let id = created["createArticle"]["id"].clone();
    let found = |q: &'static str| {
        let app = &app;
        async move { hits(app, q).await }
    };
    let slug = created["createArticle"]["slug"]
        .as_str()
        .context("slug")?
        .to_owned();
    let only = vec![slug.clone()];
    let version = |data: &Value, field: &str| data[field]["version"].clone();
    assert!(found("稀土永磁").await?.is_empty(), "a draft was found");

    let published = edit(
        "mutation($id: ID!, $v: Int!) { publishArticle(id: $id, version: $v) { version } }",
        json!({ "id": id, "v": version(&created, "createArticle") }),
    )
    .await?;
    assert_eq!(found("稀土永磁").await?, only);
    assert_eq!(
        found("稀土 产业园区").await?,
        only,
        "not found by its tag's name"
    );

    // An edit changes what it is found by, at once.
    let updated = edit(
        "mutation($id: ID!, $v: Int!) { updateArticle(id: $id, version: $v, input: { body: \"首批入驻的钕铁硼磁材企业达到12家。\" }) { version } }",
        json!({ "id": id, "v": version(&published, "publishArticle") }),
    )
    .await?;
    assert!(found("稀土永磁").await?.is_empty());
    assert_eq!(found("钕铁硼").await?, only);

    let unpublished = edit(
        "mutation($id: ID!, $v: Int!) { unpublishArticle(id: $id, version: $v) { version } }",
        json!({ "id": id, "v": version(&updated, "updateArticle") }),
    )
    .await?;
    assert!(found("钕铁硼").await?.is_empty(), "unpublished but found");

    // Scheduled: not found before its time, found once the clock passes it, with no one acting.
    let at = test_now() + TimeDelta::minutes(20);
    let scheduled = edit(
        "mutation($id: ID!, $v: Int!, $at: DateTime!) { scheduleArticle(id: $id, version: $v, at: $at) { version } }",
        json!({ "id": id, "v": version(&unpublished, "unpublishArticle"), "at": at }),
    )
    .await?;
    assert!(found("钕铁硼").await?.is_empty(), "found before its time");
    app.clock.advance(TimeDelta::minutes(30));
    assert_eq!(found("钕铁硼").await?, only);

    let archived = edit(
        "mutation($id: ID!, $v: Int!) { archiveArticle(id: $id, version: $v) { version } }",
        json!({ "id": id, "v": version(&scheduled, "scheduleArticle") }),
    )
    .await?;
    assert!(found("钕铁硼").await?.is_empty(), "archived but found");
    edit(
        "mutation($id: ID!, $v: Int!) { publishArticle(id: $id, version: $v) { version } }",
        json!({ "id": id, "v": version(&archived, "archiveArticle") }),
    )
    .await?;
    assert_eq!(found("钕铁硼").await?, only);

    // A takedown. There is no takedown operation yet: the status is set on the row, as a
    // takedown tool would, and the next query no longer finds the article.
    let row = article::Entity::find()
        .filter(article::Column::Slug.eq(&slug))
        .one(&app.db)
        .await?
        .context("row")?;
    let mut taken: article::ActiveModel = row.clone().into();
    taken.status = Set(ArticleStatus::TakenDown);
    taken.update(&app.db).await?;
    assert!(found("钕铁硼").await?.is_empty(), "taken down but found");
    // Through the domain's save path (what a takedown operation will use), its rows go too.
    let segmenter = segmenter()?;
    let taken_down = article::Entity::find_by_id(row.id)
        .one(&app.db)
        .await?
        .context("row")?;
    newsroom_domain::search::index_articles(&app.db, &segmenter, &[taken_down]).await?;
    assert_eq!(index_rows(&app, row.id).await?, 0);

    // Deleting removes the index rows with the article.
    let mut back: article::ActiveModel = row.clone().into();
    back.status = Set(ArticleStatus::Published);
    back.update(&app.db).await?;
    let back = article::Entity::find_by_id(row.id)
        .one(&app.db)
        .await?
        .context("row")?;
    newsroom_domain::search::index_articles(&app.db, &segmenter, std::slice::from_ref(&back))
        .await?;
    assert_eq!(index_rows(&app, row.id).await?, 1);
    edit(
        "mutation($id: ID!, $v: Int!) { deleteArticle(id: $id, version: $v) }",
        json!({ "id": id, "v": back.version }),
    )
    .await?;
    assert_eq!(index_rows(&app, row.id).await?, 0);
    assert!(found("钕铁硼").await?.is_empty());
    Ok(())
}

/// How many index rows article `id` has (on SQLite, in the matching table).
async fn index_rows(app: &TestApp, id: i64) -> anyhow::Result<i64> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => {
            format!("SELECT COUNT(*) AS n FROM article_search WHERE rowid = {id}")
        }
        _ => format!("SELECT COUNT(*) AS n FROM article_search WHERE article_id = {id}"),
    };
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .context("count")?;
    Ok(row.try_get::<i64>("", "n")?)
}

async fn pages_cover_every_hit_once_in_rank_order(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let mut seen = Vec::new();
    let mut scores = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let data = app
            .data(SEARCH, json!({ "q": "氢能", "first": 7, "after": after }))
            .await?;
        total = total.or(data["search"]["totalCount"].as_u64());
        for e in edges(&data)? {
            seen.push(
                e["node"]["article"]["slug"]
                    .as_str()
                    .context("slug")?
                    .to_owned(),
            );
            scores.push(e["node"]["score"].as_f64().context("score")?);
        }
        let info = &data["search"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], after.is_some());
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].as_str().map(String::from);
    }
    let total = total.context("totalCount")?;
    assert!(total > 20, "{total}");
    assert_eq!(seen.len() as u64, total);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        seen.len(),
        "a hit twice"
    );
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // A list runs from title matches down to articles that hold the word only in their body
    // (score 0), which PostgreSQL reads from two places: the postings, then the rest. Paging must
    // hand over without losing or repeating a hit, at whatever page size.
    let paged = |first: u64| {
        let app = &app;
        async move {
            let (mut slugs, mut scores) = (Vec::new(), Vec::new());
            let mut after: Option<String> = None;
            loop {
                let data = app
                    .data(
                        SEARCH,
                        json!({ "q": "新能源", "first": first, "after": after }),
                    )
                    .await?;
                for e in edges(&data)? {
                    slugs.push(
                        e["node"]["article"]["slug"]
                            .as_str()
                            .context("slug")?
                            .to_owned(),
                    );
                    scores.push(e["node"]["score"].as_f64().context("score")?);
                }
                if data["search"]["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = data["search"]["pageInfo"]["endCursor"]
                    .as_str()
                    .map(String::from);
            }
            anyhow::Ok((slugs, scores))
        }
    };
    let (whole, scores) = paged(100).await?;
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let zero = scores.iter().filter(|s| **s == 0.0).count();
    assert!(zero > 5 && zero + 5 < scores.len(), "{zero} of {scores:?}");
    for first in [3, 7, 30] {
        assert_eq!(paged(first).await?.0, whole, "pages of {first}");
    }

    // The filters `articles` takes narrow it.
    let data = app
        .data(
            SEARCH,
            json!({ "q": "氢能", "first": 100, "filter": { "channel": "hydrogen" } }),
        )
        .await?;
    let in_channel = edges(&data)?;
    assert!(!in_channel.is_empty() && (in_channel.len() as u64) < total);
    assert!(
        in_channel
            .iter()
            .all(|e| e["node"]["article"]["channel"]["slug"] == "hydrogen")
    );
    assert_eq!(data["search"]["totalCount"], in_channel.len());
    let empty = app.data(SEARCH, json!({ "q": "氢能", "first": 0 })).await?;
    assert_eq!(edges(&empty)?.len(), 0);
    assert_eq!(empty["search"]["pageInfo"]["hasNextPage"], true);
    Ok(())
}

async fn bad_input_is_named_and_operators_are_text(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let field_of = |body: &Value| {
        (
            body["errors"][0]["extensions"]["code"].clone(),
            body["errors"][0]["extensions"]["field"].clone(),
        )
    };
    let bad = |field: &str| (json!("BAD_USER_INPUT"), json!(field));
    for q in ["", "   ", "\u{3000}\t\n", &"数".repeat(101)] {
        let body = app.graphql(SEARCH, json!({ "q": q })).await?;
        assert_eq!(field_of(&body), bad("query"), "{q:?}: {body}");
    }
    let long = app
        .graphql(SEARCH, json!({ "q": "数".repeat(101) }))
        .await?;
    assert!(
        long["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("100"))
    );
    // Every operator character of FTS5 and tsquery is text: never an error, never syntax.
    for q in [
        "\"",
        "\"数字经济",
        "*",
        "数字*",
        "(",
        ")",
        "OR",
        "AND",
        "NOT",
        "NEAR",
        "NEAR(数字 经济)",
        "'",
        "'; DROP TABLE articles; --",
        "-",
        "-数字",
        ":",
        "title:数字",
        "^",
        "&",
        "|",
        "!",
        "<->",
        "\\",
        "{title}: 数字",
        "数字 OR 经济",
        "%",
        "_",
        "'数字' & '经济'",
        "+",
    ] {
        let body = app.graphql(SEARCH, json!({ "q": q })).await?;
        ensure!(body.get("errors").is_none(), "{q:?}: {body}");
    }
    let only_marks = app.data(SEARCH, json!({ "q": "“”！？（）" })).await?;
    assert_eq!(edges(&only_marks)?.len(), 0);
    assert_eq!(only_marks["search"]["totalCount"], 0);

    // Cursors: garbage, another list's, another query's.
    let page = app.data(SEARCH, json!({ "q": "氢能", "first": 1 })).await?;
    let cursor = page["search"]["pageInfo"]["endCursor"].clone();
    let articles = app
        .data(
            "{ articles(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await?;
    for after in [
        json!("garbage"),
        articles["articles"]["pageInfo"]["endCursor"].clone(),
    ] {
        let body = app
            .graphql(SEARCH, json!({ "q": "氢能", "after": after }))
            .await?;
        assert_eq!(field_of(&body), bad("after"), "{body}");
    }
    let body = app
        .graphql(SEARCH, json!({ "q": "招商引资", "after": cursor }))
        .await?;
    assert_eq!(field_of(&body), bad("after"), "{body}");
    for first in [-1, 101] {
        let body = app
            .graphql(SEARCH, json!({ "q": "氢能", "first": first }))
            .await?;
        assert_eq!(field_of(&body), bad("first"), "{body}");
    }
    let body = app
        .graphql(
            SEARCH,
            json!({ "q": "氢能", "filter": { "channel": "nope" } }),
        )
        .await?;
    assert_eq!(field_of(&body), bad("filter.channel"), "{body}");
    // A bad filter is an error even when the query has no words to search for.
    let body = app
        .graphql(
            SEARCH,
            json!({ "q": "“”", "filter": { "channel": "nope" } }),
        )
        .await?;
    assert_eq!(field_of(&body), bad("filter.channel"), "{body}");
    let body = app
        .graphql(
            SEARCH,
            json!({ "q": "氢能", "filter": { "status": ["DRAFT"] } }),
        )
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let marker = "<".repeat(65);
    let body = app
        .graphql(
            "query($m: String!) { search(query: \"氢能\") { edges { node { snippet(highlightStart: $m) } } } }",
            json!({ "m": marker }),
        )
        .await?;
    assert_eq!(field_of(&body), bad("highlightStart"), "{body}");
    Ok(())
}

async fn the_rest_endpoint_serves_the_same_hits(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let get = |query: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(format!("{}/api/v1/search", app.address))
                .query(&query)
                .send()
                .await?;
            let status = response.status().as_u16();
            Ok::<(u16, Value), anyhow::Error>((status, response.json().await?))
        }
    };
    let (status, body) = get(vec![("q", "双过半".into()), ("first", "5".into())]).await?;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().context("items")?;
    assert_eq!(items[0]["article"]["slug"], SEED_ARTICLE_SLUG);
    assert!(
        items[0]["snippet"]
            .as_str()
            .is_some_and(|s| s.contains("<mark>双过半</mark>"))
    );
    let graphql: Vec<String> = hits(&app, "双过半").await?.into_iter().take(5).collect();
    let rest: Vec<String> = items
        .iter()
        .filter_map(|i| i["article"]["slug"].as_str().map(String::from))
        .collect();
    assert_eq!(rest, graphql);
    let next = body["nextCursor"]
        .as_str()
        .context("nextCursor")?
        .to_owned();
    let (status, page2) = get(vec![("q", "双过半".into()), ("after", next)]).await?;
    assert_eq!(status, 200);
    let second = page2["items"][0]["article"]["slug"]
        .as_str()
        .context("slug")?;
    assert!(!rest.iter().any(|s| s == second));

    let (_, marked) = get(vec![
        ("q", "双过半".into()),
        ("highlightStart", "<b>".into()),
        ("highlightEnd", "</b>".into()),
        ("channel", "park-news".into()),
        ("kind", "reprint".into()),
    ])
    .await?;
    assert!(
        marked["items"][0]["snippet"]
            .as_str()
            .is_some_and(|s| s.contains("<b>双过半</b>"))
    );

    for (query, field) in [
        (vec![], "q"),
        (vec![("q", "  ".to_owned())], "q"),
        (vec![("q", "数".repeat(101))], "q"),
        (vec![("q", "氢能".into()), ("first", "x".into())], "first"),
        (vec![("q", "氢能".into()), ("first", "500".into())], "first"),
        (
            vec![("q", "氢能".into()), ("after", "nope".into())],
            "after",
        ),
        (
            vec![("q", "氢能".into()), ("channel", "nope".into())],
            "channel",
        ),
        (vec![("q", "氢能".into()), ("kind", "op-ed".into())], "kind"),
        (
            vec![("q", "氢能".into()), ("featured", "yes".into())],
            "featured",
        ),
        (
            vec![("q", "氢能".into()), ("publishedAfter", "yesterday".into())],
            "publishedAfter",
        ),
        (
            vec![("q", "氢能".into()), ("highlightEnd", ">".repeat(65))],
            "highlightEnd",
        ),
    ] {
        let (status, body) = get(query).await?;
        assert_eq!(status, 400, "{field}: {body}");
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (status, body) = get(vec![("q", "\"*NEAR(' OR -x:y".into())]).await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

async fn renaming_a_tag_or_source_is_searchable_at_once(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let token = app.signed_in("catalog-editor", Role::Editor).await?;
    let tag = app
        .data("{ tag(slug: \"desert-control\") { id } }", json!({}))
        .await?;
    let tagged = hits(&app, "防沙治沙").await?;
    assert!(!tagged.is_empty());
    let body = app
        .graphql_as(
            Some(&token),
            "mutation($id: ID!) { updateTag(id: $id, slug: \"desert-control\", name: \"荒漠化防治\") { name } }",
            json!({ "id": tag["tag"]["id"] }),
        )
        .await?;
    ensure!(body.get("errors").is_none(), "{body}");
    let renamed = hits(&app, "荒漠化防治").await?;
    // Every article found by the old name only through its tag is found by the new name.
    assert!(!renamed.is_empty(), "nothing found by the new name");
    assert!(
        renamed.iter().all(|slug| tagged.contains(slug)),
        "{renamed:?}"
    );
    let source = app
        .data("{ source(slug: \"lvse-nongye\") { id } }", json!({}))
        .await?;
    let body = app
        .graphql_as(
            Some(&token),
            "mutation($id: ID!) { updateSource(id: $id, input: { slug: \"lvse-nongye\", name: \"沙地农业周刊\", license: CC_BY_SA, syndicationAllowed: true }) { name } }",
            json!({ "id": source["source"]["id"] }),
        )
        .await?;
    ensure!(body.get("errors").is_none(), "{body}");
    assert!(!hits(&app, "沙地农业周刊").await?.is_empty());
    let body = app
        .graphql_as(
            Some(&token),
            "mutation($id: ID!) { deleteTag(id: $id) }",
            json!({ "id": tag["tag"]["id"] }),
        )
        .await?;
    ensure!(body.get("errors").is_none(), "{body}");
    assert!(hits(&app, "荒漠化防治").await?.is_empty());
    Ok(())
}

/// Migrates a database back to before the postings, writes ranking vectors as the old index did,
/// and migrates up again: each word the article holds gets the score `ts_rank` gave it.
async fn the_postings_migration_converts_ranking_vectors() -> anyhow::Result<()> {
    let (test_db, db) = TestDb::create(Backend::Postgres).await?;
    // Back to just before 000013, however many migrations have come since.
    let since = migration::Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name().contains("_000013_"))
        .context("the postings migration is missing")?
        + 1;
    migration::Migrator::down(&db, Some(since as u32)).await?;
    let run = |sql: &'static str| db.execute_unprepared(sql);
    run("INSERT INTO channels (id, slug, name, created_at) VALUES (1, 'c', 'c', now())").await?;
    run("INSERT INTO articles (id, slug, title, body, channel_id, kind, status, published_at, \
           created_at, updated_at) \
         VALUES (7, 'a', 't', 'b', 1, 'original', 'published', '2020-07-03T00:00:00Z', now(), now())")
        .await?;
    // `未切出` is in the ranking vector but not the document: no posting. A quote and a
    // backslash in a word are text.
    run(concat!(
        "INSERT INTO article_search (article_id, headline, document) VALUES (7, ",
        r"$$'双过半':1A,5B '南昌开发区':6C '未切出':2A 'it''s\\':3D$$, ",
        r"$$'双过半' '南昌开发区' 'it''s\\' '其他'$$)"
    ))
    .await?;
    migration::Migrator::up(&db, None).await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT word, score, published_at FROM search_postings WHERE article_id = 7",
        ))
        .await?;
    let mut postings: Vec<(String, f64, DateTime<Utc>)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("", "word")?,
                r.try_get("", "score")?,
                r.try_get("", "published_at")?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    postings.sort_by(|a, b| a.0.cmp(&b.0));
    let at: DateTime<Utc> = "2020-07-03T00:00:00Z".parse()?;
    assert_eq!(
        postings,
        [
            ("it's\\".to_owned(), f64::from(0.060_792_71_f32), at),
            ("南昌开发区".to_owned(), f64::from(0.121_585_42_f32), at),
            ("双过半".to_owned(), f64::from(0.668_719_77_f32), at),
        ]
    );
    db.close().await?;
    drop(test_db);
    Ok(())
}

/// PostgreSQL, several words: the first page comes from the heads of the words' postings (the
/// threshold algorithm, see `postings_top`), which must be exactly the page that scoring every
/// match gives. Hundreds of articles share a city at the same top score, so the heads are cut
/// inside runs of equal scores, where only the order of publication tells articles apart. The
/// corpus is large enough that several words have more postings than a head holds, so that each
/// word's postings are read only from the least score a hit can have for it (`Bound::floors`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_several_words_first_page_is_the_fully_scored_page() -> anyhow::Result<()> {
    if !newsroom_tests::postgres_configured() {
        eprintln!("TEST_POSTGRES_URL is not set: PostgreSQL test not run");
        return Ok(());
    }
    let (_test_db, db) = TestDb::create(Backend::Postgres).await?;
    let (_, now) = newsroom_tests::corpus::seed_articles(&db, 10_000).await?;
    newsroom_tests::corpus::index(&db).await?;
    // The 2,048th and 2,049th postings of 南昌 score alike: the first head ends inside a run of
    // ties.
    let cut = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT score FROM search_postings WHERE word = '南昌' \
             ORDER BY score DESC, published_at DESC, article_id DESC OFFSET 2047 LIMIT 2",
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<f64>("", "score"))
        .collect::<Result<Vec<_>, _>>()?;
    ensure!(cut.len() == 2 && cut[0] == cut[1], "{cut:?}");
    let segmenter = segmenter()?;
    // The first two hold every word in most articles (the threshold algorithm's case), the
    // next two in a few dozen (every match scored). The last two are words that thousands of
    // articles hold in their titles, so that each head ends at a high score and only the top of
    // each word's postings is read.
    for q in [
        "南昌 数字经济",
        "南昌 产业 项目",
        "南昌 新能源汽车",
        "赣州 南昌",
        "产业 发展",
        "人才 产值 企业",
    ] {
        let query = SearchQuery::parse(&segmenter, q)?;
        let words = query.words().to_vec();
        for first in [1, 20, 60, 100] {
            let page = search::search(
                &db,
                now,
                Audience::Reader,
                &query,
                &Default::default(),
                &PageRequest::first(first),
            )
            .await?;
            let got: Vec<(i64, f64)> = page.items.iter().map(|h| (h.article.id, h.score)).collect();
            // Every match scored: the mean of its words' postings, best first, then newest.
            let placeholders = (1..=words.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let tsquery = words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" & ");
            let n = words.len();
            let sql = format!(
                "SELECT a.id, COALESCE((SELECT SUM(p.score) FROM search_postings p \
                   WHERE p.article_id = a.id AND p.word IN ({placeholders})), 0) / {n} AS score \
                 FROM article_search s JOIN articles a ON a.id = s.article_id \
                 WHERE s.document @@ CAST(${} AS tsquery) \
                   AND a.status IN ('published', 'scheduled') AND a.published_at <= ${} \
                 ORDER BY score DESC, a.published_at DESC, a.id DESC LIMIT {first}",
                n + 1,
                n + 2
            );
            let mut values: Vec<sea_orm::Value> = words.iter().map(|w| w.as_str().into()).collect();
            values.push(tsquery.into());
            values.push(now.into());
            let expected = db
                .query_all_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    sql,
                    values,
                ))
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<i64>("", "id")?, r.try_get::<f64>("", "score")?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            ensure!(!expected.is_empty(), "{q}: no match");
            if let Some(at) =
                (0..got.len().max(expected.len())).find(|&i| got.get(i) != expected.get(i))
            {
                anyhow::bail!(
                    "{q}, first {first}: from place {at} got {:?}, expected {:?} ({} and {} hits)",
                    &got[at.min(got.len())..got.len().min(at + 4)],
                    &expected[at.min(expected.len())..expected.len().min(at + 4)],
                    got.len(),
                    expected.len()
                );
            }
        }
    }
    Ok(())
}
