//! The REST API under `/api/v1` end to end, on both backends: every route's happy and unhappy
//! paths, paging both ways, GraphQL parity of lists and filters, what partners and readers may
//! receive, HEAD on every GET route, and the OpenAPI document: served, checked in, a valid
//! OpenAPI 3.1 document, and true of every answer these tests receive (each body is validated
//! against the schema the document gives for its route and status).

use std::collections::BTreeSet;

use anyhow::{Context, ensure};
use newsroom_domain::{
    demo::SEED_ARTICLE_SLUG,
    entities::{Role, article},
};
use newsroom_tests::{Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

on_both_backends!(
    articles_page_forwards_and_backwards_like_graphql,
    filters_narrow_the_list_exactly_as_graphql_does,
    an_article_by_slug_carries_its_body_and_attribution,
    channels_tags_sources_site_and_pages_match_graphql,
    partners_receive_only_what_they_may_republish_and_nobody_a_takedown,
    bad_input_is_refused_naming_what_was_wrong,
    the_openapi_document_is_served_valid_and_checked_in,
    head_answers_every_get_route_with_the_same_headers_and_no_body,
);

/// A refusal's status, error code and the parameter it names.
type Refusal = (u16, String, Option<String>);

/// One answer: status, headers and JSON body (`null` when there is none).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// A REST client for one test server that checks every answer against the OpenAPI document.
struct Rest<'a> {
    app: &'a TestApp,
    doc: Value,
}

impl<'a> Rest<'a> {
    async fn new(app: &'a TestApp) -> anyhow::Result<Self> {
        let doc = app
            .client
            .get(format!("{}/api/v1/openapi.json", app.address))
            .send()
            .await?
            .json()
            .await?;
        Ok(Rest { app, doc })
    }

    /// `GET path_and_query` as `token`, its body validated against the document's schema for
    /// `route` (the path template) and the status answered.
    async fn get_as(
        &self,
        token: Option<&str>,
        route: &str,
        path_and_query: &str,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .app
            .client
            .get(format!("{}{path_and_query}", self.app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?
        };
        conforms(&self.doc, route, "get", status, &body)
            .with_context(|| format!("GET {path_and_query}"))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn get(&self, route: &str, path_and_query: &str) -> anyhow::Result<Answer> {
        self.get_as(None, route, path_and_query).await
    }

    /// A 200's body.
    async fn ok(&self, route: &str, path_and_query: &str) -> anyhow::Result<Value> {
        self.ok_as(None, route, path_and_query).await
    }

    async fn ok_as(
        &self,
        token: Option<&str>,
        route: &str,
        path_and_query: &str,
    ) -> anyhow::Result<Value> {
        let answer = self.get_as(token, route, path_and_query).await?;
        ensure!(
            answer.status == StatusCode::OK,
            "GET {path_and_query}: {} {}",
            answer.status,
            answer.body
        );
        Ok(answer.body)
    }

    /// A refusal: its status, code and the parameter it names.
    async fn refused(&self, route: &str, path_and_query: &str) -> anyhow::Result<Refusal> {
        let answer = self.get(route, path_and_query).await?;
        let error = &answer.body["error"];
        Ok((
            answer.status.as_u16(),
            error["code"].as_str().unwrap_or_default().to_owned(),
            error["field"].as_str().map(String::from),
        ))
    }

    /// Every article of the list `query` selects, following `nextCursor`, and the pages seen.
    async fn whole_list(&self, token: Option<&str>, query: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut url = format!("/api/v1/articles?first=100{query}");
        loop {
            let page = self.ok_as(token, "/api/v1/articles", &url).await?;
            items.extend(page["items"].as_array().context("items")?.iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => url = format!("/api/v1/articles?first=100{query}&after={next}"),
                None => {
                    ensure!(page["hasNextPage"] == json!(false), "{page}");
                    return Ok(items);
                }
            }
        }
    }
}

/// Whether `body` is what the document promises for `route`, `method` and `status`: a status
/// the document lists, and a body its schema (with the document's components) accepts.
fn conforms(
    doc: &Value,
    route: &str,
    method: &str,
    status: StatusCode,
    body: &Value,
) -> anyhow::Result<()> {
    let responses = &doc["paths"][route][method]["responses"];
    ensure!(
        responses.is_object(),
        "the document has no {method} {route}"
    );
    let response = &responses[status.as_str()];
    ensure!(
        response.is_object(),
        "the document does not list {status} for {method} {route}: {body}"
    );
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        ensure!(body.is_null(), "{status} promises no body, got {body}");
        return Ok(());
    };
    let mut root = schema.clone();
    root.insert("components".into(), doc["components"].clone());
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .map_err(|e| anyhow::anyhow!("the schema of {status} for {route} is invalid: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    ensure!(
        errors.is_empty(),
        "the {status} body of {method} {route} breaks the document: {errors:?}\n{body}"
    );
    Ok(())
}

fn slugs(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i["slug"].as_str().map(String::from))
        .collect()
}

/// The slugs GraphQL's `articles` lists for `filter` (as GraphQL input text), in order.
async fn graphql_slugs(
    app: &TestApp,
    token: Option<&str>,
    args: &str,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = format!(
            "query($after: String) {{ articles(first: 100, after: $after{args}) {{ \
             pageInfo {{ hasNextPage endCursor }} nodes {{ slug }} }} }}"
        );
        let body = app
            .graphql_as(token, &query, json!({ "after": after }))
            .await?;
        ensure!(body.get("errors").is_none(), "{body}");
        let list = &body["data"]["articles"];
        out.extend(slugs(list["nodes"].as_array().context("nodes")?));
        if list["pageInfo"]["hasNextPage"] != json!(true) {
            return Ok(out);
        }
        after = list["pageInfo"]["endCursor"].as_str().map(String::from);
    }
}

