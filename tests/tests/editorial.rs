//! The editorial write side end to end: roles, tokens, the publishing cycle, conflicts,
//! scheduling and sanitizing, on both backends.

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use newsroom_domain::{
    clock::Clock,
    demo::SEED_ARTICLE_SLUG,
    entities::{Role, user},
    users,
};
use newsroom_tests::{Backend, TEST_JWT_SECRET, TestApp, on_both_backends, test_now};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

on_both_backends!(
    every_mutation_enforces_its_role,
    forged_and_stale_tokens_are_refused,
    an_editor_runs_the_whole_publishing_cycle,
    two_editors_saving_one_version_cannot_lose_an_update,
    a_scheduled_article_appears_at_its_time,
    bodies_are_sanitized_on_the_way_out,
    bad_article_input_is_named_and_changes_nothing,
    failed_logins_are_limited_per_username_and_address,
    api_tokens_work_until_revoked_or_expired,
);

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn seed_article(app: &TestApp, token: &str) -> anyhow::Result<(String, i64)> {
    let data = app
        .graphql_as(
            Some(token),
            "query($s: String!) { article(slug: $s) { id version } }",
            json!({ "s": SEED_ARTICLE_SLUG }),
        )
        .await?;
    Ok((
        data["data"]["article"]["id"]
            .as_str()
            .context("id")?
            .to_owned(),
        data["data"]["article"]["version"]
            .as_i64()
            .context("version")?,
    ))
}

async fn every_mutation_enforces_its_role(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("editor1", Role::Editor).await?;
    let admin = app.signed_in("admin1", Role::Admin).await?;
    let partner = app.signed_in("partner1", Role::Partner).await?;
    // An article partners may have, so that its revisions are refused rather than not found.
    let shared = app
        .graphql_as(
            Some(&partner),
            "{ articles(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await?;
    let article = shared["data"]["articles"]["nodes"][0]["id"]
        .as_str()
        .context("an article partners may have")?
        .to_owned();
    let nobody = "QXJ0aWNsZTo5OTk5OTk"; // Article:999999, which does not exist.
    let editor_only = [
        "mutation { createArticle(input: { title: \"t\", body: \"b\", channel: \"nope\" }) { id } }".to_owned(),
        format!("mutation {{ updateArticle(id: \"{nobody}\", version: 1, input: {{ title: \"x\" }}) {{ id }} }}"),
        format!("mutation {{ setArticleTags(id: \"{nobody}\", version: 1, tags: []) {{ id }} }}"),
        format!("mutation {{ publishArticle(id: \"{nobody}\", version: 1) {{ id }} }}"),
        format!("mutation {{ scheduleArticle(id: \"{nobody}\", version: 1, at: \"2099-01-01T00:00:00Z\") {{ id }} }}"),
        format!("mutation {{ unpublishArticle(id: \"{nobody}\", version: 1) {{ id }} }}"),
        format!("mutation {{ archiveArticle(id: \"{nobody}\", version: 1) {{ id }} }}"),
        format!("mutation {{ deleteArticle(id: \"{nobody}\", version: 1) }}"),
        format!("mutation {{ restoreArticleRevision(id: \"{nobody}\", version: 1, revision: 1) {{ id }} }}"),
        "mutation { createSource(input: { slug: \"s\", name: \"\", license: OWN }) { id } }".to_owned(),
        "mutation { updateSource(id: \"U291cmNlOjk5OTk5\", input: { slug: \"s\", name: \"n\", license: OWN }) { id } }".to_owned(),
        "mutation { deleteSource(id: \"U291cmNlOjk5OTk5\") }".to_owned(),
        "mutation { createTag(slug: \"Bad Slug\", name: \"n\") { id } }".to_owned(),
        "mutation { updateTag(id: \"VGFnOjk5OTk5\", slug: \"t\", name: \"n\") { id } }".to_owned(),
        "mutation { deleteTag(id: \"VGFnOjk5OTk5\") }".to_owned(),
        "mutation { createChannel(input: { slug: \"Bad Slug\", name: \"n\" }) { id } }".to_owned(),
        "mutation { updateChannel(id: \"Q2hhbm5lbDo5OTk5OQ\", input: { slug: \"c\", name: \"n\" }) { id } }".to_owned(),
        "mutation { deleteChannel(id: \"Q2hhbm5lbDo5OTk5OQ\") }".to_owned(),
        "mutation { createPage(input: { slug: \"Bad Slug\", title: \"t\", body: \"b\" }) { id } }".to_owned(),
        "mutation { updatePage(id: \"UGFnZTo5OTk5OQ\", input: { slug: \"p\", title: \"t\", body: \"b\" }) { id } }".to_owned(),
        "mutation { deletePage(id: \"UGFnZTo5OTk5OQ\") }".to_owned(),
        "mutation { updateSiteSettings(input: { name: \"\" }) { name } }".to_owned(),
        format!("{{ article(id: \"{article}\") {{ revisions {{ version }} }} }}"),
    ];
    let admin_only = [
        "mutation { issueApiToken(user: \"nobody\", name: \"n\", expiresIn: 60) { token } }"
            .to_owned(),
        "mutation { revokeApiToken(id: \"QXBpVG9rZW46OTk5OTk\") { id } }".to_owned(),
        "{ apiTokens { id } }".to_owned(),
    ];
    let refused = |body: &Value| matches!(code(body), "UNAUTHENTICATED" | "FORBIDDEN");
    for (query, admins_only) in editor_only
        .iter()
        .map(|q| (q, false))
        .chain(admin_only.iter().map(|q| (q, true)))
    {
        let anonymous = app.graphql(query, json!({})).await?;
        assert_eq!(
            code(&anonymous),
            "UNAUTHENTICATED",
            "reader: {query}: {anonymous}"
        );
        let as_partner = app.graphql_as(Some(&partner), query, json!({})).await?;
        assert_eq!(
            code(&as_partner),
            "FORBIDDEN",
            "partner: {query}: {as_partner}"
        );
        let as_editor = app.graphql_as(Some(&editor), query, json!({})).await?;
        if admins_only {
            assert_eq!(
                code(&as_editor),
                "FORBIDDEN",
                "editor: {query}: {as_editor}"
            );
        } else {
            assert!(!refused(&as_editor), "editor: {query}: {as_editor}");
            assert_ne!(code(&as_editor), "INTERNAL", "editor: {query}: {as_editor}");
        }
        let as_admin = app.graphql_as(Some(&admin), query, json!({})).await?;
        assert!(!refused(&as_admin), "admin: {query}: {as_admin}");
        assert_ne!(code(&as_admin), "INTERNAL", "admin: {query}: {as_admin}");
    }
    // Nothing the refused calls named was created.
    let data = app
        .data(
            "{ tags(first: 100) { edges { node { slug } } } }",
            json!({}),
        )
        .await?;
    assert!(!data.to_string().contains("Bad Slug"));
    Ok(())
}

#[derive(serde::Serialize)]
struct Forged {
    sub: String,
    role: &'static str,
    iat: i64,
    nbf: i64,
    exp: i64,
    iss: &'static str,
    aud: &'static str,
    jti: &'static str,
    typ: &'static str,
}

fn forged(user: &user::Model) -> Forged {
    let now = test_now().timestamp();
    Forged {
        sub: user.id.to_string(),
        role: "admin",
        iat: now,
        nbf: now,
        exp: now + 3600,
        iss: "newsroom",
        aud: "newsroom-api",
        jti: "forged",
        typ: "session",
    }
}

fn sign(claims: &Forged, alg: Algorithm, secret: &[u8]) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret),
    )?)
}

