//! The JSON bodies of the REST API. Field names are GraphQL's (camelCase), IDs are GraphQL's
//! global IDs, and enum values are lower case as in the change log. Each type is built from
//! domain rows here and documented in the OpenAPI document by its derive, so what is served and
//! what is described are one thing.

use chrono::{DateTime, Utc};
use newsroom_domain::{
    catalog::ArticleRelations,
    disclaimer,
    entities::{self, article, channel, page, source, tag},
    render,
    site::SiteSettings,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::graphql::ids::{self, Kind};

/// Whether an article is the site's own, a reprint or paid content.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleKind {
    /// Written by the newsroom.
    Original,
    /// Republished from another medium.
    Reprint,
    /// Paid content.
    Sponsored,
}

impl From<entities::ArticleKind> for ArticleKind {
    fn from(kind: entities::ArticleKind) -> Self {
        match kind {
            entities::ArticleKind::Original => ArticleKind::Original,
            entities::ArticleKind::Reprint => ArticleKind::Reprint,
            entities::ArticleKind::Sponsored => ArticleKind::Sponsored,
        }
    }
}

/// Under what terms a source's work is carried.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum License {
    /// The site's own work.
    Own,
    /// All rights reserved by the source.
    AllRightsReserved,
    /// The source granted permission to republish.
    PermissionGranted,
    /// Creative Commons Attribution.
    CcBy,
    /// Creative Commons Attribution-ShareAlike.
    CcBySa,
    /// No rights reserved.
    PublicDomain,
}

impl From<entities::License> for License {
    fn from(license: entities::License) -> Self {
        match license {
            entities::License::Own => License::Own,
            entities::License::AllRightsReserved => License::AllRightsReserved,
            entities::License::PermissionGranted => License::PermissionGranted,
            entities::License::CcBy => License::CcBy,
            entities::License::CcBySa => License::CcBySa,
            entities::License::PublicDomain => License::PublicDomain,
        }
    }
}

/// The order of an article list.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleOrder {
    /// Latest publish time first.
    Newest,
    /// Earliest publish time first.
    Oldest,
}

impl ArticleOrder {
    /// The order a parameter names, in any case.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "newest" => Some(ArticleOrder::Newest),
            "oldest" => Some(ArticleOrder::Oldest),
            _ => None,
        }
    }
}

impl From<ArticleOrder> for newsroom_domain::articles::ArticleOrder {
    fn from(order: ArticleOrder) -> Self {
        match order {
            ArticleOrder::Newest => newsroom_domain::articles::ArticleOrder::Newest,
            ArticleOrder::Oldest => newsroom_domain::articles::ArticleOrder::Oldest,
        }
    }
}

/// The channel an article is filed in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// Order among its siblings.
    pub position: i32,
}

impl From<&channel::Model> for Channel {
    fn from(c: &channel::Model) -> Self {
        Channel {
            id: ids::encode(Kind::Channel, c.id).0,
            slug: c.slug.clone(),
            name: c.name.clone(),
            position: c.position,
        }
    }
}

/// A navigation section with the sections below it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTree {
    /// The channel itself.
    #[serde(flatten)]
    pub channel: Channel,
    /// The channels below it, in navigation order.
    #[schema(no_recursion)]
    pub children: Vec<ChannelTree>,
}

impl ChannelTree {
    /// The top-level channels of `all` (in navigation order), each with its descendants.
    pub fn forest(all: &[channel::Model]) -> Vec<ChannelTree> {
        Self::children_of(all, None, 0)
    }

    fn children_of(all: &[channel::Model], parent: Option<i64>, depth: usize) -> Vec<ChannelTree> {
        // A parent cycle cannot be built through the API; the depth bound guards the recursion
        // against one made by hand in the database.
        if depth > all.len() {
            return Vec::new();
        }
        all.iter()
            .filter(|c| c.parent_id == parent)
            .map(|c| ChannelTree {
                channel: c.into(),
                children: Self::children_of(all, Some(c.id), depth + 1),
            })
            .collect()
    }
}

/// A medium whose work the portal carries, or the site itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name.
    pub slug: String,
    /// The display name (来源).
    pub name: String,
    /// The source's home page.
    pub homepage: Option<String>,
    /// Under what terms its work is carried.
    pub license: License,
    /// Whether partners may receive its articles.
    pub syndication_allowed: bool,
    /// Where to ask for the removal of its articles.
    pub takedown_contact: Option<String>,
}

impl From<&source::Model> for Source {
    fn from(s: &source::Model) -> Self {
        Source {
            id: ids::encode(Kind::Source, s.id).0,
            slug: s.slug.clone(),
            name: s.name.clone(),
            homepage: s.homepage.clone(),
            license: s.license.into(),
            syndication_allowed: s.syndication_allowed,
            takedown_contact: s.takedown_contact.clone(),
        }
    }
}

