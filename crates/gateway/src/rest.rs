//! The JSON REST API under `/api/v1`: the view beacon and the click ranking so far.

use actix_web::{HttpRequest, HttpResponse, web};
use newsroom_domain::{Error as DomainError, views::RankingWindow};
use serde::Deserialize;
use serde_json::json;

use crate::{
    app::{AppState, user_agent},
    auth::{self, AuthenticateError, Caller},
    graphql::ids::{self, Kind},
    views::{ViewError, visible_in_order, visitor_of},
};

/// The `/api/v1` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/articles/{id}/views", web::post().to(record_view))
            .route("/rankings", web::get().to(rankings)),
    );
}

/// An error in the shape every REST error has.
pub(crate) fn error(
    status: actix_web::http::StatusCode,
    code: &str,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({ "error": { "code": code, "message": message.into() } }))
}

pub(crate) fn internal(err: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %err, "REST request failed");
    error(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "internal error; it has been logged",
    )
}

/// `POST /api/v1/articles/{id}/views`: the view beacon. `{id}` is the article's global ID; the
/// visitor is the `X-Visitor-Id` header when sent, else address and user agent. 204 whether or
/// not the view counted (a repeat or a bot is not an error), 404 for an unknown or unpublished
/// article.
async fn record_view(
    state: web::Data<AppState>,
    http: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let Some((Kind::Article, id)) = ids::decode(&path) else {
        return error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "the path must name an article by its global ID",
        );
    };
    let visitor_id = http
        .headers()
        .get("x-visitor-id")
        .and_then(|v| v.to_str().ok());
    if visitor_id.is_some_and(|v| v.len() > 128) {
        return error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "X-Visitor-Id must be at most 128 characters",
        );
    }
    let agent = user_agent(&http);
    let address = http.peer_addr().map(|a| a.ip().to_string());
    let visitor = visitor_of(visitor_id, address.as_deref(), agent.as_deref());
    match state.views.record(id, &visitor, agent.as_deref()).await {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(ViewError::NotFound) => error(
            actix_web::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no published article has this id",
        ),
        Err(e @ ViewError::Unavailable(_)) => internal(e),
    }
}

/// Query parameters of `GET /api/v1/rankings`.
#[derive(Debug, Deserialize)]
struct RankingQuery {
    window: Option<String>,
    channel: Option<String>,
    first: Option<String>,
}

/// Who is calling: anonymous without an `Authorization` header; a refused token is a 401, never
/// silently an anonymous request.
pub(crate) async fn caller(state: &AppState, http: &HttpRequest) -> Result<Caller, HttpResponse> {
    let header = http
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    match auth::authenticate(&state.db, &state.auth, header, state.clock.now()).await {
        Ok(caller) => Ok(caller),
        Err(AuthenticateError::Refused(reason)) => Err(error(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            reason.0,
        )),
        Err(AuthenticateError::Domain(e)) => Err(internal(e)),
    }
}

/// `GET /api/v1/rankings?window=day|week|month|all&channel=SLUG&first=N`: the click ranking; a
/// partner's token leaves out what the partner may not have.
async fn rankings(
    state: web::Data<AppState>,
    http: HttpRequest,
    query: web::Query<RankingQuery>,
) -> HttpResponse {
    let caller = match caller(&state, &http).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let bad = |message: &str| {
        error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            message,
        )
    };
    let window = match query
        .window
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("week") => RankingWindow::Week,
        Some("day") => RankingWindow::Day,
        Some("month") => RankingWindow::Month,
        Some("all") => RankingWindow::All,
        Some(_) => return bad("`window` must be day, week, month or all"),
    };
    let first = match query.first.as_deref().map(str::parse::<u64>) {
        None => 10,
        Some(Ok(n)) if n <= 100 => n,
        Some(_) => return bad("`first` must be a whole number from 0 to 100"),
    };
    let ranked = match state.views.ranking(window, query.channel.as_deref()).await {
        Ok(ranked) => ranked,
        Err(e) => match &*e {
            DomainError::Validation { field, message } => {
                return bad(&format!("`{field}` {message}"));
            }
            other => return internal(other),
        },
    };
    let now = state.clock.now();
    let rows = match visible_in_order(&state.db, now, caller.audience(), &ranked, first).await {
        Ok(rows) => rows,
        Err(e) => return internal(e),
    };
    let items: Vec<_> = rows
        .into_iter()
        .zip(1..)
        .map(|((views, a), rank): ((i64, _), u32)| {
            json!({
                "rank": rank,
                "views": views,
                "article": {
                    "id": ids::encode(Kind::Article, a.id).0,
                    "slug": a.slug,
                    "title": a.title,
                    "publishedAt": a.published_at,
                    "viewCount": a.view_count,
                }
            })
        })
        .collect();
    HttpResponse::Ok()
        .json(json!({ "window": query.window.as_deref().unwrap_or("week"), "items": items }))
}
