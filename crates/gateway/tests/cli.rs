//! The `newsroom` binary as an operator runs it: start-up refusals that name the setting,
//! `user create` reading the password from standard input, and rebuilding the search index.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test: a failed setup step should fail the test loudly"
)]

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use newsroom_domain::{
    db,
    entities::Role,
    pagination::PageRequest,
    search::{self, SearchQuery, Segmenter},
    users,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("newsroom-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("cli.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn newsroom(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsroom"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("NEWSROOM_USER_PASSWORD")
        .env_remove("NEWSROOM_JWT_SECRET")
        .env_remove("NEWSROOM_ENV")
        .env_remove("NEWSROOM_BIND")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn wrong_settings_stop_the_start_and_name_the_setting() {
    let dir = TempDir::new();
    let url = dir.database_url();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("NEWSROOM_BIND", "not-an-address")], "NEWSROOM_BIND"),
        (&[("NEWSROOM_ENV", "staging")], "NEWSROOM_ENV"),
        (&[("DATABASE_URL", "mysql://localhost/x")], "DATABASE_URL"),
        (
            &[("NEWSROOM_ENV", "production"), ("DATABASE_URL", &url)],
            "NEWSROOM_JWT_SECRET",
        ),
        (
            &[("NEWSROOM_JWT_SECRET", "too-short"), ("DATABASE_URL", &url)],
            "NEWSROOM_JWT_SECRET",
        ),
    ];
    for (env, setting) in cases {
        let output = newsroom(&["serve"], env, None);
        assert!(!output.status.success(), "{env:?} started");
        assert!(
            stderr(&output).contains(setting),
            "{env:?}: {}",
            stderr(&output)
        );
    }
    let missing = newsroom(
        &["--config", "/nonexistent/newsroom.toml", "serve"],
        &[],
        None,
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("/nonexistent/newsroom.toml"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn user_create_reads_the_password_from_standard_input() {
    let dir = TempDir::new();
    let url = dir.database_url();
    let env = [("DATABASE_URL", url.as_str())];
    let created = newsroom(
        &[
            "user",
            "create",
            "--role",
            "editor",
            "--username",
            "zhao.haidong",
        ],
        &env,
        Some("一个足够长的密码-2020\n"),
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(String::from_utf8_lossy(&created.stdout).contains("created editor user zhao.haidong"));

    let again = newsroom(
        &[
            "user",
            "create",
            "--role",
            "admin",
            "--username",
            "zhao.haidong",
        ],
        &env,
        Some("another-long-password\n"),
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("username: is taken"),
        "{}",
        stderr(&again)
    );
    let short = newsroom(
        &["user", "create", "--role", "admin", "--username", "cheng"],
        &env,
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(stderr(&short).contains("password"), "{}", stderr(&short));

    // The environment works as well as standard input, and is not mistaken for a setting.
    let from_env = newsroom(
        &[
            "user",
            "create",
            "--role",
            "partner",
            "--username",
            "partner.sync",
        ],
        &[
            ("DATABASE_URL", url.as_str()),
            ("NEWSROOM_USER_PASSWORD", "环境变量里的长密码-2020"),
        ],
        None,
    );
    assert!(from_env.status.success(), "{}", stderr(&from_env));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let conn = db::connect(&url, 1).await.unwrap();
        let user = users::by_username(&conn, "zhao.haidong")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.role, Role::Editor);
        assert!(users::verify_password(
            "一个足够长的密码-2020",
            &user.password_hash
        ));
        assert!(users::by_username(&conn, "cheng").await.unwrap().is_none());
        let partner = users::by_username(&conn, "partner.sync")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(partner.role, Role::Partner);
        assert!(users::verify_password(
            "环境变量里的长密码-2020",
            &partner.password_hash
        ));
    });
}

#[test]
fn schema_prints_the_checked_in_sdl() {
    let output = newsroom(&["schema"], &[], None);
    assert!(output.status.success());
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), checked_in);
}

#[test]
fn openapi_prints_the_checked_in_document() {
    let output = newsroom(&["openapi"], &[], None);
    assert!(output.status.success());
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json"))
            .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout) == checked_in,
        "openapi.json is stale: run `make openapi` and commit the result"
    );
}