/// A keyword.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name.
    pub slug: String,
    /// The display name.
    pub name: String,
}

impl From<&tag::Model> for Tag {
    fn from(t: &tag::Model) -> Self {
        Tag {
            id: ids::encode(Kind::Tag, t.id).0,
            slug: t.slug.clone(),
            name: t.name.clone(),
        }
    }
}

/// The reprint disclaimer (免责声明) and the attribution that goes with it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disclaimer {
    /// The article's kind, which decides the default text.
    pub kind: ArticleKind,
    /// The disclaimer text.
    pub text: String,
    /// The name of the medium the article came from.
    pub source_name: Option<String>,
    /// Where the article was first published.
    pub original_url: Option<String>,
    /// Under what terms the site carries it.
    pub license: License,
    /// Where to ask for the article's removal.
    pub takedown_contact: Option<String>,
}

impl From<disclaimer::Disclaimer> for Disclaimer {
    fn from(d: disclaimer::Disclaimer) -> Self {
        Disclaimer {
            kind: d.kind.into(),
            text: d.text,
            source_name: d.source_name,
            original_url: d.original_url,
            license: d.license.into(),
            takedown_contact: d.takedown_contact,
        }
    }
}

/// A visible article in a list: everything but the body, with its attribution. A partner
/// republishing it shows `source`, `originalUrl`, `disclaimer` and links back to `url`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleSummary {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name; `GET /api/v1/articles/{slug}` serves the whole article.
    pub slug: String,
    /// The headline.
    pub title: String,
    /// The editor's summary (核心提示).
    pub lead: Option<String>,
    /// The cover image URL.
    pub cover_image: Option<String>,
    /// The byline.
    pub author: Option<String>,
    /// Own, reprint or sponsored.
    pub kind: ArticleKind,
    /// When it became visible.
    pub published_at: Option<DateTime<Utc>>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// How many times readers viewed it.
    pub view_count: i64,
    /// Flagged for 推荐图文.
    pub featured: bool,
    /// Flagged for 推荐资讯.
    pub recommended: bool,
    /// Where a reprint was first published.
    pub original_url: Option<String>,
    /// Its canonical address on this site; `null` until the site's base URL is set.
    pub url: Option<String>,
    /// The channel it is filed in.
    pub channel: Option<Channel>,
    /// The medium it came from; `null` for the site's own work.
    pub source: Option<Source>,
    /// Its tags, in the editor's order.
    pub tags: Vec<Tag>,
    /// The disclaimer: the article's own text, else its source's, else the site's default;
    /// `null` for the site's own articles unless an editor wrote one.
    pub disclaimer: Option<Disclaimer>,
}

impl ArticleSummary {
    /// `a` with its relations (read for its whole page at once) and the site's settings.
    pub fn new(a: &article::Model, relations: &ArticleRelations, site: &SiteSettings) -> Self {
        let source = relations.source_of(a);
        ArticleSummary {
            id: ids::encode(Kind::Article, a.id).0,
            slug: a.slug.clone(),
            title: a.title.clone(),
            lead: a.lead.clone(),
            cover_image: a.cover_image.clone(),
            author: a.author.clone(),
            kind: a.kind.into(),
            published_at: a.published_at,
            updated_at: a.updated_at,
            view_count: a.view_count,
            featured: a.featured,
            recommended: a.recommended,
            original_url: a.original_url.clone(),
            url: site.article_url(&a.slug),
            channel: relations.channel_of(a).map(Channel::from),
            source: source.map(Source::from),
            tags: relations.tags_of(a).iter().map(Tag::from).collect(),
            disclaimer: disclaimer::resolve(a, source, site).map(Disclaimer::from),
        }
    }
}

/// A whole visible article: the summary's fields and the body, stored once and served both as
/// sanitized HTML and as plain text.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    /// Everything a list shows.
    #[serde(flatten)]
    pub summary: ArticleSummary,
    /// The body as sanitized HTML: no script, event handler or `javascript:` URL.
    pub body_html: String,
    /// The body as plain text, paragraphs separated by blank lines.
    pub body_text: String,
    /// The version, bumped by every save.
    pub version: i32,
}

impl Article {
    /// `a` whole.
    pub fn new(a: &article::Model, relations: &ArticleRelations, site: &SiteSettings) -> Self {
        Article {
            summary: ArticleSummary::new(a, relations, site),
            body_html: render::to_html(&a.body, a.body_format),
            body_text: render::to_text(&a.body, a.body_format),
            version: a.version,
        }
    }
}

