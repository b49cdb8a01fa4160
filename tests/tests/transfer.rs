//! Export and import: SQLite → JSON Lines → the backend under test → JSON Lines gives the same
//! bytes; a bad record, a wrong header or a broken line stops the import with its line and
//! field and leaves the database as it was; importing into a database that already has content
//! leaves what is the same and refuses what differs. Each runs on both backends (the exported
//! database is always SQLite, the importing one the backend under test).

use anyhow::{Context, ensure};
use chrono::TimeDelta;
use newsroom_domain::{
    articles::Audience,
    demo::{self, SEED_ARTICLE_SLUG},
    editorial::{
        self, Actor, Transition,
        catalog::{self, ChannelInput, PageInput},
    },
    entities::{ArticleStatus, BodyFormat, Role, article, article_change, site_setting},
    pagination::PageRequest,
    search::{self, SearchQuery},
    transfer::{self, ImportError, ImportReport},
    users,
};
use newsroom_tests::{Backend, TestDb, on_both_backends, park_article, segmenter, test_now};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

on_both_backends!(
    the_demo_and_every_kind_of_content_round_trip_byte_for_byte,
    a_bad_record_stops_the_import_at_its_line_and_field,
    a_wrong_header_or_a_broken_line_is_refused_with_its_line,
    importing_into_a_database_with_content_keeps_what_is_there,
);

async fn export_text(db: &DatabaseConnection) -> anyhow::Result<String> {
    let mut out = Vec::new();
    transfer::export(db, &mut out, |_| {}).await?;
    Ok(String::from_utf8(out)?)
}

async fn import_text(db: &DatabaseConnection, text: &str) -> Result<ImportReport, ImportError> {
    let words = segmenter().map_err(|e| ImportError::Read {
        line: 0,
        source: std::io::Error::other(e.to_string()),
    })?;
    transfer::import(
        db,
        &words,
        text.lines().map(|l| Ok(l.to_owned())),
        test_now(),
        |_| {},
    )
    .await
}

/// Fails with the first line that differs, rather than two walls of text.
fn same_lines(a: &str, b: &str) -> anyhow::Result<()> {
    if a == b {
        return Ok(());
    }
    let (mut left, mut right) = (a.lines(), b.lines());
    for n in 1.. {
        match (left.next(), right.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => anyhow::bail!("line {n} differs:\n  {x:?}\n  {y:?}"),
        }
    }
    Ok(())
}

/// A SQLite database with the demo content.
async fn demo_db() -> anyhow::Result<(TestDb, DatabaseConnection)> {
    let (test_db, conn) = TestDb::create(Backend::Sqlite).await?;
    let txn = conn.begin().await?;
    demo::seed(&txn, &segmenter()?).await?;
    txn.commit().await?;
    Ok((test_db, conn))
}

