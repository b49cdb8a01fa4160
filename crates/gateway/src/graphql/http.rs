//! GraphQL over HTTP (the GraphQL Foundation's specification, checked by the `graphql-http`
//! audit in `tests/graphql-http/`): the two routes, media type negotiation, and the status each
//! outcome gets.
//!
//! - The answer is `application/graphql-response+json` or `application/json`, whichever the
//!   `Accept` header prefers; `application/json` when it says nothing (or `*/*`); `406` when it
//!   accepts neither.
//! - A request that is not GraphQL over HTTP at all (wrong content type, a body too large, not
//!   UTF-8, malformed JSON, no query, a mutation over GET) gets a `4xx` whatever the media type.
//! - A GraphQL request error (the document does not parse, does not validate, is over a query
//!   limit, or its variables do not fit) is `200` under `application/json`, as that media type
//!   requires, and `400` with no `data` under `application/graphql-response+json`.
//! - Once execution has begun, the answer is `200`, with field errors beside the data.
//!
//! Everything before execution (reading, parsing, the limits) is done here, before
//! authentication or rate counting, so a refused request touches no database.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use actix_web::mime;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, Accept, Header},
    },
    web,
};
use async_graphql::{
    Response, ServerError, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use crate::{
    app::{AppState, user_agent},
    auth::{self, Caller},
    graphql::{
        cacheable,
        errors::{Code, ensure_codes},
        limits::{self, QueryLimits, over_limit},
        loaders::RequestContext,
        persisted,
    },
    response_cache::{self, Class},
};

/// The response media types the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: every well-formed request is answered `200`.
    Json,
    /// `application/graphql-response+json`: request errors are `400`, without `data`.
    GraphqlResponse,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }

    /// The status of a GraphQL request error.
    fn request_error_status(self) -> StatusCode {
        match self {
            Media::Json => StatusCode::OK,
            Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        }
    }
}

/// The media type `Accept` prefers among those spoken here (by quality, then by listed order;
/// `application/*` and `*/*` mean `application/json`), or `None` when it accepts neither.
fn negotiate(req: &HttpRequest) -> Option<Media> {
    let Some(raw) = req.headers().get(header::ACCEPT) else {
        return Some(Media::Json);
    };
    if raw.as_bytes().iter().all(u8::is_ascii_whitespace) {
        return Some(Media::Json);
    }
    let accept = Accept::parse(req).ok()?;
    let mut acceptable: Vec<_> = accept
        .0
        .into_iter()
        .filter(|item| item.quality > actix_web::http::header::Quality::ZERO)
        .collect();
    acceptable.sort_by_key(|item| std::cmp::Reverse(item.quality));
    acceptable.into_iter().find_map(|item| {
        let mime = item.item;
        match (
            mime.type_().as_str(),
            mime.subtype().as_str(),
            mime.suffix(),
        ) {
            ("application", "graphql-response", Some(suffix)) if suffix == mime::JSON => {
                Some(Media::GraphqlResponse)
            }
            ("application", "json", None) | ("application", "*", _) | ("*", "*", _) => {
                Some(Media::Json)
            }
            _ => None,
        }
    })
}

/// Why a request was refused before anything ran.
#[derive(Debug)]
enum Refusal {
    /// Not a GraphQL-over-HTTP request that can be read: this status whatever the media type.
    Transport(StatusCode, ServerError),
    /// A GraphQL request error: its status depends on the media type.
    Request(ServerError),
}

fn transport(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal::Transport(status, coded(message, Code::BadUserInput))
}

fn coded(message: impl Into<String>, code: Code) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}

fn answer(media: Media, status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(media.content_type())
            .body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "serializing a GraphQL response failed");
            HttpResponse::InternalServerError()
                .content_type(media.content_type())
                .body(r#"{"errors":[{"message":"internal error; it has been logged","extensions":{"code":"INTERNAL"}}]}"#)
        }
    }
}

fn errors_only(errors: &[ServerError]) -> Value {
    json!({ "errors": errors })
}

fn refuse(media: Media, refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::Transport(status, error) => {
            let mut response = answer(media, status, &errors_only(&[error]));
            if status == StatusCode::METHOD_NOT_ALLOWED {
                response
                    .headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            }
            response
        }
        Refusal::Request(error) => {
            answer(media, media.request_error_status(), &errors_only(&[error]))
        }
    }
}

