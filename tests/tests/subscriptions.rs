//! GraphQL subscriptions over WebSocket (graphql-transport-ws) against the real server, on both
//! backends: `articlePublished` tells a connected client of each article as it becomes visible to
//! it (published now, or scheduled and its time come) and of nothing else; the protocol's close
//! codes; the limits on subscriptions and connections; the query checks.
//!
//! Time is the servers' manual clock: publications are read from the change log once its entries
//! have settled, so a test moves the clock past the settle delay, and the server's reader (every
//! 20 ms here) finds them. That nothing else was told is shown by order: a connection hears of
//! publications in the order they happened, so what a client receives first after the unwanted
//! articles were published is the article published after them. `ping`/`pong` is the barrier
//! that makes sure the server has taken a subscription before the test publishes.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::TimeDelta;
use futures::{SinkExt, StreamExt};
use newsroom_domain::{
    clock::Clock,
    editorial::{self, Actor, ArticlePatch, NewArticle, Transition},
    entities::{Role, article},
    takedowns,
};
use newsroom_gateway::config::Config;
use newsroom_tests::{Backend, TestApp, on_both_backends, park_article, segmenter};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{
        self, Message,
        client::IntoClientRequest,
        http::HeaderValue,
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

on_both_backends!(
    a_subscriber_is_told_of_publications_and_of_nothing_else,
    partners_are_told_only_of_what_they_may_republish,
    a_scheduled_article_is_told_when_its_time_comes,
    publications_reach_subscribers_of_another_server,
    a_revoked_token_is_told_no_more,
    the_protocol_closes_with_its_own_codes,
    a_client_close_is_answered,
    subscriptions_and_connections_are_limited,
    subscriptions_pass_the_query_checks,
);

/// The reader looks for publications every 20 ms.
fn quick(config: &mut Config) {
    config.graphql_ws_poll_ms = 20;
}

/// Past the change log's settle delay.
const SETTLE: TimeDelta = TimeDelta::seconds(10);

/// The longest a test waits for a message that must come; never reached when all is well.
const PATIENCE: Duration = Duration::from_secs(30);

const PUBLISHED: &str = "subscription($channel: String) {
    articlePublished(channel: $channel) { slug title channel { slug } }
}";

// ---------------------------------------------------------------------------------------------
// A graphql-transport-ws client.

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

fn ws_url(app: &TestApp) -> String {
    format!("{}/graphql", app.address.replacen("http", "ws", 1))
}

impl Client {
    /// Opens a connection offering the protocol.
    async fn open(app: &TestApp) -> anyhow::Result<Self> {
        Self::open_with(app, Some("graphql-transport-ws")).await
    }

