//! The JSON REST API under `/api/v1`: the view beacon, the click ranking and search.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use newsroom_domain::{
    Error as DomainError,
    articles::{ArticleFilter, Audience},
    entities::ArticleKind,
    pagination::{Cursor, PageRequest, TimeCursor},
    search::{self, Highlight, HitCursor, SearchQuery},
    views::RankingWindow,
};
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
            .route("/rankings", web::get().to(rankings))
            .route("/changes", web::get().to(changes))
            .route("/search", web::get().to(search_articles)),
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

/// A 400 for a bad query parameter, naming it.
fn bad_parameter(name: &str, message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "error": { "code": "BAD_USER_INPUT", "field": name, "message": format!("`{name}` {message}") }
    }))
}

/// A domain error as a REST error: validation names the query parameter (the domain's `query`
/// is `q` here, and `filter.channel` is `channel`).
fn from_domain(err: DomainError) -> HttpResponse {
    match err {
        DomainError::Validation { field, message } => {
            let field = match field.as_str() {
                "query" => "q",
                other => other.strip_prefix("filter.").unwrap_or(other),
            };
            bad_parameter(field, message)
        }
        DomainError::Forbidden(message) => {
            error(actix_web::http::StatusCode::FORBIDDEN, "FORBIDDEN", message)
        }
        other => internal(other),
    }
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
/// silently an anonymous request; a partner over its request limit is a 429 with `Retry-After`.
pub(crate) async fn caller(state: &AppState, http: &HttpRequest) -> Result<Caller, HttpResponse> {
    let header = http
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let now = state.clock.now();
    let caller = match auth::authenticate(&state.db, &state.auth, header, now).await {
        Ok(caller) => caller,
        Err(AuthenticateError::Refused(reason)) => {
            return Err(error(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                reason.0,
            ));
        }
        Err(AuthenticateError::Domain(e)) => return Err(internal(e)),
    };
    match state.limiter.admit(&caller, now).await {
        Ok(Ok(())) => Ok(caller),
        Ok(Err(limited)) => {
            let wait = limited.retry_after_secs;
            let mut response = error(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("this token's request limit is reached; retry after {wait} seconds"),
            );
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&wait.to_string()) {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            Err(response)
        }
        Err(e) => Err(internal(e)),
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

/// Query parameters of `GET /api/v1/changes`.
#[derive(Debug, Deserialize)]
struct ChangesQuery {
    since: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/changes?since=CURSOR&limit=N`: the change log, oldest first, from the start or
/// from `since` (the `next` of the previous page). Each item is an `upsert` with the article as
/// it is now, or a `remove` tombstone; applying them in order keeps an exact copy of what the
/// caller may see. Entries appear a few seconds after their write (see
/// [`newsroom_domain::changes::SETTLE`]).
async fn changes(
    state: web::Data<AppState>,
    http: HttpRequest,
    query: web::Query<ChangesQuery>,
) -> HttpResponse {
    let caller = match caller(&state, &http).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let bad = |message: String| {
        error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            message,
        )
    };
    let max = newsroom_domain::changes::MAX_PAGE;
    let limit = match query.limit.as_deref().map(str::parse::<u64>) {
        None => 100,
        Some(Ok(n)) if (1..=max).contains(&n) => n,
        Some(_) => return bad(format!("`limit` must be a whole number from 1 to {max}")),
    };
    let since = match query.since.as_deref().map(TimeCursor::decode) {
        None => None,
        Some(Some(cursor)) => Some(cursor),
        Some(None) => return bad("`since` is not a cursor this feed issued".into()),
    };
    let now = state.clock.now();
    let page = match newsroom_domain::changes::since(
        &state.db,
        now,
        caller.audience(),
        since.as_ref(),
        limit,
    )
    .await
    {
        Ok(page) => page,
        Err(e) => return internal(e),
    };
    let settings = match newsroom_domain::site::SiteSettings::load(&state.db).await {
        Ok(settings) => settings,
        Err(e) => return internal(e),
    };
    let items: Vec<_> = page
        .items
        .into_iter()
        .map(|c| {
            let id = ids::encode(Kind::Article, c.article_id).0;
            match c.article {
                Some(a) => json!({
                    "type": "upsert",
                    "id": id,
                    "slug": a.slug,
                    "article": {
                        "id": id,
                        "slug": a.slug,
                        "url": settings.article_url(&a.slug),
                        "title": a.title,
                        "lead": a.lead,
                        "bodyHtml": newsroom_domain::render::to_html(&a.body, a.body_format),
                        "author": a.author,
                        "coverImage": a.cover_image,
                        "originalUrl": a.original_url,
                        "kind": a.kind,
                        "publishedAt": a.published_at,
                        "updatedAt": a.updated_at,
                        "version": a.version,
                    }
                }),
                None => json!({ "type": "remove", "id": id, "slug": c.slug }),
            }
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "items": items,
        "next": page.next.map(|c| c.encode()),
        "hasMore": page.has_more,
    }))
}

/// Query parameters of `GET /api/v1/search`: the query, the page, the filters `articles` takes,
/// and the snippet's markers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchParams {
    q: Option<String>,
    first: Option<String>,
    after: Option<String>,
    channel: Option<String>,
    tag: Option<String>,
    source: Option<String>,
    kind: Option<String>,
    published_after: Option<String>,
    published_before: Option<String>,
    featured: Option<String>,
    recommended: Option<String>,
    highlight_start: Option<String>,
    highlight_end: Option<String>,
}

impl SearchParams {
    /// The filter the parameters name; a bad one is a validation error naming it.
    fn filter(&self) -> Result<ArticleFilter, DomainError> {
        let time = |name: &str, raw: &Option<String>| {
            raw.as_deref()
                .map(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| DomainError::validation(name, "must be an RFC 3339 time"))
                })
                .transpose()
        };
        let flag = |name: &str, raw: &Option<String>| match raw.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(DomainError::validation(name, "must be true or false")),
        };
        let kind = match self.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("original") => Some(ArticleKind::Original),
            Some("reprint") => Some(ArticleKind::Reprint),
            Some("sponsored") => Some(ArticleKind::Sponsored),
            Some(_) => {
                return Err(DomainError::validation(
                    "kind",
                    "must be original, reprint or sponsored",
                ));
            }
        };
        Ok(ArticleFilter {
            channel: self.channel.clone(),
            tag: self.tag.clone(),
            source: self.source.clone(),
            kind,
            published_after: time("publishedAfter", &self.published_after)?,
            published_before: time("publishedBefore", &self.published_before)?,
            featured: flag("featured", &self.featured)?,
            recommended: flag("recommended", &self.recommended)?,
            statuses: None,
        })
    }
}

/// `GET /api/v1/search?q=...`: full-text search, as the GraphQL `search` field. Each item has the
/// article, its score and an HTML snippet; `nextCursor` goes in `after` for the next page.
async fn search_articles(
    state: web::Data<AppState>,
    http: HttpRequest,
    params: web::Query<SearchParams>,
) -> HttpResponse {
    let caller = match caller(&state, &http).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match search_page(&state, caller.audience(), &params).await {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => from_domain(e),
    }
}

async fn search_page(
    state: &AppState,
    audience: Audience,
    params: &SearchParams,
) -> Result<serde_json::Value, DomainError> {
    let first = params
        .first
        .as_deref()
        .map(|n| {
            n.parse::<i32>().map_err(|_| {
                DomainError::validation("first", "must be a whole number from 0 to 100")
            })
        })
        .transpose()?;
    let page = PageRequest::<HitCursor>::from_relay(first, params.after.as_deref(), None, None)?;
    let query = SearchQuery::parse(&state.segmenter, params.q.as_deref().unwrap_or_default())?;
    let filter = params.filter()?;
    let highlight = Highlight::new(
        params.highlight_start.as_deref().unwrap_or("<mark>"),
        params.highlight_end.as_deref().unwrap_or("</mark>"),
    )?;
    let hits = search::search(
        &state.db,
        state.clock.now(),
        audience,
        &query,
        &filter,
        &page,
    )
    .await?;
    let next_cursor = hits
        .has_next
        .then(|| hits.items.last().map(|h| h.cursor(&query).encode()))
        .flatten();
    let items: Vec<_> = hits
        .items
        .iter()
        .map(|hit| {
            let a = &hit.article;
            json!({
                "cursor": hit.cursor(&query).encode(),
                "score": hit.score,
                "snippet": search::snippet(&state.segmenter, a, query.words(), &highlight),
                "article": {
                    "id": ids::encode(Kind::Article, a.id).0,
                    "slug": a.slug,
                    "title": a.title,
                    "lead": a.lead,
                    "publishedAt": a.published_at,
                }
            })
        })
        .collect();
    Ok(json!({
        "query": params.q,
        "items": items,
        "hasNextPage": hits.has_next,
        "nextCursor": next_cursor,
    }))
}
