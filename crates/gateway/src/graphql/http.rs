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
//! - Once execution has begun, the answer is `200`, with field errors beside the data, unless
//!   the database could not be reached: then it is `503` with `Retry-After`, and the errors say
//!   `SERVICE_UNAVAILABLE`, so that clients, proxies and load balancers see the outage.
//!
//! Every operation is counted in `/metrics` by name and outcome ([`Tally`]).
//!
//! Everything before execution (reading, parsing, the limits) is done here, before
//! authentication or rate counting, so a refused request touches no database.

use std::time::Instant;

use actix_web::mime;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, Accept, Header},
    },
    web,
};
use async_graphql::{Response, ServerError, Variables};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use crate::{
    app::{AppState, user_agent},
    auth::{self, Caller},
    graphql::{
        cacheable,
        errors::{Code, ensure_codes, has_code},
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
pub(crate) enum Refusal {
    /// Not a GraphQL-over-HTTP request that can be read: this status whatever the media type.
    Transport(StatusCode, ServerError),
    /// A GraphQL request error: its status depends on the media type.
    Request(ServerError),
}

impl Refusal {
    /// The error, whatever its status: for transports without one (WebSocket).
    pub(crate) fn into_error(self) -> ServerError {
        match self {
            Refusal::Transport(_, error) | Refusal::Request(error) => error,
        }
    }
}

fn transport(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal::Transport(status, coded(message, Code::BadUserInput))
}

pub(crate) fn coded(message: impl Into<String>, code: Code) -> ServerError {
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

/// Marks `response` as a `503` a client may retry after a few seconds.
fn retry_later(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(crate::ops::RETRY_AFTER_SECS),
    );
    response
}

fn errors_only(errors: &[ServerError]) -> Value {
    json!({ "errors": errors })
}

fn refuse(media: Media, refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::Transport(status, error) => {
            let mut response = answer(media, status, &errors_only(&[error]));
            if status == StatusCode::METHOD_NOT_ALLOWED {
                // Only POST runs a mutation.
                response
                    .headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            }
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response = retry_later(response);
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

/// Any other method on `/graphql`: `405` with `Allow` listing the methods served (`HEAD` is
/// answered wherever `GET` is, see [`crate::app`]).
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
        .insert(header::ALLOW, header::HeaderValue::from_static(ALLOWED));
    response
}

/// The methods `/graphql` answers.
const ALLOWED: &str = "GET, HEAD, POST";

/// The operations one request carried and how each ended, counted in `/metrics` by operation
/// name and outcome (`ok`, or the first error's code) once the request is answered. The
/// latency observed is the whole request's.
#[derive(Debug)]
struct Tally {
    started: Instant,
    operations: Vec<(Option<String>, &'static str)>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            started: Instant::now(),
            operations: Vec::new(),
        }
    }

    fn add(&mut self, name: Option<String>, outcome: &'static str) {
        self.operations.push((name, outcome));
    }

    fn refused(&mut self, name: Option<String>, refusal: &Refusal) {
        let (Refusal::Transport(_, error) | Refusal::Request(error)) = refusal;
        self.add(name, outcome(std::slice::from_ref(error)));
    }

    fn record(self, req: &HttpRequest) {
        let Some(metrics) = req.app_data::<web::Data<crate::ops::Metrics>>() else {
            return;
        };
        let elapsed = self.started.elapsed();
        for (name, outcome) in &self.operations {
            metrics.observe_operation(name.as_deref(), outcome, elapsed);
        }
    }
}

/// `ok` when there are no errors, else the code of the first (a bounded set of labels).
fn outcome(errors: &[ServerError]) -> &'static str {
    let Some(first) = errors.first() else {
        return "ok";
    };
    [
        Code::Unauthenticated,
        Code::Forbidden,
        Code::NotFound,
        Code::BadUserInput,
        Code::Conflict,
        Code::RateLimited,
        Code::ServiceUnavailable,
        Code::PersistedQueryNotFound,
        Code::PersistedQueryNotInList,
    ]
    .into_iter()
    .find(|code| has_code(first, *code))
    .unwrap_or(Code::Internal)
    .as_str()
}

/// Whether any error says the database could not be reached.
fn unavailable_in(errors: &[ServerError]) -> bool {
    errors.iter().any(|e| has_code(e, Code::ServiceUnavailable))
}

/// One operation as the client sent it, before any GraphQL is read.
#[derive(Debug, Default)]
pub(crate) struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Map<String, Value>,
    extensions: Map<String, Value>,
}