async fn articles_page_forwards_and_backwards_like_graphql(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let rest = Rest::new(&app).await?;

    // The first page.
    let first = rest
        .ok("/api/v1/articles", "/api/v1/articles?first=7")
        .await?;
    let items = first["items"].as_array().context("items")?;
    assert_eq!(items.len(), 7);
    assert_eq!(first["hasNextPage"], true);
    assert_eq!(first["hasPreviousPage"], false);
    assert!(first["previousCursor"].is_null());
    let default = rest.ok("/api/v1/articles", "/api/v1/articles").await?;
    assert_eq!(
        default["items"].as_array().map(Vec::len),
        Some(20),
        "20 by default"
    );

    // Forwards through the whole list: GraphQL's list, in GraphQL's order.
    let forwards = slugs(&rest.whole_list(None, "").await?);
    assert!(forwards.len() > 200, "the demo's articles");
    assert_eq!(forwards, graphql_slugs(&app, None, "").await?);
    let unique: BTreeSet<&String> = forwards.iter().collect();
    assert_eq!(unique.len(), forwards.len(), "no article twice");

    // Backwards from the end, seven at a time, following `previousCursor`.
    let mut backwards: Vec<String> = Vec::new();
    let mut url = "/api/v1/articles?last=7".to_owned();
    loop {
        let page = rest.ok("/api/v1/articles", &url).await?;
        let mut chunk = slugs(page["items"].as_array().context("items")?);
        ensure!(chunk.len() <= 7);
        chunk.extend(backwards);
        backwards = chunk;
        match page["previousCursor"].as_str() {
            Some(cursor) => url = format!("/api/v1/articles?last=7&before={cursor}"),
            None => {
                assert_eq!(page["hasPreviousPage"], false);
                break;
            }
        }
    }
    assert_eq!(backwards, forwards, "backwards reads the same list");

    // A page in the middle knows both sides, and its cursors lead back to its neighbours.
    let second = rest
        .ok(
            "/api/v1/articles",
            &format!(
                "/api/v1/articles?first=7&after={}",
                first["nextCursor"].as_str().context("nextCursor")?
            ),
        )
        .await?;
    assert_eq!(second["hasPreviousPage"], true);
    assert_eq!(
        slugs(second["items"].as_array().context("items")?),
        forwards[7..14]
    );
    let back = rest
        .ok(
            "/api/v1/articles",
            &format!(
                "/api/v1/articles?last=7&before={}",
                second["previousCursor"]
                    .as_str()
                    .context("previousCursor")?
            ),
        )
        .await?;
    assert_eq!(
        slugs(back["items"].as_array().context("items")?),
        forwards[..7]
    );

    // Oldest first is the same list reversed.
    let mut oldest = slugs(&rest.whole_list(None, "&orderBy=oldest").await?);
    oldest.reverse();
    assert_eq!(oldest, forwards);
    let empty = rest
        .ok("/api/v1/articles", "/api/v1/articles?first=0")
        .await?;
    assert_eq!(empty["items"], json!([]));
    Ok(())
}

