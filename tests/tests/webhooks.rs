//! Webhooks end to end, on both backends: a receiver the test starts on 127.0.0.1 gets every
//! event exactly once, in order, with a valid signature, including what happened while it was
//! down, across a server restart and with two servers on one database; partners never hear of an
//! article they may not have; bad registrations are refused and change nothing.
//!
//! Time is the servers' manual clock: moving it past the change log's settle delay releases
//! events, and moving it past a retry's time makes the retry due. Nothing waits for wall-clock
//! time to pass except for the worker to notice (every 20 ms here).

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use anyhow::Context;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use newsroom_domain::{
    changes,
    clock::{Clock, ManualClock},
    editorial::{self, Actor, ArticlePatch, Transition},
    entities::{
        ArticleStatus, Role, article, source, user, webhook_dispatch, webhook_endpoint,
        webhook_event,
    },
    pagination::TimeCursor,
    takedowns, users,
};
use newsroom_gateway::graphql::ids::{self, Kind};
use newsroom_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use sha2::Sha256;

on_both_backends!(
    every_event_arrives_once_signed_and_in_order,
    a_receiver_that_was_down_gets_what_it_missed,
    events_survive_a_restart_and_two_servers_send_each_once,
    partners_hear_only_of_articles_they_may_have,
    registration_is_checked_and_scoped,
);

/// The servers' settings for these tests: the worker looks for work every 20 ms, retries wait 1 s
/// to 60 s of the manual clock, an event is given up after 3 attempts.
fn quick(config: &mut newsroom_gateway::config::Config) {
    config.webhook_poll_ms = 20;
    config.webhook_retry_first_ms = 1_000;
    config.webhook_retry_max_ms = 60_000;
    config.webhook_max_attempts = 3;
    config.webhook_timeout_ms = 5_000;
    config.session_ttl_secs = 24 * 3600;
}

/// Past the change log's settle delay.
const SETTLE: TimeDelta = TimeDelta::seconds(10);
/// Past any retry's wait.
const RETRY: TimeDelta = TimeDelta::minutes(2);

// ---------------------------------------------------------------------------------------------
// The receiver.

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    /// When it arrived, by the servers' clock (the receiver's own clock in real life).
    at: chrono::DateTime<chrono::Utc>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Inbox {
    clock: ManualClock,
    /// Requests answered 200.
    accepted: Vec<Received>,
    /// Every request, accepted or not.
    seen: Vec<Received>,
    failing: bool,
}

/// A webhook receiver on 127.0.0.1 that answers 200, or 500 while told to fail, and keeps every
/// request. Until opened, its port is closed: connections are refused.
struct Receiver {
    port: u16,
    inbox: Arc<Mutex<Inbox>>,
    server: Option<ServerHandle>,
}

async fn hook(
    inbox: web::Data<Arc<Mutex<Inbox>>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut inbox = inbox.lock().unwrap_or_else(PoisonError::into_inner);
    let received = Received {
        at: inbox.clock.now(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    inbox.seen.push(received.clone());
    if inbox.failing {
        return HttpResponse::InternalServerError().finish();
    }
    inbox.accepted.push(received);
    HttpResponse::Ok().finish()
}

impl Receiver {
    /// A receiver for `app`'s events whose port nothing listens on yet.
    fn closed(app: &TestApp) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(Receiver {
            port,
            inbox: Arc::new(Mutex::new(Inbox {
                clock: app.clock.clone(),
                accepted: Vec::new(),
                seen: Vec::new(),
                failing: false,
            })),
            server: None,
        })
    }

    /// A receiver listening already.
    fn open(app: &TestApp) -> anyhow::Result<Self> {
        let mut receiver = Self::closed(app)?;
        receiver.listen()?;
        Ok(receiver)
    }

    fn listen(&mut self) -> anyhow::Result<()> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port))?;
        let inbox = web::Data::new(self.inbox.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(inbox.clone())
                .route("/hook", web::post().to(hook))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        self.server = Some(server.handle());
        tokio::spawn(server);
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn fail(&self, failing: bool) {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failing = failing;
    }

    fn accepted(&self) -> Vec<Received> {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .accepted
            .clone()
    }

    fn seen(&self) -> Vec<Received> {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            drop(server.stop(false));
        }
    }
}

/// An event as the receiver read it, its signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    id: String,
    kind: String,
    article: i64,
    body: Value,
}

