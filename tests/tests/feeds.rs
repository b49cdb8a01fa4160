//! Feeds and the sitemap, on both backends: each format parses with a real feed parser (feed-rs)
//! and carries exactly the newest articles its scope and caller may see, as the database says;
//! reprints carry their disclaimer and attribution and, unless their source allows it, only their
//! lead; a takedown leaves every feed and the sitemap at once.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use chrono::TimeDelta;
use feed_rs::model::{Entry, FeedType};
use newsroom_domain::{
    entities::{ArticleKind, ArticleStatus, License, Role, article, article_tag, channel, source},
    site::SiteSettings,
};
use newsroom_gateway::graphql::ids::{Kind, encode};
use newsroom_tests::{Backend, TestApp, on_both_backends, test_now};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};

on_both_backends!(
    every_feed_carries_the_newest_visible_articles_of_its_scope,
    reprints_carry_their_lead_and_attribution_and_own_articles_their_body,
    a_partner_feed_leaves_out_what_it_may_not_republish,
    a_takedown_leaves_feeds_and_sitemap_at_once,
    the_sitemap_lists_every_visible_article,
    unknown_scopes_bad_input_and_bad_tokens_are_refused,
    a_feed_revalidates_and_falls_back_to_the_request_host,
);

const FORMATS: [(&str, &str, FeedType); 3] = [
    (
        "rss.xml",
        "application/rss+xml; charset=utf-8",
        FeedType::RSS2,
    ),
    (
        "atom.xml",
        "application/atom+xml; charset=utf-8",
        FeedType::Atom,
    ),
    (
        "feed.json",
        "application/feed+json; charset=utf-8",
        FeedType::JSON,
    ),
];

/// A GET's status, content type and body.
async fn fetch(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, String, String)> {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Ok((status, content_type, response.text().await?))
}

/// A feed, fetched and parsed with feed-rs after checking its status, content type and kind;
/// the JSON Feed is also checked for the fields the spec requires.
async fn feed(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<feed_rs::model::Feed> {
    let (file, content_type, kind) = FORMATS
        .iter()
        .find(|(file, _, _)| path.split('?').next().is_some_and(|p| p.ends_with(file)))
        .context("a feed path")?;
    let (status, got_type, body) = fetch(app, path, token).await?;
    anyhow::ensure!(status == 200, "{path}: {status} {body}");
    assert_eq!(&got_type, content_type, "{path}");
    let parsed = feed_rs::parser::parse(body.as_bytes()).with_context(|| path.to_owned())?;
    assert_eq!(&parsed.feed_type, kind, "{path}");
    assert!(parsed.title.is_some(), "{path} has a title");
    for entry in &parsed.entries {
        assert!(!entry.id.is_empty() && entry.title.is_some(), "{path}");
        assert!(entry.published.is_some(), "{path}");
        assert!(
            entry
                .content
                .as_ref()
                .and_then(|c| c.body.as_ref())
                .is_some()
        );
    }
    if *file == "feed.json" {
        let doc: Value = serde_json::from_str(&body)?;
        assert_eq!(doc["version"], "https://jsonfeed.org/version/1.1");
        assert!(doc["title"].is_string() && doc["feed_url"].is_string());
        for item in doc["items"].as_array().context("items")? {
            assert!(item["id"].is_string(), "{item}");
            assert!(
                item["content_html"].is_string() || item["content_text"].is_string(),
                "{item}"
            );
        }
    }
    Ok(parsed)
}

fn links(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|e| {
            // The id is the canonical URL, and so is the first link.
            assert_eq!(
                e.links.first().map(|l| l.href.as_str()),
                Some(e.id.as_str())
            );
            e.id.clone()
        })
        .collect()
}

fn content(entry: &Entry) -> &str {
    entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .unwrap_or("")
}

/// The demo as the database holds it, to compute what each feed should carry.
struct Demo {
    articles: Vec<article::Model>,
    channels: Vec<channel::Model>,
    sources: HashMap<i64, source::Model>,
    tags: Vec<article_tag::Model>,
    site: SiteSettings,
}

impl Demo {
    async fn load(app: &TestApp) -> anyhow::Result<Self> {
        Ok(Demo {
            articles: article::Entity::find().all(&app.db).await?,
            channels: channel::Entity::find().all(&app.db).await?,
            sources: source::Entity::find()
                .all(&app.db)
                .await?
                .into_iter()
                .map(|s| (s.id, s))
                .collect(),
            tags: article_tag::Entity::find().all(&app.db).await?,
            site: SiteSettings::load(&app.db).await?,
        })
    }

