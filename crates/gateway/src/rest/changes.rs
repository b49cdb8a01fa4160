//! `GET /api/v1/changes`: the change log a partner keeps an exact copy with.

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, Utc};
use newsroom_domain::{
    changes::{self, MAX_PAGE},
    entities::article,
    pagination::{Cursor, TimeCursor},
    render,
    site::SiteSettings,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, authenticated,
    errors::ErrorBody,
    model::ArticleKind,
    params::{self, Params},
};
use crate::{
    app::AppState,
    graphql::ids::{self, Kind},
};

/// Query parameters of `GET /api/v1/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// Where to continue: the `next` of the previous answer; from the start when absent.
    since: Option<String>,
    /// Entries in this answer, 1 to 500 (100 when absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

params::query_params!(ChangesParams);

/// A page of the change log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeLog {
    /// The entries, oldest first.
    pub items: Vec<Change>,
    /// Pass back as `since`; `null` only when the log is empty and no `since` was given.
    pub next: Option<String>,
    /// More entries follow now: ask again at once.
    pub has_more: bool,
}

/// One entry of the log: the article as it is now, or a tombstone for one the caller may no
/// longer have (taken down, unpublished, deleted, or no longer syndicated).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Change {
    /// Store or replace the article.
    Upsert {
        /// The article's global ID.
        id: String,
        /// Its slug.
        slug: String,
        /// The article as it is now.
        article: Box<ChangedArticle>,
    },
    /// Delete the article.
    Remove {
        /// The article's global ID.
        id: String,
        /// Its slug when the entry was written.
        slug: String,
    },
}

/// An article as the change log carries it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangedArticle {
    /// The global ID.
    pub id: String,
    /// The URL-safe, unique name.
    pub slug: String,
    /// Its canonical address on this site; `null` until the site's base URL is set.
    pub url: Option<String>,
    /// The headline.
    pub title: String,
    /// The editor's summary (核心提示).
    pub lead: Option<String>,
    /// The body as sanitized HTML.
    pub body_html: String,
    /// The byline.
    pub author: Option<String>,
    /// The cover image URL.
    pub cover_image: Option<String>,
    /// Where a reprint was first published.
    pub original_url: Option<String>,
    /// Own, reprint or sponsored.
    pub kind: ArticleKind,
    /// When it became visible.
    pub published_at: Option<DateTime<Utc>>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// The version, bumped by every save.
    pub version: i32,
}

impl ChangedArticle {
    fn new(a: article::Model, settings: &SiteSettings) -> Self {
        ChangedArticle {
            id: ids::encode(Kind::Article, a.id).0,
            url: settings.article_url(&a.slug),
            body_html: render::to_html(&a.body, a.body_format),
            slug: a.slug,
            title: a.title,
            lead: a.lead,
            author: a.author,
            cover_image: a.cover_image,
            original_url: a.original_url,
            kind: a.kind.into(),
            published_at: a.published_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }
}

/// The change log.
///
/// Oldest first, from the start or from `since`. Each item is an `upsert` with the article as it
/// is now, or a `remove` tombstone; applied in order from the start, the log gives exactly the
/// articles the caller may see. Entries are served once a few seconds old, so a slower
/// transaction never commits an entry behind a cursor a client has passed.
#[utoipa::path(
    operation_id = "getChanges",
    tag = "articles",
    params(ChangesParams),
    responses(
        (status = OK, description = "A page of the log", body = ChangeLog),
        (status = BAD_REQUEST, description = "A bad `since` or `limit`", body = ErrorBody),
    ),
)]
#[get("/changes")]
pub async fn get_changes(
    state: web::Data<AppState>,
    http: HttpRequest,
    Params(query): Params<ChangesParams>,
) -> Result<web::Json<ChangeLog>, ApiError> {
    let limit = params::number("limit", query.limit.as_deref(), 1, MAX_PAGE, 100)?;
    let since = match query.since.as_deref().map(TimeCursor::decode) {
        None => None,
        Some(Some(cursor)) => Some(cursor),
        Some(None) => {
            return Err(ApiError::bad_parameter(
                "since",
                "is not a cursor this feed issued",
            ));
        }
    };
    let caller = authenticated(&state, &http).await?;
    let now = state.clock.now();
    let page = changes::since(&state.db, now, caller.audience(), since.as_ref(), limit).await?;
    let settings = SiteSettings::load(&state.db).await?;
    let items = page
        .items
        .into_iter()
        .map(|c| {
            let id = ids::encode(Kind::Article, c.article_id).0;
            match c.article {
                Some(a) => Change::Upsert {
                    id,
                    slug: a.slug.clone(),
                    article: Box::new(ChangedArticle::new(a, &settings)),
                },
                None => Change::Remove { id, slug: c.slug },
            }
        })
        .collect();
    Ok(web::Json(ChangeLog {
        items,
        next: page.next.map(|c| c.encode()),
        has_more: page.has_more,
    }))
}