async fn forged_and_stale_tokens_are_refused(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let (admin, password) = app.user("admin2", Role::Admin).await?;
    let secret = TEST_JWT_SECRET.as_bytes();
    // The genuine article works, so the refusals below are about what was changed.
    let genuine = sign(&forged(&admin), Algorithm::HS256, secret)?;
    let me = app
        .graphql_as(Some(&genuine), "{ me { username role } }", json!({}))
        .await?;
    assert_eq!(me["data"]["me"]["username"], "admin2");

    let mut attacks: Vec<(&str, String)> = Vec::new();
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&serde_json::to_value(forged(&admin).sub.clone()).map(|_| json!({
        "sub": admin.id.to_string(), "role": "admin", "iat": test_now().timestamp(), "nbf": test_now().timestamp(),
        "exp": test_now().timestamp() + 3600, "iss": "newsroom", "aud": "newsroom-api", "jti": "x", "typ": "session"
    }))?)?);
    attacks.push(("alg none", format!("{header_none}.{payload}.")));
    attacks.push((
        "weak key",
        sign(&forged(&admin), Algorithm::HS256, b"secret")?,
    ));
    attacks.push((
        "other algorithm",
        sign(&forged(&admin), Algorithm::HS512, secret)?,
    ));
    let mut expired = forged(&admin);
    expired.exp = test_now().timestamp() - 60;
    attacks.push(("expired", sign(&expired, Algorithm::HS256, secret)?));
    let mut early = forged(&admin);
    early.nbf = test_now().timestamp() + 3600;
    attacks.push(("not yet valid", sign(&early, Algorithm::HS256, secret)?));
    let mut wrong_iss = forged(&admin);
    wrong_iss.iss = "someone-else";
    attacks.push(("wrong iss", sign(&wrong_iss, Algorithm::HS256, secret)?));
    let mut wrong_aud = forged(&admin);
    wrong_aud.aud = "another-api";
    attacks.push(("wrong aud", sign(&wrong_aud, Algorithm::HS256, secret)?));
    let (editor, _) = app.user("editor2", Role::Editor).await?;
    let honest = sign(&forged(&editor), Algorithm::HS256, secret)?;
    let parts: Vec<&str> = honest.split('.').collect();
    let raised = URL_SAFE_NO_PAD.encode(
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1])?)?.replace(
            &format!("\"sub\":\"{}\"", editor.id),
            &format!("\"sub\":\"{}\"", admin.id),
        ),
    );
    attacks.push((
        "tampered payload",
        format!("{}.{raised}.{}", parts[0], parts[2]),
    ));
    let mut revoked_api = forged(&admin);
    revoked_api.typ = "api";
    revoked_api.jti = "never-issued";
    attacks.push((
        "unknown api jti",
        sign(&revoked_api, Algorithm::HS256, secret)?,
    ));
    attacks.push(("garbage", "not.a.token".to_owned()));
    attacks.push(("empty", String::new()));

    for (name, token) in &attacks {
        let (status, body) = app
            .post_graphql(Some(token), "{ me { username } }", json!({}))
            .await?;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(code(&body), "UNAUTHENTICATED", "{name}: {body}");
        assert!(body.get("data").is_none(), "{name}: nothing runs: {body}");
    }

    // A session from `login` stops working when it expires, and when its user is disabled.
    let session = app.login("admin2", &password).await?;
    app.clock.advance(TimeDelta::hours(2));
    let (status, _) = app
        .post_graphql(Some(&session), "{ me { username } }", json!({}))
        .await?;
    assert_eq!(status, 401, "expired session");
    let session = app.login("admin2", &password).await?;
    users::set_disabled(&app.db, admin.id, true, app.clock.now()).await?;
    let (status, body) = app
        .post_graphql(Some(&session), "{ me { username } }", json!({}))
        .await?;
    assert_eq!(
        (status, code(&body)),
        (401, "UNAUTHENTICATED"),
        "disabled user"
    );
    let login = app
        .graphql(
            "mutation { login(username: \"admin2\", password: $p) { token } }"
                .replace("$p", &format!("{password:?}"))
                .as_str(),
            json!({}),
        )
        .await?;
    assert_eq!(
        code(&login),
        "UNAUTHENTICATED",
        "a disabled user cannot sign in: {login}"
    );
    // The server kept serving throughout.
    assert_eq!(
        app.client
            .get(format!("{}/healthz", app.address))
            .send()
            .await?
            .status(),
        200
    );
    Ok(())
}

