//! `article_revisions`: a snapshot of an article at every saved version, and who saved it.

use sea_orm::entity::prelude::*;

/// A revision row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "article_revisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub article_id: i64,
    pub version: i32,
    /// The editable fields as JSON (see `crate::editorial::Snapshot`).
    #[sea_orm(column_type = "Text")]
    pub snapshot: String,
    pub saved_by: Option<i64>,
    pub saved_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