    async fn open_with(app: &TestApp, protocol: Option<&'static str>) -> anyhow::Result<Self> {
        let mut request = ws_url(app).into_client_request()?;
        if let Some(protocol) = protocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
        }
        let (ws, _) = connect_async(request).await?;
        Ok(Client { ws })
    }

    /// Opens, sends `connection_init` (with `Authorization: Bearer <token>` when given) and
    /// expects `connection_ack`.
    async fn ready(app: &TestApp, token: Option<&str>) -> anyhow::Result<Self> {
        let mut client = Self::open(app).await?;
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await?;
        let ack = client.recv().await?;
        anyhow::ensure!(ack["type"] == "connection_ack", "expected an ack: {ack}");
        Ok(client)
    }

    async fn send(&mut self, message: Value) -> anyhow::Result<()> {
        self.ws.send(Message::text(message.to_string())).await?;
        Ok(())
    }

    async fn send_raw(&mut self, message: Message) -> anyhow::Result<()> {
        self.ws.send(message).await?;
        Ok(())
    }

    /// The next frame other than a WebSocket ping or pong.
    async fn frame(&mut self) -> anyhow::Result<Message> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .context("no message from the server")?
                .context("the connection ended without a Close frame")??;
            match frame {
                Message::Ping(_) | Message::Pong(_) => {}
                other => return Ok(other),
            }
        }
    }

    /// The next protocol message.
    async fn recv(&mut self) -> anyhow::Result<Value> {
        match self.frame().await? {
            Message::Text(text) => Ok(serde_json::from_str(text.as_str())?),
            other => bail!("expected a text message, got {other:?}"),
        }
    }

    /// The server's Close frame: its code and reason.
    async fn closed(&mut self) -> anyhow::Result<(u16, String)> {
        match self.frame().await? {
            Message::Close(Some(frame)) => Ok((u16::from(frame.code), frame.reason.to_string())),
            other => bail!("expected a Close frame, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) -> anyhow::Result<()> {
        self.send(json!({
            "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables }
        }))
        .await
    }

    /// Sends a ping and waits for its pong: every message sent before has been handled.
    async fn barrier(&mut self) -> anyhow::Result<()> {
        self.send(json!({ "type": "ping", "payload": { "barrier": true } }))
            .await?;
        let pong = self.recv().await?;
        anyhow::ensure!(
            pong == json!({ "type": "pong", "payload": { "barrier": true } }),
            "expected the pong, got {pong}"
        );
        Ok(())
    }

    /// The slug of the next article told for subscription `id`.
    async fn told(&mut self, id: &str) -> anyhow::Result<String> {
        let message = self.recv().await?;
        anyhow::ensure!(
            message["type"] == "next" && message["id"] == id,
            "expected `next` for {id}: {message}"
        );
        anyhow::ensure!(
            message["payload"].get("errors").is_none(),
            "errors: {message}"
        );
        message["payload"]["data"]["articlePublished"]["slug"]
            .as_str()
            .map(String::from)
            .context("no slug")
    }

    /// The errors of the `error` message that must come next for `id`.
    async fn refused(&mut self, id: &str) -> anyhow::Result<Vec<Value>> {
        let message = self.recv().await?;
        anyhow::ensure!(
            message["type"] == "error" && message["id"] == id,
            "expected `error` for {id}: {message}"
        );
        message["payload"]
            .as_array()
            .cloned()
            .context("no error list")
    }
}

// ---------------------------------------------------------------------------------------------
// The newsroom desk: writes through the domain, as the editorial mutations do.

struct Desk<'a> {
    app: &'a TestApp,
    actor: Actor,
}

impl<'a> Desk<'a> {
    async fn new(app: &'a TestApp) -> anyhow::Result<Self> {
        let (editor, _) = app.user("desk", Role::Editor).await?;
        Ok(Desk {
            app,
            actor: Actor { user_id: editor.id },
        })
    }

    /// A draft in `channel`: the site's own, or a reprint from `source`. Returns its id and slug.
    async fn draft(
        &self,
        title: &str,
        channel: &str,
        source: Option<&str>,
    ) -> anyhow::Result<(i64, String)> {
        let created = editorial::create(
            &self.app.db,
            &segmenter()?,
            self.actor,
            self.app.clock.now(),
            NewArticle {
                channel: channel.into(),
                ..park_article(title, source)
            },
        )
        .await?;
        Ok((created.id, created.slug))
    }

    async fn version(&self, id: i64) -> anyhow::Result<i32> {
        Ok(article::Entity::find_by_id(id)
            .one(&self.app.db)
            .await?
            .context("article")?
            .version)
    }

    async fn go(&self, id: i64, to: Transition) -> anyhow::Result<()> {
        let version = self.version(id).await?;
        editorial::transition(
            &self.app.db,
            &segmenter()?,
            self.actor,
            self.app.clock.now(),
            id,
            version,
            to,
        )
        .await?;
        Ok(())
    }

    /// A new article in `channel`, published now; returns its slug.
    async fn publish(
        &self,
        title: &str,
        channel: &str,
        source: Option<&str>,
    ) -> anyhow::Result<String> {
        let (id, slug) = self.draft(title, channel, source).await?;
        self.go(id, Transition::PublishNow).await?;
        Ok(slug)
    }

