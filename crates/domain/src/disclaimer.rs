//! The reprint disclaimer (免责声明) an article must show, resolved by one rule: the article's own
//! text, else its source's, else the site's default for the article's kind.

use crate::{
    entities::{ArticleKind, License, article, source},
    site::SiteSettings,
};

/// What a reader or partner must be shown under an article that is not wholly our own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclaimer {
    /// The article's kind, which decides the default text.
    pub kind: ArticleKind,
    /// The disclaimer text.
    pub text: String,
    /// The name of the medium the article came from.
    pub source_name: Option<String>,
    /// Where the article was first published.
    pub original_url: Option<String>,
    /// Under what terms we carry it.
    pub license: License,
    /// Where to ask for its removal.
    pub takedown_contact: Option<String>,
}

/// Resolves the disclaimer of `article`. An original article shows none unless an editor wrote
/// one for it; a reprint or sponsored article always has one when the site sets a default.
pub fn resolve(
    article: &article::Model,
    source: Option<&source::Model>,
    site: &SiteSettings,
) -> Option<Disclaimer> {
    let site_default = match article.kind {
        ArticleKind::Original => None,
        ArticleKind::Reprint => site.reprint_disclaimer.as_ref(),
        ArticleKind::Sponsored => site.sponsored_disclaimer.as_ref(),
    };
    let source_text = source
        .filter(|_| article.kind != ArticleKind::Original)
        .and_then(|s| s.disclaimer.as_ref());
    let text = article
        .disclaimer
        .as_ref()
        .or(source_text)
        .or(site_default)?;
    Some(Disclaimer {
        kind: article.kind,
        text: text.clone(),
        source_name: source.map(|s| s.name.clone()),
        original_url: article.original_url.clone(),
        license: match article.kind {
            ArticleKind::Original => License::Own,
            _ => source.map_or(License::AllRightsReserved, |s| s.license),
        },
        takedown_contact: source
            .and_then(|s| s.takedown_contact.clone())
            .or_else(|| site.takedown_contact.clone()),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::entities::{ArticleStatus, BodyFormat};

    fn article(kind: ArticleKind, disclaimer: Option<&str>) -> article::Model {
        let now = Utc::now();
        article::Model {
            id: 1,
            slug: "a".into(),
            title: "t".into(),
            lead: None,
            body: String::new(),
            body_format: BodyFormat::Markdown,
            cover_image: None,
            author: None,
            channel_id: 1,
            source_id: Some(1),
            original_url: Some("https://example.cn/a".into()),
            kind,
            status: ArticleStatus::Published,
            published_at: Some(now),
            featured: false,
            recommended: false,
            disclaimer: disclaimer.map(Into::into),
            view_count: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            original_published_at: None,
        }
    }

    fn source(disclaimer: Option<&str>) -> source::Model {
        let now = Utc::now();
        source::Model {
            id: 1,
            slug: "s".into(),
            name: "南昌开发区".into(),
            homepage: None,
            feed_url: None,
            license: License::PermissionGranted,
            syndication_allowed: false,
            disclaimer: disclaimer.map(Into::into),
            takedown_contact: None,
            created_at: now,
            updated_at: now,
            feed_channel_id: None,
            feed_checked_at: None,
            feed_next_at: None,
            feed_failures: 0,
            feed_error: None,
        }
    }

    fn site() -> SiteSettings {
        SiteSettings {
            reprint_disclaimer: Some("site".into()),
            takedown_contact: Some("legal@example.cn".into()),
            ..SiteSettings::default()
        }
    }

    #[test]
    fn article_beats_source_beats_site() {
        let text =
            |a: &article::Model, s: &source::Model| resolve(a, Some(s), &site()).map(|d| d.text);
        assert_eq!(
            text(
                &article(ArticleKind::Reprint, Some("own")),
                &source(Some("src"))
            )
            .as_deref(),
            Some("own")
        );
        assert_eq!(
            text(&article(ArticleKind::Reprint, None), &source(Some("src"))).as_deref(),
            Some("src")
        );
        assert_eq!(
            text(&article(ArticleKind::Reprint, None), &source(None)).as_deref(),
            Some("site")
        );
        let d = resolve(
            &article(ArticleKind::Reprint, None),
            Some(&source(None)),
            &site(),
        )
        .unwrap();
        assert_eq!(d.source_name.as_deref(), Some("南昌开发区"));
        assert_eq!(d.license, License::PermissionGranted);
        assert_eq!(d.takedown_contact.as_deref(), Some("legal@example.cn"));
    }

    #[test]
    fn originals_need_their_own_text() {
        assert_eq!(
            resolve(
                &article(ArticleKind::Original, None),
                Some(&source(Some("src"))),
                &site()
            ),
            None
        );
        let d = resolve(&article(ArticleKind::Original, Some("note")), None, &site()).unwrap();
        assert_eq!((d.text.as_str(), d.license), ("note", License::Own));
    }
}
