//! `webhook_partner_articles`: the articles partners have been told of by a `published` event and
//! not since by a `removed` one.

use sea_orm::entity::prelude::*;

/// A row: one article partners hold.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_partner_articles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub article_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
