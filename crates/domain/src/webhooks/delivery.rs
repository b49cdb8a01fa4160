//! Delivering events to endpoints: which endpoints are due, claiming them so that one server
//! process at a time sends to each (in order), and recording every attempt.
//!
//! An endpoint's row says how far it got (`after_event`), how many attempts the next event has
//! had, and when to try again. Each attempt is recorded in its own transaction right after the
//! answer, so a restart resumes at the first event not recorded as done. The one gap is a crash
//! between an answer and its record: that event is sent again, with the same event id, which
//! receivers use to drop the repeat.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, TransactionSession, TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType, Query},
};

use crate::{
    entities::{DeliveryOutcome, Role, user, webhook_attempt, webhook_endpoint, webhook_event},
    error::Result,
};

/// How long the log keeps an error message, in characters.
const MAX_ERROR: usize = 500;

/// How retries back off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: TimeDelta,
    /// The longest wait.
    pub max: TimeDelta,
    /// Attempts at one event before it is marked failed and the endpoint moves on.
    pub max_attempts: i32,
}

impl Backoff {
    /// The wait after the `failures`-th failed attempt in a row: `first`, doubled for each
    /// failure before it, at most `max`; then up to half of it taken off at random ("equal
    /// jitter"), so endpoints that failed together do not all come back at once.
    pub fn delay(&self, failures: i32) -> TimeDelta {
        let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 40)).unwrap_or(0);
        let first = self.first.num_milliseconds().max(1);
        let max = self.max.num_milliseconds().max(first);
        let full = first
            .checked_mul(1_i64 << doublings)
            .map_or(max, |d| d.min(max));
        let half = full / 2;
        TimeDelta::milliseconds(full - rand::random_range(0..=half))
    }
}

/// A server process's hold on the endpoints it delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimer {
    /// Who holds the claims: unique to the process.
    pub worker: String,
    /// How long a claim lasts unless renewed; longer than any one attempt, so that it only runs
    /// out when its process died.
    pub lease: TimeDelta,
}

/// The endpoints with an event waiting and an attempt due at `now`, held by no live claim, whose
/// owner is an enabled partner (a disabled partner receives nothing until enabled again).
fn due(now: DateTime<Utc>) -> Select<webhook_endpoint::Entity> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(webhook_endpoint::Column::ClaimedUntil.is_null())
                .add(webhook_endpoint::Column::ClaimedUntil.lte(now)),
        )
        .filter(Expr::cust(
            "EXISTS (SELECT 1 FROM webhook_events e WHERE e.id > webhook_endpoints.after_event)",
        ))
        .filter(
            webhook_endpoint::Column::UserId.in_subquery(
                Query::select()
                    .column(user::Column::Id)
                    .from(user::Entity)
                    .and_where(user::Column::Role.eq(Role::Partner))
                    .and_where(user::Column::Disabled.eq(false))
                    .to_owned(),
            ),
        )
}

/// Claims up to `limit` due endpoints for `claimer` until `now + lease`, longest waiting first.
/// On PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED`, so processes claiming at the same
/// moment take different endpoints instead of queueing behind each other; SQLite has one writer.
pub async fn claim<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    claimer: &Claimer,
    limit: u64,
) -> Result<Vec<webhook_endpoint::Model>> {
    // Most calls find nothing due: find that out without taking the write lock.
    if !crate::pagination::any_row(db, due(now), webhook_endpoint::Column::Id).await? {
        return Ok(Vec::new());
    }
    let txn = crate::db::begin_write(db).await?;
    let mut rows = due(now)
        .order_by_asc(webhook_endpoint::Column::NextAttemptAt)
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let until = now + claimer.lease;
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::ClaimedBy,
            Expr::val(claimer.worker.as_str()),
        )
        .col_expr(webhook_endpoint::Column::ClaimedUntil, Expr::val(until))
        .filter(webhook_endpoint::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    for row in &mut rows {
        row.claimed_by = Some(claimer.worker.clone());
        row.claimed_until = Some(until);
    }
    Ok(rows)
}

/// The next events for `endpoint`, oldest first, at most `limit`.
pub async fn pending<C: ConnectionTrait>(
    db: &C,
    endpoint: &webhook_endpoint::Model,
    limit: u64,
) -> Result<Vec<webhook_event::Model>> {
    Ok(webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.gt(endpoint.after_event))
        .order_by_asc(webhook_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The endpoint answered with this HTTP status; 2xx is a delivery, anything else a failure.
    Answered(u16),
    /// No answer: the connection, the timeout, or the URL's address was refused.
    Failed(String),
    /// Not sent: the event's article is no longer one partners may have.
    Withheld,
}

/// One attempt's result and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// What became of it.
    pub sent: Sent,
    /// How long it took, when a request was made.
    pub duration_ms: Option<i32>,
}