/// How an operation arrived, which decides the operations it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `POST /graphql`: queries and mutations.
    Post,
    /// `GET /graphql`: queries only.
    Get,
    /// A `subscribe` message over WebSocket: subscriptions only.
    WebSocket,
}

/// `POST /graphql`: one operation as a JSON object, or several as an array when batching is on.
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let mut tally = Tally::new();
    let response = post_counted(&state, &req, payload, &mut tally).await;
    tally.record(&req);
    response
}

async fn post_counted(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    tally: &mut Tally,
) -> HttpResponse {
    let Some(media) = negotiate(req) else {
        tally.add(None, Code::BadUserInput.as_str());
        return not_acceptable();
    };
    let body = match read_body(req, payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(refusal) => {
            tally.refused(None, &refusal);
            return refuse(media, refusal);
        }
    };
    let parsed = match parse_body(&body, &state.limits) {
        Ok(parsed) => parsed,
        Err(refusal) => {
            tally.refused(None, &refusal);
            return refuse(media, refusal);
        }
    };
    match parsed {
        Body::Single(params) => run_one(state, req, media, params, Transport::Post, tally).await,
        Body::Batch(batch) => run_batch(state, req, media, batch, tally).await,
    }
}

/// `GET /graphql?query=...&operationName=...&variables=...`: queries only.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let mut tally = Tally::new();
    let response = match negotiate(&req) {
        None => {
            tally.add(None, Code::BadUserInput.as_str());
            not_acceptable()
        }
        Some(media) => match parse_query_string(req.query_string()) {
            Ok(params) => run_one(&state, &req, media, params, Transport::Get, &mut tally).await,
            Err(refusal) => {
                tally.refused(None, &refusal);
                refuse(media, refusal)
            }
        },
    };
    tally.record(&req);
    response
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