async fn filters_narrow_the_list_exactly_as_graphql_does(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let rest = Rest::new(&app).await?;
    let some = app
        .data(
            "{ tags(first: 3) { nodes { slug } } sources(first: 3) { nodes { slug } } }",
            json!({}),
        )
        .await?;
    let tag = some["tags"]["nodes"][2]["slug"].as_str().context("a tag")?;
    let source = some["sources"]["nodes"][0]["slug"]
        .as_str()
        .context("a source")?;
    // A window of the demo's dates, one end in China's offset.
    let all = rest.whole_list(None, "").await?;
    let at = |i: usize| -> anyhow::Result<chrono::DateTime<chrono::FixedOffset>> {
        Ok(chrono::DateTime::parse_from_rfc3339(
            all[i]["publishedAt"].as_str().context("publishedAt")?,
        )?)
    };
    let after = at(120)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let china = chrono::FixedOffset::east_opt(8 * 3600).context("offset")?;
    let before = at(30)?
        .with_timezone(&china)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let cases: Vec<(String, String)> = [
        (
            "&channel=parks".to_owned(),
            "filter: { channel: \"parks\" }".to_owned(),
        ),
        (
            format!("&tag={tag}"),
            format!("filter: {{ tag: \"{tag}\" }}"),
        ),
        (
            format!("&source={source}"),
            format!("filter: {{ source: \"{source}\" }}"),
        ),
        (
            "&kind=reprint".to_owned(),
            "filter: { kind: REPRINT }".to_owned(),
        ),
        (
            "&kind=ORIGINAL".to_owned(),
            "filter: { kind: ORIGINAL }".to_owned(),
        ),
        (
            "&featured=true".to_owned(),
            "filter: { featured: true }".to_owned(),
        ),
        (
            "&recommended=false".to_owned(),
            "filter: { recommended: false }".to_owned(),
        ),
        (
            format!(
                "&publishedAfter={after}&publishedBefore={}",
                before.replace('+', "%2B")
            ),
            format!("filter: {{ publishedAfter: \"{after}\", publishedBefore: \"{before}\" }}"),
        ),
        (
            "&channel=parks&kind=reprint&orderBy=oldest".to_owned(),
            "filter: { channel: \"parks\", kind: REPRINT }, orderBy: OLDEST".to_owned(),
        ),
    ]
    .into();
    let everything = all.len();
    for (query, graphql) in &cases {
        let listed = rest.whole_list(None, query).await?;
        let expected = graphql_slugs(&app, None, &format!(", {graphql}")).await?;
        assert_eq!(slugs(&listed), expected, "{query}");
        assert!(
            !listed.is_empty() && listed.len() < everything,
            "{query} narrows the list ({} of {everything})",
            listed.len()
        );
        if query.contains("kind=reprint") {
            assert!(listed.iter().all(|a| a["kind"] == "reprint"), "{query}");
        }
        if query.contains("featured=true") {
            assert!(listed.iter().all(|a| a["featured"] == true));
        }
        if query.starts_with("&source=") {
            assert!(listed.iter().all(|a| a["source"]["slug"] == source));
        }
    }
    Ok(())
}

