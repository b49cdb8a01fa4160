//! The read API end to end: the real server on a free port, over HTTP, on both backends.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::{
    demo::SEED_ARTICLE_SLUG,
    entities::{
        ArticleKind, ArticleStatus, BodyFormat, article, article_tag, channel, source, tag,
    },
};
use newsroom_tests::{Backend, TestApp, on_both_backends, test_now};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const SEED_TITLE: &str = "奋力“双过半”, 勇夺“全年胜”! 南昌开发区召开2020年全区干部大会";
const SEED_LEAD: &str = "6月27日下午,全区干部大会顺利召开,区党工委书记赵海东出席会议并讲话,区党工委副书记程建兵主持会议。";
const SEED_DISCLAIMER_START: &str = "本网转载自其它媒体的文章";

on_both_backends!(
    seed_article_has_every_field_the_page_shows,
    site_channels_and_footer_match_the_page,
    paging_covers_every_article_forwards_and_backwards,
    each_filter_returns_exactly_the_matching_articles,
    recommended_boxes_hold_flagged_articles_newest_first,
    invisible_articles_stay_invisible_until_their_time,
    related_articles_follow_edits_of_time_status_and_tags,
    bad_arguments_are_named_and_change_nothing,
    a_page_costs_the_same_statements_whatever_its_size,
    an_article_comes_with_its_channel_and_source,
    nodes_resolve_by_global_id,
    fields_come_back_in_the_order_the_query_asked,
    variables_are_checked_every_time_a_query_is_sent,
);

const ARTICLE_FIELDS: &str =
    "id slug title lead publishedAt viewCount kind featured recommended coverImage originalUrl
    body bodyText: body(format: TEXT)
    channel { slug name parent { slug } } source { slug name license syndicationAllowed }
    tags { slug name }
    disclaimer { kind text sourceName originalUrl license takedownContact }";

async fn seed_article_has_every_field_the_page_shows(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let query = format!(
        "query($slug: String!) {{ article(slug: $slug) {{ {ARTICLE_FIELDS} related(first: 10) {{ slug publishedAt channel {{ slug }} tags {{ slug }} }} }} }}"
    );
    let data = app
        .data(&query, json!({ "slug": SEED_ARTICLE_SLUG }))
        .await?;
    let a = &data["article"];
    assert_eq!(a["title"], SEED_TITLE);
    assert_eq!(a["lead"], SEED_LEAD);
    assert_eq!(a["viewCount"], 40);
    assert_eq!(a["kind"], "REPRINT");
    let published: DateTime<Utc> = a["publishedAt"].as_str().context("publishedAt")?.parse()?;
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).context("offset")?;
    assert_eq!(
        published.with_timezone(&beijing).date_naive().to_string(),
        "2020-07-03"
    );
    assert_eq!(a["source"]["name"], "南昌开发区");
    assert_eq!(a["channel"]["parent"]["slug"], "parks");

    let html = a["body"].as_str().context("body")?;
    assert!(
        html.contains("<h2>赵海东指出</h2>"),
        "sections are headings: {html}"
    );
    for heading in ["赵海东强调", "机制保障", "作风保障"] {
        assert!(
            html.contains(&format!("<h2>{heading}</h2>")),
            "{heading} missing"
        );
    }
    assert!(html.contains("数字经济创新发展试验基地"));
    let text = a["bodyText"].as_str().context("bodyText")?;
    assert!(
        !text.contains('<') && text.contains("赵海东指出\n\n"),
        "{text}"
    );

    let disclaimer = &a["disclaimer"];
    assert!(
        disclaimer["text"]
            .as_str()
            .context("text")?
            .starts_with(SEED_DISCLAIMER_START)
    );
    assert_eq!(disclaimer["kind"], "REPRINT");
    assert_eq!(disclaimer["sourceName"], "南昌开发区");
    assert_eq!(disclaimer["originalUrl"], a["originalUrl"]);
    assert!(
        a["originalUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
    );
    assert!(disclaimer["takedownContact"].is_string());

    let tags: Vec<&str> = a["tags"]
        .as_array()
        .context("tags")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        tags,
        ["双过半", "招商引资", "数字经济", "产业园区", "营商环境"]
    );

    // 同类资讯: never itself, each in the same channel or sharing a tag, newest first.
    let related = a["related"].as_array().context("related")?;
    assert_eq!(related.len(), 10);
    let own_tags: HashSet<&str> = a["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["slug"].as_str())
        .collect();
    let mut previous: Option<DateTime<Utc>> = None;
    for r in related {
        assert_ne!(r["slug"], SEED_ARTICLE_SLUG);
        let shares_tag = r["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| own_tags.contains(t["slug"].as_str().unwrap_or("")));
        assert!(
            r["channel"]["slug"] == a["channel"]["slug"] || shares_tag,
            "unrelated: {r}"
        );
        let at: DateTime<Utc> = r["publishedAt"].as_str().context("publishedAt")?.parse()?;
        assert!(previous.is_none_or(|p| p >= at), "related not newest first");
        previous = Some(at);
    }

    // An unknown slug is null, and no error.
    let body = app
        .graphql("{ article(slug: \"no-such-article\") { id } }", json!({}))
        .await?;
    assert_eq!(body, json!({ "data": { "article": null } }));
    Ok(())
}

async fn site_channels_and_footer_match_the_page(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let data = app
        .data(
            "{ site { name slogan icpFiling publicSecurityFiling footerPages { slug title body } }
               channels { slug name position children { slug name parent { slug } } }
               page(slug: \"about\") { title body(format: TEXT) }
               missing: page(slug: \"nope\") { title } }",
            json!({}),
        )
        .await?;
    let site = &data["site"];
    assert_eq!(site["icpFiling"], "粤ICP备05102027号");
    assert_eq!(site["publicSecurityFiling"], "粤公网安备 44040202001358号");
    assert!(
        site["slogan"]
            .as_str()
            .is_some_and(|s| s.starts_with("科技是第一生产力"))
    );
    let footer: Vec<&str> = site["footerPages"]
        .as_array()
        .context("footer")?
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(
        footer,
        ["关于我们", "联系方式", "使用说明", "隐私政策", "免责声明"]
    );

    let channels = data["channels"].as_array().context("channels")?;
    let names: Vec<&str> = channels.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "氢能科技",
            "沙蓬绿色种养产业模式",
            "联源科技",
            "超联科技",
            "园区"
        ]
    );
    let parks = &channels[4];
    let children = parks["children"].as_array().context("children")?;
    assert!(!children.is_empty());
    assert!(
        children
            .iter()
            .all(|c| c["parent"]["slug"] == parks["slug"])
    );
    assert!(data["page"]["title"] == "关于我们" && data["page"]["body"].is_string());

    // Every 点击排行 tab has something to show, each window within the wider one's totals.
    let ranking = app
        .data(
            "{ day: clickRanking(window: DAY) { views article { viewCount } }
               week: clickRanking(window: WEEK) { views } month: clickRanking(window: MONTH) { views }
               all: clickRanking(window: ALL) { views } }",
            json!({}),
        )
        .await?;
    for window in ["day", "week", "month", "all"] {
        assert_eq!(
            ranking[window].as_array().map(Vec::len),
            Some(10),
            "{window}: {ranking}"
        );
    }
    let top = |w: &str| ranking[w][0]["views"].as_i64().unwrap_or(0);
    assert!(top("day") <= top("week") && top("week") <= top("month") && top("month") <= top("all"));
    assert!(
        ranking["day"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["views"].as_i64() <= r["article"]["viewCount"].as_i64())
    );
    assert!(data["missing"].is_null());
    Ok(())
}