/// Checks what a receiver must check: the HMAC-SHA256 of `{timestamp}.{body}` under the
/// endpoint's secret, a timestamp within five minutes of the arrival, and headers that agree with
/// the body. Written here from the documented scheme, not with the server's code.
fn verify(secret: &str, r: &Received) -> anyhow::Result<Event> {
    let now = r.at;
    let header = |name: &str| {
        r.headers
            .get(name)
            .cloned()
            .with_context(|| format!("no {name} header"))
    };
    let timestamp: i64 = header("x-newsroom-timestamp")?.parse()?;
    anyhow::ensure!(
        (timestamp - now.timestamp()).abs() <= 300,
        "timestamp {timestamp} is not within five minutes of {now}"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&r.body);
    let expected = format!("sha256={:x}", mac.finalize().into_bytes());
    anyhow::ensure!(
        header("x-newsroom-signature")? == expected,
        "bad signature on {}",
        String::from_utf8_lossy(&r.body)
    );
    anyhow::ensure!(header("content-type")? == "application/json");
    let body: Value = serde_json::from_slice(&r.body)?;
    let id = body["id"].as_str().context("id")?.to_owned();
    let kind = body["type"].as_str().context("type")?.to_owned();
    anyhow::ensure!(header("x-newsroom-event-id")? == id);
    anyhow::ensure!(header("x-newsroom-event")? == kind);
    let article = article_id(&body["article"]["id"])?;
    Ok(Event {
        id,
        kind,
        article,
        body,
    })
}

fn article_id(id: &Value) -> anyhow::Result<i64> {
    match ids::decode(id.as_str().context("an id")?) {
        Some((Kind::Article, row)) => Ok(row),
        other => anyhow::bail!("not an article id: {other:?}"),
    }
}