async fn an_article_by_slug_carries_its_body_and_attribution(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let rest = Rest::new(&app).await?;
    let route = "/api/v1/articles/{slug}";
    let path = format!("/api/v1/articles/{SEED_ARTICLE_SLUG}");
    let (statements, one) = app
        .count_statements_on("sources", || rest.ok(route, &path))
        .await?;
    // The source (and the channel) come with the article, in its statement.
    assert_eq!(statements, 1, "statements reading sources for an article");
    let graphql = app
        .data(
            "query($slug: String!) { article(slug: $slug) { id slug title lead viewCount url \
             originalUrl kind publishedAt html: body(format: HTML) text: body(format: TEXT) version \
             channel { id slug name position } source { id slug name license syndicationAllowed } \
             tags { id slug name } disclaimer { text sourceName originalUrl license takedownContact } } }",
            json!({ "slug": SEED_ARTICLE_SLUG }),
        )
        .await?;
    let g = &graphql["article"];
    for (rest_field, graphql_field) in [
        ("id", "id"),
        ("slug", "slug"),
        ("title", "title"),
        ("lead", "lead"),
        ("viewCount", "viewCount"),
        ("url", "url"),
        ("originalUrl", "originalUrl"),
        ("bodyHtml", "html"),
        ("bodyText", "text"),
        ("version", "version"),
    ] {
        assert_eq!(one[rest_field], g[graphql_field], "{rest_field}");
    }
    assert_eq!(one["kind"], "reprint");
    assert!(
        one["bodyHtml"].as_str().is_some_and(|b| b.contains("<h2>")),
        "{one}"
    );
    assert!(!one["bodyText"].as_str().unwrap_or("<").contains('<'));
    assert_eq!(
        one["url"],
        format!("http://127.0.0.1:8080/articles/{SEED_ARTICLE_SLUG}")
    );
    assert_eq!(one["channel"], g["channel"]);
    assert_eq!(one["source"]["name"], "南昌开发区");
    assert_eq!(one["source"]["slug"], g["source"]["slug"]);
    assert_eq!(
        one["source"]["syndicationAllowed"],
        g["source"]["syndicationAllowed"]
    );
    assert_eq!(one["tags"], g["tags"]);
    assert!(!one["tags"].as_array().context("tags")?.is_empty());
    assert_eq!(one["disclaimer"]["text"], g["disclaimer"]["text"]);
    assert_eq!(one["disclaimer"]["sourceName"], "南昌开发区");
    assert_eq!(one["disclaimer"]["originalUrl"], one["originalUrl"]);
    assert!(one["disclaimer"]["license"].is_string());
    assert!(one["publishedAt"].is_string());

    // An unknown slug is a 404 naming it.
    let missing = rest.get(route, "/api/v1/articles/no-such-article").await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "NOT_FOUND");
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-article")),
        "{}",
        missing.body
    );
    Ok(())
}

async fn channels_tags_sources_site_and_pages_match_graphql(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let rest = Rest::new(&app).await?;

    let channels = rest.ok("/api/v1/channels", "/api/v1/channels").await?;
    let graphql = app
        .data("{ channels { id slug name position children { id slug name position children { slug } } } }", json!({}))
        .await?;
    let tree = |list: &Value| -> Vec<(String, Vec<String>)> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["slug"].as_str().unwrap_or_default().to_owned(),
                    slugs(c["children"].as_array().map_or(&[][..], Vec::as_slice)),
                )
            })
            .collect()
    };
    assert_eq!(tree(&channels["items"]), tree(&graphql["channels"]));
    assert!(
        tree(&channels["items"])
            .iter()
            .any(|(_, children)| !children.is_empty())
    );
    assert_eq!(channels["items"][0]["id"], graphql["channels"][0]["id"]);

    // Tags and sources, forwards in small pages and backwards, as GraphQL lists them.
    for (kind, graphql_field) in [("tags", "tags"), ("sources", "sources")] {
        let route = format!("/api/v1/{kind}");
        let mut forwards = Vec::new();
        let mut url = format!("{route}?first=3");
        loop {
            let page = rest.ok(&route, &url).await?;
            forwards.extend(slugs(page["items"].as_array().context("items")?));
            match page["nextCursor"].as_str() {
                Some(c) => url = format!("{route}?first=3&after={c}"),
                None => break,
            }
        }
        let listed = app
            .data(
                &format!("{{ {graphql_field}(first: 100) {{ nodes {{ slug }} }} }}"),
                json!({}),
            )
            .await?;
        assert_eq!(
            forwards,
            slugs(listed[graphql_field]["nodes"].as_array().context("nodes")?)
        );
        let last = rest.ok(&route, &format!("{route}?last=2")).await?;
        assert_eq!(
            slugs(last["items"].as_array().context("items")?),
            forwards[forwards.len() - 2..]
        );
        assert_eq!(last["hasNextPage"], false);
        assert_eq!(last["hasPreviousPage"], true);
        let before = rest
            .ok(
                &route,
                &format!(
                    "{route}?last=2&before={}",
                    last["previousCursor"].as_str().context("cursor")?
                ),
            )
            .await?;
        assert_eq!(
            slugs(before["items"].as_array().context("items")?),
            forwards[forwards.len() - 4..forwards.len() - 2]
        );
    }
    let sources = rest
        .ok("/api/v1/sources", "/api/v1/sources?first=100")
        .await?;
    let nanchang = sources["items"]
        .as_array()
        .context("items")?
        .iter()
        .find(|s| s["name"] == "南昌开发区")
        .context("the seed article's source")?;
    assert!(nanchang["license"].is_string() && nanchang["syndicationAllowed"].is_boolean());

    let site = rest.ok("/api/v1/site", "/api/v1/site").await?;
    let graphql = app
        .data("{ site { name slogan baseUrl icpFiling publicSecurityFiling takedownContact footerPages { id slug title } } }", json!({}))
        .await?;
    for field in [
        "name",
        "slogan",
        "baseUrl",
        "icpFiling",
        "publicSecurityFiling",
        "takedownContact",
    ] {
        assert_eq!(site[field], graphql["site"][field], "{field}");
    }
    let footer: Vec<(Value, Value)> = site["footerPages"]
        .as_array()
        .context("footer")?
        .iter()
        .map(|p| (p["id"].clone(), p["slug"].clone()))
        .collect();
    let graphql_footer: Vec<(Value, Value)> = graphql["site"]["footerPages"]
        .as_array()
        .context("footer")?
        .iter()
        .map(|p| (p["id"].clone(), p["slug"].clone()))
        .collect();
    assert_eq!(footer, graphql_footer);
    assert!(!footer.is_empty());

    let pages = rest.ok("/api/v1/pages", "/api/v1/pages").await?;
    let listed = slugs(pages["items"].as_array().context("items")?);
    for (_, slug) in &footer {
        assert!(
            listed.contains(&slug.as_str().unwrap_or_default().to_owned()),
            "{slug}"
        );
    }
    let slug = listed.first().context("a page")?;
    let page = rest
        .ok("/api/v1/pages/{slug}", &format!("/api/v1/pages/{slug}"))
        .await?;
    let graphql = app
        .data(
            "query($s: String!) { page(slug: $s) { id title html: body text: body(format: TEXT) } }",
            json!({ "s": slug }),
        )
        .await?;
    assert_eq!(page["id"], graphql["page"]["id"]);
    assert_eq!(page["title"], graphql["page"]["title"]);
    assert_eq!(page["bodyHtml"], graphql["page"]["html"]);
    assert_eq!(page["bodyText"], graphql["page"]["text"]);
    let missing = rest
        .get("/api/v1/pages/{slug}", "/api/v1/pages/no-such-page")
        .await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("page") && m.contains("no-such-page"))
    );
    Ok(())
}