/// `406`: the client accepts none of the media types spoken here.
fn not_acceptable() -> HttpResponse {
    answer(
        Media::Json,
        StatusCode::NOT_ACCEPTABLE,
        &errors_only(&[coded(
            "this endpoint answers `application/graphql-response+json` or `application/json`; \
             the Accept header allows neither",
            Code::BadUserInput,
        )]),
    )
}

/// Any other method on `/graphql`: `405` with `Allow`.
pub async fn other_method(req: HttpRequest) -> HttpResponse {
    let media = negotiate(&req).unwrap_or(Media::Json);
    let mut response = answer(
        media,
        StatusCode::METHOD_NOT_ALLOWED,
        &errors_only(&[coded(
            "GraphQL is served over GET (queries) and POST",
            Code::BadUserInput,
        )]),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
    response
}

/// One operation as the client sent it, before any GraphQL is read.
#[derive(Debug, Default)]
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Map<String, Value>,
    extensions: Map<String, Value>,
}

/// `POST /graphql`: one operation as a JSON object, or several as an array when batching is on.
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    let body = match read_body(&req, payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(refusal) => return refuse(media, refusal),
    };
    let parsed = match parse_body(&body, &state.limits) {
        Ok(parsed) => parsed,
        Err(refusal) => return refuse(media, refusal),
    };
    match parsed {
        Body::Single(params) => run_one(&state, &req, media, params, false).await,
        Body::Batch(batch) => run_batch(&state, &req, media, batch).await,
    }
}

/// `GET /graphql?query=...&operationName=...&variables=...`: queries only.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    match parse_query_string(req.query_string()) {
        Ok(params) => run_one(&state, &req, media, params, true).await,
        Err(refusal) => refuse(media, refusal),
    }
}

/// Reads the body of a POST, refusing before reading what is not JSON or is too large.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<web::BytesMut, Refusal> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok());
    let json = content_type.as_ref().is_some_and(|m| {
        m.essence_str() == "application/json"
            && m.get_param(mime::CHARSET)
                .is_none_or(|c| c.as_str().eq_ignore_ascii_case("utf-8"))
    });
    if !json {
        return Err(transport(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as `Content-Type: application/json` (UTF-8)",
        ));
    }
    let too_large = || {
        Refusal::Transport(
            StatusCode::PAYLOAD_TOO_LARGE,
            over_limit(
                "bodySize",
                max as u64,
                format!("the request body is over the body size limit of {max} bytes"),
                None,
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            transport(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
        })?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

enum Body {
    Single(Params),
    Batch(Vec<Value>),
}

/// Reads a body as one operation or a batch; every way it can be wrong is named.
fn parse_body(body: &[u8], limits: &QueryLimits) -> Result<Body, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(transport(
            StatusCode::BAD_REQUEST,
            "the request has no body; send {\"query\": \"...\"}",
        ));
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Err(transport(
            StatusCode::BAD_REQUEST,
            format!(
                "the request body is not valid UTF-8 (at byte {})",
                e.valid_up_to()
            ),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        transport(
            StatusCode::BAD_REQUEST,
            format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    match value {
        Value::Array(items) => {
            if !limits.batch {
                return Err(Refusal::Transport(
                    StatusCode::BAD_REQUEST,
                    over_limit(
                        "batch",
                        0u64,
                        "batched requests are off on this server; send one operation per request"
                            .into(),
                        None,
                    ),
                ));
            }
            if items.is_empty() {
                return Err(transport(StatusCode::BAD_REQUEST, "the batch is empty"));
            }
            if items.len() > limits.max_batch {
                return Err(Refusal::Transport(
                    StatusCode::BAD_REQUEST,
                    over_limit(
                        "batch",
                        limits.max_batch as u64,
                        format!(
                            "the batch holds {} operations; the batch limit is {}",
                            items.len(),
                            limits.max_batch
                        ),
                        None,
                    ),
                ));
            }
            Ok(Body::Batch(items))
        }
        other => params_of(other).map(Body::Single),
    }
}

/// The parameters of one operation in a JSON body.
fn params_of(value: Value) -> Result<Params, Refusal> {
    let Value::Object(mut object) = value else {
        return Err(transport(
            StatusCode::BAD_REQUEST,
            "the request body must be a JSON object: {\"query\": \"...\"}",
        ));
    };
    let wrong = |name: &str, what: &str| {
        transport(StatusCode::BAD_REQUEST, format!("`{name}` must be {what}"))
    };
    let query = match object.remove("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(query)) => Some(query),
        Some(_) => return Err(wrong("query", "a string")),
    };
    let operation_name = match object.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(wrong("operationName", "a string or null")),
    };
    let variables = match object.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(wrong("variables", "an object or null")),
    };
    let extensions = match object.remove("extensions") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(wrong("extensions", "an object or null")),
    };
    Ok(Params {
        query,
        operation_name,
        variables,
        extensions,
    })
}

/// The parameters of a GET: `query`, `operationName`, and `variables` / `extensions` as JSON.
fn parse_query_string(raw: &str) -> Result<Params, Refusal> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        query: Option<String>,
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    if !percent_decodes_to_utf8(raw) {
        return Err(transport(
            StatusCode::BAD_REQUEST,
            "the query string is not valid UTF-8 once percent-decoded",
        ));
    }
    let raw = web::Query::<Raw>::from_query(raw)
        .map_err(|_| {
            transport(
                StatusCode::BAD_REQUEST,
                "the query string is not readable (each parameter once, percent-encoded UTF-8)",
            )
        })?
        .into_inner();
    let json_object = |name: &str, text: Option<String>| -> Result<Map<String, Value>, Refusal> {
        match text.as_deref().map(serde_json::from_str::<Value>) {
            None => Ok(Map::new()),
            Some(Ok(Value::Object(map))) => Ok(map),
            Some(Ok(Value::Null)) => Ok(Map::new()),
            Some(_) => Err(transport(
                StatusCode::BAD_REQUEST,
                format!("`{name}` must be a JSON object"),
            )),
        }
    };
    Ok(Params {
        query: raw.query,
        operation_name: raw.operation_name,
        variables: json_object("variables", raw.variables)?,
        extensions: json_object("extensions", raw.extensions)?,
    })
}

