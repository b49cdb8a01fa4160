//! Ingest end to end, against fixture feeds (RSS 2.0 and Atom, in Chinese) served from a local
//! HTTP server on a free port: new items become draft reprints with their source, original URL
//! and original time; a second ingest adds nothing; a feed that cannot be fetched or read adds
//! nothing, is recorded on its source and retried later; a bad item is skipped while the rest
//! is taken in; and `serve` takes feeds in by itself when configured to. On both backends.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, http::StatusCode, web,
};
use anyhow::{Context, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::{
    demo,
    editorial::{
        self, Actor,
        catalog::{self, SourceInput},
    },
    entities::{
        ArticleKind, ArticleStatus, BodyFormat, License, Role, article, article_revision, channel,
        source,
    },
    ingest::{self, IngestReport, Schedule},
    users,
    webhooks::UrlPolicy,
};
use newsroom_gateway::ingest::{Fetcher, IngestSettings, Outcome, ingest_source};
use newsroom_tests::{
    Backend, TestApp, TestDb, on_both_backends, park_article, segmenter, test_now,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;

on_both_backends!(
    new_items_become_drafts_once,
    a_feed_that_fails_keeps_nothing_and_is_retried_later,
    serve_takes_feeds_in_when_configured,
);

const RSS: &str = include_str!("../ingest/rss.xml");
const ATOM: &str = include_str!("../ingest/atom.xml");

/// What the fixture server answers, by path; changed while it runs.
#[derive(Clone, Default)]
struct Feeds(Arc<Mutex<HashMap<String, (u16, String)>>>);

/// A local HTTP server on a free port serving [`Feeds`].
struct FeedServer {
    base: String,
    feeds: Feeds,
    handle: ServerHandle,
}

async fn answer(req: HttpRequest, feeds: web::Data<Feeds>) -> HttpResponse {
    let found = feeds
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(req.path())
        .cloned();
    match found {
        Some((status, body)) => HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type("application/xml; charset=utf-8")
        .body(body),
        None => HttpResponse::NotFound().finish(),
    }
}

impl FeedServer {
    async fn start() -> anyhow::Result<Self> {
        let feeds = Feeds::default();
        let data = web::Data::new(feeds.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))?;
        let port = server.addrs().first().context("a bound address")?.port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(FeedServer {
            base: format!("http://127.0.0.1:{port}"),
            feeds,
            handle,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn set(&self, path: &str, status: u16, body: &str) {
        self.feeds
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), (status, body.to_owned()));
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

const INTERVAL: TimeDelta = TimeDelta::minutes(30);
const MAX_BYTES: u64 = 64 * 1024;

fn fetcher() -> anyhow::Result<Fetcher> {
    Fetcher::new(IngestSettings {
        schedule: Schedule {
            interval: INTERVAL,
            max_wait: TimeDelta::days(1),
        },
        timeout: Duration::from_secs(10),
        max_bytes: MAX_BYTES,
        urls: UrlPolicy {
            allow_private: true,
        },
    })
}

async fn demo_db(backend: Backend) -> anyhow::Result<(TestDb, DatabaseConnection)> {
    let (test_db, conn) = TestDb::create(backend).await?;
    let txn = conn.begin().await?;
    demo::seed(&txn, &segmenter()?).await?;
    txn.commit().await?;
    Ok((test_db, conn))
}

async fn source_with_feed(
    db: &DatabaseConnection,
    slug: &str,
    feed_url: &str,
    channel: Option<&str>,
) -> anyhow::Result<source::Model> {
    Ok(catalog::save_source(
        db,
        &segmenter()?,
        None,
        SourceInput {
            slug: slug.into(),
            name: format!("订阅源 {slug}"),
            homepage: None,
            feed_url: Some(feed_url.into()),
            feed_channel: channel.map(Into::into),
            license: License::PermissionGranted,
            syndication_allowed: true,
            disclaimer: None,
            takedown_contact: None,
        },
        test_now(),
    )
    .await?)
}

async fn reload(db: &DatabaseConnection, id: i64) -> anyhow::Result<source::Model> {
    source::Entity::find_by_id(id)
        .one(db)
        .await?
        .context("the source")
}

async fn ingest_at(
    db: &DatabaseConnection,
    source_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let source = reload(db, source_id).await?;
    Ok(ingest_source(db, &segmenter()?, &fetcher()?, &source, now).await?)
}

async fn stored(
    db: &DatabaseConnection,
    source_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<IngestReport> {
    match ingest_at(db, source_id, now).await? {
        Outcome::Stored(report) => Ok(report),
        failed => anyhow::bail!("expected the feed to be taken in: {failed:?}"),
    }
}

async fn failed(
    db: &DatabaseConnection,
    source_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<(String, DateTime<Utc>)> {
    match ingest_at(db, source_id, now).await? {
        Outcome::Failed {
            error,
            next_attempt_at,
        } => Ok((error, next_attempt_at)),
        stored => anyhow::bail!("expected the feed to fail: {stored:?}"),
    }
}

async fn articles_of(
    db: &DatabaseConnection,
    source_id: i64,
) -> anyhow::Result<Vec<article::Model>> {
    Ok(article::Entity::find()
        .filter(article::Column::SourceId.eq(source_id))
        .order_by_asc(article::Column::Id)
        .all(db)
        .await?)
}

fn by_url<'a>(articles: &'a [article::Model], url: &str) -> anyhow::Result<&'a article::Model> {
    articles
        .iter()
        .find(|a| a.original_url.as_deref() == Some(url))
        .with_context(|| format!("no draft of {url}"))
}

async fn channel_id(db: &DatabaseConnection, slug: &str) -> anyhow::Result<i64> {
    Ok(channel::Entity::find()
        .filter(channel::Column::Slug.eq(slug))
        .one(db)
        .await?
        .context("the channel")?
        .id)
}

fn at(rfc3339: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(rfc3339)?.with_timezone(&Utc))
}

/// The RSS fixture with one more item, first.
fn rss_with_new_item() -> String {
    RSS.replacen(
        "<item>",
        "<item><title>新增：园区招商引资签约12个项目</title>\
         <link>https://www.kejiqianyan.example.cn/news/2020/07/qianyue.html</link>\
         <pubDate>Sat, 04 Jul 2020 10:00:00 +0800</pubDate>\
         <description>签约总额86亿元。</description></item>\n    <item>",
        1,
    )
}

async fn new_items_become_drafts_once(backend: Backend) -> anyhow::Result<()> {
    let (_test_db, db) = demo_db(backend).await?;
    let server = FeedServer::start().await?;
    server.set("/rss.xml", 200, RSS);
    server.set("/feed.atom", 200, ATOM);
    let rss =
        source_with_feed(&db, "keji-feed", &server.url("/rss.xml"), Some("park-news")).await?;
    let atom = source_with_feed(
        &db,
        "qingneng-feed",
        &server.url("/feed.atom"),
        Some("hydrogen"),
    )
    .await?;
    // An editor reprinted the fourth item by hand before the feed was added.
    let editor = users::create(
        &db,
        "feed-editor",
        "一个足够长的密码-2020",
        Role::Editor,
        test_now(),
    )
    .await?;
    let mut by_hand = park_article("编辑已经手工转载过的文章", Some("keji-feed"));
    by_hand.original_url =
        Some("https://www.kejiqianyan.example.cn/news/2020/06/yijing.html".into());
    editorial::create(
        &db,
        &segmenter()?,
        Actor { user_id: editor.id },
        test_now(),
        by_hand,
    )
    .await?;
    let now = test_now();

    let report = stored(&db, rss.id, now).await?;
    ensure!(report.created.len() == 2 && report.known == 1, "{report:?}");
    let skipped: Vec<usize> = report.skipped.iter().map(|s| s.position).collect();
    ensure!(skipped == [3], "{report:?}");
    ensure!(report.skipped[0].reason.contains("no link"), "{report:?}");

    let drafts = articles_of(&db, rss.id).await?;
    let park_news = channel_id(&db, "park-news").await?;
    let qingneng = by_url(
        &drafts,
        "https://www.kejiqianyan.example.cn/news/2020/07/qingneng.html",
    )?;
    ensure!(qingneng.title == "南昌开发区氢能产业园一期开工");
    ensure!((qingneng.status, qingneng.kind) == (ArticleStatus::Draft, ArticleKind::Reprint));
    ensure!(qingneng.channel_id == park_news && qingneng.published_at.is_none());
    ensure!(qingneng.original_published_at == Some(at("2020-07-03T01:30:00Z")?));
    ensure!(qingneng.body_format == BodyFormat::Html);
    ensure!(
        qingneng.body.contains("<h2>项目概况</h2>")
            && qingneng.body.contains("<strong>800亩</strong>"),
        "{}",
        qingneng.body
    );
    for bad in ["<script", "onclick", "javascript:", "onerror", "steal"] {
        ensure!(
            !qingneng.body.contains(bad),
            "{bad} survived: {}",
            qingneng.body
        );
    }
    ensure!(qingneng.lead.as_deref() == Some("总投资50亿元的氢能产业园今日开工。"));
    ensure!(
        qingneng.author.as_deref() == Some("记者 李明"),
        "{:?}",
        qingneng.author
    );
    ensure!(qingneng.version == 1 && qingneng.view_count == 0);
    let revisions = article_revision::Entity::find()
        .filter(article_revision::Column::ArticleId.eq(qingneng.id))
        .all(&db)
        .await?;
    ensure!(revisions.len() == 1 && revisions[0].saved_by.is_none());
    let shuzi = by_url(
        &drafts,
        "https://www.kejiqianyan.example.cn/news/2020/07/shuzi.html",
    )?;
    ensure!(
        shuzi.body.contains("<b>数字经济</b>") && shuzi.lead.is_none(),
        "{}",
        shuzi.body
    );
    ensure!(shuzi.original_published_at == Some(at("2020-07-02T10:00:00Z")?));
    ensure!(report.created.contains(&qingneng.slug) && report.created.contains(&shuzi.slug));

    let report = stored(&db, atom.id, now).await?;
    ensure!(
        report.created.len() == 2 && report.skipped.is_empty(),
        "{report:?}"
    );
    let drafts = articles_of(&db, atom.id).await?;
    let shifan = by_url(
        &drafts,
        "https://www.qingneng.example.com/2020/07/05/shifan.html",
    )?;
    ensure!(
        shifan.title == "燃料电池汽车示范城市群获批",
        "{}",
        shifan.title
    );
    ensure!(shifan.channel_id == channel_id(&db, "hydrogen").await?);
    ensure!(shifan.original_published_at == Some(at("2020-07-05T02:00:00Z")?));
    ensure!(shifan.author.as_deref() == Some("氢能在线编辑部"));
    ensure!(shifan.lead.as_deref() == Some("示范城市群获批，补贴政策落地。"));
    ensure!(
        shifan.body == "<p>财政部等五部门联合发文。</p>",
        "{}",
        shifan.body
    );
    let guide = by_url(
        &drafts,
        "https://www.qingneng.example.com/2020/07/04/jiaqingzhan.html",
    )?;
    ensure!(guide.original_published_at == Some(at("2020-07-04T09:00:00Z")?));
    ensure!(
        guide.body == "<p>第一段。</p><p>第二段 &lt;不是标签&gt;。</p>",
        "{}",
        guide.body
    );

    let state = reload(&db, rss.id).await?;
    ensure!(state.feed_error.is_none() && state.feed_failures == 0);
    ensure!(state.feed_checked_at == Some(now) && state.feed_next_at == Some(now + INTERVAL));

    // The next round finds nothing new.
    let later = now + INTERVAL;
    let again = stored(&db, rss.id, later).await?;
    ensure!(again.created.is_empty() && again.known == 3, "{again:?}");
    let again = stored(&db, atom.id, later).await?;
    ensure!(again.created.is_empty() && again.known == 2, "{again:?}");

    // A new item is taken in alone; a draft an editor deleted does not come back.
    server.set("/rss.xml", 200, &rss_with_new_item());
    let report = stored(&db, rss.id, later).await?;
    ensure!(report.created.len() == 1 && report.known == 3, "{report:?}");
    let rejected = by_url(
        &articles_of(&db, rss.id).await?,
        "https://www.kejiqianyan.example.cn/news/2020/07/shuzi.html",
    )?
    .clone();
    editorial::delete(&db, later, rejected.id, rejected.version).await?;
    let report = stored(&db, rss.id, later).await?;
    ensure!(report.created.is_empty(), "{report:?}");
    ensure!(
        articles_of(&db, rss.id).await?.len() == 3,
        "two drafts and the hand-made reprint"
    );
    server.stop().await;
    Ok(())
}

async fn a_feed_that_fails_keeps_nothing_and_is_retried_later(
    backend: Backend,
) -> anyhow::Result<()> {
    let (_test_db, db) = demo_db(backend).await?;
    let server = FeedServer::start().await?;
    let source = source_with_feed(
        &db,
        "broken-feed",
        &server.url("/feed.xml"),
        Some("park-news"),
    )
    .await?;
    let now = test_now();
    let nothing_kept = async || -> anyhow::Result<()> {
        ensure!(articles_of(&db, source.id).await?.is_empty());
        ensure!(
            newsroom_domain::entities::feed_item::Entity::find()
                .count(&db)
                .await?
                == 0
        );
        Ok(())
    };

    // Not a feed: recorded, retried after the interval.
    server.set("/feed.xml", 200, "<html><body>网站维护中</body></html>");
    let (error, next) = failed(&db, source.id, now).await?;
    ensure!(error.contains("not an RSS or Atom feed"), "{error}");
    ensure!(next == now + INTERVAL);
    let state = reload(&db, source.id).await?;
    ensure!(state.feed_failures == 1 && state.feed_error.as_deref() == Some(error.as_str()));
    ensure!(state.feed_checked_at == Some(now) && state.feed_next_at == Some(next));
    nothing_kept().await?;
    // It is not due before its next attempt; then one process claims it.
    let due = |at| {
        let db = &db;
        async move { anyhow::Ok(ingest::due(db, at).await?.iter().any(|s| s.id == source.id)) }
    };
    ensure!(!due(now + TimeDelta::minutes(1)).await?);
    ensure!(due(next).await?);
    ensure!(ingest::claim(&db, source.id, next, TimeDelta::minutes(2)).await?);
    ensure!(!ingest::claim(&db, source.id, next, TimeDelta::minutes(2)).await?);
    ensure!(!due(next + TimeDelta::minutes(1)).await?);

    // Each failure in a row waits twice as long.
    let cut = &RSS[..RSS.find("<title>没有原文链接").context("the third item")?];
    server.set("/feed.xml", 200, cut);
    let (error, next) = failed(&db, source.id, now + INTERVAL).await?;
    ensure!(error.contains("not an RSS or Atom feed"), "{error}");
    ensure!(next == now + INTERVAL + INTERVAL * 2);
    ensure!(reload(&db, source.id).await?.feed_failures == 2);

    server.set("/feed.xml", 500, "");
    let (error, _) = failed(&db, source.id, now).await?;
    ensure!(error.contains("HTTP 500"), "{error}");
    server.set(
        "/feed.xml",
        200,
        &RSS.replace(
            "</rss>",
            &format!("<!-- {} --></rss>", "填充".repeat(20_000)),
        ),
    );
    let (error, _) = failed(&db, source.id, now).await?;
    ensure!(
        error.contains(&format!("larger than {MAX_BYTES} bytes")),
        "{error}"
    );
    let elsewhere = source_with_feed(
        &db,
        "moved-feed",
        &server.url("/gone.xml"),
        Some("park-news"),
    )
    .await?;
    let (error, _) = failed(&db, elsewhere.id, now).await?;
    ensure!(error.contains("HTTP 404"), "{error}");
    nothing_kept().await?;

    // A source with no channel for its drafts takes nothing in, and says what to set.
    server.set("/feed.xml", 200, RSS);
    let homeless = source_with_feed(&db, "homeless-feed", &server.url("/feed.xml"), None).await?;
    let (error, _) = failed(&db, homeless.id, now).await?;
    ensure!(error.contains("feedChannel"), "{error}");
    ensure!(articles_of(&db, homeless.id).await?.is_empty());

    // Mended, the feed is taken in and its record cleared.
    let report = stored(&db, source.id, now + INTERVAL * 4).await?;
    ensure!(report.created.len() == 3, "{report:?}");
    let state = reload(&db, source.id).await?;
    ensure!(state.feed_failures == 0 && state.feed_error.is_none());
    server.stop().await;
    Ok(())
}

async fn serve_takes_feeds_in_when_configured(backend: Backend) -> anyhow::Result<()> {
    let server = FeedServer::start().await?;
    server.set("/rss.xml", 200, RSS);
    let app = TestApp::with_demo(backend).await?;
    let token = app.signed_in("feed-editor", Role::Editor).await?;
    const CREATE: &str = "mutation($input: SourceInput!) { createSource(input: $input) {
        slug feedUrl feedChannel { slug } feedStatus { checkedAt nextAttemptAt failures lastError } } }";
    let input = |channel: &str| {
        json!({ "input": {
            "slug": "keji-feed", "name": "科技前沿报（订阅）", "license": "PERMISSION_GRANTED",
            "feedUrl": server.url("/rss.xml"), "feedChannel": channel,
        } })
    };
    let body = app
        .graphql_as(Some(&token), CREATE, input("no-such-channel"))
        .await?;
    ensure!(
        body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT",
        "{body}"
    );
    ensure!(
        body["errors"][0]["extensions"]["field"] == "feedChannel",
        "{body}"
    );
    let created = app
        .data_as(Some(&token), CREATE, input("park-news"))
        .await?;
    let created = &created["createSource"];
    ensure!(
        created["feedUrl"] == json!(server.url("/rss.xml")),
        "{created}"
    );
    ensure!(created["feedChannel"]["slug"] == "park-news", "{created}");
    ensure!(
        created["feedStatus"]
            == json!({ "checkedAt": null, "nextAttemptAt": null, "failures": 0, "lastError": null })
    );
    // Readers see the feed's address, not how it fares.
    let public = app
        .graphql(
            r#"{ source(slug: "keji-feed") { feedUrl feedStatus { failures } } }"#,
            json!({}),
        )
        .await?;
    ensure!(
        public["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED",
        "{public}"
    );

    // The demo's own feeds are on hosts this machine cannot reach: leave them out.
    let demo_feeds = source::Entity::find()
        .filter(source::Column::Slug.ne("keji-feed"))
        .all(&app.db)
        .await?;
    for s in demo_feeds {
        let mut row: source::ActiveModel = s.into();
        row.feed_url = sea_orm::Set(None);
        sea_orm::ActiveModelTrait::update(row, &app.db).await?;
    }
    let app = app
        .restart_with(|config| {
            config.ingest = true;
            config.ingest_allow_private = Some(true);
        })
        .await?;
    let source = source::Entity::find()
        .filter(source::Column::Slug.eq("keji-feed"))
        .one(&app.db)
        .await?
        .context("the source")?;
    // Polls for the background task's work; a guard against hanging, never a measure.
    let mut drafts = Vec::new();
    for _ in 0..1500 {
        drafts = articles_of(&app.db, source.id).await?;
        // One transaction a feed: its drafts arrive all at once.
        if !drafts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ensure!(
        drafts.len() == 3,
        "the server took in {} drafts",
        drafts.len()
    );

    let seen = app
        .data_as(
            Some(&token),
            r#"{ source(slug: "keji-feed") { feedStatus { checkedAt failures lastError } }
                 articles(first: 10, filter: { status: [DRAFT], source: "keji-feed" }) {
                   edges { node { title status kind originalUrl originalPublishedAt source { slug } } } } }"#,
            json!({}),
        )
        .await?;
    let status = &seen["source"]["feedStatus"];
    ensure!(
        status["failures"] == 0 && status["lastError"].is_null(),
        "{status}"
    );
    ensure!(
        at(status["checkedAt"].as_str().context("checkedAt")?)? == test_now(),
        "{status}"
    );
    let edges = seen["articles"]["edges"].as_array().context("edges")?;
    ensure!(edges.len() == 3, "{seen}");
    let qingneng = edges
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["title"] == "南昌开发区氢能产业园一期开工")
        .context("the first item's draft")?;
    ensure!(
        qingneng["status"] == "DRAFT" && qingneng["kind"] == "REPRINT",
        "{qingneng}"
    );
    ensure!(qingneng["source"]["slug"] == "keji-feed", "{qingneng}");
    ensure!(
        qingneng["originalUrl"] == "https://www.kejiqianyan.example.cn/news/2020/07/qingneng.html"
    );
    ensure!(
        at(qingneng["originalPublishedAt"]
            .as_str()
            .context("originalPublishedAt")?)?
            == at("2020-07-03T01:30:00Z")?,
        "{qingneng}"
    );
    server.stop().await;
    Ok(())
}