/// Every visible article per the rows themselves, newest first: the oracle the API is held to.
async fn visible_slugs_newest_first(app: &TestApp) -> anyhow::Result<Vec<String>> {
    let now = app.clock_now();
    let mut rows: Vec<article::Model> = article::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .filter(|a| {
            matches!(
                a.status,
                ArticleStatus::Published | ArticleStatus::Scheduled
            ) && a.published_at.is_some_and(|p| p <= now)
        })
        .collect();
    rows.sort_by_key(|a| std::cmp::Reverse((a.published_at, a.id)));
    Ok(rows.into_iter().map(|a| a.slug).collect())
}

trait ClockNow {
    fn clock_now(&self) -> DateTime<Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> DateTime<Utc> {
        newsroom_domain::clock::Clock::now(&self.clock)
    }
}

async fn page_through(
    app: &TestApp,
    forward: bool,
    size: i32,
) -> anyhow::Result<(Vec<String>, u64)> {
    let query = "query($first: Int, $after: String, $last: Int, $before: String) {
        articles(first: $first, after: $after, last: $last, before: $before) {
          totalCount edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = 0;
    for round in 0.. {
        ensure!(round < 1000, "paging never ended");
        let vars = if forward {
            json!({ "first": size, "after": cursor })
        } else {
            json!({ "last": size, "before": cursor })
        };
        let conn = app.data(query, vars).await?["articles"].clone();
        total = conn["totalCount"].as_u64().context("totalCount")?;
        let mut slugs: Vec<String> = conn["edges"]
            .as_array()
            .context("edges")?
            .iter()
            .filter_map(|e| e["node"]["slug"].as_str().map(String::from))
            .collect();
        ensure!(slugs.len() <= size as usize, "page larger than asked");
        let info = &conn["pageInfo"];
        // Cursors are consistent with edges.
        let edges = conn["edges"].as_array().context("edges")?;
        if let (Some(first), Some(last)) = (edges.first(), edges.last()) {
            ensure!(info["startCursor"] == first["cursor"] && info["endCursor"] == last["cursor"]);
        }
        let (more, back) = if forward {
            (
                info["hasNextPage"].as_bool(),
                info["hasPreviousPage"].as_bool(),
            )
        } else {
            (
                info["hasPreviousPage"].as_bool(),
                info["hasNextPage"].as_bool(),
            )
        };
        ensure!(
            back == Some(round > 0),
            "the page knows whether rows lie behind it (round {round})"
        );
        if forward {
            seen.append(&mut slugs);
            cursor = info["endCursor"].as_str().map(String::from);
        } else {
            slugs.append(&mut seen);
            seen = slugs;
            cursor = info["startCursor"].as_str().map(String::from);
        }
        if more != Some(true) {
            break;
        }
    }
    Ok((seen, total))
}

async fn paging_covers_every_article_forwards_and_backwards(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let expected = visible_slugs_newest_first(&app).await?;
    assert!(
        expected.len() > 250,
        "the demo has about 300 visible articles"
    );
    let (forward, total) = page_through(&app, true, 37).await?;
    assert_eq!(total as usize, expected.len());
    assert_eq!(
        forward, expected,
        "forward paging: no gap, no duplicate, newest first"
    );
    let (backward, _) = page_through(&app, false, 23).await?;
    assert_eq!(backward, expected, "backward paging gives the same list");

    // Oldest first is the exact reverse.
    let oldest = app
        .data(
            "{ articles(first: 5, orderBy: OLDEST) { edges { node { slug } } } }",
            json!({}),
        )
        .await?;
    let oldest: Vec<&str> = oldest["articles"]["edges"]
        .as_array()
        .context("edges")?
        .iter()
        .filter_map(|e| e["node"]["slug"].as_str())
        .collect();
    let tail: Vec<&str> = expected.iter().rev().take(5).map(String::as_str).collect();
    assert_eq!(oldest, tail);
    Ok(())
}

/// Fetches every article the API lists for `filter` (paging through) and returns their slugs.
async fn list_all(app: &TestApp, filter: Value) -> anyhow::Result<(Vec<String>, u64)> {
    let query = "query($f: ArticleFilterInput, $after: String) {
        articles(first: 100, after: $after, filter: $f) { totalCount edges { node { slug } } pageInfo { hasNextPage endCursor } } }";
    let mut slugs = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let conn = app
            .data(query, json!({ "f": filter, "after": after }))
            .await?["articles"]
            .clone();
        slugs.extend(
            conn["edges"]
                .as_array()
                .context("edges")?
                .iter()
                .filter_map(|e| e["node"]["slug"].as_str().map(String::from)),
        );
        if conn["pageInfo"]["hasNextPage"] != true {
            return Ok((slugs, conn["totalCount"].as_u64().context("totalCount")?));
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(String::from);
    }
}

