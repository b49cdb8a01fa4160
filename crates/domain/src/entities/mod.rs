//! sea-orm entities, one module per table. They are storage rows: the gateway never exposes them
//! directly, it wraps them in its own GraphQL and JSON types.

pub mod api_token;
pub mod article;
pub mod article_change;
pub mod article_revision;
pub mod article_tag;
pub mod channel;
pub mod feed_item;
pub mod login_throttle;
pub mod page;
pub mod persisted_operation;
pub mod site_setting;
pub mod source;
pub mod tag;
pub mod takedown_request;
pub mod user;
pub mod webhook_attempt;
pub mod webhook_dispatch;
pub mod webhook_endpoint;
pub mod webhook_event;
pub mod webhook_partner_article;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// How a source lets us use its work; decides what partners may receive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum License {
    /// The site's own work.
    #[sea_orm(string_value = "own")]
    Own,
    /// Reprinted as news under fair use; no redistribution.
    #[sea_orm(string_value = "all_rights_reserved")]
    AllRightsReserved,
    /// The source granted permission to republish.
    #[sea_orm(string_value = "permission_granted")]
    PermissionGranted,
    /// Creative Commons Attribution.
    #[sea_orm(string_value = "cc_by")]
    CcBy,
    /// Creative Commons Attribution-ShareAlike.
    #[sea_orm(string_value = "cc_by_sa")]
    CcBySa,
    /// No rights reserved.
    #[sea_orm(string_value = "public_domain")]
    PublicDomain,
}

/// Whether an article is our own, a reprint of another medium's work, or paid content.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ArticleKind {
    /// Written by the newsroom.
    #[sea_orm(string_value = "original")]
    Original,
    /// Republished from another medium; must name its source and original URL.
    #[sea_orm(string_value = "reprint")]
    Reprint,
    /// Paid content.
    #[sea_orm(string_value = "sponsored")]
    Sponsored,
}

/// Where an article is in its life. Only `published` and `scheduled` articles whose publish time
/// has passed are visible to readers (see [`crate::articles::visible`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    /// Being written; never visible to readers.
    #[sea_orm(string_value = "draft")]
    Draft,
    /// Visible from its publish time on, without anyone acting.
    #[sea_orm(string_value = "scheduled")]
    Scheduled,
    /// Visible (once its publish time has passed).
    #[sea_orm(string_value = "published")]
    Published,
    /// Withdrawn from readers, kept for the record.
    #[sea_orm(string_value = "archived")]
    Archived,
    /// Removed on a rights holder's request; hidden from every read path.
    #[sea_orm(string_value = "taken_down")]
    TakenDown,
}

/// Where a takedown request stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum TakedownStatus {
    /// Waiting for an editor.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Accepted: the article was taken down.
    #[sea_orm(string_value = "accepted")]
    Accepted,
    /// Rejected: the article stays.
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

/// What a webhook event tells a partner about an article.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventKind {
    /// The article became one the partner may have.
    #[sea_orm(string_value = "published")]
    Published,
    /// An article the partner has changed.
    #[sea_orm(string_value = "updated")]
    Updated,
    /// The partner may no longer have the article (unpublished, taken down, deleted, or its
    /// source no longer allows syndication).
    #[sea_orm(string_value = "removed")]
    Removed,
}

/// What became of one attempt to deliver a webhook event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The endpoint answered with a 2xx status.
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// It failed; the event will be tried again.
    #[sea_orm(string_value = "retrying")]
    Retrying,
    /// It failed, and it was the last attempt: the endpoint moves on to the next event.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Not sent: the article is no longer one the partner may have, so its content is not pushed;
    /// the removal that follows is.
    #[sea_orm(string_value = "withheld")]
    Withheld,
}

/// The markup an article's or page's body was written in. The body is stored as given and
/// rendered on the way out (see [`crate::render`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// CommonMark.
    #[sea_orm(string_value = "markdown")]
    Markdown,
    /// HTML, sanitized whenever it is served.
    #[sea_orm(string_value = "html")]
    Html,
}

/// What a user may do. Admins can do everything editors can, and manage tokens.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the site: everything an editor does, plus users and API tokens.
    #[sea_orm(string_value = "admin")]
    Admin,
    /// Runs the newsroom: writes and publishes content.
    #[sea_orm(string_value = "editor")]
    Editor,
    /// A syndication partner: reads what it may republish; writes nothing.
    #[sea_orm(string_value = "partner")]
    Partner,
}

impl Role {
    /// Whether this role may write content.
    pub fn is_editorial(self) -> bool {
        matches!(self, Role::Admin | Role::Editor)
    }
}