/// Adds what the demo lacks: a third level of channels, a draft with tags and an HTML body, a
/// scheduled, an archived and a taken-down article, a reprint with its original publish time,
/// an HTML page, a setting of a key this build does not know, and Chinese everywhere.
async fn enrich(db: &DatabaseConnection) -> anyhow::Result<()> {
    let words = segmenter()?;
    let now = test_now();
    let editor = users::create(
        db,
        "transfer-editor",
        "一个足够长的密码-2020",
        Role::Editor,
        now,
    )
    .await?;
    let actor = Actor { user_id: editor.id };
    catalog::save_channel(
        db,
        None,
        ChannelInput {
            slug: "park-news-local".into(),
            name: "本地园区快讯".into(),
            parent: Some("park-news".into()),
            position: 2,
        },
        now,
    )
    .await?;
    catalog::save_tag(db, &words, None, "ce-shi", "测试", now).await?;
    catalog::save_page(
        db,
        None,
        PageInput {
            slug: "join-us".into(),
            title: "加入我们".into(),
            body: "<h2>招聘</h2><p>编辑 &amp; 记者，\"双过半\"</p>".into(),
            body_format: BodyFormat::Html,
            in_footer: false,
            position: 9,
        },
        now,
    )
    .await?;
    site_setting::ActiveModel {
        key: Set("x_future_setting".into()),
        value: Set("由新版本写入\n第二行".into()),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;

    let mut draft = park_article(
        "导入导出测试：草稿 “引号” 与 \\ 反斜杠",
        Some("keji-qianyan"),
    );
    draft.tags = vec!["ce-shi".into(), "double-half".into()];
    draft.body = "<p>HTML 正文</p>\n\n<p>第二段\t制表符</p>".into();
    draft.body_format = BodyFormat::Html;
    draft.channel = "park-news-local".into();
    draft.author = Some("记者 张三".into());
    let draft = editorial::create(db, &words, actor, now, draft).await?;
    let mut reprint = article::ActiveModel::from(draft);
    reprint.original_published_at =
        Set(Some(now - TimeDelta::days(3) + TimeDelta::microseconds(7)));
    reprint.update(db).await?;

    let scheduled =
        editorial::create(db, &words, actor, now, park_article("定时发布的文章", None)).await?;
    editorial::transition(
        db,
        &words,
        actor,
        now,
        scheduled.id,
        scheduled.version,
        Transition::Schedule(now + TimeDelta::days(30)),
    )
    .await?;
    let archived =
        editorial::create(db, &words, actor, now, park_article("已归档的文章", None)).await?;
    let published = editorial::transition(
        db,
        &words,
        actor,
        now,
        archived.id,
        archived.version,
        Transition::PublishNow,
    )
    .await?;
    editorial::transition(
        db,
        &words,
        actor,
        now,
        published.id,
        published.version,
        Transition::Archive,
    )
    .await?;
    let mut taken_down = article::ActiveModel::from(
        article::Entity::find()
            .filter(article::Column::Status.eq(ArticleStatus::Published))
            .filter(article::Column::Slug.ne(SEED_ARTICLE_SLUG))
            .one(db)
            .await?
            .context("a published demo article")?,
    );
    taken_down.status = Set(ArticleStatus::TakenDown);
    let taken_down = taken_down.update(db).await?;
    search::index_articles(db, &words, &[taken_down]).await?;
    Ok(())
}

/// The slugs the search for `q` finds, best first (at most 100).
async fn search_slugs(db: &DatabaseConnection, q: &str) -> anyhow::Result<Vec<String>> {
    let query = SearchQuery::parse(&segmenter()?, q)?;
    // After the scheduled article's time.
    let later = test_now() + TimeDelta::days(31);
    Ok(search::search(
        db,
        later,
        Audience::Reader,
        &query,
        &Default::default(),
        &PageRequest::first(100),
    )
    .await?
    .items
    .into_iter()
    .map(|hit| hit.article.slug)
    .collect())
}

async fn the_demo_and_every_kind_of_content_round_trip_byte_for_byte(
    backend: Backend,
) -> anyhow::Result<()> {
    let (_source_db, source) = demo_db().await?;
    enrich(&source).await?;
    let first = export_text(&source).await?;
    ensure!(
        first.starts_with("{\"format\":\"newsroom-export\",\"version\":1}\n"),
        "{}",
        &first[..80]
    );
    for kind in ["setting", "channel", "source", "tag", "page", "article"] {
        ensure!(
            first.contains(&format!("{{\"type\":\"{kind}\",")),
            "no {kind}"
        );
    }
    ensure!(first.contains("\"status\":\"taken_down\""));
    ensure!(first.contains("\"status\":\"scheduled\""));
    ensure!(first.contains("\"originalPublishedAt\":\"2025-12-29T00:00:00.000007Z\""));
    ensure!(first.contains("\"parent\":\"park-news\""));
    ensure!(first.contains("\"key\":\"x_future_setting\""));

    let (_target_db, target) = TestDb::create(backend).await?;
    let report = import_text(&target, &first).await?;
    ensure!(report.unchanged.total() == 0, "{report:?}");
    ensure!(report.created.articles == 304, "{report:?}");
    // Partners' change feed hears of every imported article readers may see, stamped no earlier
    // than the import (never behind a reader's cursor), or at its publish time when scheduled.
    let shown = article::Entity::find()
        .filter(article::Column::Status.is_in([ArticleStatus::Published, ArticleStatus::Scheduled]))
        .all(&target)
        .await?;
    let changes = article_change::Entity::find().all(&target).await?;
    for a in &shown {
        let published_at = a
            .published_at
            .context("a shown article has a publish time")?;
        // Shown already: stamped when the log was written, after every record was read.
        let stamped = |at| {
            if published_at > test_now() {
                at >= published_at
            } else {
                at > test_now()
            }
        };
        ensure!(
            changes
                .iter()
                .any(|c| c.article_id == a.id && c.change == "upsert" && stamped(c.visible_from)),
            "{}: no change-log entry stamped after the records were read",
            a.slug
        );
    }
    let second = export_text(&target).await?;
    same_lines(&first, &second)?;

    // Readers find the same articles on both sides: the index was written with the import.
    // (The order among equals may differ: each engine ranks by its own statistics.)
    for q in ["双过半", "南昌开发区", "园区 项目建设", "定时发布"] {
        let (mut there, mut here) = (
            search_slugs(&source, q).await?,
            search_slugs(&target, q).await?,
        );
        there.sort();
        here.sort();
        ensure!(!here.is_empty(), "{q}: nothing found after the import");
        ensure!(there == here, "{q}: {there:?} != {here:?}");
    }
    ensure!(search_slugs(&target, "双过半").await?[0] == SEED_ARTICLE_SLUG);
    ensure!(search_slugs(&target, "已归档").await?.is_empty());

    // The same file again changes nothing.
    let again = import_text(&target, &first).await?;
    ensure!(again.created.total() == 0, "{again:?}");
    ensure!(again.unchanged.total() == report.created.total());
    same_lines(&first, &export_text(&target).await?)?;
    Ok(())
}

/// The demo's export, and its lines.
async fn demo_export() -> anyhow::Result<String> {
    let (_db, conn) = demo_db().await?;
    export_text(&conn).await
}

fn record_error(
    result: Result<ImportReport, ImportError>,
) -> anyhow::Result<(u64, Option<String>, String)> {
    match result {
        Err(e @ ImportError::Record { .. }) => {
            let text = e.to_string();
            let ImportError::Record { line, field, .. } = e else {
                unreachable!()
            };
            Ok((line, field, text))
        }
        other => anyhow::bail!("expected a record error, got {other:?}"),
    }
}

/// The file with line `n` (from 1) replaced.
fn with_line(text: &str, n: usize, line: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines[n - 1] = line;
    lines.join("\n") + "\n"
}

async fn a_bad_record_stops_the_import_at_its_line_and_field(
    backend: Backend,
) -> anyhow::Result<()> {
    let file = demo_export().await?;
    let lines: Vec<&str> = file.lines().collect();
    let (_db, target) = TestDb::create(backend).await?;
    let empty = export_text(&target).await?;

    // An article well into the file: everything before it was fine and is not kept either.
    let n = lines.len() - 20;
    let mut article: serde_json::Value = serde_json::from_str(lines[n - 1])?;
    ensure!(article["type"] == "article");
    let bad = |field: &str, value: serde_json::Value| {
        let mut a = article.clone();
        a[field] = value;
        with_line(&file, n, &a.to_string())
    };
    for (broken, field, words) in [
        (bad("title", "  ".into()), "title", "must not be empty"),
        (
            bad("channel", "no-such-channel".into()),
            "channel",
            "no channel has the slug",
        ),
        (
            bad("originalUrl", "javascript:alert(1)".into()),
            "originalUrl",
            "http",
        ),
        (
            bad("tags", serde_json::json!(["double-half", 7])),
            "tags[1]",
            "invalid type",
        ),
        (bad("status", "gone".into()), "status", "unknown variant"),
        (
            bad("publishedAt", "yesterday".into()),
            "publishedAt",
            "RFC 3339",
        ),
        (bad("viewCount", (-1).into()), "viewCount", "negative"),
        (bad("colour", "red".into()), "colour", "not a field"),
    ] {
        let (line, at, text) = record_error(import_text(&target, &broken).await)?;
        ensure!(
            line == n as u64,
            "{field}: line {line}, expected {n}: {text}"
        );
        ensure!(
            at.as_deref() == Some(field),
            "{field}: named {at:?}: {text}"
        );
        ensure!(text.contains(words), "{field}: {text}");
        ensure!(
            text.starts_with(&format!("line {n}, field `{field}`")),
            "{text}"
        );
    }
    // A published article without its time, and a reprint without its source.
    article["status"] = "published".into();
    article["publishedAt"] = serde_json::Value::Null;
    let (line, at, _) =
        record_error(import_text(&target, &with_line(&file, n, &article.to_string())).await)?;
    ensure!(line == n as u64 && at.as_deref() == Some("publishedAt"));

    same_lines(&empty, &export_text(&target).await?)?;
    ensure!(article::Entity::find().all(&target).await?.is_empty());
    Ok(())
}

async fn a_wrong_header_or_a_broken_line_is_refused_with_its_line(
    backend: Backend,
) -> anyhow::Result<()> {
    let file = demo_export().await?;
    let (_db, target) = TestDb::create(backend).await?;
    let empty = export_text(&target).await?;

    let newer = with_line(&file, 1, r#"{"format":"newsroom-export","version":2}"#);
    let (line, field, text) = record_error(import_text(&target, &newer).await)?;
    ensure!(line == 1 && field.as_deref() == Some("version"), "{text}");
    ensure!(text.contains("version 2 is not supported"), "{text}");

    let headless: String = file.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let (line, field, text) = record_error(import_text(&target, &headless).await)?;
    ensure!(line == 1 && field.as_deref() == Some("format"), "{text}");
    ensure!(text.contains("not a Newsroom export"), "{text}");

    let (line, _, _) = record_error(import_text(&target, "").await)?;
    ensure!(line == 1);

    let broken = with_line(&file, 5, r#"{"type":"setting","key":"name","value":"#);
    let (line, field, text) = record_error(import_text(&target, &broken).await)?;
    ensure!(line == 5 && field.is_none(), "{text}");
    ensure!(text.contains("is not valid JSON"), "{text}");

    let unknown = with_line(&file, 3, r#"{"type":"user","username":"admin"}"#);
    let (line, field, text) = record_error(import_text(&target, &unknown).await)?;
    ensure!(line == 3 && field.as_deref() == Some("type"), "{text}");

    same_lines(&empty, &export_text(&target).await?)?;
    Ok(())
}

async fn importing_into_a_database_with_content_keeps_what_is_there(
    backend: Backend,
) -> anyhow::Result<()> {
    let file = demo_export().await?;
    let (_db, target) = TestDb::create(backend).await?;
    let txn = target.begin().await?;
    demo::seed(&txn, &segmenter()?).await?;
    txn.commit().await?;
    let before = export_text(&target).await?;
    same_lines(&file, &before)?;

    // The same content: nothing to do.
    let report = import_text(&target, &file).await?;
    ensure!(report.created.total() == 0, "{report:?}");
    ensure!(report.unchanged.articles == 301, "{report:?}");

    // New records are added beside what is there; a differing one stops it all.
    let header = file.lines().next().context("a header")?;
    let seed_line = file
        .lines()
        .find(|l| l.contains(&format!("\"slug\":\"{SEED_ARTICLE_SLUG}\"")))
        .context("the seed article")?;
    let mut changed: serde_json::Value = serde_json::from_str(seed_line)?;
    changed["title"] = "改过的标题".into();
    // Only bookkeeping differs: still the same article.
    let mut counted: serde_json::Value = serde_json::from_str(seed_line)?;
    counted["viewCount"] = 99_999.into();
    counted["updatedAt"] = "2030-01-01T00:00:00.000000Z".into();
    let new_tag = r#"{"type":"tag","slug":"xin-biao-qian","name":"新标签"}"#;

    let conflicting = format!("{header}\n{new_tag}\n{changed}\n");
    let (line, field, text) = record_error(import_text(&target, &conflicting).await)?;
    ensure!(line == 3 && field.as_deref() == Some("title"), "{text}");
    ensure!(text.contains("already exists"), "{text}");
    same_lines(&before, &export_text(&target).await?)?;

    let adding = format!("{header}\n{new_tag}\n{counted}\n");
    let report = import_text(&target, &adding).await?;
    ensure!(
        report.created.tags == 1 && report.created.total() == 1,
        "{report:?}"
    );
    ensure!(report.unchanged.articles == 1, "{report:?}");
    let after = export_text(&target).await?;
    ensure!(after.contains(
        r#""slug":"xin-biao-qian","name":"新标签","createdAt":"2026-01-01T00:00:00.000000Z""#
    ));
    ensure!(
        after.contains(seed_line),
        "the seed article kept its view count and times"
    );
    Ok(())
}