    async fn retitle(&self, id: i64, title: &str) -> anyhow::Result<()> {
        let version = self.version(id).await?;
        editorial::update(
            &self.app.db,
            &segmenter()?,
            self.actor,
            self.app.clock.now(),
            id,
            version,
            ArticlePatch {
                title: Some(title.into()),
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    async fn take_down(&self, id: i64) -> anyhow::Result<()> {
        let now = self.app.clock.now();
        let request = takedowns::request(
            &self.app.db,
            now,
            Some("203.0.113.9"),
            takedowns::NewTakedown {
                article_id: id,
                claimant: "南昌日报社".into(),
                contact: "rights@example.cn".into(),
                reason: "未经授权转载".into(),
            },
        )
        .await?;
        takedowns::resolve(
            &self.app.db,
            &segmenter()?,
            self.actor,
            now,
            request.id,
            true,
            None,
        )
        .await?;
        Ok(())
    }
}

/// A partner with a long-lived API token; returns the token and its global id.
async fn partner(app: &TestApp) -> anyhow::Result<(String, String)> {
    let admin = app.signed_in("chief", Role::Admin).await?;
    app.user("syndic", Role::Partner).await?;
    let data = app
        .data_as(
            Some(&admin),
            "mutation { issueApiToken(user: \"syndic\", name: \"live\", expiresIn: 2592000) {
                token apiToken { id } } }",
            json!({}),
        )
        .await?;
    let issued = &data["issueApiToken"];
    Ok((
        issued["token"].as_str().context("token")?.to_owned(),
        issued["apiToken"]["id"].as_str().context("id")?.to_owned(),
    ))
}

// ---------------------------------------------------------------------------------------------
// The tests.

async fn a_subscriber_is_told_of_publications_and_of_nothing_else(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, quick).await?;
    let desk = Desk::new(&app).await?;
    let mut reader = Client::ready(&app, None).await?;
    reader.subscribe("all", PUBLISHED, json!({})).await?;
    // `parks` has sub-channels: `park-news` is one of them.
    reader
        .subscribe("parks", PUBLISHED, json!({ "channel": "parks" }))
        .await?;
    reader
        .subscribe("hydrogen", PUBLISHED, json!({ "channel": "hydrogen" }))
        .await?;
    reader.barrier().await?;

    // Nothing readers see appears: a draft, an article published and unpublished before anyone
    // could see it, one taken down, an edit of an article already shown.
    desk.draft("只是草稿", "park-news", None).await?;
    let (gone, _) = desk.draft("发布后撤回", "park-news", None).await?;
    desk.go(gone, Transition::PublishNow).await?;
    desk.go(gone, Transition::Unpublish).await?;
    let (down, _) = desk.draft("被下架的转载", "park-news", None).await?;
    desk.go(down, Transition::PublishNow).await?;
    desk.take_down(down).await?;
    let shown = article::Entity::find()
        .one(&app.db)
        .await?
        .context("a demo article")?;
    desk.retitle(shown.id, "改过标题的旧文章").await?;
    let first = desk.publish("氢能产业新进展", "hydrogen", None).await?;
    let second = desk.publish("园区招商再提速", "park-news", None).await?;
    let third = desk.publish("氢燃料电池项目签约", "hydrogen", None).await?;
    app.clock.advance(SETTLE);

    // Each subscription is told in order; since a connection hears of publications in the order
    // they were made, the first thing "all" hears being `first` means nothing before it was told.
    let mut all = Vec::new();
    let mut parks = Vec::new();
    let mut hydrogen = Vec::new();
    while all.len() + parks.len() + hydrogen.len() < 6 {
        let message = reader.recv().await?;
        anyhow::ensure!(message["type"] == "next", "{message}");
        let slug = message["payload"]["data"]["articlePublished"]["slug"]
            .as_str()
            .context("slug")?
            .to_owned();
        match message["id"].as_str() {
            Some("all") => all.push(slug),
            Some("parks") => parks.push(slug),
            Some("hydrogen") => hydrogen.push(slug),
            _ => bail!("unexpected {message}"),
        }
    }
    assert_eq!(all, [first.clone(), second.clone(), third.clone()]);
    assert_eq!(parks, [second]);
    assert_eq!(hydrogen, [first, third]);

    // The payload is the ordinary `Article`, resolved when it is told.
    reader
        .subscribe(
            "full",
            "subscription { articlePublished { title lead status source { name } tags { name }
                disclaimer { text } body(format: TEXT) } }",
            json!({}),
        )
        .await?;
    reader.barrier().await?;
    desk.publish("数字经济港建设提速", "park-news", Some("nanchang-kaifaqu"))
        .await?;
    app.clock.advance(SETTLE);
    let mut told = None;
    while told.is_none() {
        let message = reader.recv().await?;
        if message["id"] == "full" {
            told = Some(message);
        }
    }
    let told = told.context("told")?;
    let article = &told["payload"]["data"]["articlePublished"];
    assert_eq!(article["title"], "数字经济港建设提速", "{told}");
    assert_eq!(article["status"], "PUBLISHED");
    assert!(article["source"]["name"].is_string(), "{told}");
    assert!(article["disclaimer"]["text"].is_string(), "{told}");
    assert!(
        article["body"]
            .as_str()
            .is_some_and(|b| b.contains("稳步推进")),
        "{told}"
    );
    Ok(())
}

