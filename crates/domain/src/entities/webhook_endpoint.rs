//! `webhook_endpoints`: a partner's registered URL and where its deliveries stand (see
//! [`crate::webhooks`]).

use sea_orm::entity::prelude::*;

/// An endpoint row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub url: String,
    pub description: Option<String>,
    /// The HMAC key; shown to the partner once, when registered.
    pub secret: String,
    pub created_at: DateTimeUtc,
    /// The last event this endpoint is done with (delivered, withheld or given up on).
    pub after_event: i64,
    /// Attempts so far at the next event.
    pub attempts: i32,
    /// Failed attempts in a row; the wait before the next attempt grows with it.
    pub failures: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
