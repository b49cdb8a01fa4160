//! Syndication feeds and the sitemap as data: which articles a feed carries and what each item
//! says. The gateway writes this one model out as RSS 2.0, Atom 1.0 and JSON Feed 1.1, so the
//! three formats cannot disagree on who sees what, or on what a reprint must carry.
//!
//! Rules: a feed lists the newest articles its audience may see in public lists (so a draft, a
//! future-dated or a taken-down article is never in one, from the next request on). An article
//! goes out in full only when the site may hand it on: its own work, or a source that allows
//! syndication; any other carries its lead and a link to the site. Every reprint, and every item
//! with a disclaimer, carries the disclaimer and its attribution (source, original URL, license).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    articles::{self, ArticleFilter, ArticleOrder, Audience},
    catalog,
    disclaimer::{self, Disclaimer},
    entities::{ArticleKind, License, article, source},
    error::{Error, Result},
    pagination::{MAX_PAGE_SIZE, PageRequest},
    render,
    site::SiteSettings,
};

/// Items in a feed when the client names no number.
pub const DEFAULT_ITEMS: u64 = 20;
/// The most items a feed carries.
pub const MAX_ITEMS: u64 = MAX_PAGE_SIZE;
/// The most URLs one sitemap file may hold (sitemaps.org). Past it the newest articles are kept
/// and the oldest left out; a site that outgrows it needs a sitemap index.
pub const SITEMAP_MAX_URLS: usize = 50_000;
/// The language every feed declares: the portal publishes in simplified Chinese.
pub const LANGUAGE: &str = "zh-CN";

/// What a feed covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every article.
    Site,
    /// A channel (by slug) and its sub-channels.
    Channel(String),
    /// A tag (by slug).
    Tag(String),
}

/// A feed, ready to be written in any format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The feed's title: the site's name, and the channel's or tag's.
    pub title: String,
    /// A sentence about the feed (the slogan, or what the feed covers).
    pub description: String,
    /// The page the feed stands for: the home page, a channel's or a tag's.
    pub home_url: String,
    /// The site's name, the feed's author.
    pub site_name: String,
    /// The latest change among the items (or now, for an empty feed).
    pub updated: DateTime<Utc>,
    /// Newest first.
    pub items: Vec<FeedItem>,
}

/// One article in a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// A stable identifier: the canonical URL.
    pub id: String,
    /// The article's canonical URL on the site.
    pub url: String,
    /// The headline.
    pub title: String,
    /// When it was published.
    pub published: DateTime<Utc>,
    /// When it last changed (never before it was published).
    pub updated: DateTime<Utc>,
    /// The byline, if any.
    pub author: Option<String>,
    /// The channel first, then the tags in the editor's order.
    pub categories: Vec<Category>,
    /// The lead (核心提示), or the first paragraph as plain text.
    pub summary: String,
    /// Sanitized HTML: the whole body when [`FeedItem::full_text`], else the summary and a link
    /// to the article; followed by the disclaimer and attribution when there is one.
    pub content_html: String,
    /// Whether the content is the whole article.
    pub full_text: bool,
    /// Whose work it is and under what terms, for every reprint and every item with a disclaimer.
    pub attribution: Option<Attribution>,
}

/// A channel or a tag an item is filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Its display name.
    pub name: String,
    /// Where its articles are listed on the site.
    pub url: String,
    /// The scheme it belongs to: `{base}/channels/` or `{base}/tags/`.
    pub scheme: String,
}

/// What a reprinted item must carry with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The disclaimer (免责声明), when the article, its source or the site has one.
    pub disclaimer: Option<String>,
    /// The medium it came from.
    pub source_name: Option<String>,
    /// The medium's home page.
    pub source_homepage: Option<String>,
    /// The medium's own feed.
    pub source_feed: Option<String>,
    /// Where it was first published.
    pub original_url: Option<String>,
    /// Under what terms the site carries it.
    pub license: License,
    /// Where to ask for its removal.
    pub takedown_contact: Option<String>,
}

/// One URL of the sitemap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapUrl {
    /// The absolute URL.
    pub loc: String,
    /// When its content last changed, where known.
    pub lastmod: Option<DateTime<Utc>>,
}

/// The words a reader sees for a license.
pub fn license_label(license: License) -> &'static str {
    match license {
        License::Own => "本站原创",
        License::AllRightsReserved => "版权归原作者所有，未经许可不得转载",
        License::PermissionGranted => "经授权转载",
        License::CcBy => "知识共享 署名（CC BY）",
        License::CcBySa => "知识共享 署名-相同方式共享（CC BY-SA）",
        License::PublicDomain => "公有领域",
    }
}

