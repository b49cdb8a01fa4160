//! Site-wide settings: name, slogan, filing numbers and default disclaimers. Stored one row per
//! key in `site_settings`; [`SiteSettings`] is the typed view every caller uses.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::{entities::site_setting, error::Result};

/// The keys `site_settings` may hold; anything else in the table is ignored.
pub mod keys {
    /// The site's name.
    pub const NAME: &str = "name";
    /// The slogan above the navigation.
    pub const SLOGAN: &str = "slogan";
    /// The public base URL, without a trailing slash.
    pub const BASE_URL: &str = "base_url";
    /// The ICP filing number (ICP备案号).
    pub const ICP_FILING: &str = "icp_filing";
    /// The public-security filing number (公网安备).
    pub const PUBLIC_SECURITY_FILING: &str = "public_security_filing";
    /// The disclaimer shown under reprints when neither article nor source overrides it.
    pub const REPRINT_DISCLAIMER: &str = "reprint_disclaimer";
    /// The notice shown under sponsored articles.
    pub const SPONSORED_DISCLAIMER: &str = "sponsored_disclaimer";
    /// Where rights holders send takedown requests when the source names no contact.
    pub const TAKEDOWN_CONTACT: &str = "takedown_contact";
}

/// The typed site settings. Missing keys read as empty or `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSettings {
    /// The site's name.
    pub name: String,
    /// The slogan above the navigation.
    pub slogan: Option<String>,
    /// The public base URL, without a trailing slash.
    pub base_url: Option<String>,
    /// ICP filing number.
    pub icp_filing: Option<String>,
    /// Public-security filing number.
    pub public_security_filing: Option<String>,
    /// Default reprint disclaimer.
    pub reprint_disclaimer: Option<String>,
    /// Default sponsored-content notice.
    pub sponsored_disclaimer: Option<String>,
    /// Default takedown contact.
    pub takedown_contact: Option<String>,
}

impl SiteSettings {
    /// The canonical address of an article on the site (`{base_url}/articles/{slug}`), for
    /// attribution in what partners and feeds carry; `None` until the base URL is set.
    pub fn article_url(&self, slug: &str) -> Option<String> {
        self.base_url
            .as_deref()
            .map(|base| format!("{base}/articles/{slug}"))
    }

    /// Reads every setting in one query.
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self> {
        let mut settings = SiteSettings::default();
        for row in site_setting::Entity::find().all(db).await? {
            let value = Some(row.value).filter(|v| !v.trim().is_empty());
            match row.key.as_str() {
                keys::NAME => settings.name = value.unwrap_or_default(),
                keys::SLOGAN => settings.slogan = value,
                keys::BASE_URL => {
                    settings.base_url = value.map(|v| v.trim_end_matches('/').to_owned())
                }
                keys::ICP_FILING => settings.icp_filing = value,
                keys::PUBLIC_SECURITY_FILING => settings.public_security_filing = value,
                keys::REPRINT_DISCLAIMER => settings.reprint_disclaimer = value,
                keys::SPONSORED_DISCLAIMER => settings.sponsored_disclaimer = value,
                keys::TAKEDOWN_CONTACT => settings.takedown_contact = value,
                _ => {}
            }
        }
        Ok(settings)
    }
}
