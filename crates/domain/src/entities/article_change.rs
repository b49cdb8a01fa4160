//! `article_changes`: when an article entered or left what readers see (see [`crate::changes`]).

use sea_orm::entity::prelude::*;

/// A change row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "article_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub article_id: i64,
    pub slug: String,
    /// `upsert` or `remove`.
    pub change: String,
    pub visible_from: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