async fn each_filter_returns_exactly_the_matching_articles(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let now = app.clock_now();
    let articles: Vec<article::Model> = article::Entity::find().all(&app.db).await?;
    let channels: HashMap<i64, channel::Model> = channel::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let sources: HashMap<i64, source::Model> = source::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let tags: HashMap<i64, tag::Model> = tag::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let links = article_tag::Entity::find().all(&app.db).await?;
    let visible = |a: &&article::Model| {
        matches!(
            a.status,
            ArticleStatus::Published | ArticleStatus::Scheduled
        ) && a.published_at.is_some_and(|p| p <= now)
    };
    let expect = |pred: &dyn Fn(&article::Model) -> bool| -> Vec<String> {
        let mut rows: Vec<&article::Model> = articles
            .iter()
            .filter(visible)
            .filter(|a| pred(a))
            .collect();
        rows.sort_by_key(|a| std::cmp::Reverse((a.published_at, a.id)));
        rows.into_iter().map(|a| a.slug.clone()).collect()
    };

    let parks = channels
        .values()
        .find(|c| c.slug == "parks")
        .context("parks")?;
    let in_parks = |a: &article::Model| {
        let mut id = Some(a.channel_id);
        while let Some(c) = id {
            if c == parks.id {
                return true;
            }
            id = channels.get(&c).and_then(|c| c.parent_id);
        }
        false
    };
    let tag = tags
        .values()
        .find(|t| t.name == "数字经济")
        .context("tag")?;
    let tagged: HashSet<i64> = links
        .iter()
        .filter(|l| l.tag_id == tag.id)
        .map(|l| l.article_id)
        .collect();
    let source = sources
        .values()
        .find(|s| s.name == "南昌开发区")
        .context("source")?;
    let from: DateTime<Utc> = "2020-01-01T00:00:00Z".parse()?;
    let to: DateTime<Utc> = "2020-07-01T00:00:00Z".parse()?;

    let cases: Vec<(Value, Vec<String>)> = vec![
        (json!({ "channel": "parks" }), expect(&in_parks)),
        (
            json!({ "tag": tag.slug }),
            expect(&|a| tagged.contains(&a.id)),
        ),
        (
            json!({ "source": source.slug }),
            expect(&|a| a.source_id == Some(source.id)),
        ),
        (
            json!({ "kind": "ORIGINAL" }),
            expect(&|a| a.kind == ArticleKind::Original),
        ),
        (
            json!({ "kind": "SPONSORED" }),
            expect(&|a| a.kind == ArticleKind::Sponsored),
        ),
        (
            json!({ "publishedAfter": from, "publishedBefore": to }),
            expect(&|a| a.published_at.is_some_and(|p| p >= from && p < to)),
        ),
        (json!({ "featured": true }), expect(&|a| a.featured)),
        (json!({ "recommended": true }), expect(&|a| a.recommended)),
        (
            json!({ "channel": "parks", "recommended": true, "kind": "REPRINT" }),
            expect(&|a| in_parks(a) && a.recommended && a.kind == ArticleKind::Reprint),
        ),
    ];
    for (filter, expected) in cases {
        assert!(!expected.is_empty(), "the demo content exercises {filter}");
        let (got, total) = list_all(&app, filter.clone()).await?;
        assert_eq!(got, expected, "filter {filter}");
        assert_eq!(total as usize, expected.len(), "totalCount for {filter}");
    }
    Ok(())
}

