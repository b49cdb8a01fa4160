//! GraphQL subscriptions over WebSocket: the `graphql-transport-ws` protocol (the GraphQL over
//! WebSocket protocol of the `graphql-ws` library), served on `GET /graphql` with an `Upgrade`.
//!
//! Written here over `actix-ws` rather than taken from async-graphql's `WebSocket`: that one
//! closes with 1002 and 1011 where the protocol defines 4400, 4401 and 4403, never answers a
//! client's Close, has no `connection_init` timeout, replaces a subscription whose id is taken
//! instead of closing with 4409, and executes documents without the checks every other
//! operation passes ([`super::http::prepare`]: persisted queries, the allow-list, the limits).
//!
//! - The client offers the `graphql-transport-ws` subprotocol (else: close 4406), sends
//!   `connection_init` within the timeout (else 4408), once (else 4429). Its payload may carry
//!   `Authorization: Bearer <token>`, the header's value, checked by [`auth::admit_header`] like
//!   any request (a refused token: 4403; rate limited or the database away: 1013). The answer
//!   is `connection_ack`.
//! - `subscribe` before the ack is 4401; with an id already running, 4409. Each operation passes
//!   [`super::http::prepare`] (subscriptions only, one root field) and counts against the
//!   caller's rate limit; past the per-connection limit, or refused, it gets an `error` message
//!   and the connection stays open. It is then run once with no publication, which checks its
//!   arguments and yields what it listens for ([`Interest`]).
//! - Each publication the connection hears of ([`crate::publications`]) is run through each
//!   subscription that wants it, with a fresh request context, and sent as `next`. Before that,
//!   a signed-in caller's token is checked again, so a revoked or expired token hears no more.
//! - A message that is not JSON text of the protocol is 4400; a frame over the body size limit
//!   1009. A client's Close is answered with the same code; a stopping server closes with 1001.

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::{Response, ServerError, parser::types::ExecutableDocument};
use futures::StreamExt;
use newsroom_domain::changes::Publication;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::{
    app::{AppState, user_agent},
    auth::{self, Caller},
    graphql::{
        errors::{Code, ensure_codes},
        http::{Params, Transport, coded, params_of, prepare},
        limits::over_limit,
        loaders::RequestContext,
        subscription::{Delivery, Interest, Starting},
    },
};

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// How often an idle connection is pinged, so proxies keep it and a vanished peer is noticed.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// How connections behave, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    /// How long a new connection has to send `connection_init`.
    pub init_timeout: Duration,
    /// Subscriptions one connection may run at once.
    pub max_subscriptions: usize,
}

impl WsSettings {
    /// The settings `config` names.
    pub fn from_config(config: &crate::config::Config) -> Self {
        WsSettings {
            init_timeout: Duration::from_millis(config.graphql_ws_init_timeout_ms),
            max_subscriptions: config.graphql_ws_max_subscriptions,
        }
    }
}

/// Whether a request asks to be upgraded to a WebSocket.
pub fn is_upgrade(req: &actix_web::guard::GuardContext<'_>) -> bool {
    req.head()
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `GET /graphql` with `Upgrade: websocket`: a subscription connection, or `503` when the
/// process holds as many as it may.
pub async fn upgrade(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let Some(slot) = state.publications.admit() else {
        let max = state.publications.max_connections();
        let mut error = coded(
            format!(
                "this server holds its limit of {max} subscription connections; retry later or \
                 on another server"
            ),
            Code::RateLimited,
        );
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("limit", "connections");
        extensions.set("max", max as u64);
        return HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .insert_header((
                header::RETRY_AFTER,
                crate::ops::RETRY_AFTER_SECS.to_string(),
            ))
            .json(json!({ "errors": [error] }));
    };
    let (response, session, stream) = match actix_ws::handle_with_protocols(&req, body, &[PROTOCOL])
    {
        Ok(upgraded) => upgraded,
        Err(_) => {
            return HttpResponse::BadRequest().json(json!({ "errors": [coded(
                "not a WebSocket handshake: send `Connection: Upgrade`, `Upgrade: websocket`, \
                 `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key`",
                Code::BadUserInput,
            )] }));
        }
    };
    let offered = response
        .headers()
        .contains_key(header::SEC_WEBSOCKET_PROTOCOL);
    let max_bytes = state.max_body_bytes;
    let stream = stream
        .max_frame_size(max_bytes)
        .aggregate_continuations()
        .max_continuation_size(max_bytes);
    let connection = Connection {
        state: state.get_ref().clone(),
        client_addr: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: user_agent(&req),
        caller: None,
        authorization: None,
        running: HashMap::new(),
    };
    actix_web::rt::spawn(async move {
        let _slot = slot;
        connection.serve(session, stream, offered).await;
    });
    response
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[expect(dead_code, reason = "a pong carries nothing the server needs")]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Value,
    },
    Complete {
        id: String,
    },
}