/// Whether every percent-encoded byte sequence of `raw` is UTF-8 (the form decoder would replace
/// what is not with U+FFFD silently).
fn percent_decodes_to_utf8(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                decoded.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// An operation that passed every check before execution.
struct Ready {
    request: async_graphql::Request,
    /// What the response cache makes of it.
    shape: cacheable::Shape,
}

/// Checks one operation: a query (sent, or named by its persisted hash), no NUL, its length,
/// its syntax, GET's rule, the variables it needs, the limits. A query sent with its hash is
/// remembered once it has passed.
async fn prepare(state: &AppState, params: Params, over_get: bool) -> Result<Ready, Refusal> {
    let limits = &state.limits;
    let hash = persisted::hash_of(&params.extensions).map_err(Refusal::Request)?;
    let resolved = state
        .persisted
        .resolve(&state.db, params.query, hash)
        .await
        .map_err(|error| {
            let internal = error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .is_some_and(|c| *c == async_graphql::Value::from(Code::Internal.as_str()));
            if internal {
                Refusal::Transport(StatusCode::SERVICE_UNAVAILABLE, error)
            } else {
                Refusal::Request(error)
            }
        })?;
    let Some(persisted::Resolved { query, remember }) = resolved else {
        return Err(transport(
            StatusCode::BAD_REQUEST,
            "the request has no `query`",
        ));
    };
    // No text field can hold NUL (PostgreSQL refuses it), so no argument may carry one.
    if query.contains('\0') || query.contains("\\u0000") || has_nul(&params.variables) {
        return Err(transport(
            StatusCode::BAD_REQUEST,
            "strings must not contain NUL characters",
        ));
    }
    if query.len() > limits.max_query_bytes {
        return Err(Refusal::Request(over_limit(
            "queryLength",
            limits.max_query_bytes as u64,
            format!(
                "the query text is {} bytes; the query length limit is {} bytes",
                query.len(),
                limits.max_query_bytes
            ),
            None,
        )));
    }
    let doc = limits::parse(&query).map_err(Refusal::Request)?;
    if over_get && limits::is_mutation(&doc, params.operation_name.as_deref()) {
        return Err(transport(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are sent with POST; GET runs queries only",
        ));
    }
    let variables = Variables::from_json(Value::Object(params.variables));
    required_variables(&doc, params.operation_name.as_deref(), &variables)
        .map_err(Refusal::Request)?;
    let shape = cacheable::shape(&doc, params.operation_name.as_deref());
    limits::check(limits, &doc, &variables).map_err(Refusal::Request)?;
    if let Some(hash) = remember {
        state.persisted.remember(hash, &query).await;
    }
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    Ok(Ready { request, shape })
}

/// Refuses an operation whose non-null variable is missing or null, and has no default: a
/// request error, caught here because async-graphql would only notice it while executing.
/// (Values of the wrong type are validation's to catch, where each variable is used.)
fn required_variables(
    doc: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Result<(), ServerError> {
    use async_graphql::parser::types::DocumentOperations;
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    let Some(operation) = operation else {
        return Ok(());
    };
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        let given = variables.get(&definition.name.node);
        let missing = matches!(given, None | Some(async_graphql::Value::Null));
        if missing && !definition.var_type.node.nullable && definition.default_value.is_none() {
            let name = definition.name.node.as_str();
            let mut error = ServerError::new(
                format!(
                    "variable `${name}` of type `{}` must be given a value",
                    definition.var_type.node
                ),
                Some(definition.name.pos),
            );
            let extensions = error.extensions.get_or_insert_with(Default::default);
            extensions.set("code", Code::BadUserInput.as_str());
            extensions.set("variable", name);
            return Err(error);
        }
    }
    Ok(())
}

fn has_nul(map: &Map<String, Value>) -> bool {
    fn walk(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(walk),
            Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || walk(v)),
            _ => false,
        }
    }
    map.iter().any(|(k, v)| k.contains('\0') || walk(v))
}

