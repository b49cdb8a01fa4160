//! Webhooks in the schema: partners register, list and delete their endpoints and read their
//! delivery log; editors and admins see every partner's.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use newsroom_domain::{
    entities::webhook_event,
    webhooks::{Delivery, Endpoint, Scope},
};

use super::{
    errors::{Code, coded},
    ids::{self, Kind},
    types::{User, request},
};
use crate::auth::Caller;

/// Whose webhooks the caller may see and change: a partner its own, editors and admins all.
pub fn scope(ctx: &Context<'_>) -> async_graphql::Result<Scope> {
    match &request(ctx)?.caller {
        Caller::User(u) if u.user.role.is_editorial() => Ok(Scope::All),
        Caller::User(u) => Ok(Scope::Owner(u.user.id)),
        Caller::Anonymous => Err(coded(
            Code::Unauthenticated,
            "sign in first: this needs a token",
        )),
    }
}

/// A URL a partner registered to be told of articles it may have being published, updated and
/// removed.
pub struct WebhookEndpoint(pub Endpoint);

#[Object]
impl WebhookEndpoint {
    /// The global ID, for `deleteWebhook` and `webhookDeliveries(endpoint:)`.
    async fn id(&self) -> ID {
        ids::encode(Kind::WebhookEndpoint, self.0.row.id)
    }

    /// Where events are POSTed.
    async fn url(&self) -> &str {
        &self.0.row.url
    }

    /// The partner's note on what it is for.
    async fn description(&self) -> Option<&str> {
        self.0.row.description.as_deref()
    }

    /// The partner it belongs to.
    async fn owner(&self) -> User {
        User(self.0.owner.clone())
    }

    /// When it was registered; it receives the events that came after.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }

    /// Failed attempts in a row; 0 while deliveries succeed.
    async fn consecutive_failures(&self) -> i32 {
        self.0.row.failures
    }

    /// When the next attempt is due while the endpoint is failing; `null` while it is not.
    async fn retry_at(&self) -> Option<DateTime<Utc>> {
        (self.0.row.failures > 0).then_some(self.0.row.next_attempt_at)
    }
}

/// A new endpoint and its signing secret.
#[derive(SimpleObject)]
pub struct RegisteredWebhook {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// The key of the HMAC-SHA256 signature every delivery carries in `X-Newsroom-Signature`.
    /// Shown this once: keep it. To change it, delete the endpoint and register it again (what
    /// happens in between is in `GET /api/v1/changes`).
    pub secret: String,
}

/// What an event tells.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::WebhookEventKind")]
pub enum WebhookEventType {
    /// `article.published`: an article the partner may have appeared (published, its scheduled
    /// time came, or its source began to allow syndication).
    Published,
    /// `article.updated`: an article the partner has changed.
    Updated,
    /// `article.removed`: the partner may no longer have the article (unpublished, archived,
    /// taken down, deleted, or its source stopped allowing syndication).
    Removed,
}

/// What became of one attempt.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::DeliveryOutcome")]
pub enum WebhookDeliveryOutcome {
    /// The endpoint answered with a 2xx status.
    Delivered,
    /// It failed; the event is tried again at `nextAttemptAt`.
    Retrying,
    /// It failed at the last attempt; the endpoint moved on to the next event.
    Failed,
    /// Not sent: the article was no longer one the partner may have; its removal follows.
    Withheld,
}

/// One event, as receivers get it.
pub struct WebhookEvent(pub webhook_event::Model);

#[Object]
impl WebhookEvent {
    /// The id in `X-Newsroom-Event-Id` and the body's `id`: the same on every attempt.
    async fn event_id(&self) -> &str {
        &self.0.uid
    }

    /// What it tells.
    #[graphql(name = "type")]
    async fn kind(&self) -> WebhookEventType {
        self.0.kind.into()
    }

    /// The name in `X-Newsroom-Event` and the body's `type`, such as `article.published`.
    async fn name(&self) -> &'static str {
        crate::webhooks::event_name(self.0.kind)
    }

    /// The article's global ID.
    async fn article_id(&self) -> ID {
        ids::encode(Kind::Article, self.0.article_id)
    }

    /// The article's slug.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// When the change became visible.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}

/// One attempt to deliver an event to an endpoint.
pub struct WebhookDelivery(pub Delivery);

#[Object]
impl WebhookDelivery {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::WebhookDelivery, self.0.attempt.id)
    }

    /// Where it went.
    async fn endpoint(&self) -> WebhookEndpoint {
        WebhookEndpoint(self.0.endpoint.clone())
    }

    /// What was sent.
    async fn event(&self) -> WebhookEvent {
        WebhookEvent(self.0.event.clone())
    }

    /// 1 for the first attempt at this event.
    async fn attempt(&self) -> i32 {
        self.0.attempt.attempt
    }

    /// What became of it.
    async fn outcome(&self) -> WebhookDeliveryOutcome {
        self.0.attempt.outcome.into()
    }

    /// The HTTP status the endpoint answered with, if it answered.
    async fn status_code(&self) -> Option<i32> {
        self.0.attempt.status_code
    }

    /// Why there was no answer (refused connection, timeout, address not allowed).
    async fn error(&self) -> Option<&str> {
        self.0.attempt.error.as_deref()
    }

    /// How long the request took.
    async fn duration_ms(&self) -> Option<i32> {
        self.0.attempt.duration_ms
    }

    /// When it was made.
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempt.attempted_at
    }

    /// When the event will be tried again, for a `RETRYING` attempt.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.attempt.next_attempt_at
    }
}