async fn partners_are_told_only_of_what_they_may_republish(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, quick).await?;
    let desk = Desk::new(&app).await?;
    let (token, _) = partner(&app).await?;
    let mut reader = Client::ready(&app, None).await?;
    let mut syndic = Client::ready(&app, Some(&token)).await?;
    for client in [&mut reader, &mut syndic] {
        client.subscribe("s", PUBLISHED, json!({})).await?;
        client.barrier().await?;
    }
    // nanchang-kaifaqu reserves its rights; keji-qianyan allows syndication.
    let closed = desk
        .publish("不得转载的报道", "park-news", Some("nanchang-kaifaqu"))
        .await?;
    let open = desk
        .publish("可以转载的报道", "park-news", Some("keji-qianyan"))
        .await?;
    let own = desk.publish("本站原创", "park-news", None).await?;
    app.clock.advance(SETTLE);
    assert_eq!(syndic.told("s").await?, open);
    assert_eq!(syndic.told("s").await?, own);
    assert_eq!(reader.told("s").await?, closed);
    assert_eq!(reader.told("s").await?, open);
    assert_eq!(reader.told("s").await?, own);
    Ok(())
}

async fn a_scheduled_article_is_told_when_its_time_comes(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, quick).await?;
    let desk = Desk::new(&app).await?;
    let mut reader = Client::ready(&app, None).await?;
    reader.subscribe("s", PUBLISHED, json!({})).await?;
    reader.barrier().await?;
    let start = app.clock.now();
    let (early, early_slug) = desk.draft("一小时后发布", "park-news", None).await?;
    desk.go(early, Transition::Schedule(start + TimeDelta::hours(1)))
        .await?;
    // Saved again while scheduled: its time now has two log entries, and is told once.
    desk.retitle(early, "一小时后发布（修订）").await?;
    let (late, late_slug) = desk.draft("改期的文章", "park-news", None).await?;
    desk.go(late, Transition::Schedule(start + TimeDelta::hours(1)))
        .await?;
    desk.go(late, Transition::Schedule(start + TimeDelta::hours(2)))
        .await?;
    let now = desk.publish("马上发布", "park-news", None).await?;
    app.clock.advance(SETTLE);
    // Not yet: the article published now is told first.
    assert_eq!(reader.told("s").await?, now);

    app.clock.set(start + TimeDelta::hours(1) + SETTLE);
    assert_eq!(reader.told("s").await?, early_slug);
    // The rescheduled one is not told at its old time, nor the revised one twice: what comes
    // next is what is published next.
    let marker = desk.publish("整点之后", "park-news", None).await?;
    app.clock.advance(SETTLE);
    assert_eq!(reader.told("s").await?, marker);

    app.clock.set(start + TimeDelta::hours(2) + SETTLE);
    assert_eq!(reader.told("s").await?, late_slug);
    Ok(())
}

async fn publications_reach_subscribers_of_another_server(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, quick).await?;
    let other = app.another_server().await?;
    let desk = Desk::new(&app).await?;
    let mut there = Client::ready(&other, None).await?;
    there.subscribe("s", PUBLISHED, json!({})).await?;
    there.barrier().await?;
    // Published through the first server's API, so the write is that process's.
    let editor = app.signed_in("editor-one", Role::Editor).await?;
    let (id, _) = desk.draft("跨进程的发布", "park-news", None).await?;
    let global =
        newsroom_gateway::graphql::ids::encode(newsroom_gateway::graphql::ids::Kind::Article, id);
    let published = app
        .data_as(
            Some(&editor),
            "mutation($id: ID!) { publishArticle(id: $id, version: 1) { slug } }",
            json!({ "id": global.to_string() }),
        )
        .await?;
    app.clock.advance(SETTLE);
    assert_eq!(
        there.told("s").await?,
        published["publishArticle"]["slug"]
            .as_str()
            .context("slug")?
    );
    Ok(())
}

async fn a_revoked_token_is_told_no_more(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, quick).await?;
    let desk = Desk::new(&app).await?;
    let (token, token_id) = partner(&app).await?;
    let mut syndic = Client::ready(&app, Some(&token)).await?;
    syndic.subscribe("s", PUBLISHED, json!({})).await?;
    syndic.barrier().await?;
    let first = desk.publish("撤销之前", "park-news", None).await?;
    app.clock.advance(SETTLE);
    assert_eq!(syndic.told("s").await?, first);

    let admin = app.signed_in("chief-2", Role::Admin).await?;
    app.data_as(
        Some(&admin),
        "mutation($id: ID!) { revokeApiToken(id: $id) { id } }",
        json!({ "id": token_id }),
    )
    .await?;
    desk.publish("撤销之后", "park-news", None).await?;
    app.clock.advance(SETTLE);
    let (code, reason) = syndic.closed().await?;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("revoked"), "{reason}");
    Ok(())
}