/// What one operation came to.
enum Outcome {
    /// Refused before execution.
    Refused(Refusal),
    /// Handed to the schema: `started` says whether execution began (else the errors are
    /// validation's).
    Ran { response: Response, started: bool },
}

async fn run_one(
    state: &AppState,
    http: &HttpRequest,
    media: Media,
    params: Params,
    over_get: bool,
) -> HttpResponse {
    let cache = state.cache.as_deref();
    let key = cache.map(|_| cache_key(media, &params));
    // An anonymous repeat is answered before the query is even parsed: an answer is stored only
    // once its query passed every check, and nothing about a reader can change the verdict.
    // (With the allow-list on, a registration may be removed meanwhile, so it checks first.)
    let early =
        !http.headers().contains_key(header::AUTHORIZATION) && !state.persisted.allow_list();
    if let (Some(cache), Some(key), true) = (cache, key, early)
        && let Some(hit) = cache.get(Class::Reader, key)
    {
        return hit.response();
    }
    let ready = match prepare(state, params, over_get).await {
        Ok(ready) => ready,
        Err(refusal) => return refuse(media, refusal),
    };
    let caller = match admit(state, http, media, 1).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let shape = ready.shape;
    let class = Class::of(&caller).filter(|_| shape.shared);
    let mut storing = None;
    if let (Some(cache), Some(key), Some(class)) = (cache, key, class) {
        if !(early && class == Class::Reader)
            && let Some(hit) = cache.get(class, key)
        {
            return hit.response();
        }
        storing = cache
            .ticket()
            .await
            .map(|ticket| (cache, key, class, ticket));
    }
    let outcome = execute(state, http, caller, ready).await;
    let mut response = match (outcome, storing) {
        (
            Outcome::Ran {
                response,
                started: true,
            },
            Some((cache, key, class, ticket)),
        ) if response.errors.is_empty() => match serde_json::to_vec(&response) {
            Ok(bytes) => {
                let bytes = web::Bytes::from(bytes);
                let content_type = header::HeaderValue::from_static(media.content_type());
                cache.put(
                    class,
                    key,
                    ticket,
                    bytes.clone(),
                    content_type.clone(),
                    shape.volatile,
                );
                HttpResponse::Ok()
                    .insert_header((header::CONTENT_TYPE, content_type))
                    .body(bytes)
            }
            Err(_) => answer(media, StatusCode::OK, &response),
        },
        (Outcome::Ran { response, started }, _) => ran(media, &state.limits, response, started),
        (Outcome::Refused(refusal), _) => refuse(media, refusal),
    };
    if cache.is_some() {
        let verdict = if class.is_some() { "MISS" } else { "BYPASS" };
        response_cache::mark(&mut response, verdict);
    }
    response
}

