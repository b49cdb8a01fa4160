//! `feed_items`: the items taken in from sources' feeds, by URL (see [`crate::ingest`]).

use sea_orm::entity::prelude::*;

/// A feed item row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feed_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source_id: i64,
    /// The item's link, normalised; unique.
    #[sea_orm(unique)]
    pub url: String,
    /// The draft it became; `None` once that article is deleted.
    pub article_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