async fn recommended_boxes_hold_flagged_articles_newest_first(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let data = app
        .data(
            "{ img: recommended(kind: WITH_IMAGE, first: 6) { featured coverImage publishedAt }
               txt: recommended(kind: TEXT, first: 8) { recommended publishedAt }
               parks: recommended(kind: TEXT, channel: \"parks\", first: 50) { channel { slug parent { slug } } } }",
            json!({}),
        )
        .await?;
    let img = data["img"].as_array().context("img")?;
    assert_eq!(img.len(), 6);
    assert!(
        img.iter()
            .all(|a| a["featured"] == true && a["coverImage"].is_string())
    );
    let txt = data["txt"].as_array().context("txt")?;
    assert_eq!(txt.len(), 8);
    assert!(txt.iter().all(|a| a["recommended"] == true));
    for list in [img, txt] {
        let times: Vec<&str> = list
            .iter()
            .filter_map(|a| a["publishedAt"].as_str())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first");
    }
    let parks = data["parks"].as_array().context("parks")?;
    assert!(!parks.is_empty());
    assert!(
        parks
            .iter()
            .all(|a| a["channel"]["slug"] == "parks" || a["channel"]["parent"]["slug"] == "parks")
    );
    Ok(())
}

async fn insert_article(
    app: &TestApp,
    slug: &str,
    status: ArticleStatus,
    published_at: Option<DateTime<Utc>>,
) -> anyhow::Result<article::Model> {
    let seed = article::Entity::find()
        .filter(article::Column::Slug.eq(SEED_ARTICLE_SLUG))
        .one(&app.db)
        .await?
        .context("seed article")?;
    let now = test_now();
    let row = article::ActiveModel {
        slug: Set(slug.into()),
        title: Set(format!("测试文章 {slug}")),
        lead: Set(None),
        body: Set("正文".into()),
        body_format: Set(BodyFormat::Markdown),
        cover_image: Set(None),
        author: Set(None),
        channel_id: Set(seed.channel_id),
        source_id: Set(None),
        original_url: Set(None),
        kind: Set(ArticleKind::Original),
        status: Set(status),
        published_at: Set(published_at),
        featured: Set(false),
        recommended: Set(true),
        disclaimer: Set(None),
        view_count: Set(0),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let row = row.insert(&app.db).await?;
    // Share the seed article's tags, so that a leak into `related` would show.
    for link in article_tag::Entity::find()
        .filter(article_tag::Column::ArticleId.eq(seed.id))
        .all(&app.db)
        .await?
    {
        article_tag::ActiveModel {
            article_id: Set(row.id),
            tag_id: Set(link.tag_id),
            position: Set(link.position),
        }
        .insert(&app.db)
        .await?;
    }
    Ok(row)
}

async fn invisible_articles_stay_invisible_until_their_time(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let now = test_now();
    let in_an_hour = now + TimeDelta::hours(1);
    let hidden = [
        insert_article(
            &app,
            "a-draft",
            ArticleStatus::Draft,
            Some(now - TimeDelta::days(1)),
        )
        .await?,
        insert_article(
            &app,
            "an-archived-one",
            ArticleStatus::Archived,
            Some(now - TimeDelta::days(1)),
        )
        .await?,
        insert_article(
            &app,
            "a-taken-down-one",
            ArticleStatus::TakenDown,
            Some(now - TimeDelta::days(1)),
        )
        .await?,
        insert_article(
            &app,
            "future-dated",
            ArticleStatus::Published,
            Some(in_an_hour),
        )
        .await?,
        insert_article(
            &app,
            "scheduled",
            ArticleStatus::Scheduled,
            Some(in_an_hour),
        )
        .await?,
    ];
    let probe = "query($slug: String!, $id: ID!) {
        article(slug: $slug) { slug } byId: article(id: $id) { slug } node(id: $id) { id }
        articles(first: 100) { totalCount edges { node { slug } } }
        recommended(kind: TEXT, first: 100) { slug }
        seed: article(slug: \"nanchang-kaifaqu-2020-ganbu-dahui\") { related(first: 100) { slug } } }";
    let visible_in = |data: &Value, slug: &str| -> bool {
        let in_list = |v: &Value| {
            v.as_array()
                .into_iter()
                .flatten()
                .any(|a| a["slug"] == slug || a["node"]["slug"] == slug)
        };
        !data["article"].is_null()
            || !data["byId"].is_null()
            || !data["node"].is_null()
            || in_list(&data["articles"]["edges"])
            || in_list(&data["recommended"])
            || in_list(&data["seed"]["related"])
    };
    for row in &hidden {
        let id = newsroom_gateway::graphql::ids::encode(
            newsroom_gateway::graphql::ids::Kind::Article,
            row.id,
        );
        let data = app
            .data(probe, json!({ "slug": row.slug, "id": id }))
            .await?;
        assert!(!visible_in(&data, &row.slug), "{} leaked: {data}", row.slug);
    }

    // At its time, the scheduled and the future-dated article appear without anyone acting.
    app.clock.advance(TimeDelta::hours(1));
    for slug in ["scheduled", "future-dated"] {
        let row = hidden.iter().find(|r| r.slug == slug).context("row")?;
        let id = newsroom_gateway::graphql::ids::encode(
            newsroom_gateway::graphql::ids::Kind::Article,
            row.id,
        );
        let data = app.data(probe, json!({ "slug": slug, "id": id })).await?;
        assert_eq!(data["article"]["slug"], slug);
        assert_eq!(
            data["articles"]["edges"][0]["node"]["slug"]
                .as_str()
                .map(|s| s == "scheduled" || s == "future-dated"),
            Some(true)
        );
    }
    Ok(())
}

/// 同类资讯 follows every edit that moves an article in or out of it, made behind the server's
/// back as a CLI would: on PostgreSQL each tag link carries a copy of its article's publish time
/// (migration 18), which triggers keep; a stale copy would leave the article out.
async fn related_articles_follow_edits_of_time_status_and_tags(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let now = test_now();
    // Twenty years old, in another channel than the seed's: related to it only by its tags.
    let row = insert_article(
        &app,
        "an-old-one",
        ArticleStatus::Published,
        Some(now - TimeDelta::days(7300)),
    )
    .await?;
    let elsewhere = channel::Entity::find()
        .filter(channel::Column::Id.ne(row.channel_id))
        .one(&app.db)
        .await?
        .context("a second channel")?;
    let mut edit: article::ActiveModel = row.clone().into();
    edit.channel_id = Set(elsewhere.id);
    let row = edit.update(&app.db).await?;

    let newest_related = || async {
        let data = app
            .data(
                "query($slug: String!) { article(slug: $slug) { related(first: 3) { slug } } }",
                json!({ "slug": SEED_ARTICLE_SLUG }),
            )
            .await?;
        let slugs: Vec<String> = data["article"]["related"]
            .as_array()
            .context("related")?
            .iter()
            .filter_map(|r| r["slug"].as_str().map(String::from))
            .collect();
        anyhow::Ok(slugs)
    };
    let set = |status: ArticleStatus, at: DateTime<Utc>| {
        let mut edit: article::ActiveModel = row.clone().into();
        edit.status = Set(status);
        edit.published_at = Set(Some(at));
        edit.update(&app.db)
    };
    let a_minute_ago = now - TimeDelta::minutes(1);

    let slugs = newest_related().await?;
    assert_eq!(slugs.len(), 3, "{slugs:?}");
    assert!(!slugs.contains(&row.slug), "too old to show: {slugs:?}");

    // Its publish time alone, as an editor re-dating it would write it.
    article::Entity::update_many()
        .col_expr(article::Column::PublishedAt, a_minute_ago.into())
        .filter(article::Column::Id.eq(row.id))
        .exec(&app.db)
        .await?;
    assert_eq!(newest_related().await?[0], row.slug, "re-dated as new");

    set(ArticleStatus::TakenDown, a_minute_ago).await?;
    assert!(!newest_related().await?.contains(&row.slug), "taken down");
    set(ArticleStatus::Published, a_minute_ago).await?;
    assert_eq!(newest_related().await?[0], row.slug, "back up");

    let links = article_tag::Entity::find()
        .filter(article_tag::Column::ArticleId.eq(row.id))
        .all(&app.db)
        .await?;
    assert!(!links.is_empty());
    article_tag::Entity::delete_many()
        .filter(article_tag::Column::ArticleId.eq(row.id))
        .exec(&app.db)
        .await?;
    assert!(!newest_related().await?.contains(&row.slug), "untagged");
    article_tag::ActiveModel {
        article_id: Set(row.id),
        tag_id: Set(links[0].tag_id),
        position: Set(links[0].position),
    }
    .insert(&app.db)
    .await?;
    assert_eq!(newest_related().await?[0], row.slug, "tagged again");
    if backend == Backend::Postgres {
        // The copy itself, written by hand, is put right from the article.
        // Through the logged path, so the test's server empties its response cache at once.
        app.db
            .execute_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "UPDATE article_tags SET published_at = NULL WHERE article_id = {}",
                    row.id
                ),
            ))
            .await?;
        assert_eq!(newest_related().await?[0], row.slug, "copy written by hand");
    }

    // Scheduled in an hour: kept out until then, and in at its time without anyone acting.
    set(ArticleStatus::Scheduled, now + TimeDelta::hours(1)).await?;
    assert!(!newest_related().await?.contains(&row.slug), "scheduled");
    app.clock.advance(TimeDelta::hours(1));
    assert_eq!(newest_related().await?[0], row.slug, "at its time");
    Ok(())
}

