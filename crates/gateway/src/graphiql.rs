//! GraphiQL at `/graphiql`, served whole by this server so that it works with no internet access:
//! the page, its script and styles, and GraphiQL, React and ReactDOM themselves, vendored from
//! their npm packages into `crates/gateway/assets/graphiql` (`make graphiql-assets`) and embedded
//! in the binary. Queries and mutations go over HTTP, subscriptions over the WebSocket on
//! `/graphql`. Mounted only when the `graphiql` setting allows it (development by default).

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::header::{self, ContentType},
    web,
};

use crate::rest::ApiError;

/// The files under `/graphiql/`: name, media type, contents.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        JS,
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_bytes!("../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        JS,
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JS,
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
    ("start.js", JS, include_bytes!("graphiql.js")),
    ("page.css", CSS, include_bytes!("graphiql.css")),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page and its assets.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphiql", web::get().to(page))
        .route("/graphiql/{file}", web::get().to(asset));
}

/// The page. Its policy allows scripts and styles from this server only (GraphiQL's own inline
/// styles and `data:` fonts included), and connections to this server over HTTP and WebSocket.
async fn page(req: HttpRequest) -> HttpResponse {
    // `'self'` covers `ws:`/`wss:` to the same host only in newer browsers: name it as well.
    let host = req.connection_info().host().to_owned();
    let websocket = if host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    {
        format!(" ws://{host} wss://{host}")
    } else {
        String::new()
    };
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'{websocket}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .body(include_str!("graphiql.html"))
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, media_type, body)) => HttpResponse::Ok().content_type(*media_type).body(*body),
        None => {
            ApiError::not_found(format!("no GraphiQL asset is named `{file}`")).error_response()
        }
    }
}