/// The binary allocates with jemalloc, with the settings of `.cargo/config.toml` compiled in:
/// jemalloc prints its options on exit when `_RJEM_MALLOC_CONF` asks for its statistics. On
/// glibc's malloc, or with jemalloc's defaults (10 s of dirty pages, no background thread), this
/// fails.
#[test]
#[cfg(not(target_env = "msvc"))]
fn the_binary_runs_on_jemalloc_with_its_compiled_settings() {
    let output = newsroom(
        &["schema"],
        &[("_RJEM_MALLOC_CONF", "stats_print:true")],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stats = stderr(&output);
    for option in [
        "opt.background_thread: true",
        "opt.dirty_decay_ms: 250",
        "opt.muzzy_decay_ms: 0",
    ] {
        assert!(
            stats.contains(option),
            "jemalloc's statistics lack {option:?}:\n{stats}"
        );
    }
}

/// The slugs the search for `q` finds first.
async fn search_slugs(conn: &DatabaseConnection, q: &str) -> Vec<String> {
    let segmenter = Segmenter::new(None).unwrap();
    let query = SearchQuery::parse(&segmenter, q).unwrap();
    let now = chrono::Utc::now();
    search::search(
        conn,
        now,
        newsroom_domain::articles::Audience::Reader,
        &query,
        &Default::default(),
        &PageRequest::first(5),
    )
    .await
    .unwrap()
    .items
    .into_iter()
    .map(|hit| hit.article.slug)
    .collect()
}

async fn empty_the_index(conn: &DatabaseConnection) {
    conn.execute_unprepared("DELETE FROM article_search")
        .await
        .unwrap();
    conn.execute_unprepared("DELETE FROM article_search_rank")
        .await
        .unwrap();
}

#[test]
fn reindex_rebuilds_the_search_index_in_batches_with_progress() {
    let dir = TempDir::new();
    let url = dir.database_url();
    let env = [("DATABASE_URL", url.as_str())];
    let seeded = newsroom(&["seed-demo"], &env, None);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let conn = runtime.block_on(db::connect(&url, 1)).unwrap();
    let seed = "nanchang-kaifaqu-2020-ganbu-dahui";
    assert_eq!(runtime.block_on(search_slugs(&conn, "双过半"))[0], seed);

    // An index emptied (or never built, as after upgrading to it) is rebuilt by `migrate`.
    runtime.block_on(empty_the_index(&conn));
    assert!(runtime.block_on(search_slugs(&conn, "双过半")).is_empty());
    let migrated = newsroom(&["migrate"], &env, None);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert_eq!(runtime.block_on(search_slugs(&conn, "双过半"))[0], seed);

    // `reindex` rebuilds it batch by batch, saying how far it got.
    runtime.block_on(empty_the_index(&conn));
    let reindexed = newsroom(&["reindex", "--batch", "100"], &env, None);
    assert!(reindexed.status.success(), "{}", stderr(&reindexed));
    let progress: Vec<String> = stderr(&reindexed)
        .lines()
        .filter(|l| l.starts_with("reindexed "))
        .map(String::from)
        .collect();
    assert_eq!(
        progress[..4],
        [
            "reindexed 100/301",
            "reindexed 200/301",
            "reindexed 300/301",
            "reindexed 301/301"
        ]
    );
    assert!(
        progress[4].starts_with("reindexed 301 articles in "),
        "{progress:?}"
    );
    assert_eq!(runtime.block_on(search_slugs(&conn, "双过半"))[0], seed);

    // Running it again changes nothing a reader sees; a batch of 0 is refused.
    let again = newsroom(&["reindex"], &env, None);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(runtime.block_on(search_slugs(&conn, "双过半"))[0], seed);
    let zero = newsroom(&["reindex", "--batch", "0"], &env, None);
    assert!(!zero.status.success());
    assert!(stderr(&zero).contains("--batch"), "{}", stderr(&zero));
}

#[test]
fn operations_are_registered_listed_and_removed() {
    let dir = TempDir::new();
    let url = dir.database_url();
    let env = [("DATABASE_URL", url.as_str())];
    let good = dir.0.join("site.graphql");
    std::fs::write(&good, "query Site { site { name } }").unwrap();
    let broken = dir.0.join("broken.graphql");
    std::fs::write(&broken, "query Broken { site { name }").unwrap();
    let hash = newsroom_domain::persisted::sha256_hex("query Site { site { name } }");

    let out = newsroom(
        &["operations", "register", good.to_str().unwrap()],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(printed.trim(), format!("{hash}  Site  registered"));
    let again = newsroom(
        &["operations", "register", good.to_str().unwrap()],
        &env,
        None,
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("already registered"));
    // A document that does not parse is refused with its position, and nothing is stored.
    let out = newsroom(
        &["operations", "register", broken.to_str().unwrap()],
        &env,
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("syntax error at line 1"),
        "{}",
        stderr(&out)
    );
    let listed = newsroom(&["operations", "list"], &env, None);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        format!("{hash}  Site")
    );

    let out = newsroom(&["operations", "remove", &hash.to_uppercase()], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = newsroom(&["operations", "remove", &hash], &env, None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no registered operation"),
        "{}",
        stderr(&out)
    );
    let listed = newsroom(&["operations", "list"], &env, None);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "");
}

#[test]
fn export_and_import_move_the_content_with_progress_and_refuse_a_bad_file() {
    let dir = TempDir::new();
    let from = dir.database_url();
    let to = format!("sqlite://{}?mode=rwc", dir.0.join("copy.db").display());
    let seeded = newsroom(&["seed-demo"], &[("DATABASE_URL", &from)], None);
    assert!(seeded.status.success(), "{}", stderr(&seeded));

    let file = dir.0.join("export.jsonl");
    let file_arg = file.to_str().unwrap();
    let exported = newsroom(
        &["export", "--output", file_arg, "--progress", "100"],
        &[("DATABASE_URL", &from)],
        None,
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let progress = stderr(&exported);
    assert!(progress.contains("exported 100 records\n"), "{progress}");
    assert!(progress.contains("301 articles) in "), "{progress}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("{\"format\":\"newsroom-export\",\"version\":1}\n"));

    let imported = newsroom(
        &["import", file_arg, "--progress", "100"],
        &[("DATABASE_URL", &to)],
        None,
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stderr(&imported).contains("read 300 records"),
        "{}",
        stderr(&imported)
    );
    let said = String::from_utf8_lossy(&imported.stdout).into_owned();
    assert!(said.contains("301 articles"), "{said}");
    let again = newsroom(&["export"], &[("DATABASE_URL", &to)], None);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout) == text,
        "the copy exports differently"
    );

    // A broken third line: the line is named and nothing is kept.
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = r#"{"type":"setting","key":"name","value":"#;
    let broken = dir.0.join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n")).unwrap();
    let fresh = format!("sqlite://{}?mode=rwc", dir.0.join("fresh.db").display());
    let refused = newsroom(
        &["import", broken.to_str().unwrap()],
        &[("DATABASE_URL", &fresh)],
        None,
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("line 3: is not valid JSON"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("nothing was imported"),
        "{}",
        stderr(&refused)
    );
    let empty = newsroom(&["export"], &[("DATABASE_URL", &fresh)], None);
    assert_eq!(
        String::from_utf8_lossy(&empty.stdout),
        "{\"format\":\"newsroom-export\",\"version\":1}\n"
    );
}

#[test]
fn ingest_reports_each_feed_and_fails_when_one_failed() {
    let dir = TempDir::new();
    let url = dir.database_url();
    let env = [("DATABASE_URL", url.as_str())];
    // A source whose feed is on a port nothing listens on, brought in by an import.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let file = format!(
        "{{\"format\":\"newsroom-export\",\"version\":1}}\n\
         {{\"type\":\"channel\",\"slug\":\"news\",\"name\":\"新闻\"}}\n\
         {{\"type\":\"source\",\"slug\":\"gone\",\"name\":\"停刊的报纸\",\"license\":\"cc_by\",\
           \"feedUrl\":\"http://127.0.0.1:{port}/rss.xml\",\"feedChannel\":\"news\"}}\n"
    );
    let imported = newsroom(&["import", "-"], &env, Some(&file));
    assert!(imported.status.success(), "{}", stderr(&imported));

    let unknown = newsroom(&["ingest", "--source", "nope"], &env, None);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("`nope`"), "{}", stderr(&unknown));

    let ingested = newsroom(&["ingest"], &env, None);
    assert!(!ingested.status.success());
    let said = String::from_utf8_lossy(&ingested.stdout).into_owned();
    assert!(
        said.starts_with("gone: failed: could not connect"),
        "{said}"
    );
    assert!(
        stderr(&ingested).contains("1 of 1 feeds could not be taken in"),
        "{}",
        stderr(&ingested)
    );
}