const ARTICLE: &str =
    "id slug title lead body bodyFormat status version publishedAt kind featured coverImage
    channel { slug } source { slug } tags { slug } originalUrl";

async fn an_editor_runs_the_whole_publishing_cycle(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("zhang.lei", Role::Editor).await?;
    let q = |query: &str| format!("mutation($id: ID!, $v: Int!) {{ {query} }}");

    // Create: a draft with a pinyin slug, invisible to readers.
    let created = app
        .graphql_as(
            Some(&editor),
            &format!("mutation($input: CreateArticleInput!) {{ createArticle(input: $input) {{ {ARTICLE} }} }}"),
            json!({ "input": {
                "title": "南昌开发区数字经济港建设提速",
                "lead": "核心提示：数字经济港一期工程顺利推进。",
                "body": "## 建设进展\n\n数字经济港一期工程顺利推进。",
                "channel": "park-news",
                "source": "nanchang-kaifaqu",
                "kind": "REPRINT",
                "originalUrl": "https://nanchang-kfq.example.cn/news/2020/0708.html",
                "tags": ["digital-economy", "industrial-park"]
            }}),
        )
        .await?;
    let a = &created["data"]["createArticle"];
    assert!(created.get("errors").is_none(), "{created}");
    assert_eq!(
        a["slug"],
        "nan-chang-kai-fa-qu-shu-zi-jing-ji-gang-jian-she-ti-su"
    );
    assert_eq!(
        (a["status"].as_str(), a["version"].as_i64()),
        (Some("DRAFT"), Some(1))
    );
    let id = a["id"].as_str().context("id")?.to_owned();
    let slug = a["slug"].as_str().context("slug")?.to_owned();
    let reader_view = app
        .data(
            "query($s: String!) { article(slug: $s) { id } }",
            json!({ "s": slug }),
        )
        .await?;
    assert!(
        reader_view["article"].is_null(),
        "a draft is invisible to readers"
    );
    let editor_view = app
        .graphql_as(Some(&editor), "{ articles(first: 5, filter: { status: [DRAFT] }) { totalCount edges { node { slug status } } } }", json!({}))
        .await?;
    assert_eq!(
        editor_view["data"]["articles"]["edges"][0]["node"]["slug"],
        slug.as_str()
    );
    let public = app
        .graphql_as(
            Some(&editor),
            "{ articles(first: 100) { edges { node { status } } } }",
            json!({}),
        )
        .await?;
    // Without a status filter an editor gets the public list: no draft leaks into a page that an
    // editor's session renders.
    assert!(
        public["data"]["articles"]["edges"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["node"]["status"] == "PUBLISHED")),
        "{public}"
    );
    let forbidden = app
        .graphql(
            "{ articles(filter: { status: [DRAFT] }) { totalCount } }",
            json!({}),
        )
        .await?;
    assert_eq!(code(&forbidden), "FORBIDDEN");

    // Update, retag, publish.
    let updated = app
        .graphql_as(
            Some(&editor),
            &q(&format!("updateArticle(id: $id, version: $v, input: {{ title: \"南昌开发区数字经济港建设全面提速\", lead: null }}) {{ {ARTICLE} }}")),
            json!({ "id": id, "v": 1 }),
        )
        .await?;
    let a = &updated["data"]["updateArticle"];
    assert_eq!(
        (a["version"].as_i64(), a["lead"].is_null()),
        (Some(2), true),
        "{updated}"
    );
    assert_eq!(
        a["slug"],
        slug.as_str(),
        "the slug stays when the title changes"
    );
    let retagged = app
        .graphql_as(Some(&editor), &q("setArticleTags(id: $id, version: $v, tags: [\"new-infrastructure\", \"digital-economy\"]) { version tags { slug } }"), json!({ "id": id, "v": 2 }))
        .await?;
    assert_eq!(
        retagged["data"]["setArticleTags"]["tags"],
        json!([{ "slug": "new-infrastructure" }, { "slug": "digital-economy" }]),
        "{retagged}"
    );
    let published = app
        .graphql_as(
            Some(&editor),
            &q("publishArticle(id: $id, version: $v) { status version publishedAt }"),
            json!({ "id": id, "v": 3 }),
        )
        .await?;
    assert_eq!(
        published["data"]["publishArticle"]["status"], "PUBLISHED",
        "{published}"
    );
    let seen = app
        .data(
            "query($s: String!) { article(slug: $s) { title disclaimer { sourceName } } }",
            json!({ "s": slug }),
        )
        .await?;
    assert_eq!(seen["article"]["title"], "南昌开发区数字经济港建设全面提速");
    assert_eq!(seen["article"]["disclaimer"]["sourceName"], "南昌开发区");
    let newest = app
        .data(
            "{ articles(first: 1) { edges { node { slug } } } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        newest["articles"]["edges"][0]["node"]["slug"],
        slug.as_str(),
        "just published is newest"
    );

    // Revisions: who, when, what changed; restore an old one as a new version.
    let revisions = app
        .graphql_as(Some(&editor), "query($id: ID!) { article(id: $id) { revisions { version savedBy { username } changes title } } }", json!({ "id": id }))
        .await?;
    let revs = revisions["data"]["article"]["revisions"]
        .as_array()
        .context("revisions")?;
    assert_eq!(
        revs.iter()
            .filter_map(|r| r["version"].as_i64())
            .collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    assert!(revs.iter().all(|r| r["savedBy"]["username"] == "zhang.lei"));
    assert_eq!(revs[2]["changes"], json!(["title", "lead"]), "{revisions}");
    assert_eq!(revs[1]["changes"], json!(["tags"]));
    assert_eq!(revs[0]["changes"], json!(["status", "publishedAt"]));
    assert_eq!(
        revs[3]["changes"].as_array().map(Vec::len),
        Some(17),
        "a first version changes every field"
    );
    let restored = app
        .graphql_as(Some(&editor), &q("restoreArticleRevision(id: $id, version: $v, revision: 1) { version title lead status tags { slug } }"), json!({ "id": id, "v": 4 }))
        .await?;
    let r = &restored["data"]["restoreArticleRevision"];
    assert_eq!(r["title"], "南昌开发区数字经济港建设提速", "{restored}");
    assert_eq!(r["lead"], "核心提示：数字经济港一期工程顺利推进。");
    assert_eq!(
        (r["status"].as_str(), r["version"].as_i64()),
        (Some("PUBLISHED"), Some(5)),
        "status is kept"
    );
    assert_eq!(
        r["tags"],
        json!([{ "slug": "digital-economy" }, { "slug": "industrial-park" }])
    );

    // Unpublish, archive: gone for readers each time; then delete.
    for (step, version, status) in [
        ("unpublishArticle", 5, "DRAFT"),
        ("archiveArticle", 6, "ARCHIVED"),
    ] {
        let moved = app
            .graphql_as(
                Some(&editor),
                &q(&format!("{step}(id: $id, version: $v) {{ status }}")),
                json!({ "id": id, "v": version }),
            )
            .await?;
        assert_eq!(moved["data"][step]["status"], status, "{moved}");
        let gone = app
            .data(
                "query($s: String!) { article(slug: $s) { id } }",
                json!({ "s": slug }),
            )
            .await?;
        assert!(gone["article"].is_null());
    }
    let deleted = app
        .graphql_as(
            Some(&editor),
            &q("deleteArticle(id: $id, version: $v)"),
            json!({ "id": id, "v": 7 }),
        )
        .await?;
    assert_eq!(deleted["data"]["deleteArticle"], id.as_str(), "{deleted}");
    let after = app
        .graphql_as(
            Some(&editor),
            "query($id: ID!) { article(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await?;
    assert!(after["data"]["article"].is_null());

    // Reference data and site settings.
    let made = app
        .graphql_as(
            Some(&editor),
            "mutation { createTag(slug: \"qing-neng-che\", name: \"氢能车\") { id slug }
                        createChannel(input: { slug: \"park-talent\", name: \"园区人才\", parent: \"parks\", position: 3 }) { id parent { slug } }
                        createPage(input: { slug: \"jobs\", title: \"招聘信息\", body: \"欢迎加入。\", inFooter: true, position: 9 }) { id }
                        updateSiteSettings(input: { slogan: \"创新是第一动力\" }) { slogan icpFiling } }",
            json!({}),
        )
        .await?;
    assert!(made.get("errors").is_none(), "{made}");
    assert_eq!(made["data"]["createChannel"]["parent"]["slug"], "parks");
    assert_eq!(
        made["data"]["updateSiteSettings"],
        json!({ "slogan": "创新是第一动力", "icpFiling": "粤ICP备05102027号" })
    );
    let footer = app
        .data("{ site { slogan footerPages { slug } } }", json!({}))
        .await?;
    assert_eq!(footer["site"]["slogan"], "创新是第一动力");
    assert!(
        footer["site"]["footerPages"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["slug"] == "jobs"))
    );
    // A channel holding articles cannot go; a source in use neither.
    let refused = app
        .graphql_as(Some(&editor), "query { channel(slug: \"park-news\") { id } source(slug: \"nanchang-kaifaqu\") { id } }", json!({}))
        .await?;
    let channel_id = refused["data"]["channel"]["id"]
        .as_str()
        .context("channel")?;
    let source_id = refused["data"]["source"]["id"].as_str().context("source")?;
    for m in [
        format!("mutation {{ deleteChannel(id: \"{channel_id}\") }}"),
        format!("mutation {{ deleteSource(id: \"{source_id}\") }}"),
    ] {
        let body = app.graphql_as(Some(&editor), &m, json!({})).await?;
        assert_eq!(code(&body), "CONFLICT", "{m}: {body}");
    }
    Ok(())
}

async fn two_editors_saving_one_version_cannot_lose_an_update(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let first = app.signed_in("editor.a", Role::Editor).await?;
    let second = app.signed_in("editor.b", Role::Editor).await?;
    let (id, version) = seed_article(&app, &first).await?;
    let save = |token: String, title: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            app.graphql_as(
                Some(&token),
                "mutation($id: ID!, $v: Int!, $t: String!) { updateArticle(id: $id, version: $v, input: { title: $t }) { title version } }",
                json!({ "id": id, "v": version, "t": title }),
            )
            .await
        }
    };
    for round in 0..3 {
        let (_, current) = seed_article(&app, &first).await?;
        let (a, b) = futures::join!(
            save(first.clone(), "甲的标题"),
            save(second.clone(), "乙的标题")
        );
        let (a, b) = (a?, b?);
        if round == 0 {
            let wins = [&a, &b]
                .iter()
                .filter(|r| r.get("errors").is_none())
                .count();
            assert_eq!(wins, 1, "exactly one save wins: {a} {b}");
            let loser = if a.get("errors").is_some() { &a } else { &b };
            assert_eq!(code(loser), "CONFLICT", "{loser}");
            assert!(
                loser["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("version"))
            );
            let winner = if a.get("errors").is_none() { &a } else { &b };
            let title = winner["data"]["updateArticle"]["title"].clone();
            let stored = app
                .data(
                    "query($s: String!) { article(slug: $s) { title version } }",
                    json!({ "s": SEED_ARTICLE_SLUG }),
                )
                .await?;
            assert_eq!(
                stored["article"]["title"], title,
                "the winner's text is what is stored"
            );
            assert_eq!(stored["article"]["version"].as_i64(), Some(version + 1));
        } else {
            // Later rounds save from a stale version: both lose, nothing changes.
            assert!(current > version);
            assert_eq!((code(&a), code(&b)), ("CONFLICT", "CONFLICT"));
        }
    }
    let revs = app
        .graphql_as(
            Some(&first),
            "query($id: ID!) { article(id: $id) { version revisions { version } } }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(
        revs["data"]["article"]["version"].as_i64(),
        Some(version + 1)
    );
    assert_eq!(
        revs["data"]["article"]["revisions"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "one revision for the one save"
    );
    Ok(())
}

async fn a_scheduled_article_appears_at_its_time(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("scheduler", Role::Editor).await?;
    let created = app
        .graphql_as(
            Some(&editor),
            "mutation { createArticle(input: { title: \"定时发布的文章\", slug: \"timed\", body: \"正文\", channel: \"hydrogen\" }) { id } }",
            json!({}),
        )
        .await?;
    let id = created["data"]["createArticle"]["id"]
        .as_str()
        .context("id")?
        .to_owned();
    let at = test_now() + TimeDelta::minutes(90);
    let past = app
        .graphql_as(Some(&editor), "mutation($id: ID!, $at: DateTime!) { scheduleArticle(id: $id, version: 1, at: $at) { id } }", json!({ "id": id, "at": test_now() - TimeDelta::minutes(1) }))
        .await?;
    assert_eq!(code(&past), "BAD_USER_INPUT", "{past}");
    assert_eq!(past["errors"][0]["extensions"]["field"], "at");
    let scheduled = app
        .graphql_as(Some(&editor), "mutation($id: ID!, $at: DateTime!) { scheduleArticle(id: $id, version: 1, at: $at) { status } }", json!({ "id": id, "at": at }))
        .await?;
    assert_eq!(
        scheduled["data"]["scheduleArticle"]["status"], "SCHEDULED",
        "{scheduled}"
    );
    let probe =
        "{ article(slug: \"timed\") { slug } articles(first: 1) { edges { node { slug } } } }";
    app.clock.advance(TimeDelta::minutes(89));
    let early = app.data(probe, json!({})).await?;
    assert!(early["article"].is_null() && early["articles"]["edges"][0]["node"]["slug"] != "timed");
    app.clock.advance(TimeDelta::minutes(1));
    let on_time = app.data(probe, json!({})).await?;
    assert_eq!(
        on_time["article"]["slug"], "timed",
        "visible at its time with no one acting"
    );
    assert_eq!(on_time["articles"]["edges"][0]["node"]["slug"], "timed");
    // From its time on it is published, for editors' filters too (signed in afresh: the first
    // session expired while the clock moved on).
    let editor = app.signed_in("scheduler.2", Role::Editor).await?;
    let listed = app
        .graphql_as(
            Some(&editor),
            "{ p: articles(first: 1, filter: { status: [PUBLISHED] }) { edges { node { slug status } } }
               s: articles(filter: { status: [SCHEDULED] }) { totalCount } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        listed["data"]["p"]["edges"][0]["node"],
        json!({ "slug": "timed", "status": "PUBLISHED" }),
        "{listed}"
    );
    assert_eq!(listed["data"]["s"]["totalCount"], 0);
    Ok(())
}

async fn bodies_are_sanitized_on_the_way_out(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("sanitizer", Role::Editor).await?;
    let hostile = [
        (
            "MARKDOWN",
            "## 标题\n\n<script>alert('x')</script>\n\n[点我](javascript:alert(1))\n\n<img src=x onerror=\"alert(1)\">\n\n<a href=\"https://example.cn\" onclick=\"steal()\">安全链接</a>",
        ),
        (
            "HTML",
            "<h2>标题</h2><script>alert('x')</script><p><a href=\"javascript:alert(1)\">点我</a><img src=\"x\" onerror=\"alert(1)\"><a href=\"https://example.cn\" onclick=\"steal()\">安全链接</a></p>",
        ),
    ];
    for (n, (format, body)) in hostile.iter().enumerate() {
        let created = app
            .graphql_as(
                Some(&editor),
                "mutation($input: CreateArticleInput!) { createArticle(input: $input) { id } }",
                json!({ "input": { "title": format!("含有恶意代码的文章{n}"), "slug": format!("hostile-{n}"), "body": body, "bodyFormat": format, "channel": "hydrogen" } }),
            )
            .await?;
        let id = created["data"]["createArticle"]["id"]
            .as_str()
            .context("id")?
            .to_owned();
        app.graphql_as(
            Some(&editor),
            "mutation($id: ID!) { publishArticle(id: $id, version: 1) { id } }",
            json!({ "id": id }),
        )
        .await?;
        let served = app
            .data(
                "query($s: String!) { article(slug: $s) { html: body text: body(format: TEXT) } }",
                json!({ "s": format!("hostile-{n}") }),
            )
            .await?;
        let html = served["article"]["html"]
            .as_str()
            .context("html")?
            .to_lowercase();
        for bad in ["<script", "javascript:", "onerror", "onclick", "alert("] {
            assert!(
                !html.contains(bad),
                "{format}: {bad} reached a reader: {html}"
            );
        }
        assert!(
            html.contains("<h2>标题</h2>") && html.contains("href=\"https://example.cn\""),
            "{format}: {html}"
        );
        let text = served["article"]["text"].as_str().context("text")?;
        assert!(
            !text.contains('<') && text.contains("安全链接"),
            "{format}: {text}"
        );
        // Stored as given: editors get back exactly what they wrote.
        let raw = app
            .graphql_as(
                Some(&editor),
                "query($id: ID!) { article(id: $id) { revisions { body } } }",
                json!({ "id": id }),
            )
            .await?;
        assert_eq!(raw["data"]["article"]["revisions"][1]["body"], *body);
    }
    Ok(())
}

async fn bad_article_input_is_named_and_changes_nothing(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let editor = app.signed_in("validator", Role::Editor).await?;
    let (seed_id, seed_version) = seed_article(&app, &editor).await?;
    let base = json!({ "title": "标题", "body": "正文", "channel": "hydrogen" });
    let with = |patch: Value| {
        let mut input = base.clone();
        if let (Some(input), Some(patch)) = (input.as_object_mut(), patch.as_object()) {
            for (k, v) in patch {
                input.insert(k.clone(), v.clone());
            }
        }
        input
    };
    let cases = [
        (with(json!({ "title": "   " })), "title"),
        (with(json!({ "title": "长".repeat(301) })), "title"),
        (
            with(json!({ "kind": "REPRINT", "originalUrl": "https://example.cn/a" })),
            "source",
        ),
        (
            with(json!({ "kind": "REPRINT", "source": "nanchang-kaifaqu" })),
            "originalUrl",
        ),
        (with(json!({ "featured": true })), "coverImage"),
        (with(json!({ "channel": "no-such-channel" })), "channel"),
        (with(json!({ "source": "no-such-source" })), "source"),
        (with(json!({ "tags": ["no-such-tag"] })), "tags"),
        (
            with(json!({ "tags": ["digital-economy", "digital-economy"] })),
            "tags",
        ),
        (with(json!({ "slug": SEED_ARTICLE_SLUG })), "slug"),
        (with(json!({ "slug": "Not A Slug" })), "slug"),
        (
            with(json!({ "originalUrl": "javascript:alert(1)" })),
            "originalUrl",
        ),
        (
            with(json!({ "coverImage": "//evil.example/x.png" })),
            "coverImage",
        ),
        (with(json!({ "lead": "长".repeat(2001) })), "lead"),
    ];
    let count = || async {
        let body = app
            .graphql_as(
                Some(&editor),
                "{ articles(filter: { status: [DRAFT, PUBLISHED, ARCHIVED] }) { totalCount } }",
                json!({}),
            )
            .await?;
        body["data"]["articles"]["totalCount"]
            .as_u64()
            .context("count")
    };
    let before = count().await?;
    for (input, field) in cases {
        let body = app
            .graphql_as(
                Some(&editor),
                "mutation($input: CreateArticleInput!) { createArticle(input: $input) { id } }",
                json!({ "input": input }),
            )
            .await?;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{input}: {body}"
        );
    }
    assert_eq!(count().await?, before, "no bad input created anything");
    // The same rules hold on update, and a failed update keeps the version.
    let body = app
        .graphql_as(Some(&editor), "mutation($id: ID!, $v: Int!) { updateArticle(id: $id, version: $v, input: { source: null }) { id } }", json!({ "id": seed_id, "v": seed_version }))
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "source",
        "a reprint keeps its source: {body}"
    );
    let stale = app
        .graphql_as(Some(&editor), "mutation($id: ID!, $v: Int!) { updateArticle(id: $id, version: $v, input: { title: \"x\" }) { id } }", json!({ "id": seed_id, "v": seed_version + 7 }))
        .await?;
    assert_eq!(code(&stale), "CONFLICT");
    let (_, version) = seed_article(&app, &editor).await?;
    assert_eq!(version, seed_version);
    Ok(())
}

async fn failed_logins_are_limited_per_username_and_address(
    backend: Backend,
) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let (_, password) = app.user("target", Role::Editor).await?;
    let login = |user: &'static str, pass: String| {
        let app = &app;
        async move {
            app.graphql("mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }", json!({ "u": user, "p": pass }))
                .await
        }
    };
    for _ in 0..5 {
        assert_eq!(
            code(&login("target", "wrong-password".into()).await?),
            "UNAUTHENTICATED"
        );
    }
    // The sixth try is refused before the password is even checked, right or wrong.
    let limited = login("target", password.clone()).await?;
    assert_eq!(code(&limited), "RATE_LIMITED", "{limited}");
    assert!(
        limited["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 900)
    );
    // Another username from the same address is not locked out by the first one's failures, and
    // an unknown user answers exactly like a wrong password.
    let unknown = login("nobody-here", "whatever-password".into()).await?;
    assert_eq!(
        code(&unknown),
        "UNAUTHENTICATED",
        "the address is limited too: {unknown}"
    );
    // When the window has passed, the right password works again.
    app.clock.advance(TimeDelta::minutes(16));
    let ok = login("target", password).await?;
    assert!(ok["data"]["login"]["token"].is_string(), "{ok}");
    let wrong = login("nobody-here", "whatever-password".into()).await?;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    assert_eq!(wrong["errors"][0]["message"], "wrong username or password");

    // A parallel burst of guesses is limited as strictly as a sequence.
    app.clock.advance(TimeDelta::minutes(16));
    let burst =
        futures::future::join_all((0..12).map(|_| login("target", "guess-guess-guess".into())))
            .await;
    let mut codes = Vec::new();
    for body in burst {
        codes.push(code(&body?).to_owned());
    }
    let guessed = codes.iter().filter(|c| *c == "UNAUTHENTICATED").count();
    assert_eq!(
        guessed, 5,
        "only five guesses reach the password check: {codes:?}"
    );
    assert_eq!(codes.iter().filter(|c| *c == "RATE_LIMITED").count(), 7);
    // One address trying many usernames is limited at four times the per-user limit.
    app.clock.advance(TimeDelta::minutes(16));
    let mut limited_at = None;
    for n in 0..30 {
        let body = app
            .graphql(
                "mutation($u: String!) { login(username: $u, password: \"spray-password\") { token } }",
                json!({ "u": format!("user{n}") }),
            )
            .await?;
        if code(&body) == "RATE_LIMITED" {
            limited_at = Some(n);
            break;
        }
    }
    assert_eq!(
        limited_at,
        Some(20),
        "a spraying address is stopped after 20 tries"
    );
    Ok(())
}

async fn api_tokens_work_until_revoked_or_expired(backend: Backend) -> anyhow::Result<()> {
    let app = TestApp::with_demo(backend).await?;
    let admin = app.signed_in("root", Role::Admin).await?;
    app.user("partner.a", Role::Partner).await?;
    let issue = "mutation($n: String!, $s: Int!) { issueApiToken(user: \"partner.a\", name: $n, expiresIn: $s) { token apiToken { id name expiresAt user { username role } } } }";
    let issued = app
        .graphql_as(
            Some(&admin),
            issue,
            json!({ "n": "合作伙伴同步", "s": 30 * 24 * 3600 }),
        )
        .await?;
    let token = issued["data"]["issueApiToken"]["token"]
        .as_str()
        .context("token")?
        .to_owned();
    let token_id = issued["data"]["issueApiToken"]["apiToken"]["id"]
        .as_str()
        .context("id")?
        .to_owned();
    assert_eq!(
        issued["data"]["issueApiToken"]["apiToken"]["user"]["role"],
        "PARTNER"
    );
    let me = app
        .graphql_as(Some(&token), "{ me { username role } }", json!({}))
        .await?;
    assert_eq!(
        me["data"]["me"],
        json!({ "username": "partner.a", "role": "PARTNER" })
    );
    let listed = app
        .graphql_as(Some(&admin), "{ apiTokens { id revokedAt } }", json!({}))
        .await?;
    assert_eq!(listed["data"]["apiTokens"][0]["id"], token_id.as_str());

    let bad = app
        .graphql_as(Some(&admin), issue, json!({ "n": "x", "s": 0 }))
        .await?;
    assert_eq!(
        bad["errors"][0]["extensions"]["field"], "expiresIn",
        "{bad}"
    );

    let revoked = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }",
            json!({ "id": token_id }),
        )
        .await?;
    assert!(
        revoked["data"]["revokeApiToken"]["revokedAt"].is_string(),
        "{revoked}"
    );
    let (status, body) = app
        .post_graphql(Some(&token), "{ me { username } }", json!({}))
        .await?;
    assert_eq!(
        (status, code(&body)),
        (401, "UNAUTHENTICATED"),
        "revoked at once: {body}"
    );

    let short = app
        .graphql_as(Some(&admin), issue, json!({ "n": "short", "s": 60 }))
        .await?;
    let short = short["data"]["issueApiToken"]["token"]
        .as_str()
        .context("token")?
        .to_owned();
    assert_eq!(
        app.post_graphql(Some(&short), "{ me { username } }", json!({}))
            .await?
            .0,
        200
    );
    app.clock.advance(TimeDelta::minutes(2));
    assert_eq!(
        app.post_graphql(Some(&short), "{ me { username } }", json!({}))
            .await?
            .0,
        401,
        "expired"
    );

    // A token for a user who is later disabled stops working too.
    let long = app
        .graphql_as(Some(&admin), issue, json!({ "n": "long", "s": 3600 }))
        .await?;
    let long = long["data"]["issueApiToken"]["token"]
        .as_str()
        .context("token")?
        .to_owned();
    let partner = newsroom_domain::users::by_username(&app.db, "partner.a")
        .await?
        .context("partner")?;
    let mut row: user::ActiveModel = partner.into();
    row.disabled = Set(true);
    row.update(&app.db).await?;
    assert_eq!(
        app.post_graphql(Some(&long), "{ me { username } }", json!({}))
            .await?
            .0,
        401
    );
    Ok(())
}