/// Whether the site may hand on `article` in full: its own work (no source, or a source whose
/// license is `own`), or a source that allows syndication. The same rule as
/// [`Audience::Partner`]'s, applied to one article.
pub fn full_text_allowed(article: &article::Model, source: Option<&source::Model>) -> bool {
    match (article.source_id, source) {
        (None, _) => true,
        (Some(_), Some(s)) => s.license == License::Own || s.syndication_allowed,
        // A source we could not load: the safe side.
        (Some(_), None) => false,
    }
}

/// `{base}{path}`, or the path alone while the site has no base URL.
fn site_url(site: &SiteSettings, path: &str) -> String {
    format!("{}{path}", site.base_url.as_deref().unwrap_or(""))
}

/// The feed of `scope` as `audience` may see it: the newest `limit` (at most [`MAX_ITEMS`])
/// articles of its public lists. An unknown channel or tag is [`Error::NotFound`].
pub async fn build<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    scope: &Scope,
    limit: u64,
    site: &SiteSettings,
) -> Result<Feed> {
    let mut filter = ArticleFilter::default();
    let (title, description, home_url) = match scope {
        Scope::Site => (
            site.name.clone(),
            site.slogan.clone().unwrap_or_else(|| site.name.clone()),
            site_url(site, "/"),
        ),
        Scope::Channel(slug) => {
            let channel = catalog::channel_by_slug(db, slug)
                .await?
                .ok_or(Error::NotFound { entity: "channel" })?;
            filter.channel = Some(slug.clone());
            (
                format!("{} - {}", site.name, channel.name),
                format!("{}「{}」频道的最新文章", site.name, channel.name),
                site_url(site, &format!("/channels/{slug}")),
            )
        }
        Scope::Tag(slug) => {
            let tag = catalog::tag_by_slug(db, slug)
                .await?
                .ok_or(Error::NotFound { entity: "tag" })?;
            filter.tag = Some(slug.clone());
            (
                format!("{} - {}", site.name, tag.name),
                format!("{}标签「{}」的最新文章", site.name, tag.name),
                site_url(site, &format!("/tags/{slug}")),
            )
        }
    };
    let page = articles::list(
        db,
        now,
        audience.public(),
        &filter,
        ArticleOrder::Newest,
        &PageRequest::first(limit.min(MAX_ITEMS)),
        articles::Columns::All,
    )
    .await?;
    let items = items(db, &page.items, site).await?;
    Ok(Feed {
        title,
        description,
        home_url,
        site_name: site.name.clone(),
        updated: items.iter().map(|i| i.updated).max().unwrap_or(now),
        items,
    })
}

/// The feed items of `rows`, with their sources, channels and tags read in one query each.
async fn items<C: ConnectionTrait>(
    db: &C,
    rows: &[article::Model],
    site: &SiteSettings,
) -> Result<Vec<FeedItem>> {
    let relations = catalog::ArticleRelations::load(db, rows).await?;
    let channel_scheme = site_url(site, "/channels/");
    let tag_scheme = site_url(site, "/tags/");
    Ok(rows
        .iter()
        .map(|a| {
            let mut categories: Vec<Category> = relations
                .channel_of(a)
                .map(|c| Category {
                    name: c.name.clone(),
                    url: format!("{channel_scheme}{}", c.slug),
                    scheme: channel_scheme.clone(),
                })
                .into_iter()
                .collect();
            categories.extend(relations.tags_of(a).iter().map(|t| Category {
                url: format!("{tag_scheme}{}", t.slug),
                name: t.name.clone(),
                scheme: tag_scheme.clone(),
            }));
            item(a, relations.source_of(a), categories, site)
        })
        .collect())
}

/// One article as a feed item; see the module documentation for what its content holds.
fn item(
    a: &article::Model,
    source: Option<&source::Model>,
    categories: Vec<Category>,
    site: &SiteSettings,
) -> FeedItem {
    let url = site
        .article_url(&a.slug)
        .unwrap_or_else(|| format!("/articles/{}", a.slug));
    let summary = a
        .lead
        .clone()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| first_paragraph(&render::to_text(&a.body, a.body_format)));
    let full_text = full_text_allowed(a, source);
    let mut content_html = if full_text {
        render::to_html(&a.body, a.body_format)
    } else {
        format!(
            "<p>{}</p>\n<p><a href=\"{}\">阅读全文</a></p>",
            escape(&summary),
            escape(&url)
        )
    };
    let resolved = disclaimer::resolve(a, source, site);
    let attribution = (a.kind == ArticleKind::Reprint || resolved.is_some())
        .then(|| attribution(a, source, resolved));
    if let Some(attribution) = &attribution {
        content_html.push_str(&attribution_html(attribution));
    }
    let published = a.published_at.unwrap_or(a.created_at);
    FeedItem {
        id: url.clone(),
        url,
        title: a.title.clone(),
        published,
        updated: a.updated_at.max(published),
        author: a.author.clone().filter(|s| !s.trim().is_empty()),
        categories,
        summary,
        content_html,
        full_text,
        attribution,
    }
}