/// What handling a message leaves the connection to do.
enum Next {
    Continue,
    Close(u16, String),
}

fn close(code: u16, reason: impl Into<String>) -> Next {
    Next::Close(code, reason.into())
}

/// A subscription that has started.
struct Running {
    params: Arc<RunParams>,
    interest: Arc<Interest>,
}

/// What runs a subscription again for each publication: the checked operation, parsed once.
struct RunParams {
    query: String,
    operation_name: Option<String>,
    variables: async_graphql::Variables,
    doc: Option<ExecutableDocument>,
}

impl RunParams {
    fn of(mut request: async_graphql::Request) -> Self {
        let doc = request.parsed_query().ok().cloned();
        RunParams {
            query: request.query,
            operation_name: request.operation_name,
            variables: request.variables,
            doc,
        }
    }

    /// A request to run once more (`Request` itself is not `Clone`).
    fn request(&self) -> async_graphql::Request {
        let mut request =
            async_graphql::Request::new(self.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.operation_name {
            request = request.operation_name(name.clone());
        }
        if let Some(doc) = &self.doc {
            request.set_parsed_query(doc.clone());
        }
        request
    }
}

struct Connection {
    state: AppState,
    client_addr: Option<String>,
    user_agent: Option<String>,
    /// Set once `connection_init` was accepted.
    caller: Option<Caller>,
    /// The `Authorization` value it was accepted with, to check again before each delivery.
    authorization: Option<String>,
    running: HashMap<String, Running>,
}

impl Connection {
    async fn serve(
        mut self,
        mut session: Session,
        mut stream: actix_ws::AggregatedMessageStream,
        offered: bool,
    ) {
        if !offered {
            let _ = session
                .close(Some(reason(
                    4406,
                    "Subprotocol not acceptable: use graphql-transport-ws",
                )))
                .await;
            return;
        }
        let hub = self.state.publications.clone();
        let mut closing = hub.closing();
        let init_timeout = tokio::time::sleep(self.state.ws.init_timeout);
        tokio::pin!(init_timeout);
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
        let mut events: Option<broadcast::Receiver<Arc<Publication>>> = None;
        let mut initialised = false;
        let next = loop {
            tokio::select! {
                message = stream.next() => {
                    let next = match message {
                        None => return,
                        Some(Ok(AggregatedMessage::Text(text))) => {
                            let next = self.message(&mut session, &text, &mut initialised).await;
                            if self.caller.is_some() && events.is_none() {
                                // Listening from the ack on: a subscription started later hears
                                // of everything published after it started.
                                events = Some(hub.listen());
                            }
                            next
                        }
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            close(4400, "messages are JSON text frames")
                        }
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            if session.pong(&bytes).await.is_err() {
                                return;
                            }
                            Next::Continue
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => Next::Continue,
                        Some(Ok(AggregatedMessage::Close(said))) => {
                            // Answer the client's Close with its own code (RFC 6455, 5.5.1).
                            let code = said.map_or(CloseCode::Normal, |r| r.code);
                            let _ = session.close(Some(CloseReason { code, description: None })).await;
                            return;
                        }
                        Some(Err(actix_ws::ProtocolError::Overflow)) => {
                            close(1009, "the message is larger than this server accepts")
                        }
                        Some(Err(_)) => close(1002, "WebSocket protocol error"),
                    };
                    if let Next::Close(..) = next {
                        break next;
                    }
                }
                () = &mut init_timeout, if !initialised => {
                    break close(4408, "Connection initialisation timeout");
                }
                event = recv(&mut events), if events.is_some() => match event {
                    Ok(publication) => {
                        if let Next::Close(code, why) = self.deliver(&mut session, &publication).await {
                            break Next::Close(code, why);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a subscription connection fell behind and missed publications");
                    }
                    Err(broadcast::error::RecvError::Closed) => events = None,
                },
                _ = closing.changed() => break close(1001, "the server is shutting down"),
                _ = keepalive.tick() => {
                    if session.ping(b"").await.is_err() {
                        return;
                    }
                }
            }
        };
        if let Next::Close(code, why) = next {
            let _ = session.close(Some(reason(code, &why))).await;
        }
    }

