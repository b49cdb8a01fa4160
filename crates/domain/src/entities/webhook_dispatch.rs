//! `webhook_dispatch`: one row, where events have been read up to in the change log.

use sea_orm::entity::prelude::*;

/// The cursor row (id 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_dispatch")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub after_at: Option<DateTimeUtc>,
    pub after_seq: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