fn attribution(
    a: &article::Model,
    source: Option<&source::Model>,
    resolved: Option<Disclaimer>,
) -> Attribution {
    let license = resolved.as_ref().map_or_else(
        || source.map_or(License::AllRightsReserved, |s| s.license),
        |d| d.license,
    );
    Attribution {
        disclaimer: resolved.as_ref().map(|d| d.text.clone()),
        source_name: source.map(|s| s.name.clone()),
        source_homepage: source.and_then(|s| s.homepage.clone()),
        source_feed: source.and_then(|s| s.feed_url.clone()),
        original_url: a.original_url.clone(),
        license,
        takedown_contact: resolved.and_then(|d| d.takedown_contact),
    }
}

/// The disclaimer and attribution as the HTML that ends an item's content. Every text is
/// escaped, and the whole is sanitized, so an original URL cannot smuggle in a script.
fn attribution_html(at: &Attribution) -> String {
    let mut html = String::from("\n<hr>\n");
    if let Some(text) = &at.disclaimer {
        html.push_str(&format!("<p>免责声明：{}</p>\n", escape(text)));
    }
    let mut line = Vec::new();
    if let Some(name) = &at.source_name {
        line.push(format!("来源：{}", escape(name)));
    }
    if let Some(url) = &at.original_url {
        let url = escape(url);
        line.push(format!("原文链接：<a href=\"{url}\">{url}</a>"));
    }
    line.push(format!("版权：{}", license_label(at.license)));
    html.push_str(&format!("<p>{}</p>", line.join("；")));
    ammonia::clean(&html)
}

/// The first paragraph of plain text.
fn first_paragraph(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// Text made safe to place in HTML, inside elements or quoted attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The sitemap's URLs: the home page, every channel, every page, then the articles `audience` may
/// see in public lists, newest first, up to [`SITEMAP_MAX_URLS`] in all. Articles are read as
/// (slug, times) only, in one query: a sitemap may list tens of thousands.
pub async fn sitemap<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    site: &SiteSettings,
) -> Result<Vec<SitemapUrl>> {
    let mut urls = vec![SitemapUrl {
        loc: site_url(site, "/"),
        lastmod: None,
    }];
    urls.extend(
        catalog::channels(db)
            .await?
            .into_iter()
            .map(|c| SitemapUrl {
                loc: site_url(site, &format!("/channels/{}", c.slug)),
                lastmod: None,
            }),
    );
    urls.extend(catalog::pages(db).await?.into_iter().map(|p| SitemapUrl {
        loc: site_url(site, &format!("/pages/{}", p.slug)),
        lastmod: Some(p.updated_at),
    }));
    urls.truncate(SITEMAP_MAX_URLS);
    let room = u64::try_from(SITEMAP_MAX_URLS - urls.len()).unwrap_or(0);
    let rows = article::Entity::find()
        .filter(audience.public().condition(now))
        .select_only()
        .columns([
            article::Column::Slug,
            article::Column::PublishedAt,
            article::Column::UpdatedAt,
        ])
        .order_by_desc(article::Column::PublishedAt)
        .order_by_desc(article::Column::Id)
        .limit(room)
        .into_tuple::<(String, Option<DateTime<Utc>>, DateTime<Utc>)>()
        .all(db)
        .await?;
    urls.extend(rows.into_iter().map(|(slug, published, updated)| {
        SitemapUrl {
            loc: site
                .article_url(&slug)
                .unwrap_or_else(|| format!("/articles/{slug}")),
            lastmod: Some(published.map_or(updated, |p| p.max(updated))),
        }
    }));
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_is_escaped_and_sanitized() {
        let html = attribution_html(&Attribution {
            disclaimer: Some("<b>转载</b> & 声明".into()),
            source_name: Some("某报".into()),
            source_homepage: None,
            source_feed: None,
            original_url: Some("javascript:alert(1)".into()),
            license: License::AllRightsReserved,
            takedown_contact: None,
        });
        assert!(
            html.contains("免责声明：&lt;b&gt;转载&lt;/b&gt; &amp; 声明"),
            "{html}"
        );
        assert!(html.contains("来源：某报"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains(license_label(License::AllRightsReserved)));
    }

    #[test]
    fn the_first_paragraph_stands_in_for_a_missing_lead() {
        assert_eq!(first_paragraph("\n\n  第一段。\n\n第二段。"), "第一段。");
        assert_eq!(first_paragraph(""), "");
    }
}