async fn bad_arguments_are_named_and_change_nothing(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let cases = [
        ("{ articles(first: 101) { totalCount } }", "first"),
        ("{ articles(first: -1) { totalCount } }", "first"),
        ("{ articles(last: 500) { totalCount } }", "last"),
        ("{ articles(first: 2, last: 2) { totalCount } }", "last"),
        (
            "{ articles(first: 2, after: \"not-a-cursor\") { totalCount } }",
            "after",
        ),
        (
            "{ articles(last: 2, before: \"dDp4Onk\") { totalCount } }",
            "before",
        ),
        (
            "{ articles(first: 2, before: \"x\") { totalCount } }",
            "before",
        ),
        (
            "{ articles(filter: { channel: \"no-such-channel\" }) { totalCount } }",
            "filter.channel",
        ),
        (
            "{ articles(filter: { tag: \"no-such-tag\" }) { totalCount } }",
            "filter.tag",
        ),
        (
            "{ articles(filter: { source: \"no-such-source\" }) { totalCount } }",
            "filter.source",
        ),
        (
            "{ articles(filter: { publishedAfter: \"2020-02-01T00:00:00Z\", publishedBefore: \"2020-01-01T00:00:00Z\" }) { totalCount } }",
            "filter.publishedBefore",
        ),
        ("{ article { id } }", "slug"),
        ("{ article(slug: \"x\", id: \"x\") { id } }", "id"),
        ("{ article(id: \"garbage\") { id } }", "id"),
        ("{ article(id: \"Q2hhbm5lbDox\") { id } }", "id"),
        ("{ node(id: \"'; DROP TABLE articles; --\") { id } }", "id"),
        ("{ recommended(kind: TEXT, first: 1000) { id } }", "first"),
        (
            "{ recommended(kind: TEXT, channel: \"nope\") { id } }",
            "channel",
        ),
        ("{ tags(first: 101) { edges { cursor } } }", "first"),
        (
            "{ sources(first: 1, after: \"dDoxOjI\") { edges { cursor } } }",
            "after",
        ),
        (
            "{ article(slug: \"nanchang-kaifaqu-2020-ganbu-dahui\") { related(first: -5) { id } } }",
            "first",
        ),
        // A cursor for a time no database can compare (year -253,000): refused, not a 500.
        (
            "{ articles(first: 2, after: \"dDotODAwMDAwMDAwMDAwMDAwMDAwMDox\") { totalCount } }",
            "after",
        ),
        (
            "{ articles(filter: { publishedAfter: \"+10000-01-01T00:00:00Z\" }) { totalCount } }",
            "filter.publishedAfter",
        ),
    ];
    for (query, field) in cases {
        let body = app.graphql(query, json!({})).await?;
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {body}"
        );
        assert_eq!(error["extensions"]["field"], field, "{query}: {body}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(field)),
            "{query}: {body}"
        );
    }
    // Errors async-graphql raises itself also carry a code, and no SQL ever shows.
    for query in [
        "{ articles(first: \"many\") { totalCount } }",
        "{ articles(first: 99999999999) { totalCount } }",
        "{ articles(filter: { publishedAfter: \"yesterday\" }) { totalCount } }",
        "{ nosuchfield }",
        "{ articles(",
    ] {
        let body = app.graphql(query, json!({})).await?;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {body}"
        );
        let text = body.to_string().to_lowercase();
        assert!(!text.contains("select") && !text.contains("sqlx"), "{body}");
    }
    // A value of the wrong type inside an input object sent as a variable (a number for a
    // time): async-graphql finds it only while the resolver reads its arguments, and says so in
    // its own words (found by `make fuzz`, which used to get INTERNAL here).
    let body = app
        .graphql(
            "query($f: ArticleFilterInput) { articles(filter: $f) { totalCount } \
             search(query: \"南昌\", filter: $f) { totalCount } }",
            json!({ "f": { "publishedAfter": 1_593_590_400 } }),
        )
        .await?;
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "{body}");
    for error in &errors {
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("DateTime")),
            "{body}"
        );
    }
    // Requests that are not GraphQL at all get a 4xx, never a 500.
    let url = format!("{}/graphql", app.address);
    let malformed = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await?;
    assert_eq!(malformed.status(), 400);
    let no_query = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    assert_eq!(no_query.status(), 400);
    let wrong_type = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{ site { name } }")
        .send()
        .await?;
    assert_eq!(wrong_type.status(), 415);
    let too_big = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await?;
    assert_eq!(too_big.status(), 413);
    // NUL reaches no database: refused up front, in the query text or in variables.
    let nul = app.client.post(&url).json(&json!({ "query": "query($s: String!) { article(slug: $s) { id } }", "variables": { "s": "a\u{0}b" } })).send().await?;
    assert_eq!(nul.status(), 400);
    let nul = app
        .client
        .post(&url)
        .json(&json!({ "query": "{ article(slug: \"a\\u0000b\") { id } }" }))
        .send()
        .await?;
    assert_eq!(nul.status(), 400);
    // GET runs queries, never mutations.
    let get = app
        .client
        .get(&url)
        .query(&[(
            "query",
            "mutation { login(username: \"a\", password: \"b\") { token } }",
        )])
        .send()
        .await?;
    assert_eq!(get.status(), 405);
    assert_eq!(
        get.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    let get = app
        .client
        .get(&url)
        .query(&[("query", "{ site { name } }")])
        .send()
        .await?;
    assert_eq!(get.status(), 200);
    // A query asking for too much work is refused before it runs.
    let bomb = app
        .graphql("{ articles(first: 100) { nodes { related(first: 100) { related(first: 100) { title } } } } }", json!({}))
        .await?;
    assert_eq!(
        bomb["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bomb}"
    );
    assert!(
        bomb["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("omplex")),
        "{bomb}"
    );
    // And nothing changed: the server still answers, the seed article is intact.
    let data = app
        .data(
            "{ article(slug: \"nanchang-kaifaqu-2020-ganbu-dahui\") { viewCount } }",
            json!({}),
        )
        .await?;
    assert_eq!(data["article"]["viewCount"], 40);
    Ok(())
}

/// `article` and `articles` read the channel and source a page shows in their own statement,
/// and what they answer for them is what the loaders answer for the same article (`node`
/// reads the article alone, and its fields load the rest); a page that asks for neither does
/// not join them.
async fn an_article_comes_with_its_channel_and_source(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let reprint = article::Entity::find()
        .filter(article::Column::SourceId.is_not_null())
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .one(&app.db)
        .await?
        .context("a published reprint")?;
    let own = article::Entity::find()
        .filter(article::Column::SourceId.is_null())
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .one(&app.db)
        .await?
        .context("a published article of our own")?;
    // The fields the page shows, one of them through a fragment, as clients write them.
    let fields = "title channel { slug name } ...Credit tags { slug }
        disclaimer { kind text sourceName takedownContact } related(first: 3) { slug }";
    let fragment = "fragment Credit on Article { source { slug name homepage license } }";
    let by_slug =
        format!("query($slug: String!) {{ article(slug: $slug) {{ id {fields} }} }} {fragment}");
    let by_id = format!("query($id: ID!) {{ article(id: $id) {{ {fields} }} }} {fragment}");
    let node = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on Article {{ {fields} }} }} }} {fragment}"
    );
    let listed = format!(
        "query($channel: String!) {{ articles(first: 100, filter: {{ channel: $channel }}) {{
            nodes {{ slug {fields} }} }} }} {fragment}"
    );

    for article in [&reprint, &own] {
        // Every statement the server runs is counted, the background tasks' and the response
        // cache's too, so the page's are told by the tables they read: the only one that
        // reads `sources` (or `channels`) is the article's own, joined.
        let (statements, page) = app
            .count_statements_on("sources", || {
                app.data(&by_slug, json!({ "slug": article.slug }))
            })
            .await?;
        let page = &page["article"];
        assert_eq!(statements, 1, "statements for {}: {page}", article.slug);
        assert_eq!(page["title"], article.title.as_str());
        assert!(page["channel"]["slug"].is_string(), "{page}");
        assert_eq!(
            page["source"].is_null(),
            article.source_id.is_none(),
            "{page}"
        );

        let loaded = app.data(&node, json!({ "id": page["id"] })).await?;
        let (statements, again) = app
            .count_statements_on("channels", || app.data(&by_id, json!({ "id": page["id"] })))
            .await?;
        assert_eq!(statements, 1, "statements by id for {}", article.slug);
        let channel = page["channel"]["slug"].as_str().unwrap_or_default();
        let list = app.data(&listed, json!({ "channel": channel })).await?;
        let in_list = list["articles"]["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["slug"] == article.slug.as_str()))
            .context("the article in its channel's list")?;
        for field in ["channel", "source", "disclaimer", "tags", "related"] {
            let loaded = &loaded["node"][field];
            assert_eq!(&page[field], loaded, "{field} of {} by slug", article.slug);
            assert_eq!(
                &again["article"][field], loaded,
                "{field} of {} by id",
                article.slug
            );
            assert_eq!(
                &in_list[field], loaded,
                "{field} of {} in a list",
                article.slug
            );
        }
    }

    // Neither channel, source nor disclaimer asked for: the article alone.
    let (statements, bare) = app
        .count_statements_on("channels", || {
            app.data(
                "query($slug: String!) { article(slug: $slug) { title } }",
                json!({ "slug": reprint.slug }),
            )
        })
        .await?;
    assert_eq!(statements, 0);
    assert_eq!(bare["article"]["title"], reprint.title.as_str());

    // An article the reader may not see stays unseen, with or without its catalog.
    let mut draft: article::ActiveModel = reprint.clone().into();
    draft.status = Set(ArticleStatus::Draft);
    draft.update(&app.db).await?;
    // (Another operation's text: the answer above may still be in the response cache.)
    let hidden = format!(
        "query Hidden($slug: String!) {{ article(slug: $slug) {{ id {fields} }} }} {fragment}"
    );
    let hidden = app.data(&hidden, json!({ "slug": reprint.slug })).await?;
    assert_eq!(hidden["article"], Value::Null);
    Ok(())
}