async fn the_protocol_closes_with_its_own_codes(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, false, |c| {
        quick(c);
        c.graphql_ws_init_timeout_ms = 100;
    })
    .await?;

    // A token the server refuses: 4403 Forbidden, saying why.
    let mut client = Client::open(&app).await?;
    client
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } }))
        .await?;
    let (code, reason) = client.closed().await?;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("malformed"), "{reason}");
    let mut client = Client::open(&app).await?;
    client
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Basic YTpi" } }))
        .await?;
    assert_eq!(client.closed().await?.0, 4403);

    // Subscribing before the connection is acknowledged: 4401 Unauthorized.
    let mut client = Client::open(&app).await?;
    client.subscribe("s", PUBLISHED, json!({})).await?;
    assert_eq!(client.closed().await?, (4401, "Unauthorized".into()));

    // A second connection_init: 4429.
    let mut client = Client::ready(&app, None).await?;
    client.send(json!({ "type": "connection_init" })).await?;
    assert_eq!(client.closed().await?.0, 4429);

    // A subscription id already running: 4409.
    let mut client = Client::ready(&app, None).await?;
    client.subscribe("same", PUBLISHED, json!({})).await?;
    client.subscribe("same", PUBLISHED, json!({})).await?;
    assert_eq!(
        client.closed().await?,
        (4409, "Subscriber for same already exists".into())
    );
    // ... but an id whose subscription was completed may be used again.
    let mut client = Client::ready(&app, None).await?;
    client.subscribe("again", PUBLISHED, json!({})).await?;
    client
        .send(json!({ "type": "complete", "id": "again" }))
        .await?;
    client.subscribe("again", PUBLISHED, json!({})).await?;
    client.barrier().await?;

    // No connection_init in time: 4408.
    let mut client = Client::open(&app).await?;
    assert_eq!(client.closed().await?.0, 4408);

    // No graphql-transport-ws subprotocol offered: 4406.
    let mut client = Client::open_with(&app, None).await?;
    assert_eq!(client.closed().await?.0, 4406);
    // A client offering only another protocol fails the handshake itself: none was chosen.
    assert!(Client::open_with(&app, Some("graphql-ws")).await.is_err());

    // Messages that are not the protocol's: 4400, each saying what was wrong.
    for (message, says) in [
        (Message::text("not json"), "Invalid message"),
        (
            Message::text("{\"type\": \"start\"}"),
            "unknown message `type`",
        ),
        (Message::text("{\"payload\": {}}"), "missing field `type`"),
        (
            Message::text(
                "{\"type\": \"subscribe\", \"payload\": {\"query\": \"subscription { articlePublished { slug } }\"}}",
            ),
            "missing field `id`",
        ),
        (
            Message::text("{\"type\": \"subscribe\", \"id\": \"1\", \"payload\": {\"query\": 7}}"),
            "`query` must be a string",
        ),
        (
            Message::text("{\"type\": \"connection_init\", \"payload\": [1]}"),
            "must be an object",
        ),
        (
            Message::text("{\"type\": \"connection_init\", \"payload\": {\"Authorization\": 1}}"),
            "must be a string",
        ),
        (Message::binary(b"{}".to_vec()), "JSON text"),
    ] {
        let mut client = Client::open(&app).await?;
        let init = matches!(&message, Message::Text(t) if t.as_str().contains("subscribe"));
        if init {
            client.send(json!({ "type": "connection_init" })).await?;
            anyhow::ensure!(client.recv().await?["type"] == "connection_ack");
        }
        client.send_raw(message.clone()).await?;
        let (code, reason) = client.closed().await?;
        assert_eq!(code, 4400, "{message:?}: {reason}");
        assert!(reason.contains(says), "{message:?}: {reason}");
    }

    // A plain GET without an upgrade is still GraphQL over HTTP.
    let site = app
        .client
        .get(format!(
            "{}/graphql?query=%7Bsite%7Bname%7D%7D",
            app.address
        ))
        .send()
        .await?;
    assert_eq!(site.status(), 200);
    Ok(())
}