    /// Handles one text message.
    async fn message(&mut self, session: &mut Session, text: &str, initialised: &mut bool) -> Next {
        let message: ClientMessage = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(e) => return close(4400, format!("Invalid message: {}", describe(&e))),
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if *initialised {
                    return close(4429, "Too many initialisation requests");
                }
                *initialised = true;
                self.init(session, payload).await
            }
            ClientMessage::Ping { payload } => {
                let pong = match payload {
                    Some(payload) => json!({ "type": "pong", "payload": payload }),
                    None => json!({ "type": "pong" }),
                };
                send(session, &pong).await
            }
            ClientMessage::Pong { .. } => Next::Continue,
            ClientMessage::Subscribe { id, payload } => self.subscribe(session, id, payload).await,
            ClientMessage::Complete { id } => {
                // The client is done with it: nothing more is sent for it, not even `complete`.
                self.running.remove(&id);
                Next::Continue
            }
        }
    }

    /// `connection_init`: authenticates the payload's `Authorization` (none: a reader).
    async fn init(&mut self, session: &mut Session, payload: Option<Value>) -> Next {
        let authorization = match payload {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => match authorization_of(&map) {
                Ok(value) => value,
                Err(why) => return close(4400, why),
            },
            Some(_) => {
                return close(
                    4400,
                    "Invalid message: the connection_init payload must be an object",
                );
            }
        };
        match auth::admit_header(&self.state, authorization.as_deref(), 1).await {
            Ok(caller) => {
                self.caller = Some(caller);
                self.authorization = authorization;
                send(session, &json!({ "type": "connection_ack" })).await
            }
            Err(auth::Refusal::Unauthenticated(why)) => close(4403, format!("Forbidden: {why}")),
            Err(auth::Refusal::RateLimited(wait)) => close(
                1013,
                format!("this token's request limit is reached; retry after {wait} seconds"),
            ),
            Err(auth::Refusal::Unavailable(why)) => close(1013, why),
        }
    }

    /// `subscribe`: checks the operation, runs it once, and keeps it.
    async fn subscribe(&mut self, session: &mut Session, id: String, payload: Value) -> Next {
        let Some(caller) = self.caller.clone() else {
            return close(4401, "Unauthorized");
        };
        if id.is_empty() {
            return close(4400, "Invalid message: `id` must not be empty");
        }
        if self.running.contains_key(&id) {
            return close(4409, format!("Subscriber for {id} already exists"));
        }
        let params: Params = match params_of(payload) {
            Ok(params) => params,
            Err(refusal) => {
                return close(
                    4400,
                    format!("Invalid message: {}", refusal.into_error().message),
                );
            }
        };
        let max = self.state.ws.max_subscriptions;
        if self.running.len() >= max {
            let error = over_limit(
                "subscriptions",
                max as u64,
                format!(
                    "this connection already runs {max} subscriptions, the subscription limit; \
                     complete one first"
                ),
                None,
            );
            return refuse(session, &id, vec![error]).await;
        }
        if let Err(refusal) = auth::count(&self.state, &caller, 1).await {
            let error = match refusal {
                auth::Refusal::RateLimited(wait) => {
                    let mut error = coded(
                        format!(
                            "this token's request limit is reached; retry after {wait} seconds"
                        ),
                        Code::RateLimited,
                    );
                    error
                        .extensions
                        .get_or_insert_with(Default::default)
                        .set("retryAfter", wait);
                    error
                }
                auth::Refusal::Unauthenticated(why) => coded(why, Code::Unauthenticated),
                auth::Refusal::Unavailable(why) => coded(why, Code::ServiceUnavailable),
            };
            return refuse(session, &id, vec![error]).await;
        }
        let ready = match prepare(&self.state, params, Transport::WebSocket).await {
            Ok(ready) => ready,
            Err(refusal) => return refuse(session, &id, vec![refusal.into_error()]).await,
        };
        let params = Arc::new(RunParams::of(ready.request));
        let starting = Arc::new(Starting::default());
        let request = params
            .request()
            .data(self.context(caller))
            .data(starting.clone());
        if let Some(mut response) = self.state.schema.execute_stream(request).next().await {
            // The first run yields nothing unless something was wrong.
            ensure_codes(&mut response);
            return refuse(session, &id, response.errors).await;
        }
        let Some(interest) = starting.take() else {
            tracing::error!("a subscription's first run left no interest");
            return refuse(
                session,
                &id,
                vec![coded("internal error; it has been logged", Code::Internal)],
            )
            .await;
        };
        self.running.insert(
            id,
            Running {
                params,
                interest: Arc::new(interest),
            },
        );
        Next::Continue
    }

    /// Tells each subscription that wants `publication` of it.
    async fn deliver(&mut self, session: &mut Session, publication: &Arc<Publication>) -> Next {
        let Some(caller) = self.caller.clone() else {
            return Next::Continue;
        };
        if !self
            .running
            .values()
            .any(|r| r.interest.wants(publication, caller.audience()))
        {
            return Next::Continue;
        }
        let caller = match self.recheck(caller).await {
            Ok(caller) => caller,
            Err(why) => return close(4403, format!("Forbidden: {why}")),
        };
        let audience = caller.audience();
        let wanted: Vec<(String, Arc<RunParams>, Arc<Interest>)> = self
            .running
            .iter()
            .filter(|(_, r)| r.interest.wants(publication, audience))
            .map(|(id, r)| (id.clone(), r.params.clone(), r.interest.clone()))
            .collect();
        for (id, params, interest) in wanted {
            let request = params
                .request()
                .data(self.context(caller.clone()))
                .data(Delivery {
                    publication: publication.clone(),
                    interest,
                });
            let Some(mut response) = self.state.schema.execute_stream(request).next().await else {
                continue;
            };
            ensure_codes(&mut response);
            if let Next::Close(code, why) = send_next(session, &id, &response).await {
                return Next::Close(code, why);
            }
        }
        Next::Continue
    }

    /// The caller as its token says now: a revoked or expired token, or a disabled user, is
    /// refused. When the check cannot be made (the database is away), the caller accepted last
    /// stands rather than lose the delivery.
    async fn recheck(&mut self, caller: Caller) -> Result<Caller, &'static str> {
        let Some(authorization) = self.authorization.as_deref() else {
            return Ok(caller);
        };
        let now = self.state.clock.now();
        match auth::authenticate(&self.state.db, &self.state.auth, Some(authorization), now).await {
            Ok(fresh) => {
                self.caller = Some(fresh.clone());
                Ok(fresh)
            }
            Err(auth::AuthenticateError::Refused(why)) => Err(why.0),
            Err(auth::AuthenticateError::Domain(e)) => {
                tracing::warn!(error = %e, "checking a subscriber's token failed; delivering on the last check");
                Ok(caller)
            }
        }
    }

    fn context(&self, caller: Caller) -> RequestContext {
        RequestContext::new(
            self.state.db.clone(),
            self.state.clock.now(),
            caller,
            self.client_addr.clone(),
            self.user_agent.clone(),
        )
    }
}