    fn url(&self, a: &article::Model) -> String {
        self.site.article_url(&a.slug).unwrap_or_default()
    }

    fn visible(a: &article::Model) -> bool {
        matches!(
            a.status,
            ArticleStatus::Published | ArticleStatus::Scheduled
        ) && a.published_at.is_some_and(|at| at <= test_now())
    }

    /// Whether a partner may have it: the site's own, or a source that allows syndication.
    fn syndicatable(&self, a: &article::Model) -> bool {
        a.source_id
            .and_then(|id| self.sources.get(&id))
            .is_none_or(|s| s.license == License::Own || s.syndication_allowed)
    }

    /// The channel with `slug` and every channel below it.
    fn channel_tree(&self, slug: &str) -> BTreeSet<i64> {
        let mut ids: BTreeSet<i64> = self
            .channels
            .iter()
            .filter(|c| c.slug == slug)
            .map(|c| c.id)
            .collect();
        loop {
            let below: Vec<i64> = self
                .channels
                .iter()
                .filter(|c| c.parent_id.is_some_and(|p| ids.contains(&p)) && !ids.contains(&c.id))
                .map(|c| c.id)
                .collect();
            if below.is_empty() {
                return ids;
            }
            ids.extend(below);
        }
    }

    fn tagged(&self, tag_id: i64) -> BTreeSet<i64> {
        self.tags
            .iter()
            .filter(|t| t.tag_id == tag_id)
            .map(|t| t.article_id)
            .collect()
    }

    /// The URLs of the newest `n` visible articles that pass `keep`, newest first.
    fn newest(&self, n: usize, keep: impl Fn(&article::Model) -> bool) -> Vec<String> {
        let mut rows: Vec<&article::Model> = self
            .articles
            .iter()
            .filter(|a| Self::visible(a) && keep(a))
            .collect();
        rows.sort_by_key(|a| std::cmp::Reverse((a.published_at, a.id)));
        rows.into_iter().take(n).map(|a| self.url(a)).collect()
    }
}

/// Moves an article to the top of every list it is in, so that a feed of 20 carries it.
async fn make_newest(app: &TestApp, a: &article::Model) -> anyhow::Result<()> {
    let mut row = a.clone().into_active_model();
    row.published_at = Set(Some(test_now() - TimeDelta::minutes(1)));
    row.update(&app.db).await?;
    Ok(())
}

async fn every_feed_carries_the_newest_visible_articles_of_its_scope(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    // The draft is dated newest of all, so a feed that let drafts through would lead with it.
    let draft = article::Entity::find()
        .filter(article::Column::Status.eq(ArticleStatus::Draft))
        .one(&app.db)
        .await?
        .context("the demo has a draft")?;
    make_newest(&app, &draft).await?;
    let demo = Demo::load(&app).await?;
    let draft_url = demo.url(&draft);

    let parks = demo.channel_tree("parks");
    assert!(parks.len() > 1, "园区 has sub-channels");
    let parks_root = demo
        .channels
        .iter()
        .find(|c| c.slug == "parks")
        .context("parks")?
        .id;
    let tag = newsroom_domain::catalog::tag_by_slug(&app.db, "hydrogen-energy")
        .await?
        .context("a tag")?;
    let tagged = demo.tagged(tag.id);
    let scopes: Vec<(String, Vec<String>)> = vec![
        ("/feeds".into(), demo.newest(20, |_| true)),
        (
            "/feeds/channels/parks".into(),
            demo.newest(20, |a| parks.contains(&a.channel_id)),
        ),
        (
            "/feeds/tags/hydrogen-energy".into(),
            demo.newest(20, |a| tagged.contains(&a.id)),
        ),
    ];
    // The channel's feed draws on its sub-channels, so checking it means something.
    let from_sub_channels = demo
        .articles
        .iter()
        .filter(|a| scopes[1].1.contains(&demo.url(a)))
        .any(|a| a.channel_id != parks_root);
    assert!(from_sub_channels, "the channel feed includes sub-channels");

    for (prefix, expected) in &scopes {
        assert_eq!(expected.len(), 20, "{prefix}: the demo fills a feed");
        assert!(!expected.contains(&draft_url));
        for (file, _, _) in FORMATS {
            let parsed = feed(&app, &format!("{prefix}/{file}"), None).await?;
            assert_eq!(&links(&parsed), expected, "{prefix}/{file}");
        }
    }
    // A smaller feed is the head of the same list.
    let five = feed(&app, "/feeds/feed.json?limit=5", None).await?;
    assert_eq!(links(&five), scopes[0].1[..5].to_vec());
    Ok(())
}