async fn a_page_costs_the_same_statements_whatever_its_size(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let home = "query($n: Int!) { articles(first: $n) { edges { node { title publishedAt
        channel { name } source { name } tags { name } disclaimer { text } } } } }";
    let mut counts = Vec::new();
    for n in [1, 5, 20, 100] {
        let (statements, data) = app
            .count_statements(|| app.data(home, json!({ "n": n })))
            .await?;
        assert_eq!(
            data["articles"]["edges"].as_array().map(Vec::len),
            Some(n as usize)
        );
        counts.push(statements);
    }
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "statements per page size: {counts:?}"
    );
    // The page with its channels and sources, its tags and the site settings: three statements.
    assert_eq!(counts[0], 3, "statements for a home page: {counts:?}");

    // An article without tags is known to have none: its `tags` asks nothing more.
    let newest = app
        .data("{ articles(first: 1) { nodes { slug } } }", json!({}))
        .await?;
    let slug = newest["articles"]["nodes"][0]["slug"]
        .as_str()
        .unwrap_or_default();
    let id = article::Entity::find()
        .filter(article::Column::Slug.eq(slug))
        .one(&app.db)
        .await?
        .map(|a| a.id)
        .context("the newest article")?;
    article_tag::Entity::delete_many()
        .filter(article_tag::Column::ArticleId.eq(id))
        .exec(&app.db)
        .await?;
    let (tag_reads, data) = app
        .count_statements_on("article_tags", || app.data(home, json!({ "n": 4 })))
        .await?;
    assert_eq!(data["articles"]["edges"][0]["node"]["tags"], json!([]));
    assert_eq!(tag_reads, 1, "the tags of a page with an untagged article");

    // Lists nested in a list share the loaders' caches: each statement for the channels of
    // every article's related articles loads only channels no other one did (a channel asked
    // for while a statement loads it waits for that one), never one per list.
    let with_channels = "query($n: Int!) { articles(first: $n) { nodes {
        related(first: 3) { title channel { name } } } } }";
    let (channel_reads, data) = app
        .count_statements_on("channels", || app.data(with_channels, json!({ "n": 20 })))
        .await?;
    let lists = data["articles"]["nodes"].as_array().context("nodes")?;
    let channels: HashSet<&str> = lists
        .iter()
        .flat_map(|node| node["related"].as_array().into_iter().flatten())
        .filter_map(|related| related["channel"]["name"].as_str())
        .collect();
    let non_empty = lists
        .iter()
        .filter(|node| node["related"].as_array().is_some_and(|r| !r.is_empty()))
        .count();
    ensure!(
        channels.len() < non_empty,
        "the demo's related lists span {} channels over {non_empty} lists",
        channels.len()
    );
    assert!(
        (1..=channels.len()).contains(&channel_reads),
        "the channels of {non_empty} related lists took {channel_reads} statements for {} \
         channels",
        channels.len()
    );
    Ok(())
}