/// What identifies an operation for the response cache, apart from the caller: the media type,
/// the query as sent (text and persisted hash), the operation's name and the variables.
fn cache_key(media: Media, params: &Params) -> response_cache::Request {
    let variables = serde_json::to_vec(&params.variables).unwrap_or_default();
    let hash = params
        .extensions
        .get("persistedQuery")
        .map(Value::to_string)
        .unwrap_or_default();
    // A leading byte tells an absent value from an empty one.
    let given = |v: Option<&str>| v.map(|v| format!("+{v}")).unwrap_or_default();
    response_cache::Request::digest(&[
        b"graphql",
        media.content_type().as_bytes(),
        given(params.query.as_deref()).as_bytes(),
        hash.as_bytes(),
        given(params.operation_name.as_deref()).as_bytes(),
        &variables,
    ])
}

/// The answer to one operation that reached the schema.
fn ran(media: Media, limits: &QueryLimits, response: Response, started: bool) -> HttpResponse {
    if started {
        answer(media, StatusCode::OK, &response)
    } else {
        let errors = request_errors(limits, response);
        answer(media, media.request_error_status(), &errors_only(&errors))
    }
}

/// Validation's errors, with async-graphql's terse limit messages replaced by ones that name the
/// limit (the checks in [`limits`] normally refuse such queries first).
fn request_errors(limits: &QueryLimits, response: Response) -> Vec<ServerError> {
    response
        .errors
        .into_iter()
        .map(|error| match error.message.as_str() {
            "Query is too complex." => limits::too_complex(limits),
            "Query is nested too deep." => over_limit(
                "depth",
                limits.max_depth as u64,
                format!(
                    "the query nests fields deeper than the depth limit of {}",
                    limits.max_depth
                ),
                None,
            ),
            _ => error,
        })
        .collect()
}

async fn run_batch(
    state: &AppState,
    http: &HttpRequest,
    media: Media,
    batch: Vec<Value>,
) -> HttpResponse {
    let mut prepared = Vec::with_capacity(batch.len());
    for item in batch {
        prepared.push(match params_of(item) {
            Ok(params) => prepare(state, params, false).await,
            Err(refusal) => Err(refusal),
        });
    }
    let runnable = prepared.iter().filter(|p| p.is_ok()).count();
    let caller = match admit(state, http, media, runnable).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let mut answers = Vec::with_capacity(prepared.len());
    for item in prepared {
        let outcome = match item {
            Ok(ready) => execute(state, http, caller.clone(), ready).await,
            Err(refusal) => Outcome::Refused(refusal),
        };
        answers.push(match outcome {
            Outcome::Ran {
                response,
                started: true,
            } => serde_json::to_value(&response).unwrap_or(Value::Null),
            Outcome::Ran {
                response,
                started: false,
            } => errors_only(&request_errors(&state.limits, response)),
            Outcome::Refused(Refusal::Transport(_, error) | Refusal::Request(error)) => {
                errors_only(&[error])
            }
        });
    }
    answer(media, StatusCode::OK, &answers)
}

