//! The OpenAPI 3.1 document of `/api/v1`, generated from the code: each route's
//! `#[utoipa::path]` describes its parameters and bodies, and the routes are collected from the
//! very registration that serves them (utoipa-actix-web), so no route can be served undescribed.
//! What every route shares (optional bearer auth, 401 / 429 / 500 / 503, HTTP caching on GETs) is added
//! here once. `openapi.json` at the repository root is this document (`make openapi`); a test
//! fails when it is stale.

use actix_web::{App, HttpResponse, get, web};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        HttpMethod, ObjectBuilder, RefOr, Required, ResponseBuilder, Type,
        header::HeaderBuilder,
        path::{Operation, PathItem},
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};
use utoipa_actix_web::AppExt;

use super::errors::ErrorBody;

/// The served document, serialized once at start-up.
pub struct Document(pub String);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Newsroom REST API",
        description = "The read side of the Newsroom content API as JSON, and the view beacon.\n\n\
            Readers need no token. A partner sends `Authorization: Bearer <token>` and then sees \
            only published articles that are the site's own or whose source allows syndication, \
            each with its attribution (`url`, `source`, `originalUrl`, `disclaimer`); a refused \
            token is a 401, never an anonymous request, and a partner over its request limit a \
            429 with `Retry-After`.\n\n\
            Every GET also answers HEAD (the same headers, no body), carries a strong `ETag`, a \
            `Last-Modified` and a `Cache-Control`, and answers `304 Not Modified` to \
            `If-None-Match` or `If-Modified-Since`.\n\n\
            Errors have one shape, `{\"error\": {\"code\", \"field\", \"message\"}}`; a query \
            parameter a route does not take, or one given twice, is a 400 naming it. Lists are \
            keyset pages: pass `nextCursor` as `after` (with `first`), or `previousCursor` as \
            `before` (with `last`)."
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "articles", description = "Articles: lists, one by slug, rankings, search, the change log, views"),
        (name = "catalog", description = "Channels, tags, sources, the site and its pages"),
        (name = "meta", description = "This document"),
    ),
)]
struct ApiDoc;

/// The document: [`ApiDoc`] with every route [`super::register`] serves, and what they share.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::register)
        .split_for_parts();
    Conventions.modify(&mut doc);
    doc
}

/// The document as checked in: pretty JSON ending in a newline.
pub fn json() -> String {
    match serde_json::to_string_pretty(&document()) {
        Ok(text) => text + "\n",
        // The document is plain data with string keys; serializing it cannot fail.
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

/// What every route shares, added to each operation.
struct Conventions;

const BEARER: &str = "bearerAuth";

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A partner's (or editor's) token; readers send none"))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            for (method, operation) in operations(item) {
                conventions_of(method, operation);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

/// An answer with an [`ErrorBody`].
fn error_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        utoipa::openapi::ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    error_builder(description).build().into()
}

/// An error answer carrying `Retry-After`.
fn retry_later(description: &str) -> RefOr<utoipa::openapi::Response> {
    error_builder(description)
        .header(
            "Retry-After",
            string_header("Seconds until a request may succeed"),
        )
        .build()
        .into()
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

fn conventions_of(method: HttpMethod, op: &mut Operation) {
    let responses = &mut op.responses.responses;
    // Routes that identify the caller say nothing of security; they take an optional token.
    if op.security.is_none() {
        op.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
        ]);
        responses.entry("401".into()).or_insert_with(|| {
            error_response("The token is refused: forged, expired, revoked, or for a disabled user")
        });
        responses
            .entry("429".into())
            .or_insert_with(|| retry_later("The partner token's request limit is reached"));
    }
    responses.entry("400".into()).or_insert_with(|| {
        error_response(
            "A query parameter the route does not take, one given twice, or a NUL character in \
             a parameter or the path; `error.field` names it",
        )
    });
    responses
        .entry("500".into())
        .or_insert_with(|| error_response("The server failed; the cause is logged, not shown"));
    responses.entry("503".into()).or_insert_with(|| {
        retry_later(
            "The database cannot be reached right now (`SERVICE_UNAVAILABLE`); send the request \
             again after `Retry-After` seconds",
        )
    });
    if method != HttpMethod::Get {
        return;
    }
    if let Some(RefOr::T(ok)) = responses.get_mut("200") {
        for (name, description) in [
            ("ETag", "A strong validator: a hash of the body"),
            ("Last-Modified", "When this server first served this body"),
            (
                "Cache-Control",
                "`public, no-cache` for anonymous callers, `private, no-cache` with a token",
            ),
        ] {
            ok.headers.insert(name.into(), string_header(description));
        }
    }
    responses.entry("304".into()).or_insert_with(|| {
        ResponseBuilder::new()
            .description("Not modified: the `If-None-Match` or `If-Modified-Since` copy is current")
            .build()
            .into()
    });
    for parameter in op.parameters.iter_mut().flatten() {
        if parameter.parameter_in == utoipa::openapi::path::ParameterIn::Path {
            parameter.required = Required::True;
        }
    }
}

/// This document.
#[utoipa::path(
    tag = "meta",
    operation_id = "getOpenapi",
    security(()),
    responses((status = OK, description = "The OpenAPI 3.1 document of /api/v1", content_type = "application/json", body = Object)),
)]
#[get("/openapi.json")]
pub async fn get_openapi(
    document: web::Data<Document>,
    _: super::params::Params<()>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::{HttpRequest, introspection::IntrospectionTree, test as web_test, web};

    use super::*;

    /// `openapi.json` is what the code describes; `make openapi` rewrites it.
    #[test]
    fn checked_in_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == json(),
            "openapi.json is stale: run `make openapi` and commit the result"
        );
    }

    fn routes_of(
        node: &actix_web::introspection::IntrospectionNode,
        out: &mut BTreeSet<(String, String)>,
    ) {
        for method in &node.methods {
            out.insert((method.to_string(), node.full_path.clone()));
        }
        for child in &node.children {
            routes_of(child, out);
        }
    }

    /// Every route the application really serves under `/api/v1`, as actix-web's router reports
    /// it, is in the document with its method, and the document names no route it does not serve.
    #[actix_web::test]
    async fn every_served_route_under_api_v1_is_documented() {
        let app = web_test::init_service(App::new().configure(crate::app::routes).route(
            "/__routes",
            web::get().to(|req: HttpRequest| async move {
                let mut routes = BTreeSet::new();
                if let Some(tree) = req.app_data::<web::Data<IntrospectionTree>>() {
                    routes_of(&tree.root, &mut routes);
                }
                web::Json(routes)
            }),
        ))
        .await;
        let served: BTreeSet<(String, String)> = web_test::call_and_read_body_json(
            &app,
            web_test::TestRequest::get().uri("/__routes").to_request(),
        )
        .await;
        let served: BTreeSet<(String, String)> = served
            .into_iter()
            .filter(|(_, path)| path.starts_with("/api/v1"))
            .collect();
        assert!(
            served.len() >= 13,
            "the router reports the REST routes: {served:?}"
        );
        let doc = document();
        let mut documented = BTreeSet::new();
        for (path, item) in doc.paths.paths.iter() {
            let mut item = item.clone();
            for (method, _) in operations(&mut item) {
                let method = serde_json::to_value(&method).unwrap();
                let method = method.as_str().unwrap().to_ascii_uppercase();
                documented.insert((method, path.clone()));
            }
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "served under /api/v1 but not in the document (register routes with \
             `.service(handler)` and `#[utoipa::path]`): {undocumented:?}"
        );
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
    }
}
