//! `webhook_attempts`: the delivery log, one row per attempt to deliver an event to an endpoint.

use sea_orm::entity::prelude::*;

use super::DeliveryOutcome;

/// An attempt row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    /// 1 for the first attempt at this event.
    pub attempt: i32,
    pub outcome: DeliveryOutcome,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i32>,
    pub attempted_at: DateTimeUtc,
    /// When the event will be tried again, for a `retrying` attempt.
    pub next_attempt_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