/// Authenticates the caller and counts `operations` against its rate limit.
async fn admit(
    state: &AppState,
    http: &HttpRequest,
    media: Media,
    operations: usize,
) -> Result<Caller, HttpResponse> {
    auth::admit(state, http, operations)
        .await
        .map_err(|refusal| match refusal {
            auth::Refusal::Unauthenticated(reason) => {
                let mut response = answer(
                    media,
                    StatusCode::UNAUTHORIZED,
                    &errors_only(&[coded(reason, Code::Unauthenticated)]),
                );
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                response
            }
            auth::Refusal::RateLimited(wait) => {
                let mut error = coded(
                    format!("this token's request limit is reached; retry after {wait} seconds"),
                    Code::RateLimited,
                );
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("retryAfter", wait);
                let mut response =
                    answer(media, StatusCode::TOO_MANY_REQUESTS, &errors_only(&[error]));
                if let Ok(value) = header::HeaderValue::from_str(&wait.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            auth::Refusal::Unavailable(message) => unavailable(media, message),
        })
}

/// `503`: a store the request needs (database, Redis) did not answer; the cause is logged.
fn unavailable(media: Media, message: &str) -> HttpResponse {
    answer(
        media,
        StatusCode::SERVICE_UNAVAILABLE,
        &errors_only(&[coded(message, Code::Internal)]),
    )
}

/// Runs an operation; a mutation that may have changed content empties the response cache.
async fn execute(state: &AppState, http: &HttpRequest, caller: Caller, ready: Ready) -> Outcome {
    let now = state.clock.now();
    let client_addr = http.peer_addr().map(|a| a.ip().to_string());
    let context = RequestContext::new(state.db.clone(), now, caller, client_addr, user_agent(http));
    let started = Arc::new(ExecutionStarted::default());
    let request = ready.request.data(context).data(started.clone());
    let mut response = state.schema.execute(request).await;
    if ready.shape.changes_content
        && let Some(cache) = &state.cache
    {
        cache.content_changed();
    }
    ensure_codes(&mut response);
    Outcome::Ran {
        response,
        started: started.0.load(Ordering::SeqCst),
    }
}

/// Set when async-graphql begins executing an operation; unset after, its errors are request
/// errors (validation, variables, the operation's name), which the media type gives a status.
#[derive(Debug, Default)]
pub struct ExecutionStarted(AtomicBool);

/// The extension that sets [`ExecutionStarted`].
pub struct MarkExecution;

impl ExtensionFactory for MarkExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MarkExecution)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for MarkExecution {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(started) = ctx.data_opt::<Arc<ExecutionStarted>>() {
            started.0.store(true, Ordering::SeqCst);
        }
        next.run(ctx, operation_name).await
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn media(accept: Option<&str>) -> Option<Media> {
        let mut req = TestRequest::default();
        if let Some(accept) = accept {
            req = req.insert_header((header::ACCEPT, accept));
        }
        negotiate(&req.to_http_request())
    }

    #[test]
    fn accept_picks_the_preferred_media_type() {
        assert_eq!(media(None), Some(Media::Json));
        assert_eq!(media(Some("*/*")), Some(Media::Json));
        assert_eq!(media(Some("application/json")), Some(Media::Json));
        assert_eq!(
            media(Some("application/graphql-response+json")),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            media(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            media(Some("application/json, application/graphql-response+json")),
            Some(Media::Json)
        );
        assert_eq!(
            media(Some(
                "application/json;q=0.5, application/graphql-response+json"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            media(Some("text/html, application/graphql-response+json;q=0")),
            None
        );
        assert_eq!(media(Some("text/html")), None);
        assert_eq!(media(Some("text/html, */*;q=0.1")), Some(Media::Json));
    }

    #[test]
    fn bodies_are_read_strictly() {
        let limits = QueryLimits::default();
        let status = |body: &[u8]| match parse_body(body, &limits) {
            Err(Refusal::Transport(status, _)) => status.as_u16(),
            Err(Refusal::Request(_)) => 1,
            Ok(_) => 0,
        };
        assert_eq!(status(b"{\"query\": \"{ site { name } }\"}"), 0);
        assert_eq!(status(b""), 400);
        assert_eq!(status(b"{\"query\": "), 400);
        assert_eq!(status(b"{\"query\": \"\xff\"}"), 400);
        assert_eq!(status(b"[{\"query\": \"{ a }\"}]"), 400);
        assert_eq!(status(b"{\"query\": 0}"), 400);
        assert_eq!(status(b"{\"query\": \"{ a }\", \"variables\": \"x\"}"), 400);
        assert_eq!(status(b"{\"query\": \"{ a }\", \"extensions\": []}"), 400);
        assert_eq!(
            status(b"{\"query\": \"{ a }\", \"operationName\": false}"),
            400
        );
        assert_eq!(
            status(b"{\"query\": \"{ a }\", \"operationName\": null, \"variables\": null, \"extensions\": null}"),
            0
        );
    }
}