/// The `Authorization` value of a `connection_init` payload (either spelling), if any.
fn authorization_of(payload: &Map<String, Value>) -> Result<Option<String>, &'static str> {
    match payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
    {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err("Invalid message: `Authorization` must be a string, `Bearer <token>`"),
    }
}

async fn recv(
    events: &mut Option<broadcast::Receiver<Arc<Publication>>>,
) -> Result<Arc<Publication>, broadcast::error::RecvError> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

fn reason(code: u16, why: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::from(code),
        description: Some(why.to_owned()),
    }
}

/// A serde error as the client should read it: what is wrong, not the Rust type names.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    if text.starts_with("unknown variant") {
        "unknown message `type`".to_owned()
    } else {
        text.to_owned()
    }
}

async fn send(session: &mut Session, message: &Value) -> Next {
    match session.text(message.to_string()).await {
        Ok(()) => Next::Continue,
        // The peer is gone; closing again only fails quietly.
        Err(_) => close(1000, ""),
    }
}

/// An `error` message: the operation `id` is refused and ends.
async fn refuse(session: &mut Session, id: &str, errors: Vec<ServerError>) -> Next {
    send(
        session,
        &json!({ "id": id, "type": "error", "payload": errors }),
    )
    .await
}

/// A `next` message with one result.
async fn send_next(session: &mut Session, id: &str, response: &Response) -> Next {
    match serde_json::to_value(response) {
        Ok(payload) => {
            send(
                session,
                &json!({ "id": id, "type": "next", "payload": payload }),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "serializing a subscription result failed");
            Next::Continue
        }
    }
}
