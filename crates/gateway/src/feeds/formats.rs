//! The domain's [`Feed`] written out as RSS 2.0 (the `rss` crate), Atom 1.0 (`atom_syndication`)
//! and JSON Feed 1.1 (serde), and the sitemap as sitemaps.org XML (`quick-xml`'s writer). No
//! format is put together by string concatenation: the crates escape every text.
//!
//! Attribution goes into each format's own fields as well as into the content: RSS `<source>` and
//! Dublin Core (`dc:creator`, `dc:publisher`, `dc:source`, `dc:rights`); Atom `<source>`,
//! `<rights>` and a `via` link to the original; JSON Feed `external_url` and a `_newsroom`
//! extension object.

use atom_syndication as atom;
use chrono::{DateTime, Utc};
use newsroom_domain::feeds::{Attribution, Feed, FeedItem, LANGUAGE, SitemapUrl, license_label};
use quick_xml::events::{BytesDecl, BytesText, Event};
use rss::extension::dublincore::DublinCoreExtension;
use serde::Serialize;

/// The name feeds give as their generator.
const GENERATOR: &str = "Newsroom";

/// Why a feed could not be written; only a bug in a writer can cause it.
#[derive(Debug, thiserror::Error)]
#[error("writing a feed failed: {0}")]
pub struct WriteError(String);