async fn nodes_resolve_by_global_id(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let data = app
        .data(
            "{ article(slug: \"nanchang-kaifaqu-2020-ganbu-dahui\") { id title channel { id name } source { id name } tags { id name } }
               site { footerPages { id title } } }",
            json!({}),
        )
        .await?;
    let a = &data["article"];
    let pairs = [
        (a["id"].clone(), "Article", a["title"].clone()),
        (
            a["channel"]["id"].clone(),
            "Channel",
            a["channel"]["name"].clone(),
        ),
        (
            a["source"]["id"].clone(),
            "Source",
            a["source"]["name"].clone(),
        ),
        (
            a["tags"][0]["id"].clone(),
            "Tag",
            a["tags"][0]["name"].clone(),
        ),
        (
            data["site"]["footerPages"][0]["id"].clone(),
            "Page",
            data["site"]["footerPages"][0]["title"].clone(),
        ),
    ];
    for (id, typename, label) in pairs {
        let node = app
            .data(
                "query($id: ID!) { node(id: $id) { __typename id
                   ... on Article { title } ... on Channel { name } ... on Source { name } ... on Tag { name } ... on Page { title } } }",
                json!({ "id": id }),
            )
            .await?;
        let node = &node["node"];
        assert_eq!(node["__typename"], typename);
        assert_eq!(node["id"], id);
        assert!(node["title"] == label || node["name"] == label, "{node}");
    }
    // A well-formed ID of a row that does not exist is null, not an error.
    let missing =
        newsroom_gateway::graphql::ids::encode(newsroom_gateway::graphql::ids::Kind::Tag, 987_654);
    let body = app
        .graphql(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": missing }),
        )
        .await?;
    assert_eq!(body, json!({ "data": { "node": null } }));
    Ok(())
}

