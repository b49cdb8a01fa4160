//! HTTP caching for every GET: a strong `ETag` (a hash of the body), a `Last-Modified` (when this
//! process first served that body), `304 Not Modified` on `If-None-Match` or `If-Modified-Since`,
//! and a `Cache-Control` that suits the caller: shared caches may keep anonymous answers but must
//! revalidate them (a takedown must reach readers at once); answers to a signed-in caller are
//! private; health checks are never stored.
//!
//! One middleware rather than code in each handler, so that no GET route (REST, GraphQL, feeds)
//! can forget it. The body is already in memory (every route answers JSON or XML it built), so
//! hashing it costs a few microseconds.

use std::time::{Duration, SystemTime};

use actix_web::{
    Error, HttpResponse,
    body::{self, BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderValue, HttpDate},
    },
    middleware::Next,
    web,
};
use sha2::{Digest, Sha256};

/// When each body (by its ETag) was first served by this process; the `Last-Modified` it gets.
pub struct FirstSeen(moka::sync::Cache<String, SystemTime>);

impl Default for FirstSeen {
    fn default() -> Self {
        FirstSeen(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
        )
    }
}

/// The middleware; see the module documentation.
pub async fn conditional_get(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cacheable = matches!(*req.method(), Method::GET | Method::HEAD);
    let private = req.headers().contains_key(header::AUTHORIZATION);
    let health = matches!(req.path(), "/healthz" | "/readyz" | "/metrics");
    let if_none_match = header_text(&req, header::IF_NONE_MATCH);
    let if_modified_since = header_text(&req, header::IF_MODIFIED_SINCE)
        .and_then(|v| v.parse::<HttpDate>().ok())
        .map(SystemTime::from);
    let first_seen = req.app_data::<web::Data<FirstSeen>>().cloned();
    let res = next.call(req).await?;
    if !cacheable || res.status() != StatusCode::OK {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("unreadable response body"))?;
    let headers = res.headers_mut();
    if health {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))));
    }
    // An answer from the response cache carries the ETag computed when it was stored.
    let etag = match headers.get(header::ETAG).and_then(|v| v.to_str().ok()) {
        Some(stored) => stored.to_owned(),
        None => etag_of(&bytes),
    };
    let tag = etag.trim_matches('"').to_owned();
    let now = SystemTime::now();
    let modified = first_seen.map_or(now, |seen| seen.0.get_with(tag, || now));
    headers.insert(header::ETAG, header_value(&etag));
    headers.insert(
        header::LAST_MODIFIED,
        header_value(&HttpDate::from(modified).to_string()),
    );
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if private {
                "private, no-cache"
            } else {
                "public, no-cache"
            }),
        );
    }
    let not_modified = match (if_none_match, if_modified_since) {
        // If-None-Match decides when present (RFC 9110, 13.2.2).
        (Some(list), _) => list
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*"),
        // Dates have whole seconds: only a body first served in an earlier second than the
        // client's copy is surely the same, so the same second answers in full.
        (None, Some(since)) => whole_seconds(modified) < whole_seconds(since),
        (None, None) => false,
    };
    if not_modified {
        let mut unchanged = HttpResponse::NotModified();
        for name in [
            header::ETAG,
            header::LAST_MODIFIED,
            header::CACHE_CONTROL,
            header::VARY,
        ] {
            for value in res.headers().get_all(&name) {
                unchanged.append_header((name.clone(), value.clone()));
            }
        }
        return Ok(ServiceResponse::new(req, unchanged.finish()));
    }
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))))
}

/// The strong `ETag` of a body: the first 16 bytes of its SHA-256, in hex, quoted.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let tag: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{tag}\"")
}

fn header_text(req: &ServiceRequest, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn whole_seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