/// What a writer produced, as text.
fn utf8<E: std::fmt::Display>(written: Result<Vec<u8>, E>) -> Result<String, WriteError> {
    let bytes = written.map_err(|e| WriteError(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| WriteError(e.to_string()))
}

/// The disclaimer and license as one line, for the formats' rights fields.
fn rights(at: &Attribution) -> String {
    match &at.disclaimer {
        Some(text) => format!("{}。{text}", license_label(at.license)),
        None => license_label(at.license).to_owned(),
    }
}

/// The feed as RSS 2.0. `feed_url` is the feed's own address (`atom:link rel="self"`).
pub fn rss(feed: &Feed, feed_url: &str) -> Result<String, WriteError> {
    let channel = rss::Channel {
        title: feed.title.clone(),
        link: feed.home_url.clone(),
        description: feed.description.clone(),
        language: Some(LANGUAGE.to_owned()),
        last_build_date: Some(feed.updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        atom_ext: Some(rss::extension::atom::AtomExtension {
            links: vec![link(feed_url, "self", Some("application/rss+xml"))],
        }),
        items: feed.items.iter().map(rss_item).collect(),
        ..Default::default()
    };
    utf8(channel.write_to(Vec::new()))
}

fn rss_item(item: &FeedItem) -> rss::Item {
    let at = item.attribution.as_ref();
    rss::Item {
        title: Some(item.title.clone()),
        link: Some(item.url.clone()),
        description: Some(item.summary.clone()),
        guid: Some(rss::Guid {
            value: item.id.clone(),
            permalink: true,
        }),
        pub_date: Some(item.published.to_rfc2822()),
        categories: item
            .categories
            .iter()
            .map(|c| rss::Category {
                name: c.name.clone(),
                domain: Some(c.scheme.clone()),
            })
            .collect(),
        // `<source url>` names a feed: the source's own, else its home page, else the original.
        source: at.and_then(|at| {
            let url = at
                .source_feed
                .as_ref()
                .or(at.source_homepage.as_ref())
                .or(at.original_url.as_ref())?;
            Some(rss::Source {
                url: url.clone(),
                title: at.source_name.clone(),
            })
        }),
        content: Some(item.content_html.clone()),
        // RSS's own `<author>` must be an e-mail address; a byline is `dc:creator`.
        dublin_core_ext: Some(DublinCoreExtension {
            creators: item.author.iter().cloned().collect(),
            publishers: at.and_then(|a| a.source_name.clone()).into_iter().collect(),
            sources: at
                .and_then(|a| a.original_url.clone())
                .into_iter()
                .collect(),
            rights: at.map(rights).into_iter().collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn link(href: &str, rel: &str, mime_type: Option<&str>) -> atom::Link {
    atom::Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Default::default()
    }
}

fn fixed(at: DateTime<Utc>) -> atom::FixedDateTime {
    at.fixed_offset()
}

/// The feed as Atom 1.0; its id is `feed_url`.
pub fn atom(feed: &Feed, feed_url: &str) -> Result<String, WriteError> {
    let atom_feed = atom::Feed {
        title: atom::Text::plain(feed.title.clone()),
        id: feed_url.to_owned(),
        updated: fixed(feed.updated),
        // The site is the author of every entry that names no one.
        authors: vec![person(&feed.site_name)],
        links: vec![
            link(&feed.home_url, "alternate", Some("text/html")),
            link(feed_url, "self", Some("application/atom+xml")),
        ],
        subtitle: Some(atom::Text::plain(feed.description.clone())),
        generator: Some(atom::Generator {
            value: GENERATOR.to_owned(),
            ..Default::default()
        }),
        lang: Some(LANGUAGE.to_owned()),
        entries: feed.items.iter().map(atom_entry).collect(),
        ..Default::default()
    };
    utf8(atom_feed.write_to(Vec::new()))
}

fn person(name: &str) -> atom::Person {
    atom::Person {
        name: name.to_owned(),
        ..Default::default()
    }
}

fn atom_entry(item: &FeedItem) -> atom::Entry {
    let at = item.attribution.as_ref();
    let mut links = vec![link(&item.url, "alternate", Some("text/html"))];
    if let Some(original) = at.and_then(|a| a.original_url.as_deref()) {
        links.push(link(original, "via", None));
    }
    atom::Entry {
        title: atom::Text::plain(item.title.clone()),
        id: item.id.clone(),
        updated: fixed(item.updated),
        published: Some(fixed(item.published)),
        authors: item.author.iter().map(|a| person(a)).collect(),
        categories: item
            .categories
            .iter()
            .map(|c| atom::Category {
                term: c.name.clone(),
                scheme: Some(c.scheme.clone()),
                label: Some(c.name.clone()),
            })
            .collect(),
        links,
        rights: at.map(|a| atom::Text::plain(rights(a))),
        source: at.and_then(|a| atom_source(a, item.updated)),
        summary: Some(atom::Text::plain(item.summary.clone())),
        content: Some(atom::Content {
            value: Some(item.content_html.clone()),
            content_type: Some("html".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Atom's `<source>`: the medium an entry was copied from, named by its feed or home page.
fn atom_source(at: &Attribution, updated: DateTime<Utc>) -> Option<atom::Source> {
    let name = at.source_name.clone()?;
    let id = at.source_feed.clone().or(at.source_homepage.clone())?;
    let mut links = Vec::new();
    if let Some(home) = &at.source_homepage {
        links.push(link(home, "alternate", Some("text/html")));
    }
    if let Some(feed) = &at.source_feed {
        links.push(link(feed, "self", None));
    }
    Some(atom::Source {
        title: atom::Text::plain(name),
        id,
        updated: fixed(updated),
        links,
        ..Default::default()
    })
}

/// JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>).
#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    language: &'static str,
    authors: Vec<JsonAuthor<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_url: Option<&'a str>,
    title: &'a str,
    content_html: &'a str,
    summary: &'a str,
    date_published: DateTime<Utc>,
    date_modified: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    tags: Vec<&'a str>,
    /// Our extension (custom keys start with `_`, and readers that do not know one ignore it).
    #[serde(rename = "_newsroom")]
    newsroom: JsonExtension<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
struct JsonExtension<'a> {
    full_text: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribution: Option<JsonAttribution<'a>>,
}

#[derive(Serialize)]
struct JsonAttribution<'a> {
    disclaimer: Option<&'a str>,
    source_name: Option<&'a str>,
    source_url: Option<&'a str>,
    original_url: Option<&'a str>,
    license: newsroom_domain::entities::License,
    license_label: &'static str,
    takedown_contact: Option<&'a str>,
}

/// The feed as JSON Feed 1.1.
pub fn json(feed: &Feed, feed_url: &str) -> Result<String, WriteError> {
    let doc = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &feed.title,
        home_page_url: &feed.home_url,
        feed_url,
        description: &feed.description,
        language: LANGUAGE,
        authors: vec![JsonAuthor {
            name: &feed.site_name,
        }],
        items: feed.items.iter().map(json_item).collect(),
    };
    serde_json::to_string(&doc).map_err(|e| WriteError(e.to_string()))
}

fn json_item(item: &FeedItem) -> JsonItem<'_> {
    let at = item.attribution.as_ref();
    JsonItem {
        id: &item.id,
        url: &item.url,
        external_url: at.and_then(|a| a.original_url.as_deref()),
        title: &item.title,
        content_html: &item.content_html,
        summary: &item.summary,
        date_published: item.published,
        date_modified: item.updated,
        authors: item.author.iter().map(|name| JsonAuthor { name }).collect(),
        tags: item.categories.iter().map(|c| c.name.as_str()).collect(),
        newsroom: JsonExtension {
            full_text: item.full_text,
            attribution: at.map(|a| JsonAttribution {
                disclaimer: a.disclaimer.as_deref(),
                source_name: a.source_name.as_deref(),
                source_url: a.source_homepage.as_deref(),
                original_url: a.original_url.as_deref(),
                license: a.license,
                license_label: license_label(a.license),
                takedown_contact: a.takedown_contact.as_deref(),
            }),
        },
    }
}

/// The sitemaps.org namespace.
const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// The URLs as a sitemap (`<urlset>`); `lastmod` in W3C datetime form.
pub fn sitemap(urls: &[SitemapUrl]) -> Result<String, WriteError> {
    let mut writer = quick_xml::Writer::new(Vec::new());
    let written: std::io::Result<()> = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("urlset")
            .with_attribute(("xmlns", SITEMAP_NS))
            .write_inner_content(|w| {
                for url in urls {
                    w.create_element("url").write_inner_content(|w| {
                        w.create_element("loc")
                            .write_text_content(BytesText::new(&url.loc))?;
                        if let Some(at) = url.lastmod {
                            w.create_element("lastmod")
                                .write_text_content(BytesText::new(
                                    &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                                ))?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        Ok(())
    })();
    utf8(written.map(|()| writer.into_inner()))
}