/// The parameters of one operation in a JSON body (or a WebSocket `subscribe` message).
pub(crate) fn params_of(value: Value) -> Result<Params, Refusal> {
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
pub(crate) struct Ready {
    /// The request, its document already parsed.
    pub(crate) request: async_graphql::Request,
    /// The name of the operation to run, when the document names it.
    pub(crate) name: Option<String>,
    /// What the response cache makes of it.
    shape: cacheable::Shape,
}

/// Checks one operation: a query (sent, or named by its persisted hash), no NUL, its length,
/// its syntax, which operations the transport carries, the variables it needs, the limits. A
/// query sent with its hash is remembered once it has passed.
pub(crate) async fn prepare(
    state: &AppState,
    params: Params,
    via: Transport,
) -> Result<Ready, Refusal> {
    let limits = &state.limits;
    let hash = persisted::hash_of(&params.extensions).map_err(Refusal::Request)?;
    let resolved = state
        .persisted
        .resolve(&state.db, params.query, hash)
        .await
        .map_err(|error| {
            if has_code(&error, Code::ServiceUnavailable) {
                Refusal::Transport(StatusCode::SERVICE_UNAVAILABLE, error)
            } else if has_code(&error, Code::Internal) {
                Refusal::Transport(StatusCode::INTERNAL_SERVER_ERROR, error)
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
    let (doc, parsed) = state.documents.parse(&query).map_err(Refusal::Request)?;
    let name = params.operation_name.as_deref();
    if via == Transport::Get && limits::is_mutation(&doc, name) {
        return Err(transport(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are sent with POST; GET runs queries only",
        ));
    }
    let subscription = limits::operation(&doc, name)
        .map(|op| op.node.ty == async_graphql::parser::types::OperationType::Subscription);
    match (via, subscription) {
        (Transport::Get | Transport::Post, Some(true)) => {
            return Err(Refusal::Request(coded(
                "subscriptions are served over WebSocket: open `GET /graphql` with the \
                 `graphql-transport-ws` subprotocol",
                Code::BadUserInput,
            )));
        }
        (Transport::WebSocket, Some(false)) => {
            return Err(Refusal::Request(coded(
                "only subscriptions run over WebSocket; send queries and mutations to \
                 `POST /graphql`",
                Code::BadUserInput,
            )));
        }
        (Transport::WebSocket, Some(true)) => {
            if let Some(op) = limits::operation(&doc, name) {
                limits::single_root_field(op).map_err(Refusal::Request)?;
            }
        }
        _ => {}
    }
    let variables = Variables::from_json(Value::Object(params.variables));
    required_variables(&doc, params.operation_name.as_deref(), &variables)
        .map_err(Refusal::Request)?;
    let shape = cacheable::shape(&doc, params.operation_name.as_deref());
    limits::check(limits, &doc, &variables).map_err(Refusal::Request)?;
    if parsed {
        state.documents.keep(&query, &doc);
    }
    if let Some(hash) = remember {
        state.persisted.remember(hash, &query).await;
    }
    let name = selected_name(&doc, params.operation_name.as_deref());
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    request.set_parsed_query(doc);
    Ok(Ready {
        request,
        name,
        shape,
    })
}

/// The name of the operation `operation_name` selects in `doc`, if it selects a named one.
fn selected_name(
    doc: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<String> {
    use async_graphql::parser::types::DocumentOperations;
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(_), _) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .keys()
            .find(|n| n.as_str() == name)
            .map(ToString::to_string),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.keys().next().map(ToString::to_string)
        }
        _ => None,
    }
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
    via: Transport,
    tally: &mut Tally,
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
        tally.add(hit.operation().map(String::from), "ok");
        return hit.response();
    }
    let ready = match prepare(state, params, via).await {
        Ok(ready) => ready,
        Err(refusal) => {
            tally.refused(None, &refusal);
            return refuse(media, refusal);
        }
    };
    let name = ready.name.clone();
    let caller = match admit(state, http, media, 1).await {
        Ok(caller) => caller,
        Err((code, response)) => {
            tally.add(name, code.as_str());
            return response;
        }
    };
    let shape = ready.shape;
    let class = Class::of(&caller).filter(|_| shape.shared);
    let mut storing = None;
    if let (Some(cache), Some(key), Some(class)) = (cache, key, class) {
        if !(early && class == Class::Reader)
            && let Some(hit) = cache.get(class, key)
        {
            tally.add(name, "ok");
            return hit.response();
        }
        storing = cache
            .ticket()
            .await
            .map(|ticket| (cache, key, class, ticket));
    }
    let ran_or_refused = execute(state, http, caller, ready).await;
    match &ran_or_refused {
        Outcome::Ran { response, .. } => tally.add(name.clone(), outcome(&response.errors)),
        Outcome::Refused(refusal) => tally.refused(name.clone(), refusal),
    }
    let mut response = match (ran_or_refused, storing) {
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
                    response_cache::Answer {
                        body: bytes.clone(),
                        content_type: content_type.clone(),
                        operation: name.clone(),
                    },
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
    if started && unavailable_in(&response.errors) {
        retry_later(answer(media, StatusCode::SERVICE_UNAVAILABLE, &response))
    } else if started {
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

/// Runs a batch; the answer is `200` with one result per operation, or `503` when any of them
/// could not reach the database.
async fn run_batch(
    state: &AppState,
    http: &HttpRequest,
    media: Media,
    batch: Vec<Value>,
    tally: &mut Tally,
) -> HttpResponse {
    let mut prepared = Vec::with_capacity(batch.len());
    for item in batch {
        prepared.push(match params_of(item) {
            Ok(params) => prepare(state, params, Transport::Post).await,
            Err(refusal) => Err(refusal),
        });
    }
    let runnable = prepared.iter().filter(|p| p.is_ok()).count();
    let caller = match admit(state, http, media, runnable).await {
        Ok(caller) => caller,
        Err((code, response)) => {
            for item in &prepared {
                tally.add(
                    item.as_ref().ok().and_then(|r| r.name.clone()),
                    code.as_str(),
                );
            }
            return response;
        }
    };
    let mut answers = Vec::with_capacity(prepared.len());
    let mut unavailable = false;
    for item in prepared {
        let (name, ran) = match item {
            Ok(ready) => (
                ready.name.clone(),
                execute(state, http, caller.clone(), ready).await,
            ),
            Err(refusal) => (None, Outcome::Refused(refusal)),
        };
        answers.push(match ran {
            Outcome::Ran {
                response,
                started: true,
            } => {
                tally.add(name, outcome(&response.errors));
                unavailable |= unavailable_in(&response.errors);
                serde_json::to_value(&response).unwrap_or(Value::Null)
            }
            Outcome::Ran {
                response,
                started: false,
            } => {
                let errors = request_errors(&state.limits, response);
                tally.add(name, outcome(&errors));
                errors_only(&errors)
            }
            Outcome::Refused(refusal) => {
                tally.refused(name, &refusal);
                unavailable |= matches!(
                    refusal,
                    Refusal::Transport(StatusCode::SERVICE_UNAVAILABLE, _)
                );
                let (Refusal::Transport(_, error) | Refusal::Request(error)) = refusal;
                errors_only(&[error])
            }
        });
    }
    if unavailable {
        retry_later(answer(media, StatusCode::SERVICE_UNAVAILABLE, &answers))
    } else {
        answer(media, StatusCode::OK, &answers)
    }
}

/// Authenticates the caller and counts `operations` against its rate limit.
async fn admit(
    state: &AppState,
    http: &HttpRequest,
    media: Media,
    operations: usize,
) -> Result<Caller, (Code, HttpResponse)> {
    auth::admit(state, http, operations)
        .await
        .map_err(|refusal| match refusal {
            auth::Refusal::Unauthenticated(reason) => (Code::Unauthenticated, {
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
            }),
            auth::Refusal::RateLimited(wait) => (Code::RateLimited, {
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
            }),
            auth::Refusal::Unavailable(message) => {
                (Code::ServiceUnavailable, unavailable(media, message))
            }
        })
}

/// `503`: a store the request needs (database, Redis) did not answer; the cause is logged.
fn unavailable(media: Media, message: &str) -> HttpResponse {
    retry_later(answer(
        media,
        StatusCode::SERVICE_UNAVAILABLE,
        &errors_only(&[coded(message, Code::ServiceUnavailable)]),
    ))
}

/// Runs an operation; a mutation that may have changed content empties the response cache.
async fn execute(state: &AppState, http: &HttpRequest, caller: Caller, ready: Ready) -> Outcome {
    let now = state.clock.now();
    let client_addr = http.peer_addr().map(|a| a.ip().to_string());
    let context = RequestContext::new(state.db.clone(), now, caller, client_addr, user_agent(http));
    let request = ready.request.data(context);
    let mut response = state.schema.execute(request).await;
    if ready.shape.changes_content
        && let Some(cache) = &state.cache
    {
        cache.content_changed();
    }
    ensure_codes(&mut response);
    let started = executed(&response);
    Outcome::Ran { response, started }
}

/// Whether async-graphql began executing the operation; if not, its errors are request errors
/// (validation, variables, the operation's name), which the media type gives a status.
///
/// Told from the response rather than by an extension: any extension sends every field of every
/// operation through async-graphql's slower resolution path (type and field looked up by name,
/// the extension chain awaited per field), which cost a tenth of an uncached page's CPU. A step
/// before execution that fails always reports at least one error, none with a path, and leaves
/// no data. An operation that executed produced data, or failed in a field (async-graphql gives
/// every field's error the path of that field), or had nothing to run: every field skipped
/// (`@skip`), which answers `null` data with no error at all.
fn executed(response: &Response) -> bool {
    !matches!(response.data, async_graphql::Value::Null)
        || response.errors.is_empty()
        || response.errors.iter().any(|error| !error.path.is_empty())
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

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;

        /// Pieces of GraphQL, valid and not, that random text alone would seldom produce.
        const TOKENS: &[&str] = &[
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ":",
            "!",
            "=",
            "$v",
            "$v: Int",
            "...",
            "... on Article",
            "fragment F on Query",
            "...F",
            "query",
            "query Q",
            "mutation",
            "subscription",
            "@skip(if: true)",
            "@include(if: $v)",
            "\"str\"",
            "\"\"\"block\"\"\"",
            "\"\\u0000\"",
            "1",
            "-1",
            "1e999",
            "100",
            "2147483648",
            "null",
            "true",
            "site",
            "name",
            "articles",
            "first: 100",
            "first: $v",
            "edges",
            "node",
            "title",
            "a: site",
            "__typename",
            "__schema",
            "search(query: \"经济\")",
            "filter: { channel: \"parks\" }",
            "#",
            "\n",
        ];

        fn document() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                prop::collection::vec(prop::sample::select(TOKENS), 0..60)
                    .prop_map(|tokens| tokens.join(" ")),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                any::<String>().prop_map(Value::from),
                document().prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(
                        prop::sample::select(vec![
                            "query",
                            "operationName",
                            "variables",
                            "extensions",
                            "persistedQuery",
                            "sha256Hash",
                            "version",
                            "x",
                        ]),
                        inner,
                        0..5,
                    )
                    .prop_map(|m| Value::Object(
                        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                    )),
                ]
            })
        }

        proptest! {
            /// Any body is read as one operation or a batch, or refused with a 4xx or a request
            /// error; never a panic.
            #[test]
            fn fuzz_bodies_are_read_or_refused(
                body in prop_oneof![
                    any::<Vec<u8>>(),
                    json_value().prop_map(|v| v.to_string().into_bytes()),
                ],
                batch in any::<bool>(),
            ) {
                let limits = QueryLimits { batch, ..QueryLimits::default() };
                if let Err(Refusal::Transport(status, _)) = parse_body(&body, &limits) {
                    prop_assert!(status.is_client_error(), "{}", status);
                }
            }

            #[test]
            fn fuzz_query_strings_are_read_or_refused(raw in prop_oneof![
                any::<String>(),
                (document(), proptest::option::of("[ -~]{0,20}"))
                    .prop_map(|(query, variables)| {
                        let mut raw = format!("query={}", query.replace('&', "%26").replace('#', "%23"));
                        if let Some(variables) = variables {
                            raw.push_str(&format!("&variables={variables}"));
                        }
                        raw
                    }),
            ]) {
                if let Err(Refusal::Transport(status, _)) = parse_query_string(&raw) {
                    prop_assert!(status.is_client_error(), "{}", status);
                }
            }

            /// Any document is parsed or refused, and a parsed one is measured against the
            /// limits, whatever its variables; never a panic.
            #[test]
            fn fuzz_documents_are_parsed_and_measured(
                query in document(),
                variables in json_value(),
            ) {
                if let Ok(doc) = limits::parse(&query) {
                    let variables = Variables::from_json(variables);
                    let _ = limits::check(&QueryLimits::default(), &doc, &variables);
                    let _ = limits::is_mutation(&doc, None);
                    let _ = selected_name(&doc, Some("Q"));
                    let _ = required_variables(&doc, None, &variables);
                }
            }
        }
    }
}