/// The slugs of the published articles a partner may not have, and of those it may.
async fn split_by_license(app: &TestApp) -> anyhow::Result<(BTreeSet<String>, BTreeSet<String>)> {
    let (forbidden, allowed) = app.published_by_syndication().await?;
    let slugs = |rows: Vec<article::Model>| rows.into_iter().map(|a| a.slug).collect();
    Ok((slugs(forbidden), slugs(allowed)))
}

async fn partners_receive_only_what_they_may_republish_and_nobody_a_takedown(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let rest = Rest::new(&app).await?;
    let partner = app.signed_in("rest-partner", Role::Partner).await?;
    let editor = app.signed_in("rest-editor", Role::Editor).await?;
    let (forbidden, allowed) = split_by_license(&app).await?;
    ensure!(
        !forbidden.is_empty() && !allowed.is_empty(),
        "the demo has both kinds"
    );

    // The list: a reader gets every published article, a partner exactly those it may have, each
    // with its attribution.
    let reader_list = rest.whole_list(None, "").await?;
    let partner_list = rest.whole_list(Some(&partner), "").await?;
    let reader_slugs: BTreeSet<String> = slugs(&reader_list).into_iter().collect();
    let partner_slugs: BTreeSet<String> = slugs(&partner_list).into_iter().collect();
    assert_eq!(reader_slugs, &forbidden | &allowed);
    assert_eq!(partner_slugs, allowed);
    assert_eq!(
        slugs(&partner_list),
        graphql_slugs(&app, Some(&partner), "").await?,
        "GraphQL and REST agree on what a partner sees"
    );
    for item in &partner_list {
        assert!(
            item["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(item["slug"].as_str().unwrap_or("?")))
        );
        if item["kind"] == "reprint" {
            assert!(item["source"]["name"].is_string(), "{item}");
            assert!(item["originalUrl"].is_string(), "{item}");
            assert!(item["disclaimer"]["text"].is_string(), "{item}");
            assert!(item["disclaimer"]["license"].is_string(), "{item}");
        }
        if let Some(source) = item["source"].as_object() {
            assert!(
                source["syndicationAllowed"] == true || source["license"] == "own",
                "{item}"
            );
        }
    }
    for item in reader_list.iter().filter(|i| i["kind"] == "reprint") {
        assert!(
            item["disclaimer"]["text"].is_string(),
            "every reprint has its disclaimer: {item}"
        );
    }

    // By slug: the partner cannot name its way to an article it may not have.
    let route = "/api/v1/articles/{slug}";
    let closed = forbidden.first().context("a closed article")?;
    let path = format!("/api/v1/articles/{closed}");
    assert_eq!(rest.get(route, &path).await?.status, StatusCode::OK);
    assert_eq!(
        rest.get_as(Some(&partner), route, &path).await?.status,
        StatusCode::NOT_FOUND
    );
    let open = allowed.first().context("an open article")?;
    rest.ok_as(Some(&partner), route, &format!("/api/v1/articles/{open}"))
        .await?;

    // A takedown, accepted by an editor, hides the article from both at once.
    let target = reader_list
        .iter()
        .find(|i| allowed.contains(i["slug"].as_str().unwrap_or_default()))
        .context("an article both see")?;
    let asked = app
        .data(
            "mutation($a: ID!) { requestTakedown(articleId: $a, claimant: \"南昌日报社\", \
             contact: \"rights@example.cn\", reason: \"未经授权转载\") { id } }",
            json!({ "a": target["id"] }),
        )
        .await?;
    let resolved = app
        .graphql_as(
            Some(&editor),
            "mutation($id: ID!) { resolveTakedown(id: $id, accept: true) { status } }",
            json!({ "id": asked["requestTakedown"]["id"] }),
        )
        .await?;
    assert_eq!(
        resolved["data"]["resolveTakedown"]["status"], "ACCEPTED",
        "{resolved}"
    );
    let gone = target["slug"].as_str().context("slug")?;
    for token in [None, Some(partner.as_str()), Some(editor.as_str())] {
        let list = slugs(&rest.whole_list(token, "").await?);
        assert!(!list.iter().any(|s| s == gone), "taken down, still listed");
        let one = rest
            .get_as(token, route, &format!("/api/v1/articles/{gone}"))
            .await?;
        assert_eq!(
            one.status,
            StatusCode::NOT_FOUND,
            "taken down, still served"
        );
    }
    Ok(())
}

async fn bad_input_is_refused_naming_what_was_wrong(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let rest = Rest::new(&app).await?;
    let tags = rest.ok("/api/v1/tags", "/api/v1/tags?first=1").await?;
    let tag_cursor = tags["nextCursor"]
        .as_str()
        .context("a tag cursor")?
        .to_owned();
    let bad = |field: &str| (400, "BAD_USER_INPUT".to_owned(), Some(field.to_owned()));
    let cases: Vec<(&str, String, Refusal)> = vec![
        ("/api/v1/articles", "/api/v1/articles?after=nope".into(), bad("after")),
        ("/api/v1/articles", format!("/api/v1/articles?after={tag_cursor}"), bad("after")),
        ("/api/v1/articles", "/api/v1/articles?last=5&before=nope".into(), bad("before")),
        ("/api/v1/articles", "/api/v1/articles?first=101".into(), bad("first")),
        ("/api/v1/articles", "/api/v1/articles?first=100000000000".into(), bad("first")),
        ("/api/v1/articles", "/api/v1/articles?first=-1".into(), bad("first")),
        ("/api/v1/articles", "/api/v1/articles?last=many".into(), bad("last")),
        ("/api/v1/articles", "/api/v1/articles?first=1&last=1".into(), bad("last")),
        ("/api/v1/articles", "/api/v1/articles?kind=essay".into(), bad("kind")),
        ("/api/v1/articles", "/api/v1/articles?featured=yes".into(), bad("featured")),
        ("/api/v1/articles", "/api/v1/articles?publishedAfter=yesterday".into(), bad("publishedAfter")),
        (
            "/api/v1/articles",
            "/api/v1/articles?publishedAfter=2025-01-02T00:00:00Z&publishedBefore=2025-01-01T00:00:00Z".into(),
            bad("publishedBefore"),
        ),
        ("/api/v1/articles", "/api/v1/articles?channel=no-such-channel".into(), bad("channel")),
        ("/api/v1/articles", "/api/v1/articles?tag=no-such-tag".into(), bad("tag")),
        ("/api/v1/articles", "/api/v1/articles?source=no-such-source".into(), bad("source")),
        ("/api/v1/articles", "/api/v1/articles?tag=a%00b".into(), bad("tag")),
        ("/api/v1/articles", "/api/v1/articles?orderBy=random".into(), bad("orderBy")),
        ("/api/v1/articles", "/api/v1/articles?chanel=parks".into(), bad("chanel")),
        ("/api/v1/articles", "/api/v1/articles?first=5&first=6".into(), bad("first")),
        ("/api/v1/articles", "/api/v1/articles?status=draft".into(), bad("status")),
        ("/api/v1/articles/{slug}", "/api/v1/articles/a%00b".into(), bad("slug")),
        ("/api/v1/articles/{slug}", format!("/api/v1/articles/{SEED_ARTICLE_SLUG}?format=text"), bad("format")),
        ("/api/v1/tags", "/api/v1/tags?first=1000".into(), bad("first")),
        ("/api/v1/tags", "/api/v1/tags?after=nope".into(), bad("after")),
        ("/api/v1/sources", "/api/v1/sources?before=nope&last=2".into(), bad("before")),
        ("/api/v1/channels", "/api/v1/channels?depth=2".into(), bad("depth")),
        ("/api/v1/site", "/api/v1/site?x=1".into(), bad("x")),
        ("/api/v1/pages/{slug}", "/api/v1/pages/a%00b".into(), bad("slug")),
        ("/api/v1/rankings", "/api/v1/rankings?window=year".into(), bad("window")),
        ("/api/v1/rankings", "/api/v1/rankings?channel=no-such-channel".into(), bad("channel")),
        ("/api/v1/changes", "/api/v1/changes?since=nope".into(), bad("since")),
        ("/api/v1/search", "/api/v1/search".into(), bad("q")),
        ("/api/v1/search", "/api/v1/search?q=%E7%BB%8F%E6%B5%8E&kind=essay".into(), bad("kind")),
        ("/api/v1/search", "/api/v1/search?q=%E7%BB%8F%E6%B5%8E&last=2".into(), bad("last")),
    ];
    for (route, url, expected) in cases {
        assert_eq!(rest.refused(route, &url).await?, expected, "{url}");
    }

    // A bad token is a 401 on every route, never an anonymous answer.
    for (route, url) in [
        ("/api/v1/articles", "/api/v1/articles"),
        (
            "/api/v1/articles/{slug}",
            &*format!("/api/v1/articles/{SEED_ARTICLE_SLUG}"),
        ),
        ("/api/v1/channels", "/api/v1/channels"),
        ("/api/v1/tags", "/api/v1/tags"),
        ("/api/v1/sources", "/api/v1/sources"),
        ("/api/v1/site", "/api/v1/site"),
        ("/api/v1/pages", "/api/v1/pages"),
        ("/api/v1/changes", "/api/v1/changes"),
    ] {
        let answer = rest.get_as(Some("not-a-token"), route, url).await?;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(answer.body["error"]["code"], "UNAUTHENTICATED");
        assert!(answer.headers.contains_key("www-authenticate"));
    }

    // A path under /api/v1 that names no route is a 404 in the same shape.
    let response = app
        .client
        .get(format!("{}/api/v1/nothing-here", app.address))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    Ok(())
}

/// The document's path templates with the demo's slugs in them, for requests.
fn example_path(template: &str) -> String {
    template
        .replace("{slug}", SEED_ARTICLE_SLUG)
        .replace("{id}", "QXJ0aWNsZTox")
}

async fn the_openapi_document_is_served_valid_and_checked_in(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::spawn(backend, false).await?;
    let response = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    let served = response.text().await?;
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json"))?;
    assert!(
        served == checked_in,
        "openapi.json is stale: run `make openapi` and commit the result"
    );

    // An OpenAPI 3.1 document: it parses as one, every parameter, body and response of every
    // operation resolves, and every schema is a valid JSON Schema 2020-12.
    let spec = oas3::from_json(&served)?;
    let version = spec.validate_version()?;
    assert_eq!((version.major, version.minor), (3, 1));
    let doc: Value = serde_json::from_str(&served)?;
    let mut operations = 0;
    for (path, method, operation) in spec.operations() {
        operations += 1;
        assert!(path.starts_with("/api/v1/"), "{path}");
        assert!(operation.operation_id.is_some(), "{method} {path}");
        operation.parameters(&spec)?;
        let raw = &doc["paths"][&path][method.as_str().to_ascii_lowercase()]["responses"];
        let responses = operation.responses(&spec);
        assert_eq!(
            responses.len(),
            raw.as_object().map_or(0, |r| r.len()),
            "every response of {method} {path} resolves"
        );
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}"
        );
        for (status, response) in responses {
            for (media, content) in &response.content {
                content.schema(&spec).with_context(|| {
                    format!("{method} {path} {status} {media}: its schema resolves")
                })?;
            }
        }
    }
    assert!(operations >= 13, "every route is described: {operations}");
    let schemas = doc["components"]["schemas"]
        .as_object()
        .context("schemas")?;
    for (name, schema) in schemas {
        let mut root = schema.as_object().context("a schema object")?.clone();
        root.insert("components".into(), doc["components"].clone());
        jsonschema::meta::validate(schema).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        jsonschema::draft202012::new(&Value::Object(root))
            .map_err(|e| anyhow::anyhow!("{name} does not compile: {e}"))?;
    }

    // Every documented GET answers something other than "no such route".
    for path in doc["paths"].as_object().context("paths")?.keys() {
        if doc["paths"][path]["get"].is_null() {
            continue;
        }
        let response = app
            .client
            .get(format!("{}{}", app.address, example_path(path)))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let no_route = body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no route"));
        assert!(
            !no_route,
            "{path} is documented but not served: {status} {body}"
        );
    }
    Ok(())
}