/// async-graphql's validation rules that read only the document run once per query text (the
/// patched `Registry::valid_queries`, `vendor/README.md`); the one that reads the variables runs
/// on every request. A text that passed is refused again, with the same answer, when its
/// variables are wrong; a text that failed is refused every time. An argument's validator
/// (`recordView`'s `visitorId`, at most 128 characters) runs as its field resolves, not in
/// validation, and holds every time too.
async fn variables_are_checked_every_time_a_query_is_sent(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let refused = |what: &str, (status, body): (u16, Value)| -> anyhow::Result<(u16, Value)> {
        ensure!(
            body["errors"].as_array().is_some_and(|e| !e.is_empty()) && body["data"].is_null(),
            "{what} was not refused: {status} {body}"
        );
        Ok((status, body))
    };

    let page = "query($slug: String!) { article(slug: $slug) { slug } }";
    let wrong = refused(
        "a number for a String",
        app.post_graphql(None, page, json!({ "slug": 42 })).await?,
    )?;
    assert!(wrong.1.to_string().contains("slug"), "{}", wrong.1);
    let data = app.data(page, json!({ "slug": SEED_ARTICLE_SLUG })).await?;
    assert_eq!(data["article"]["slug"], SEED_ARTICLE_SLUG);
    for _ in 0..2 {
        let again = app.post_graphql(None, page, json!({ "slug": 42 })).await?;
        assert_eq!(again, wrong, "the same text with the same wrong variable");
    }
    assert!(
        app.data(page, json!({ "slug": "no-such-slug" }))
            .await
            .is_ok()
    );

    let unknown = "{ articles(first: 1) { nodes { slug nope } } }";
    for _ in 0..2 {
        let (_, body) = refused(
            "an unknown field",
            app.post_graphql(None, unknown, json!({})).await?,
        )?;
        assert!(body.to_string().contains("nope"), "{body}");
    }

    let id = app
        .data("{ articles(first: 1) { nodes { id } } }", json!({}))
        .await?["articles"]["nodes"][0]["id"]
        .clone();
    let view = "mutation($id: ID!, $visitor: String) { \
                recordView(articleId: $id, visitorId: $visitor) { counted } }";
    let long = json!({ "id": id, "visitor": "v".repeat(129) });
    let too_long = refused(
        "a visitor id of 129 characters",
        app.post_graphql(None, view, long.clone()).await?,
    )?;
    assert!(too_long.1.to_string().contains("128"), "{}", too_long.1);
    app.data(view, json!({ "id": id, "visitor": "v".repeat(128) }))
        .await?;
    assert_eq!(app.post_graphql(None, view, long).await?, too_long);
    Ok(())
}

/// Every object's fields come back in the order the selection asked for them, as the GraphQL
/// specification's ordered maps require, not in the order they finished: a field that waits
/// for the database (`related`, `tags`) before fields that are ready at once (`title`, `id`).
/// A field selected twice (here through a fragment) keeps its first place, and its
/// sub-selections merge in order.
async fn fields_come_back_in_the_order_the_query_asked(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let query = "query($slug: String!) {
        page: articles(first: 2) { nodes { related(first: 2) { slug } tags { slug } title } }
        article(slug: $slug) {
            related(first: 3) { publishedAt slug }
            tags { name slug }
            ...Attribution
            channel { name }
            title
            id
        }
    }
    fragment Attribution on Article { channel { slug } title }";
    for _ in 0..3 {
        let body = app
            .client
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": query, "variables": { "slug": SEED_ARTICLE_SLUG } }))
            .send()
            .await?
            .text()
            .await?;
        let answer: Ordered = serde_json::from_str(&body).context("the answer")?;
        let data = answer.get("data")?;
        assert_eq!(data.keys()?, ["page", "article"], "{body}");
        let nodes = data.get("page")?.get("nodes")?.items()?;
        ensure!(nodes.len() == 2, "two nodes: {body}");
        for node in nodes {
            assert_eq!(node.keys()?, ["related", "tags", "title"], "{body}");
        }
        let article = data.get("article")?;
        assert_eq!(
            article.keys()?,
            ["related", "tags", "channel", "title", "id"],
            "{body}"
        );
        assert_eq!(article.get("channel")?.keys()?, ["slug", "name"], "{body}");
        let related = article.get("related")?.items()?;
        let tags = article.get("tags")?.items()?;
        ensure!(!related.is_empty() && !tags.is_empty(), "{body}");
        for item in related {
            assert_eq!(item.keys()?, ["publishedAt", "slug"], "{body}");
        }
        for tag in tags {
            assert_eq!(tag.keys()?, ["name", "slug"], "{body}");
        }
    }
    Ok(())
}

/// A JSON value whose objects keep their keys in the order they were written (serde_json's own
/// maps sort them).
enum Ordered {
    Object(Vec<(String, Ordered)>),
    List(Vec<Ordered>),
    Scalar,
}

impl Ordered {
    fn keys(&self) -> anyhow::Result<Vec<&str>> {
        match self {
            Ordered::Object(fields) => Ok(fields.iter().map(|(k, _)| k.as_str()).collect()),
            _ => anyhow::bail!("not an object"),
        }
    }

    fn get(&self, key: &str) -> anyhow::Result<&Ordered> {
        match self {
            Ordered::Object(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .with_context(|| format!("no {key:?}")),
            _ => anyhow::bail!("not an object where {key:?} was expected"),
        }
    }

    fn items(&self) -> anyhow::Result<&[Ordered]> {
        match self {
            Ordered::List(items) => Ok(items),
            _ => anyhow::bail!("not a list"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Ordered>()? {
                    fields.push(entry);
                }
                Ok(Ordered::Object(fields))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::List(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}