/// Records an attempt by the claim's holder at `event`, the next event of `endpoint`. A delivery or a withheld event moves the endpoint on; a failure schedules the
/// next attempt after [`Backoff::delay`], or, at the last attempt, marks the event failed and
/// moves on. The claim is renewed. Returns the endpoint as it now stands, or `None` when the
/// claim was lost (the endpoint was deleted, or another process took it over): the caller must
/// stop sending to it.
pub async fn record<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    claimer: &Claimer,
    backoff: &Backoff,
    endpoint: &webhook_endpoint::Model,
    event: &webhook_event::Model,
    Attempt { sent, duration_ms }: Attempt,
) -> Result<Option<webhook_endpoint::Model>> {
    let attempt = endpoint.attempts + 1;
    let mut next = endpoint.clone();
    next.claimed_until = Some(now + claimer.lease);
    let (status_code, error) = match &sent {
        Sent::Answered(status) => (Some(i32::from(*status)), None),
        Sent::Failed(error) => (None, Some(error.chars().take(MAX_ERROR).collect())),
        Sent::Withheld => (None, None),
    };
    let mut retry_at = None;
    let outcome = match sent {
        Sent::Answered(200..=299) | Sent::Withheld => {
            if matches!(sent, Sent::Answered(_)) {
                next.failures = 0;
            }
            next.after_event = event.id;
            next.attempts = 0;
            next.next_attempt_at = now;
            if matches!(sent, Sent::Withheld) {
                DeliveryOutcome::Withheld
            } else {
                DeliveryOutcome::Delivered
            }
        }
        Sent::Answered(_) | Sent::Failed(_) => {
            next.failures = endpoint.failures.saturating_add(1);
            next.next_attempt_at = now + backoff.delay(next.failures);
            if attempt >= backoff.max_attempts {
                next.after_event = event.id;
                next.attempts = 0;
                DeliveryOutcome::Failed
            } else {
                next.attempts = attempt;
                retry_at = Some(next.next_attempt_at);
                DeliveryOutcome::Retrying
            }
        }
    };
    let txn = crate::db::begin_write(db).await?;
    let moved = webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::AfterEvent,
            Expr::val(next.after_event),
        )
        .col_expr(webhook_endpoint::Column::Attempts, Expr::val(next.attempts))
        .col_expr(webhook_endpoint::Column::Failures, Expr::val(next.failures))
        .col_expr(
            webhook_endpoint::Column::NextAttemptAt,
            Expr::val(next.next_attempt_at),
        )
        .col_expr(
            webhook_endpoint::Column::ClaimedUntil,
            Expr::val(next.claimed_until),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .filter(webhook_endpoint::Column::ClaimedBy.eq(claimer.worker.as_str()))
        .filter(webhook_endpoint::Column::AfterEvent.eq(endpoint.after_event))
        .filter(webhook_endpoint::Column::Attempts.eq(endpoint.attempts))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 0 {
        return Ok(None);
    }
    webhook_attempt::ActiveModel {
        endpoint_id: Set(endpoint.id),
        event_id: Set(event.id),
        attempt: Set(attempt),
        outcome: Set(outcome),
        status_code: Set(status_code),
        error: Set(error),
        duration_ms: Set(duration_ms),
        attempted_at: Set(now),
        next_attempt_at: Set(retry_at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(Some(next))
}

/// Gives up `claimer`'s claim on one endpoint (`Some`) or on all it holds (`None`, when its
/// process stops), so that any process may deliver to them at once.
pub async fn release<C: ConnectionTrait>(
    db: &C,
    claimer: &Claimer,
    endpoint_id: Option<i64>,
) -> Result<()> {
    let mut query = webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::ClaimedBy,
            Expr::val(Option::<String>::None),
        )
        .col_expr(
            webhook_endpoint::Column::ClaimedUntil,
            Expr::val(Option::<DateTime<Utc>>::None),
        )
        .filter(webhook_endpoint::Column::ClaimedBy.eq(claimer.worker.as_str()));
    if let Some(id) = endpoint_id {
        query = query.filter(webhook_endpoint::Column::Id.eq(id));
    }
    query.exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let backoff = Backoff {
            first: TimeDelta::seconds(10),
            max: TimeDelta::seconds(300),
            max_attempts: 5,
        };
        for _ in 0..200 {
            for (failures, full) in [(1, 10), (2, 20), (3, 40), (4, 80), (6, 300), (60, 300)] {
                let d = backoff.delay(failures).num_milliseconds();
                assert!(
                    (full * 500..=full * 1000).contains(&d),
                    "failure {failures}: {d} ms"
                );
            }
        }
        // Nonsense counts still give a sane wait.
        let d = backoff.delay(0).num_milliseconds();
        assert!((5_000..=10_000).contains(&d), "{d}");
        assert!(backoff.delay(i32::MAX) <= TimeDelta::seconds(300));
    }
}