async fn head_answers_every_get_route_with_the_same_headers_and_no_body(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let doc: Value = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await?
        .json()
        .await?;
    let page = app
        .data("{ site { footerPages { slug } } }", json!({}))
        .await?["site"]["footerPages"][0]["slug"]
        .as_str()
        .context("a page")?
        .to_owned();
    let mut paths: Vec<String> = doc["paths"]
        .as_object()
        .context("paths")?
        .iter()
        .filter(|(_, item)| item.get("get").is_some())
        .map(|(path, _)| {
            let path = example_path(path);
            if path.starts_with("/api/v1/pages/") {
                format!("/api/v1/pages/{page}")
            } else if path == "/api/v1/search" {
                "/api/v1/search?q=%E7%BB%8F%E6%B5%8E".to_owned()
            } else {
                path
            }
        })
        .collect();
    let channel = app.data("{ channels { slug } }", json!({})).await?["channels"][0]["slug"]
        .as_str()
        .context("a channel")?
        .to_owned();
    paths.extend(
        [
            "/",
            "/healthz",
            "/readyz",
            "/graphql?query=%7Bsite%7Bname%7D%7D",
            "/sitemap.xml",
            "/feeds/rss.xml",
            "/feeds/atom.xml",
            "/feeds/feed.json",
        ]
        .map(String::from),
    );
    paths.push(format!("/feeds/channels/{channel}/rss.xml"));
    for path in &paths {
        let url = format!("{}{path}", app.address);
        let get = app.client.get(&url).send().await?;
        let get_status = get.status();
        let get_headers = get.headers().clone();
        let get_body = get.bytes().await?;
        assert_eq!(get_status, StatusCode::OK, "GET {path}");
        let head = app.client.request(Method::HEAD, &url).send().await?;
        assert_eq!(head.status(), get_status, "HEAD {path}");
        for name in ["content-type", "etag", "cache-control", "last-modified"] {
            assert_eq!(
                head.headers().get(name),
                get_headers.get(name),
                "HEAD {path}: {name}"
            );
        }
        assert_eq!(
            head.headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok()),
            Some(get_body.len().to_string().as_str()),
            "HEAD {path}: the length the GET body has"
        );
        assert!(head.bytes().await?.is_empty(), "HEAD {path} has no body");
        if let Some(etag) = get_headers.get("etag") {
            let revalidated = app
                .client
                .request(Method::HEAD, &url)
                .header("if-none-match", etag)
                .send()
                .await?;
            assert_eq!(
                revalidated.status(),
                StatusCode::NOT_MODIFIED,
                "HEAD {path}"
            );
        }
    }
    // HEAD is no way around a method a route does not serve.
    let beacon = app
        .client
        .request(
            Method::HEAD,
            format!("{}/api/v1/articles/QXJ0aWNsZTox/views", app.address),
        )
        .send()
        .await?;
    assert!(beacon.status().is_client_error(), "{}", beacon.status());
    Ok(())
}
