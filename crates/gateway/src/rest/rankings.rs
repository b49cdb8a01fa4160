//! `GET /api/v1/rankings`: the click ranking (点击排行), as GraphQL's `clickRanking` serves it.

use actix_web::{HttpRequest, get, web};
use newsroom_domain::{pagination::MAX_PAGE_SIZE, views::RankingWindow as DomainWindow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, authenticated,
    errors::ErrorBody,
    model::ArticleBrief,
    params::{self, Params},
};
use crate::{app::AppState, views::visible_in_order};

/// The time a ranking covers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankingWindow {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// All time.
    All,
}

/// Query parameters of `GET /api/v1/rankings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingParams {
    /// `day`, `week` (the default), `month` or `all`.
    #[param(value_type = Option<RankingWindow>, inline)]
    window: Option<String>,
    /// A channel slug; its sub-channels' articles are included.
    channel: Option<String>,
    /// How many, 0 to 100 (10 when absent).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100)]
    first: Option<String>,
}

params::query_params!(RankingParams);

/// A click ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ranking {
    /// The window it covers.
    pub window: RankingWindow,
    /// Most viewed first; ties go to the newer article.
    pub items: Vec<RankedArticle>,
}

/// An article's place in the ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedArticle {
    /// 1 for the most viewed.
    pub rank: u32,
    /// Views in the window.
    pub views: i64,
    /// The article.
    pub article: ArticleBrief,
}

/// The click ranking (点击排行).
///
/// The most-viewed visible articles in a window, optionally within a channel and its
/// sub-channels; ties go to the newer article. Served from a ranking recomputed every few
/// seconds; a partner's token leaves out what the partner may not have.
#[utoipa::path(
    operation_id = "getRankings",
    tag = "articles",
    params(RankingParams),
    responses(
        (status = OK, description = "The ranking", body = Ranking),
        (status = BAD_REQUEST, description = "A bad window, size or channel", body = ErrorBody),
    ),
)]
#[get("/rankings")]
pub async fn get_rankings(
    state: web::Data<AppState>,
    http: HttpRequest,
    Params(query): Params<RankingParams>,
) -> Result<web::Json<Ranking>, ApiError> {
    let (window, domain_window) = match query
        .window
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("week") => (RankingWindow::Week, DomainWindow::Week),
        Some("day") => (RankingWindow::Day, DomainWindow::Day),
        Some("month") => (RankingWindow::Month, DomainWindow::Month),
        Some("all") => (RankingWindow::All, DomainWindow::All),
        Some(_) => {
            return Err(ApiError::bad_parameter(
                "window",
                "must be day, week, month or all",
            ));
        }
    };
    let first = params::number("first", query.first.as_deref(), 0, MAX_PAGE_SIZE, 10)?;
    let caller = authenticated(&state, &http).await?;
    let ranked = state
        .views
        .ranking(domain_window, query.channel.as_deref())
        .await
        .map_err(|e| ApiError::from(&*e))?;
    let now = state.clock.now();
    let audience = caller.audience().public();
    let rows = visible_in_order(&state.db, now, audience, &ranked, first).await?;
    let items = rows
        .into_iter()
        .zip(1..)
        .map(|((views, a), rank)| RankedArticle {
            rank,
            views,
            article: ArticleBrief::from(&a),
        })
        .collect();
    Ok(web::Json(Ranking { window, items }))
}