/// Every accepted event, verified, in arrival order; fails on a repeated event id.
fn events(secret: &str, receiver: &Receiver) -> anyhow::Result<Vec<Event>> {
    let events = receiver
        .accepted()
        .iter()
        .map(|r| verify(secret, r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ids: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    anyhow::ensure!(
        ids.len() == events.len(),
        "an event arrived twice: {:?}",
        events
            .iter()
            .map(|e| (&e.kind, e.article))
            .collect::<Vec<_>>()
    );
    Ok(events)
}

/// (type, article) of each event, in order.
fn kinds(events: &[Event]) -> Vec<(&str, i64)> {
    events
        .iter()
        .map(|e| (e.kind.as_str(), e.article))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Waiting without sleeping for time to pass: polls a condition until it holds.

async fn eventually<T>(
    what: &str,
    mut check: impl AsyncFnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    // A guard against hanging, never a measure: the worker answers within milliseconds.
    for _ in 0..3000 {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("gave up waiting for {what}")
}

/// Waits until the receiver has accepted `n` requests.
async fn accepted(receiver: &Receiver, n: usize) -> anyhow::Result<()> {
    let described = || {
        receiver
            .seen()
            .iter()
            .map(|r| {
                String::from_utf8_lossy(&r.body)
                    .chars()
                    .take(120)
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    eventually(&format!("{n} accepted deliveries"), async || {
        let got = receiver.accepted().len();
        anyhow::ensure!(
            got <= n,
            "{got} deliveries where {n} were expected: {:#?}",
            described()
        );
        Ok((got == n).then_some(()))
    })
    .await
    .with_context(|| format!("requests seen: {:#?}", described()))
}

/// Whether the worker has nothing left to do at the current time: the change log is read to its
/// settled end and every endpoint is done with every event.
async fn idle(app: &TestApp) -> anyhow::Result<bool> {
    let cursor = webhook_dispatch::Entity::find_by_id(1)
        .one(&app.db)
        .await?
        .context("the dispatch row")?;
    let cursor = cursor
        .after_at
        .zip(cursor.after_seq)
        .map(|(at, id)| TimeCursor { at, id });
    if changes::any_since(&app.db, app.clock.now(), cursor.as_ref()).await? {
        return Ok(false);
    }
    let latest: Option<i64> = webhook_event::Entity::find()
        .select_only()
        .column_as(webhook_event::Column::Id.max(), "latest")
        .into_tuple::<Option<i64>>()
        .one(&app.db)
        .await?
        .flatten();
    let disabled: Vec<i64> = user::Entity::find()
        .filter(user::Column::Disabled.eq(true))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    // Behind and due: an endpoint waiting for a retry, or whose partner is disabled, has nothing
    // to do now.
    let busy = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::AfterEvent.lt(latest.unwrap_or(0)))
        .filter(webhook_endpoint::Column::NextAttemptAt.lte(app.clock.now()))
        .filter(webhook_endpoint::Column::UserId.is_not_in(disabled))
        .count(&app.db)
        .await?;
    Ok(busy == 0)
}

async fn until_idle(app: &TestApp) -> anyhow::Result<()> {
    eventually("the webhook worker to finish", async || {
        Ok(idle(app).await?.then_some(()))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// GraphQL helpers.

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// A partner user with a long-lived API token issued by `admin`.
async fn partner(app: &TestApp, admin: &str, name: &str) -> anyhow::Result<String> {
    app.user(name, Role::Partner).await?;
    let data = app.data_as(Some(admin),
        "mutation($u: String!) { issueApiToken(user: $u, name: \"webhooks\", expiresIn: 2592000) { token } }",
        json!({ "u": name }),
    )
    .await?;
    Ok(data["issueApiToken"]["token"]
        .as_str()
        .context("a token")?
        .to_owned())
}

const REGISTER: &str = "mutation($url: String!, $d: String) {
    registerWebhook(url: $url, description: $d) { secret endpoint { id url description owner { username } } }
}";

/// Registers `url` for the partner, once the worker has read the log written so far (so the
/// endpoint starts after the demo content); returns the endpoint's id and secret.
async fn register(app: &TestApp, token: &str, url: &str) -> anyhow::Result<(String, String)> {
    until_idle(app).await?;
    let data = app
        .data_as(
            Some(token),
            REGISTER,
            json!({ "url": url, "d": "test receiver" }),
        )
        .await?;
    let registered = &data["registerWebhook"];
    Ok((
        registered["endpoint"]["id"]
            .as_str()
            .context("id")?
            .to_owned(),
        registered["secret"].as_str().context("secret")?.to_owned(),
    ))
}

const LOG: &str = "query($e: ID, $first: Int, $after: String) {
    webhookDeliveries(endpoint: $e, first: $first, after: $after) {
        edges { cursor node { id attempt outcome statusCode error durationMs attemptedAt nextAttemptAt
            event { eventId type name articleId slug occurredAt } endpoint { id url } } }
        pageInfo { hasNextPage endCursor }
    }
}";

/// The delivery log of an endpoint as its partner reads it, newest first.
async fn log(app: &TestApp, token: &str, endpoint: &str) -> anyhow::Result<Vec<Value>> {
    let data = app
        .data_as(Some(token), LOG, json!({ "e": endpoint, "first": 100 }))
        .await?;
    Ok(data["webhookDeliveries"]["edges"]
        .as_array()
        .context("edges")?
        .iter()
        .map(|e| e["node"].clone())
        .collect())
}

/// Waits until the endpoint's log has a line with `outcome` (and `status`, when given) for an
/// event of `article`, and returns it.
async fn logged(
    app: &TestApp,
    token: &str,
    endpoint: &str,
    article: i64,
    outcome: &str,
    status: Option<i64>,
) -> anyhow::Result<Value> {
    line_where(
        app,
        token,
        endpoint,
        &format!("a {outcome} line for article {article}"),
        |line| {
            line["outcome"] == outcome
                && article_id(&line["event"]["articleId"]).ok() == Some(article)
                && status.is_none_or(|s| line["statusCode"] == s)
        },
    )
    .await
}

/// Waits until the endpoint's log has a line that `wanted`, and returns it.
async fn line_where(
    app: &TestApp,
    token: &str,
    endpoint: &str,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    eventually(what, async || {
        Ok(log(app, token, endpoint).await?.into_iter().find(&wanted))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Writing articles, as an editor, at the server's time.

struct Desk<'a> {
    app: &'a TestApp,
    actor: Actor,
    words: newsroom_domain::search::Segmenter,
}

impl<'a> Desk<'a> {
    /// The desk's editor, created on first use (a restarted server finds it in the database).
    async fn new(app: &'a TestApp) -> anyhow::Result<Self> {
        let editor = match users::by_username(&app.db, "desk-editor").await? {
            Some(editor) => editor,
            None => app.user("desk-editor", Role::Editor).await?.0,
        };
        Ok(Desk {
            app,
            actor: Actor { user_id: editor.id },
            words: newsroom_tests::segmenter()?,
        })
    }

    /// A new draft: the site's own, or a reprint from `source`.
    async fn draft(&self, title: &str, source: Option<&str>) -> anyhow::Result<i64> {
        let created = editorial::create(
            &self.app.db,
            &self.words,
            self.actor,
            self.app.clock.now(),
            newsroom_tests::park_article(title, source),
        )
        .await?;
        Ok(created.id)
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
            &self.words,
            self.actor,
            self.app.clock.now(),
            id,
            version,
            to,
        )
        .await?;
        Ok(())
    }

    async fn publish(&self, id: i64) -> anyhow::Result<()> {
        self.go(id, Transition::PublishNow).await
    }

    async fn retitle(&self, id: i64, title: &str) -> anyhow::Result<()> {
        let version = self.version(id).await?;
        editorial::update(
            &self.app.db,
            &self.words,
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

    async fn take_down(&self, id: i64, from: &str) -> anyhow::Result<()> {
        let now = self.app.clock.now();
        let request = takedowns::request(
            &self.app.db,
            now,
            Some(from),
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
            &self.words,
            self.actor,
            now,
            request.id,
            true,
            None,
        )
        .await?;
        Ok(())
    }

    /// Opens a source to syndication, or closes it; returns whether it is open now.
    async fn flip_syndication(&self, slug: &str) -> anyhow::Result<bool> {
        let current = source::Entity::find()
            .filter(source::Column::Slug.eq(slug))
            .one(&self.app.db)
            .await?
            .context("source")?;
        let saved = self
            .app
            .flip_syndication(current.id, self.app.clock.now())
            .await?;
        Ok(saved.syndication_allowed)
    }
}

/// A server with the demo content, and a partner's endpoint at a receiver, listening or not yet.
struct Scene {
    app: TestApp,
    admin: String,
    token: String,
    receiver: Receiver,
    endpoint: String,
    secret: String,
}

async fn scene(backend: Backend, listening: bool) -> anyhow::Result<Scene> {
    let app = TestApp::spawn_with(backend, true, quick).await?;
    let admin = app.signed_in("admin", Role::Admin).await?;
    let token = partner(&app, &admin, "partner-a").await?;
    let receiver = if listening {
        Receiver::open(&app)?
    } else {
        Receiver::closed(&app)?
    };
    let (endpoint, secret) = register(&app, &token, &receiver.url()).await?;
    Ok(Scene {
        app,
        admin,
        token,
        receiver,
        endpoint,
        secret,
    })
}

/// Publishes an article while the endpoint's receiver is down, and waits for the failed first
/// attempt's log line.
async fn published_while_down(
    desk: &Desk<'_>,
    token: &str,
    endpoint: &str,
) -> anyhow::Result<(i64, Value)> {
    let a = desk.draft("经开区重点项目集中开工", None).await?;
    desk.publish(a).await?;
    desk.app.clock.advance(SETTLE);
    let refused = logged(desk.app, token, endpoint, a, "RETRYING", None).await?;
    Ok((a, refused))
}

// ---------------------------------------------------------------------------------------------
// The tests.

async fn every_event_arrives_once_signed_and_in_order(backend: Backend) -> anyhow::Result<()> {
    let Scene {
        app,
        token,
        receiver,
        endpoint,
        secret,
        ..
    } = scene(backend, true).await?;
    let desk = Desk::new(&app).await?;
    let start = app.clock.now();

    // The whole cycle of one article, each step a minute apart and seen by the worker before
    // the next (a step undone within the log's settle delay is never told), and another article
    // scheduled for later.
    let a = desk.draft("开发区数字经济港建设提速", None).await?;
    let b = desk.draft("园区招商引资推介会将于月底举行", None).await?;
    desk.go(b, Transition::Schedule(start + TimeDelta::minutes(30)))
        .await?;
    for step in 0..5 {
        match step {
            0 | 3 => desk.publish(a).await?,
            1 => desk.retitle(a, "开发区数字经济港一期完工").await?,
            2 => desk.go(a, Transition::Unpublish).await?,
            _ => desk.take_down(a, "192.0.2.1").await?,
        }
        app.clock.advance(TimeDelta::minutes(1));
        accepted(&receiver, step + 1).await?;
    }
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(
        kinds(&got),
        [
            ("article.published", a),
            ("article.updated", a),
            ("article.removed", a),
            ("article.published", a),
            ("article.removed", a),
        ],
        "the scheduled article is not there before its time"
    );
    let published = &got[0].body["article"];
    assert_eq!(published["title"], "开发区数字经济港建设提速");
    assert!(
        published["bodyHtml"]
            .as_str()
            .is_some_and(|h| h.contains("<h2>进展</h2>")),
        "{published}"
    );
    assert_eq!(published["kind"], "original");
    assert!(published["version"].as_i64().is_some());
    assert_eq!(got[1].body["article"]["title"], "开发区数字经济港一期完工");
    // A removal names the article and nothing more.
    let removed = got[2].body["article"].as_object().context("article")?;
    assert_eq!(
        removed.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["id", "slug"])
    );

    // The scheduled article's publication comes when it becomes visible.
    app.clock.set(start + TimeDelta::minutes(30) + SETTLE);
    accepted(&receiver, 6).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(kinds(&got[5..]), [("article.published", b)]);
    assert_eq!(
        got[5].body["occurredAt"],
        json!(start + TimeDelta::minutes(30))
    );

    // The log shows each as delivered at the first attempt, newest first, page by page.
    let lines = log(&app, &token, &endpoint).await?;
    assert_eq!(lines.len(), 6);
    for line in &lines {
        assert_eq!(line["outcome"], "DELIVERED", "{line}");
        assert_eq!(line["attempt"], 1);
        assert_eq!(line["statusCode"], 200);
        assert!(line["error"].is_null() && line["nextAttemptAt"].is_null());
        assert_eq!(line["endpoint"]["id"], endpoint.as_str());
    }
    assert_eq!(lines[0]["event"]["type"], "PUBLISHED");
    assert_eq!(lines[0]["event"]["name"], "article.published");
    assert_eq!(lines[0]["event"]["eventId"], got[5].id.as_str());
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .data_as(
                Some(&token),
                LOG,
                json!({ "e": endpoint, "first": 4, "after": after }),
            )
            .await?;
        let page = &data["webhookDeliveries"];
        for edge in page["edges"].as_array().context("edges")? {
            paged.push(edge["node"]["id"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    assert_eq!(
        paged,
        lines.iter().map(|l| l["id"].clone()).collect::<Vec<_>>()
    );
    Ok(())
}

async fn a_receiver_that_was_down_gets_what_it_missed(backend: Backend) -> anyhow::Result<()> {
    let Scene {
        app,
        token,
        mut receiver,
        endpoint,
        secret,
        ..
    } = scene(backend, false).await?;
    let desk = Desk::new(&app).await?;
    // Its port is closed: the first attempt fails and is scheduled again.
    let (a, refused) = published_while_down(&desk, &token, &endpoint).await?;
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not connect")),
        "{refused}"
    );
    assert!(refused["statusCode"].is_null());
    assert!(refused["nextAttemptAt"].is_string());
    let failing: Value = app
        .data_as(
            Some(&token),
            "{ webhookEndpoints { consecutiveFailures retryAt } }",
            json!({}),
        )
        .await?["webhookEndpoints"][0]
        .clone();
    assert_eq!(failing["consecutiveFailures"], 1);
    assert!(failing["retryAt"].is_string());
    // More happens while it is down.
    desk.retitle(a, "经开区重点项目集中开工 总投资逾百亿")
        .await?;
    app.clock.advance(SETTLE);

    // It comes back: both arrive, in order, once.
    receiver.listen()?;
    app.clock.advance(RETRY);
    accepted(&receiver, 2).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(
        kinds(&got),
        [("article.published", a), ("article.updated", a)]
    );
    let delivered = logged(&app, &token, &endpoint, a, "DELIVERED", Some(200)).await?;
    assert!(delivered["durationMs"].is_number());

    // It answers 500 for a while: the same event, with the same id, is tried again.
    receiver.fail(true);
    desk.retitle(a, "经开区重点项目集中开工（更新）").await?;
    app.clock.advance(SETTLE);
    eventually("a 500 in the log", async || {
        let lines = log(&app, &token, &endpoint).await?;
        Ok(lines
            .iter()
            .any(|l| l["outcome"] == "RETRYING" && l["statusCode"] == 500)
            .then_some(()))
    })
    .await?;
    receiver.fail(false);
    app.clock.advance(RETRY);
    accepted(&receiver, 3).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(kinds(&got[2..]), [("article.updated", a)]);
    let tries: Vec<String> = receiver
        .seen()
        .iter()
        .filter_map(|r| r.headers.get("x-newsroom-event-id").cloned())
        .filter(|id| *id == got[2].id)
        .collect();
    assert_eq!(tries.len(), 2, "one refused and one accepted attempt");
    let attempts: BTreeSet<String> = receiver
        .seen()
        .iter()
        .filter(|r| r.headers.get("x-newsroom-event-id") == Some(&got[2].id))
        .filter_map(|r| r.headers.get("x-newsroom-delivery-attempt").cloned())
        .collect();
    assert_eq!(attempts, BTreeSet::from(["1".to_owned(), "2".to_owned()]));

    // Past the last attempt the event is marked failed and the endpoint moves on. (Each retry
    // is made due only once the attempt before it is recorded.)
    receiver.fail(true);
    let base = receiver.seen().len();
    desk.retitle(a, "经开区重点项目集中开工（二次更新）")
        .await?;
    app.clock.advance(SETTLE);
    let event_id = eventually("the first attempt", async || {
        Ok(receiver
            .seen()
            .get(base)
            .and_then(|r| r.headers.get("x-newsroom-event-id").cloned()))
    })
    .await?;
    for n in 1..=2 {
        line_where(&app, &token, &endpoint, &format!("attempt {n}"), |l| {
            l["event"]["eventId"] == event_id.as_str()
                && l["attempt"] == n
                && l["outcome"] == "RETRYING"
        })
        .await?;
        app.clock.advance(RETRY);
    }
    let given_up = logged(&app, &token, &endpoint, a, "FAILED", Some(500)).await?;
    assert_eq!(given_up["attempt"], 3);
    assert!(given_up["nextAttemptAt"].is_null());
    receiver.fail(false);
    desk.retitle(a, "经开区重点项目集中开工（三次更新）")
        .await?;
    app.clock.advance(RETRY);
    accepted(&receiver, 4).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(kinds(&got[3..]), [("article.updated", a)]);
    assert_eq!(
        got[3].body["article"]["title"],
        "经开区重点项目集中开工（三次更新）"
    );
    Ok(())
}

async fn events_survive_a_restart_and_two_servers_send_each_once(
    backend: Backend,
) -> anyhow::Result<()> {
    let s = scene(backend, false).await?;
    let desk = Desk::new(&s.app).await?;
    let (a, _) = published_while_down(&desk, &s.token, &s.endpoint).await?;
    // A change the stopping server has not yet read: it is in the log, not yet an event.
    desk.retitle(a, "经开区重点项目集中开工 总投资逾百亿")
        .await?;
    drop(desk);

    let (mut receiver, secret) = (s.receiver, s.secret);
    let app = s.app.restart().await?;
    let desk = Desk::new(&app).await?;
    receiver.listen()?;
    app.clock.advance(RETRY);
    accepted(&receiver, 2).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(
        kinds(&got),
        [("article.published", a), ("article.updated", a)]
    );

    // Two servers on one database: each event still goes out once.
    let second = app.another_server().await?;
    let mut expected = Vec::new();
    for n in 0..6 {
        let id = desk.draft(&format!("园区动态第{n}期"), None).await?;
        desk.publish(id).await?;
        desk.retitle(id, &format!("园区动态第{n}期（更新）"))
            .await?;
        expected.push(("article.published", id));
        expected.push(("article.updated", id));
        app.clock.advance(TimeDelta::seconds(1));
    }
    app.clock.advance(SETTLE);
    accepted(&receiver, 2 + expected.len()).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    assert_eq!(kinds(&got[2..]), expected);
    drop(second);
    Ok(())
}

async fn partners_hear_only_of_articles_they_may_have(backend: Backend) -> anyhow::Result<()> {
    let Scene {
        app,
        admin,
        receiver,
        secret,
        ..
    } = scene(backend, true).await?;
    let late_token = partner(&app, &admin, "partner-late").await?;
    let gone_token = partner(&app, &admin, "partner-gone").await?;
    let late = Receiver::closed(&app)?;
    let gone = Receiver::open(&app)?;
    let (late_endpoint, late_secret) = register(&app, &late_token, &late.url()).await?;
    register(&app, &gone_token, &gone.url()).await?;
    let gone_user = users::by_username(&app.db, "partner-gone")
        .await?
        .context("partner-gone")?;
    users::set_disabled(&app.db, gone_user.id, true, app.clock.now()).await?;
    let desk = Desk::new(&app).await?;

    // A reprint whose source does not allow syndication: published, changed, withdrawn, back.
    let closed = desk
        .draft("南昌开发区：奋力“双过半”", Some("nanchang-kaifaqu"))
        .await?;
    desk.publish(closed).await?;
    desk.retitle(closed, "南昌开发区：奋力“双过半”勇夺“全年胜”")
        .await?;
    desk.go(closed, Transition::Unpublish).await?;
    desk.publish(closed).await?;
    // And one partners may have, which is published and then taken down.
    let open = desk.draft("开发区举办数字经济论坛", None).await?;
    desk.publish(open).await?;
    app.clock.advance(SETTLE);
    accepted(&receiver, 1).await?;
    // The partner whose receiver is down has the publication pending when the article is taken
    // down: its content is withheld, and the removal is sent.
    logged(&app, &late_token, &late_endpoint, open, "RETRYING", None).await?;
    desk.take_down(open, "192.0.2.2").await?;
    app.clock.advance(SETTLE);
    accepted(&receiver, 2).await?;
    until_idle(&app).await?;
    assert_eq!(
        kinds(&events(&secret, &receiver)?),
        [("article.published", open), ("article.removed", open)]
    );
    let mut late = late;
    late.listen()?;
    app.clock.advance(RETRY);
    accepted(&late, 1).await?;
    until_idle(&app).await?;
    assert_eq!(
        kinds(&events(&late_secret, &late)?),
        [("article.removed", open)]
    );
    assert!(
        late.seen()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("数字经济论坛")),
        "a taken-down article's content was pushed late"
    );
    let withheld = logged(&app, &late_token, &late_endpoint, open, "WITHHELD", None).await?;
    assert!(withheld["statusCode"].is_null() && withheld["error"].is_null());

    // The source opens to partners: each of its visible articles is published to them; it
    // closes again: each is removed.
    let visible_of_source = async || -> anyhow::Result<BTreeSet<i64>> {
        let source = source::Entity::find()
            .filter(source::Column::Slug.eq("nanchang-kaifaqu"))
            .one(&app.db)
            .await?
            .context("source")?;
        Ok(article::Entity::find()
            .filter(article::Column::SourceId.eq(source.id))
            .filter(article::Column::Status.eq(ArticleStatus::Published))
            .filter(article::Column::PublishedAt.lte(app.clock.now()))
            .all(&app.db)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect())
    };
    let expected = visible_of_source().await?;
    assert!(
        expected.contains(&closed) && expected.len() > 1,
        "{expected:?}"
    );
    let before = receiver.accepted().len();
    assert!(desk.flip_syndication("nanchang-kaifaqu").await?);
    app.clock.advance(SETTLE);
    accepted(&receiver, before + expected.len()).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    let opened = &got[before..];
    assert!(opened.iter().all(|e| e.kind == "article.published"));
    assert_eq!(
        opened.iter().map(|e| e.article).collect::<BTreeSet<_>>(),
        expected
    );
    // Its attribution and disclaimer travel with it.
    let reprint = opened
        .iter()
        .find(|e| e.article == closed)
        .context("the reprint")?;
    assert_eq!(
        reprint.body["article"]["source"]["slug"],
        "nanchang-kaifaqu"
    );
    assert_eq!(
        reprint.body["article"]["originalUrl"],
        "https://example.cn/original.html"
    );
    assert!(reprint.body["article"]["disclaimer"]["text"].is_string());

    let before = receiver.accepted().len();
    assert!(!desk.flip_syndication("nanchang-kaifaqu").await?);
    app.clock.advance(SETTLE);
    accepted(&receiver, before + expected.len()).await?;
    until_idle(&app).await?;
    let got = events(&secret, &receiver)?;
    let closed_again = &got[before..];
    assert!(closed_again.iter().all(|e| e.kind == "article.removed"));
    assert_eq!(
        closed_again
            .iter()
            .map(|e| e.article)
            .collect::<BTreeSet<_>>(),
        expected
    );
    // Before the source opened, nothing was said of the closed reprint.
    assert!(!got[..2].iter().any(|e| e.article == closed));
    // A disabled partner receives nothing at all.
    assert!(gone.seen().is_empty());
    Ok(())
}

async fn registration_is_checked_and_scoped(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::spawn_with(backend, false, quick).await?;
    let admin = app.signed_in("admin", Role::Admin).await?;
    let editor = app.signed_in("editor", Role::Editor).await?;
    let token = partner(&app, &admin, "partner-a").await?;
    let other = partner(&app, &admin, "partner-b").await?;
    let count = async || -> anyhow::Result<u64> {
        Ok(webhook_endpoint::Entity::find().count(&app.db).await?)
    };
    let url = "http://127.0.0.1:9/hook";

    // Who may register: partners only.
    let (status, body) = app
        .post_graphql(None, REGISTER, json!({ "url": url }))
        .await?;
    assert_eq!((status, code(&body)), (200, "UNAUTHENTICATED"), "{body}");
    for caller in [&editor, &admin] {
        let body = app
            .graphql_as(Some(caller), REGISTER, json!({ "url": url }))
            .await?;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
    }

    // Bad input is named and changes nothing.
    let long = format!("https://example.com/{}", "a".repeat(2000));
    for (bad, field) in [
        (json!({ "url": "" }), "url"),
        (json!({ "url": "ftp://example.com/hook" }), "url"),
        (json!({ "url": "example.com/hook" }), "url"),
        (
            json!({ "url": "https://user:secret@example.com/hook" }),
            "url",
        ),
        (json!({ "url": "http://exa mple.com/" }), "url"),
        (json!({ "url": long }), "url"),
        (json!({ "url": "https://example.com/\u{7}" }), "url"),
        (
            json!({ "url": url, "d": "说明".repeat(101) }),
            "description",
        ),
    ] {
        let body = app.graphql_as(Some(&token), REGISTER, bad.clone()).await?;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{bad}: {body}"
        );
    }
    assert_eq!(count().await?, 0);

    // A good one: the secret is shown once, and the URL is kept as it will be called.
    let data = app
        .data_as(
            Some(&token),
            REGISTER,
            json!({ "url": "  http://127.0.0.1:9/Hook?x=1 ", "d": " 主站同步 " }),
        )
        .await?;
    let first = &data["registerWebhook"];
    assert_eq!(first["endpoint"]["url"], "http://127.0.0.1:9/Hook?x=1");
    assert_eq!(first["endpoint"]["description"], "主站同步");
    assert_eq!(first["endpoint"]["owner"]["username"], "partner-a");
    let secret = first["secret"].as_str().context("secret")?;
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    let first_id = first["endpoint"]["id"].as_str().context("id")?.to_owned();
    // The same URL twice is refused; so is an eleventh endpoint.
    let body = app
        .graphql_as(
            Some(&token),
            REGISTER,
            json!({ "url": "http://127.0.0.1:9/Hook?x=1" }),
        )
        .await?;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    for n in 2..=10 {
        app.data_as(
            Some(&token),
            REGISTER,
            json!({ "url": format!("http://127.0.0.1:9/hook/{n}") }),
        )
        .await?;
    }
    let body = app
        .graphql_as(
            Some(&token),
            REGISTER,
            json!({ "url": "http://127.0.0.1:9/hook/11" }),
        )
        .await?;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    assert_eq!(count().await?, 10);

    // Each partner lists its own; editors and admins list everyone's; no list shows a secret.
    let list = "{ webhookEndpoints { id url owner { username } } }";
    let mine = app.data_as(Some(&token), list, json!({})).await?;
    assert_eq!(mine["webhookEndpoints"].as_array().map(Vec::len), Some(10));
    let theirs = app.data_as(Some(&other), list, json!({})).await?;
    assert_eq!(theirs["webhookEndpoints"], json!([]));
    app.data_as(Some(&other), REGISTER, json!({ "url": url }))
        .await?;
    for caller in [&editor, &admin] {
        let all = app.data_as(Some(caller), list, json!({})).await?;
        assert_eq!(all["webhookEndpoints"].as_array().map(Vec::len), Some(11));
    }
    let body = app
        .graphql_as(Some(&token), "{ webhookEndpoints { secret } }", json!({}))
        .await?;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = app.graphql(list, json!({})).await?;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");

    // Another partner can neither delete an endpoint nor read its log: as if it did not exist.
    let delete = "mutation($id: ID!) { deleteWebhook(id: $id) }";
    let body = app
        .graphql_as(Some(&other), delete, json!({ "id": first_id }))
        .await?;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = app
        .graphql_as(Some(&other), LOG, json!({ "e": first_id }))
        .await?;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let foreign = ids::encode(Kind::Article, 1).0;
    let body = app
        .graphql_as(Some(&token), delete, json!({ "id": foreign }))
        .await?;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = app
        .graphql_as(Some(&token), LOG, json!({ "first": 101 }))
        .await?;
    assert_eq!(body["errors"][0]["extensions"]["field"], "first", "{body}");
    let body = app
        .graphql_as(Some(&token), LOG, json!({ "after": "not-a-cursor" }))
        .await?;
    assert_eq!(body["errors"][0]["extensions"]["field"], "after", "{body}");
    assert_eq!(count().await?, 11);
    // Its owner deletes it; an editor deletes another's.
    let data = app
        .data_as(Some(&token), delete, json!({ "id": first_id }))
        .await?;
    assert_eq!(data["deleteWebhook"], first_id.as_str());
    let body = app
        .graphql_as(Some(&token), delete, json!({ "id": first_id }))
        .await?;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let theirs = app.data_as(Some(&other), list, json!({})).await?;
    let theirs = theirs["webhookEndpoints"][0]["id"]
        .as_str()
        .context("id")?
        .to_owned();
    app.data_as(Some(&editor), delete, json!({ "id": theirs }))
        .await?;
    assert_eq!(count().await?, 9);

    // Where private addresses are not allowed (production), only public hosts are accepted.
    let strict = TestApp::spawn_with(backend, false, |c| {
        quick(c);
        c.webhook_allow_private = Some(false);
    })
    .await?;
    let admin = strict.signed_in("admin", Role::Admin).await?;
    let token = partner(&strict, &admin, "partner-a").await?;
    for private in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://0x7f.1/hook",
    ] {
        let body = strict
            .graphql_as(Some(&token), REGISTER, json!({ "url": private }))
            .await?;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{private}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "url");
    }
    assert_eq!(webhook_endpoint::Entity::find().count(&strict.db).await?, 0);
    // A public host is accepted (and, with no articles, never called).
    strict
        .data_as(
            Some(&token),
            REGISTER,
            json!({ "url": "https://partner.example.com/newsroom/hook" }),
        )
        .await?;
    Ok(())
}
