//! `GET /api/v1/search`: full-text search, as GraphQL's `search` field serves it.

use actix_web::{HttpRequest, get, web};
use newsroom_domain::{
    pagination::{Cursor, PageRequest},
    search::{self, Highlight, HitCursor, SearchQuery},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, authenticated,
    errors::ErrorBody,
    model::ArticleBrief,
    params::{self, FilterParams, Params},
};
use crate::app::AppState;

/// The query, the page and the snippet's markers of `GET /api/v1/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// The words to find, 1 to 100 characters; Chinese is cut into words.
    #[param(required = true, value_type = String)]
    q: Option<String>,
    /// How many hits, 0 to 100 (20 when absent).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100)]
    first: Option<String>,
    /// Start after this cursor (the `nextCursor` of an earlier page of the same query).
    after: Option<String>,
    /// What goes before each run of matching words in `snippet` (`<mark>`), at most 64 characters.
    highlight_start: Option<String>,
    /// What goes after each run of matching words in `snippet` (`</mark>`), at most 64 characters.
    highlight_end: Option<String>,
}

params::query_params!(SearchParams);

/// A page of search hits, best first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    /// The query as given.
    pub query: Option<String>,
    /// The hits.
    pub items: Vec<SearchHit>,
    /// More hits follow the last one.
    pub has_next_page: bool,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One matching article.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// This hit's place in the results, for `after`.
    pub cursor: String,
    /// How well it matches; higher is better.
    pub score: f64,
    /// The best matching passage of the lead or body, HTML-escaped, with the matching words
    /// between the markers; at most 120 characters.
    pub snippet: String,
    /// The article.
    pub article: ArticleBrief,
}

/// Full-text search over visible articles.
///
/// Best match first: every word of `q` must occur in the title, lead, tags, source name or body;
/// Chinese is cut into words. The filters are those of `GET /api/v1/articles`.
#[utoipa::path(
    operation_id = "searchArticles",
    tag = "articles",
    params(SearchParams, FilterParams),
    responses(
        (status = OK, description = "A page of hits", body = SearchResults),
        (status = BAD_REQUEST, description = "A missing or bad `q`, or a bad page size, cursor, \
         filter or marker; `error.field` names the parameter", body = ErrorBody),
    ),
)]
#[get("/search")]
pub async fn search_articles(
    state: web::Data<AppState>,
    http: HttpRequest,
    Params((query_params, filter)): Params<(SearchParams, FilterParams)>,
) -> Result<web::Json<SearchResults>, ApiError> {
    let first = params::size("first", query_params.first.as_deref())?;
    let page =
        PageRequest::<HitCursor>::from_relay(first, query_params.after.as_deref(), None, None)?;
    let query = SearchQuery::parse(
        &state.segmenter,
        query_params.q.as_deref().unwrap_or_default(),
    )?;
    let filter = filter.filter()?;
    let highlight = Highlight::new(
        query_params.highlight_start.as_deref().unwrap_or("<mark>"),
        query_params.highlight_end.as_deref().unwrap_or("</mark>"),
    )?;
    let audience = authenticated(&state, &http).await?.audience().public();
    let now = state.clock.now();
    let hits = search::search(&state.db, now, audience, &query, &filter, &page).await?;
    let next_cursor = hits
        .has_next
        .then(|| hits.items.last().map(|h| h.cursor(&query).encode()))
        .flatten();
    let items = hits
        .items
        .iter()
        .map(|hit| SearchHit {
            cursor: hit.cursor(&query).encode(),
            score: hit.score,
            snippet: search::snippet(&state.segmenter, &hit.article, query.words(), &highlight),
            article: ArticleBrief::from(&hit.article),
        })
        .collect();
    Ok(web::Json(SearchResults {
        query: query_params.q,
        items,
        has_next_page: hits.has_next,
        next_cursor,
    }))
}
