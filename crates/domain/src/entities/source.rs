//! `sources`: the media whose work the portal reprints, and the site itself.

use sea_orm::entity::prelude::*;

use super::License;

/// A source row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sources")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub homepage: Option<String>,
    pub feed_url: Option<String>,
    pub license: License,
    pub syndication_allowed: bool,
    /// Overrides the site's default reprint disclaimer for this source's articles.
    pub disclaimer: Option<String>,
    pub takedown_contact: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
