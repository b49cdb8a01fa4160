//! `takedown_requests`: a rights holder's request that an article be removed, and its resolution.

use sea_orm::entity::prelude::*;

use super::TakedownStatus;

/// A takedown request row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "takedown_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub article_id: i64,
    pub claimant: String,
    pub contact: String,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub status: TakedownStatus,
    pub created_at: DateTimeUtc,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