async fn a_client_close_is_answered(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, false, quick).await?;
    // Before and after connection_init, and with a running subscription.
    for stage in 0..3 {
        let mut client = if stage == 0 {
            Client::open(&app).await?
        } else {
            Client::ready(&app, None).await?
        };
        if stage == 2 {
            client.subscribe("s", PUBLISHED, json!({})).await?;
            client.barrier().await?;
        }
        client
            .ws
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await?;
        let (code, _) = client.closed().await?;
        assert_eq!(code, 1000, "stage {stage}");
        // And then the connection ends.
        let end = tokio::time::timeout(PATIENCE, client.ws.next()).await?;
        assert!(
            matches!(end, None | Some(Err(tungstenite::Error::ConnectionClosed))),
            "{end:?}"
        );
    }
    Ok(())
}

async fn subscriptions_and_connections_are_limited(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, false, |c| {
        quick(c);
        c.graphql_ws_max_connections = 2;
        c.graphql_ws_max_subscriptions = 2;
    })
    .await?;
    let mut first = Client::ready(&app, None).await?;
    first.subscribe("1", PUBLISHED, json!({})).await?;
    first.subscribe("2", PUBLISHED, json!({})).await?;
    first.barrier().await?;
    first.subscribe("3", PUBLISHED, json!({})).await?;
    let errors = first.refused("3").await?;
    assert_eq!(
        errors[0]["extensions"]["limit"], "subscriptions",
        "{errors:?}"
    );
    assert_eq!(errors[0]["extensions"]["max"], 2);
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT");
    // The connection goes on; a completed subscription makes room.
    first.send(json!({ "type": "complete", "id": "1" })).await?;
    first.subscribe("3", PUBLISHED, json!({})).await?;
    first.barrier().await?;

    // Two connections are the limit; a third is refused before the upgrade.
    let _second = Client::ready(&app, None).await?;
    let refused = Client::open(&app).await;
    let Err(error) = refused else {
        bail!("a third connection was accepted")
    };
    let Some(tungstenite::Error::Http(response)) = error.downcast_ref::<tungstenite::Error>()
    else {
        bail!("expected an HTTP refusal: {error}")
    };
    assert_eq!(response.status(), 503);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())?;
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "connections",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["max"], 2, "{body}");
    Ok(())
}

async fn subscriptions_pass_the_query_checks(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, true, |c| {
        quick(c);
        c.graphql_max_depth = 4;
    })
    .await?;
    let mut client = Client::ready(&app, None).await?;
    let cases = [
        (
            "subscription { articlePublished { channel { parent { parent { slug } } } } }",
            json!({}),
            "depth",
        ),
        (
            "subscription { articlePublished { channel { parent { slug } } } }",
            json!({}),
            "",
        ),
        (
            "subscription { articlePublished(channel: \"no-such\") { slug } }",
            json!({}),
            "channel",
        ),
        (
            "subscription { articlePublished { nope } }",
            json!({}),
            "nope",
        ),
        (
            "subscription { articlePublished { slug } ",
            json!({}),
            "syntax error",
        ),
        (
            "subscription { a: articlePublished { slug } b: articlePublished { slug } }",
            json!({}),
            "exactly one root field",
        ),
        ("subscription { __typename }", json!({}), "introspection"),
        (
            "{ site { name } }",
            json!({}),
            "only subscriptions run over WebSocket",
        ),
        (
            "mutation { login(username: \"a\", password: \"b\") { token } }",
            json!({}),
            "only subscriptions run over WebSocket",
        ),
        (
            "subscription($c: String!) { articlePublished(channel: $c) { slug } }",
            json!({}),
            "$c",
        ),
    ];
    for (i, (query, variables, says)) in cases.iter().enumerate() {
        let id = format!("q{i}");
        client.subscribe(&id, query, variables.clone()).await?;
        if says.is_empty() {
            client.barrier().await?;
            continue;
        }
        let errors = client.refused(&id).await?;
        let text = serde_json::to_string(&errors)?;
        assert!(text.contains(says), "{query}: {text}");
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {text}"
        );
        if *says == "depth" {
            assert_eq!(errors[0]["extensions"]["limit"], "depth");
        }
    }
    // The connection survived every refusal.
    client.barrier().await?;

    // Over HTTP a subscription is a request error pointing at the WebSocket.
    let (status, body) = app
        .post_graphql(
            None,
            "subscription { articlePublished { slug } }",
            json!({}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("WebSocket")),
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    Ok(())
}