/// The text of the body's last paragraph, which a lead-only item must not carry.
fn last_paragraph(a: &article::Model) -> anyhow::Result<String> {
    let blocks: Vec<&str> = a.body.split("\n\n").collect();
    let text = blocks
        .iter()
        .rev()
        .find(|p| !p.starts_with('#') && p.chars().count() > 20)
        .context("a paragraph")?;
    Ok(text.chars().skip(2).take(15).collect())
}

async fn reprints_carry_their_lead_and_attribution_and_own_articles_their_body(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let demo = Demo::load(&app).await?;
    let closed = demo
        .articles
        .iter()
        .find(|a| {
            Demo::visible(a)
                && a.kind == ArticleKind::Reprint
                && a.lead.is_some()
                && a.source_id
                    .and_then(|id| demo.sources.get(&id))
                    .is_some_and(|s| s.license == License::AllRightsReserved)
        })
        .context("an all-rights-reserved reprint")?;
    let source = closed
        .source_id
        .and_then(|id| demo.sources.get(&id))
        .context("its source")?;
    let original_url = closed.original_url.clone().context("an original URL")?;
    let own = demo
        .articles
        .iter()
        .find(|a| Demo::visible(a) && a.kind == ArticleKind::Original && a.id != closed.id)
        .context("an own article")?;
    make_newest(&app, closed).await?;
    make_newest(&app, own).await?;
    let disclaimer = newsroom_domain::disclaimer::resolve(closed, Some(source), &demo.site)
        .context("a reprint has a disclaimer")?
        .text;
    let (hidden, lead) = (
        last_paragraph(closed)?,
        closed.lead.clone().unwrap_or_default(),
    );
    let own_text = last_paragraph(own)?;

    for (file, _, _) in FORMATS {
        let parsed = feed(&app, &format!("/feeds/{file}"), None).await?;
        let entry = |a: &article::Model| {
            parsed
                .entries
                .iter()
                .find(|e| e.id == demo.url(a))
                .with_context(|| format!("{file} carries {}", a.slug))
        };
        let reprint = content(entry(closed)?);
        assert!(reprint.contains(&lead), "{file}: the lead\n{reprint}");
        assert!(
            !reprint.contains(&hidden),
            "{file}: not the body\n{reprint}"
        );
        assert!(reprint.contains("阅读全文"), "{file}");
        assert!(reprint.contains(&disclaimer), "{file}: the disclaimer");
        assert!(reprint.contains(&source.name), "{file}: the source");
        assert!(reprint.contains(&original_url), "{file}: the original");
        let summary = entry(closed)?.summary.as_ref().map(|s| s.content.clone());
        assert_eq!(summary.as_deref(), Some(lead.as_str()), "{file}");

        let body = content(entry(own)?);
        assert!(body.contains(&own_text), "{file}: the full body\n{body}");
        assert!(!body.contains("阅读全文"), "{file}");
    }

    // The same attribution in each format's own fields.
    let (_, _, rss) = fetch(&app, "/feeds/rss.xml", None).await?;
    assert!(rss.contains(&format!("<dc:source>{original_url}</dc:source>")));
    assert!(rss.contains(&format!("<dc:publisher>{}</dc:publisher>", source.name)));
    assert!(rss.contains("<dc:rights>"));
    let atom = feed(&app, "/feeds/atom.xml", None).await?;
    let entry = atom
        .entries
        .iter()
        .find(|e| e.id == demo.url(closed))
        .context("the reprint")?;
    let rights = entry.rights.as_ref().context("atom:rights")?;
    assert!(rights.content.contains(&disclaimer));
    assert!(entry.links.iter().any(|l| l.href == original_url));
    let (_, _, json_body) = fetch(&app, "/feeds/feed.json", None).await?;
    let doc: Value = serde_json::from_str(&json_body)?;
    let item = doc["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == json!(demo.url(closed))))
        .context("the reprint")?;
    assert_eq!(item["external_url"], json!(original_url));
    let attribution = &item["_newsroom"]["attribution"];
    assert_eq!(item["_newsroom"]["full_text"], json!(false));
    assert_eq!(attribution["source_name"], json!(source.name));
    assert_eq!(attribution["license"], "all_rights_reserved");
    assert_eq!(attribution["disclaimer"], json!(disclaimer));
    Ok(())
}

async fn a_partner_feed_leaves_out_what_it_may_not_republish(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let partner = app.signed_in("feed-partner", Role::Partner).await?;
    let demo = Demo::load(&app).await?;
    let closed: BTreeSet<String> = demo
        .articles
        .iter()
        .filter(|a| !demo.syndicatable(a))
        .map(|a| demo.url(a))
        .collect();
    let reader = demo.newest(100, |_| true);
    assert!(
        reader.iter().any(|u| closed.contains(u)),
        "readers' feed has closed articles, so the check below means something"
    );
    let expected = demo.newest(100, |a| demo.syndicatable(a));
    for (file, _, _) in FORMATS {
        let path = format!("/feeds/{file}?limit=100");
        assert_eq!(links(&feed(&app, &path, None).await?), reader, "{file}");
        let as_partner = links(&feed(&app, &path, Some(&partner)).await?);
        assert_eq!(as_partner, expected, "{file}");
    }
    // An editor gets the public view, like a reader.
    let editor = app.signed_in("feed-editor", Role::Editor).await?;
    let as_editor = feed(&app, "/feeds/atom.xml?limit=100", Some(&editor)).await?;
    assert_eq!(links(&as_editor), reader);
    Ok(())
}

const REQUEST: &str = "mutation($a: ID!) { requestTakedown(articleId: $a, claimant: \"南昌日报社\", \
    contact: \"rights@example.cn\", reason: \"未经授权转载\") { id } }";
const RESOLVE: &str =
    "mutation($id: ID!) { resolveTakedown(id: $id, accept: true) { article { status } } }";

/// The canonical URLs the sitemap lists, after checking it is well-formed sitemap XML.
async fn sitemap(app: &TestApp, token: Option<&str>) -> anyhow::Result<Vec<String>> {
    use quick_xml::events::Event;
    let (status, content_type, body) = fetch(app, "/sitemap.xml", token).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    assert_eq!(content_type, "application/xml; charset=utf-8");
    let mut reader = quick_xml::Reader::from_str(&body);
    reader.config_mut().check_end_names = true;
    let (mut path, mut locs, mut root) = (Vec::<String>::new(), Vec::new(), None);
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec())?;
                if root.is_none() {
                    let ns = e
                        .try_get_attribute("xmlns")?
                        .map(|a| String::from_utf8(a.value.to_vec()))
                        .transpose()?;
                    root = Some((name.clone(), ns));
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if path.last().is_some_and(|n| n == "loc") => {
                assert_eq!(path, ["urlset", "url", "loc"]);
                locs.push(t.decode()?.into_owned());
            }
            Event::Text(t) if path.last().is_some_and(|n| n == "lastmod") => {
                chrono::DateTime::parse_from_rfc3339(&t.decode()?)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "every element closed");
    assert_eq!(
        root,
        Some((
            "urlset".to_owned(),
            Some("http://www.sitemaps.org/schemas/sitemap/0.9".to_owned())
        ))
    );
    Ok(locs)
}

async fn a_takedown_leaves_feeds_and_sitemap_at_once(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("feed-editor", Role::Editor).await?;
    let demo = Demo::load(&app).await?;
    let newest = demo.newest(1, |_| true);
    let url = newest.first().context("an article")?.clone();
    let target = demo
        .articles
        .iter()
        .find(|a| demo.url(a) == url)
        .context("its row")?;
    let channel = demo
        .channels
        .iter()
        .find(|c| c.id == target.channel_id)
        .context("its channel")?
        .slug
        .clone();
    let paths: Vec<String> = FORMATS
        .iter()
        .flat_map(|(file, _, _)| {
            [
                format!("/feeds/{file}"),
                format!("/feeds/channels/{channel}/{file}"),
            ]
        })
        .collect();
    for path in &paths {
        assert!(
            links(&feed(&app, path, None).await?).contains(&url),
            "{path}"
        );
    }
    assert!(sitemap(&app, None).await?.contains(&url));

    let asked = app
        .data(REQUEST, json!({ "a": encode(Kind::Article, target.id) }))
        .await?;
    let resolved = app
        .graphql_as(
            Some(&editor),
            RESOLVE,
            json!({ "id": asked["requestTakedown"]["id"] }),
        )
        .await?;
    assert_eq!(
        resolved["data"]["resolveTakedown"]["article"]["status"], "TAKEN_DOWN",
        "{resolved}"
    );
    for path in &paths {
        let now = links(&feed(&app, path, None).await?);
        assert!(!now.contains(&url), "{path} still carries it");
        assert_eq!(now.len(), 20, "{path}: the next article moves up");
    }
    assert!(!sitemap(&app, None).await?.contains(&url));
    Ok(())
}

async fn the_sitemap_lists_every_visible_article(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let demo = Demo::load(&app).await?;
    let locs = sitemap(&app, None).await?;
    let listed: BTreeSet<&String> = locs.iter().collect();
    assert_eq!(listed.len(), locs.len(), "no URL twice");
    let base = demo
        .site
        .base_url
        .clone()
        .context("the demo sets base_url")?;
    let articles: BTreeSet<String> = demo
        .articles
        .iter()
        .filter(|a| Demo::visible(a))
        .map(|a| demo.url(a))
        .collect();
    let in_sitemap: BTreeSet<String> = locs
        .iter()
        .filter(|l| l.starts_with(&format!("{base}/articles/")))
        .cloned()
        .collect();
    assert_eq!(in_sitemap, articles);
    let hidden = demo.articles.iter().filter(|a| !Demo::visible(a)).count();
    assert!(hidden >= 2, "the demo has a draft and an archived article");
    for c in &demo.channels {
        assert!(listed.contains(&format!("{base}/channels/{}", c.slug)));
    }
    assert!(listed.contains(&format!("{base}/")));
    Ok(())
}

async fn unknown_scopes_bad_input_and_bad_tokens_are_refused(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    for path in [
        "/feeds/channels/no-such-channel/rss.xml",
        "/feeds/tags/no-such-tag/feed.json",
        "/feeds/channels/parks/index.html",
        "/feeds/podcast.xml",
    ] {
        let (status, _, body) = fetch(&app, path, None).await?;
        assert_eq!(status, 404, "{path}");
        let body: Value = serde_json::from_str(&body)?;
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{path}: {body}");
    }
    // A repeated `limit` was a plain-text 400 from the framework, found by `fuzz_rest_parameters`.
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "limit=&limit=",
        "limit=5&limit=6",
    ] {
        let (status, _, body) = fetch(&app, &format!("/feeds/rss.xml?{query}"), None).await?;
        assert_eq!(status, 400, "{query}");
        let body: Value = serde_json::from_str(&body)?;
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{query}: {body}");
        assert_eq!(body["error"]["field"], "limit", "{query}: {body}");
    }
    // Parameters a feed reader adds on its own are no error.
    let (status, _, _) = fetch(&app, "/feeds/rss.xml?utm_source=reader&limit=3", None).await?;
    assert_eq!(status, 200);
    for path in [
        "/feeds/atom.xml",
        "/feeds/tags/fuel-cell/rss.xml",
        "/sitemap.xml",
    ] {
        let (status, _, body) = fetch(&app, path, Some("not-a-token")).await?;
        assert_eq!(status, 401, "{path}");
        let body: Value = serde_json::from_str(&body)?;
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    }
    Ok(())
}

async fn a_feed_revalidates_and_falls_back_to_the_request_host(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let url = format!("{}/feeds/rss.xml", app.address);
    let first = app.client.get(&url).send().await?;
    let etag = first
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .context("an ETag")?
        .to_owned();
    let again = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(again.status().as_u16(), 304);

    // Without a base URL, links are made from the address the request came to.
    newsroom_domain::entities::site_setting::Entity::delete_many()
        .filter(
            newsroom_domain::entities::site_setting::Column::Key
                .eq(newsroom_domain::site::keys::BASE_URL),
        )
        .exec(&app.db)
        .await?;
    let parsed = feed(&app, "/feeds/atom.xml", None).await?;
    let own = format!("{}/articles/", app.address);
    assert!(!parsed.entries.is_empty());
    assert!(parsed.entries.iter().all(|e| e.id.starts_with(&own)));
    let locs = sitemap(&app, None).await?;
    assert!(locs.iter().all(|l| l.starts_with(&app.address)));
    Ok(())
}
