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
    /// The channel drafts taken in from its feed are filed in.
    pub feed_channel_id: Option<i64>,
    /// When its feed was last fetched (or an attempt failed).
    pub feed_checked_at: Option<DateTimeUtc>,
    /// When its feed is fetched next; while a process fetches it, the end of that process's claim.
    pub feed_next_at: Option<DateTimeUtc>,
    /// Failed attempts in a row; the wait before the next one grows with it.
    pub feed_failures: i32,
    /// Why the last attempt failed; `None` after a success.
    #[sea_orm(column_type = "Text", nullable)]
    pub feed_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
