//! Takedowns (the disclaimer's promise of removal on request): anyone may ask for a visible
//! article's removal, a few times an hour from one address; editors list the requests and resolve
//! them. Accepting one takes the article down in the same transaction, so it leaves every read
//! path (lists, search, rankings, feeds) at the commit, and records who did it and when.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait, sea_query::Expr,
};

use crate::{
    articles::{self, Audience},
    editorial::{self, Actor, checks},
    entities::{TakedownStatus, takedown_request},
    error::{Error, Result},
    pagination::{Page, PageRequest, TimeCursor},
    search::Segmenter,
};

/// Requests one address may make in [`REQUEST_WINDOW`].
pub const MAX_REQUESTS: i32 = 5;
/// The window [`MAX_REQUESTS`] counts over.
pub const REQUEST_WINDOW: TimeDelta = TimeDelta::hours(1);
const MAX_CLAIMANT: usize = 200;
const MAX_CONTACT: usize = 200;
const MAX_REASON: usize = 5000;
const MAX_NOTE: usize = 2000;

/// What a rights holder sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTakedown {
    /// The article to remove.
    pub article_id: i64,
    /// Who claims the rights.
    pub claimant: String,
    /// How to reach them (an e-mail address or a telephone number).
    pub contact: String,
    /// Why the article should go.
    pub reason: String,
}

/// Records a request for the removal of a visible article. Refused when the input is invalid
/// (naming the field), when `address` has sent [`MAX_REQUESTS`] in the last hour
/// (`RateLimited`), or when no visible article has the id (`NotFound`). A refused request
/// changes nothing but the address's count.
pub async fn request<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    address: Option<&str>,
    input: NewTakedown,
) -> Result<takedown_request::Model> {
    let claimant = checks::required_text("claimant", &input.claimant, MAX_CLAIMANT)?;
    let contact = checks::required_text("contact", &input.contact, MAX_CONTACT)?;
    let reason = checks::required_text("reason", &input.reason, MAX_REASON)?;
    let key = format!("takedown:{}", address.unwrap_or("unknown"));
    crate::users::count_within(db, &key, MAX_REQUESTS, REQUEST_WINDOW, now).await?;
    if articles::by_id(db, now, Audience::Reader, input.article_id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound { entity: "article" });
    }
    Ok(takedown_request::ActiveModel {
        article_id: Set(input.article_id),
        claimant: Set(claimant),
        contact: Set(contact),
        reason: Set(reason),
        status: Set(TakedownStatus::Pending),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// One request by id.
pub async fn by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<takedown_request::Model>> {
    Ok(takedown_request::Entity::find_by_id(id).one(db).await?)
}

/// The cursor of a request in [`list`]: its creation time and id.
pub fn cursor_of(request: &takedown_request::Model) -> TimeCursor {
    TimeCursor {
        at: request.created_at,
        id: request.id,
    }
}

/// One page of requests, newest first, optionally only those with `status`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    status: Option<TakedownStatus>,
    page: &PageRequest<TimeCursor>,
) -> Result<Page<takedown_request::Model>> {
    let mut base = takedown_request::Entity::find();
    if let Some(status) = status {
        base = base.filter(takedown_request::Column::Status.eq(status));
    }
    crate::pagination::newest_first(
        db,
        base,
        takedown_request::Column::CreatedAt,
        takedown_request::Column::Id,
        page,
    )
    .await
}

/// Accepts (taking the article down) or rejects a pending request, as `actor`. A request already
/// resolved is a `Conflict`; accepting one whose article another request already took down just
/// records the decision.
pub async fn resolve<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    id: i64,
    accept: bool,
    note: Option<&str>,
) -> Result<takedown_request::Model> {
    let note = checks::optional_text("note", note, MAX_NOTE)?;
    let txn = crate::db::begin_write(db).await?;
    let current = by_id(&txn, id).await?.ok_or(Error::NotFound {
        entity: "takedown request",
    })?;
    if current.status != TakedownStatus::Pending {
        return Err(Error::Conflict(format!(
            "the request was already {}",
            match current.status {
                TakedownStatus::Accepted => "accepted",
                _ => "rejected",
            }
        )));
    }
    if accept {
        editorial::take_down(&txn, segmenter, actor, now, current.article_id).await?;
    }
    // Guarded by the status, so two editors resolving at once cannot both succeed.
    let updated = takedown_request::Entity::update_many()
        .col_expr(
            takedown_request::Column::Status,
            Expr::val(if accept {
                TakedownStatus::Accepted
            } else {
                TakedownStatus::Rejected
            }),
        )
        .col_expr(
            takedown_request::Column::ResolvedBy,
            Expr::val(actor.user_id),
        )
        .col_expr(takedown_request::Column::ResolvedAt, Expr::val(now))
        .col_expr(takedown_request::Column::Note, Expr::val(note))
        .filter(takedown_request::Column::Id.eq(id))
        .filter(takedown_request::Column::Status.eq(TakedownStatus::Pending))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(Error::Conflict(
            "another editor resolved the request meanwhile".into(),
        ));
    }
    let saved = by_id(&txn, id).await?.ok_or(Error::NotFound {
        entity: "takedown request",
    })?;
    txn.commit().await?;
    Ok(saved)
}
