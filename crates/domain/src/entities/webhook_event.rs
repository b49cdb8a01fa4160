//! `webhook_events`: what partners are told, read off the article change log (see
//! [`crate::webhooks`]).

use sea_orm::entity::prelude::*;

use super::WebhookEventKind;

/// An event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The id receivers see (`X-Newsroom-Event-Id`), the same on every attempt.
    #[sea_orm(unique)]
    pub uid: String,
    pub kind: WebhookEventKind,
    pub article_id: i64,
    pub slug: String,
    /// When the change became visible (its place in the change log).
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