/// A few fields of an article, where a ranking or a search hit names it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleBrief {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name.
    pub slug: String,
    /// The headline.
    pub title: String,
    /// The editor's summary (核心提示).
    pub lead: Option<String>,
    /// When it became visible.
    pub published_at: Option<DateTime<Utc>>,
    /// How many times readers viewed it.
    pub view_count: i64,
}

impl From<&article::Model> for ArticleBrief {
    fn from(a: &article::Model) -> Self {
        ArticleBrief {
            id: ids::encode(Kind::Article, a.id).0,
            slug: a.slug.clone(),
            title: a.title.clone(),
            lead: a.lead.clone(),
            published_at: a.published_at,
            view_count: a.view_count,
        }
    }
}

/// A standing page in a list (关于我们, 联系方式, ...).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageSummary {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name; `GET /api/v1/pages/{slug}` serves the page.
    pub slug: String,
    /// The title.
    pub title: String,
    /// Order among the footer links.
    pub position: i32,
    /// Whether the footer links to it.
    pub in_footer: bool,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

impl From<&page::Model> for PageSummary {
    fn from(p: &page::Model) -> Self {
        PageSummary {
            id: ids::encode(Kind::Page, p.id).0,
            slug: p.slug.clone(),
            title: p.title.clone(),
            position: p.position,
            in_footer: p.in_footer,
            updated_at: p.updated_at,
        }
    }
}

/// A standing page with its body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Everything a list shows.
    #[serde(flatten)]
    pub summary: PageSummary,
    /// The body as sanitized HTML.
    pub body_html: String,
    /// The body as plain text.
    pub body_text: String,
}

impl From<&page::Model> for Page {
    fn from(p: &page::Model) -> Self {
        Page {
            summary: p.into(),
            body_html: render::to_html(&p.body, p.body_format),
            body_text: render::to_text(&p.body, p.body_format),
        }
    }
}

/// The site: its name, slogan, footer and filing numbers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    /// The site's name.
    pub name: String,
    /// The slogan above the navigation.
    pub slogan: Option<String>,
    /// The public base URL, which article `url`s start with.
    pub base_url: Option<String>,
    /// The ICP filing number (ICP备案号), shown in the footer.
    pub icp_filing: Option<String>,
    /// The public-security filing number (公网安备), shown in the footer.
    pub public_security_filing: Option<String>,
    /// Where rights holders send takedown requests.
    pub takedown_contact: Option<String>,
    /// The pages linked from the footer, in order.
    pub footer_pages: Vec<PageSummary>,
}

impl Site {
    /// The settings and the footer's pages.
    pub fn new(s: SiteSettings, footer: &[page::Model]) -> Self {
        Site {
            name: s.name,
            slogan: s.slogan,
            base_url: s.base_url,
            icp_filing: s.icp_filing,
            public_security_filing: s.public_security_filing,
            takedown_contact: s.takedown_contact,
            footer_pages: footer.iter().map(PageSummary::from).collect(),
        }
    }
}

/// Declares a keyset page of `$item`s, shaped like every paged REST list.
macro_rules! keyset_page {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// The items, in list order whichever way the page was read.
            pub items: Vec<$item>,
            /// More items follow the last one.
            pub has_next_page: bool,
            /// More items precede the first one.
            pub has_previous_page: bool,
            /// Pass as `after` (with `first`) for the next page; `null` on the last page.
            pub next_cursor: Option<String>,
            /// Pass as `before` (with `last`) for the previous page; `null` on the first page.
            pub previous_cursor: Option<String>,
        }

        impl $name {
            /// The page of `rows`, each made an item by `item` and placed by `cursor`.
            pub fn from_rows<R>(
                rows: &newsroom_domain::pagination::Page<R>,
                cursor: impl Fn(&R) -> String,
                item: impl Fn(&R) -> $item,
            ) -> Self {
                $name {
                    items: rows.items.iter().map(item).collect(),
                    has_next_page: rows.has_next,
                    has_previous_page: rows.has_previous,
                    next_cursor: rows.items.last().map(&cursor).filter(|_| rows.has_next),
                    previous_cursor: rows
                        .items
                        .first()
                        .map(&cursor)
                        .filter(|_| rows.has_previous),
                }
            }
        }
    };
}

keyset_page!(ArticlePage, ArticleSummary, "A page of visible articles.");
keyset_page!(TagPage, Tag, "A page of tags, in slug order.");
keyset_page!(SourcePage, Source, "A page of sources, in slug order.");

/// The navigation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    /// The top-level channels in navigation order, each with its `children`.
    pub items: Vec<ChannelTree>,
}

/// The standing pages.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageList {
    /// Every page, footer pages and others, in footer order.
    pub items: Vec<PageSummary>,
}
