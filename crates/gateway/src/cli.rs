//! The `newsroom` command line: `serve` (the default), `migrate`, `seed-demo`, `schema`,
//! `openapi`, `user`, `reindex`, `export`, `import`, `ingest`.

use std::{
    io::{BufRead, BufReader, BufWriter, Write},
    path::PathBuf,
    sync::Arc,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use migration::{Migrator, MigratorTrait};
use newsroom_domain::{
    clock::{Clock, SystemClock},
    db, demo,
    entities::Role,
    ingest, persisted,
    search::{self, Segmenter},
    transfer, users,
};
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::{
    app::Application,
    auth::AuthKeys,
    config::{Config, Environment},
    graphql,
    ingest::{Fetcher, IngestSettings, Outcome},
};

/// Newsroom: a headless GraphQL content API for news portals.
#[derive(Debug, Parser)]
#[command(name = "newsroom", version)]
pub struct Cli {
    /// A TOML configuration file; environment variables override it.
    #[arg(long, global = true, env = "NEWSROOM_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve {
        /// Load the demo content first when the database holds no articles.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Load the demo content; running it again never duplicates anything.
    SeedDemo,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Print the OpenAPI 3.1 document of the REST API (JSON).
    Openapi,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage registered GraphQL operations (the allow-list; also known by hash to automatic
    /// persisted queries).
    #[command(subcommand)]
    Operations(OperationsCommand),
    /// Rebuild the search index from the articles, after the dictionary (NEWSROOM_SEARCH_DICT)
    /// changed. Search keeps working meanwhile; progress goes to standard error.
    Reindex {
        /// Articles per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        batch: u64,
    },
    /// Write every setting, channel, source, tag, page and article to JSON Lines (see the
    /// README); progress goes to standard error.
    Export {
        /// The file to write; standard output when omitted.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Report progress every this many records.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        progress: u64,
    },
    /// Read an export into the database in one transaction: all of it, or nothing when any
    /// record is bad or conflicts with what is there.
    Import {
        /// The file to read; `-` for standard input.
        file: PathBuf,
        /// Report progress every this many records.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        progress: u64,
    },
    /// Fetch sources' feeds now and take their new items in as drafts.
    Ingest {
        /// Only this source (by slug); may be given more than once. Every source with a feed
        /// when omitted.
        #[arg(long = "source")]
        sources: Vec<String>,
    },
}

/// `newsroom user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from NEWSROOM_USER_PASSWORD or, when that is unset,
    /// from the first line of standard input; never from an argument, which other users of the
    /// machine could see.
    Create {
        /// The sign-in name.
        #[arg(long)]
        username: String,
        /// What the user may do.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

/// `newsroom operations ...`.
#[derive(Debug, Subcommand)]
pub enum OperationsCommand {
    /// Register each file's GraphQL document, exactly as the client will send it; prints its
    /// SHA-256, the hash clients name it by.
    Register {
        /// Files holding one GraphQL document each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List registered operations: hash, name.
    List,
    /// Remove a registered operation by its hash.
    Remove {
        /// The SHA-256 `register` printed.
        sha256: String,
    },
}

/// A role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Everything, including API tokens.
    Admin,
    /// Writes and publishes content.
    Editor,
    /// A syndication partner.
    Partner,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Editor => Role::Editor,
            RoleArg::Partner => Role::Partner,
        }
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve { demo: false });
    match command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            return Ok(());
        }
        Command::Openapi => {
            print!("{}", crate::rest::openapi::json());
            return Ok(());
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    crate::ops::init_tracing(&config);
    match command {
        Command::Schema | Command::Openapi => Ok(()),
        Command::Migrate => {
            let db = connect(&config).await?;
            migrate(&db, &config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::SeedDemo => {
            let db = connect(&config).await?;
            migrate(&db, &config).await?;
            seed(&db, &segmenter(&config)?).await
        }
        Command::Reindex { batch } => {
            let db = connect(&config).await?;
            apply_migrations(&db).await?;
            reindex(&db, &segmenter(&config)?, batch).await
        }
        Command::Serve { demo } => serve(config, demo).await,
        Command::Export { output, progress } => {
            let db = connect(&config).await?;
            apply_migrations(&db).await?;
            export(&db, output, progress).await
        }
        Command::Import { file, progress } => {
            let db = connect(&config).await?;
            migrate(&db, &config).await?;
            import(&db, &segmenter(&config)?, &file, progress).await
        }
        Command::Ingest { sources } => {
            let db = connect(&config).await?;
            migrate(&db, &config).await?;
            ingest(&db, &segmenter(&config)?, &config, &sources).await
        }
        Command::Operations(command) => {
            let db = connect(&config).await?;
            migrate(&db, &config).await?;
            operations(&db, command).await
        }
        Command::User(UserCommand::Create { username, role }) => {
            let password = match std::env::var("NEWSROOM_USER_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    eprintln!("password for {username} (one line on standard input):");
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\n', '\r']).to_owned()
                }
            };
            let db = connect(&config).await?;
            migrate(&db, &config).await?;
            let user = users::create(&db, &username, &password, role.into(), SystemClock.now())
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the user: {e}"))?;
            println!(
                "created {} user {} (id {})",
                role_name(user.role),
                user.username,
                user.id
            );
            Ok(())
        }
    }
}

/// `newsroom operations ...`: a document must parse to be registered.
async fn operations(db: &DatabaseConnection, command: OperationsCommand) -> anyhow::Result<()> {
    match command {
        OperationsCommand::Register { files } => {
            for file in files {
                let query = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let doc = graphql::limits::parse(&query)
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message))?;
                let name = doc
                    .operations
                    .iter()
                    .find_map(|(name, _)| name.map(|n| n.to_string()));
                let (row, new) =
                    persisted::register(db, &query, name.as_deref(), SystemClock.now())
                        .await
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                println!(
                    "{}  {}  {}",
                    row.sha256,
                    row.name.as_deref().unwrap_or("-"),
                    if new {
                        "registered"
                    } else {
                        "already registered"
                    }
                );
            }
            Ok(())
        }
        OperationsCommand::List => {
            for row in persisted::list(db).await? {
                println!("{}  {}", row.sha256, row.name.as_deref().unwrap_or("-"));
            }
            Ok(())
        }
        OperationsCommand::Remove { sha256 } => {
            let sha256 = sha256.to_ascii_lowercase();
            anyhow::ensure!(
                persisted::remove(db, &sha256).await?,
                "no registered operation has the hash {sha256}"
            );
            println!("removed {sha256}");
            Ok(())
        }
    }
}

async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    db::connect_with(&config.database_url, config.pool_options())
        .await
        .with_context(|| {
            format!(
                "connecting to the database named by DATABASE_URL ({})",
                redact(&config.database_url)
            )
        })
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The segmenter: jieba's dictionary, ours, and the site's (`NEWSROOM_SEARCH_DICT`) when set.
/// Loading them takes a moment, so this runs once per process.
pub fn segmenter(config: &Config) -> anyhow::Result<Segmenter> {
    let extra = config
        .search_dict
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("reading NEWSROOM_SEARCH_DICT ({})", path.display()))
        })
        .transpose()?;
    Segmenter::new(extra.as_deref()).context("loading NEWSROOM_SEARCH_DICT")
}

/// Applies pending migrations. When that leaves an empty search index beside articles (the index
/// was just created for a database that had content), builds it, so search works after an
/// upgrade without another step.
async fn migrate(db: &DatabaseConnection, config: &Config) -> anyhow::Result<()> {
    apply_migrations(db).await?;
    if search::index::needs_rebuild(db).await? {
        tracing::info!("the search index is empty: building it from the articles");
        reindex(db, &segmenter(config)?, 500).await?;
    }
    Ok(())
}

async fn apply_migrations(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations")
}

/// Rebuilds the search index, reporting progress on standard error.
async fn reindex(db: &DatabaseConnection, segmenter: &Segmenter, batch: u64) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let done = search::rebuild(db, segmenter, batch, |done, total| {
        eprintln!("reindexed {done}/{total}");
    })
    .await
    .context("rebuilding the search index")?;
    eprintln!(
        "reindexed {done} articles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `newsroom export`: to a file (removed again if the export fails) or standard output.
async fn export(
    db: &DatabaseConnection,
    output: Option<PathBuf>,
    every: u64,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let progress = |n: u64| {
        if n.is_multiple_of(every) {
            eprintln!("exported {n} records");
        }
    };
    let counts = match &output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = BufWriter::new(file);
            let written = transfer::export(db, &mut out, progress).await;
            if written.is_err() {
                drop(out);
                let _ = std::fs::remove_file(path);
            }
            written.with_context(|| format!("exporting to {}", path.display()))?
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            transfer::export(db, &mut out, progress)
                .await
                .context("exporting")?
        }
    };
    eprintln!(
        "exported {} records ({counts}) in {:.1} s",
        counts.total(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `newsroom import`: the whole file in one transaction, or nothing.
async fn import(
    db: &DatabaseConnection,
    segmenter: &Segmenter,
    file: &std::path::Path,
    every: u64,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let report = transfer::import(db, segmenter, reader.lines(), SystemClock.now(), |n| {
        if n.is_multiple_of(every) {
            eprintln!("read {n} records");
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
    println!(
        "imported {} records ({}); {} were already there as they are in the file ({}); in {:.1} s",
        report.created.total(),
        report.created,
        report.unchanged.total(),
        report.unchanged,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `newsroom ingest`: every feed (or the named sources'), one after another, whatever their
/// schedule; fails when any feed failed, after trying them all.
async fn ingest(
    db: &DatabaseConnection,
    segmenter: &Segmenter,
    config: &Config,
    only: &[String],
) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(IngestSettings::from_config(config))?;
    let mut sources = ingest::sources_with_feeds(db).await?;
    if !only.is_empty() {
        if let Some(unknown) = only
            .iter()
            .find(|slug| !sources.iter().any(|s| &s.slug == *slug))
        {
            bail!("no source with a feed has the slug `{unknown}`");
        }
        sources.retain(|s| only.contains(&s.slug));
    }
    let mut failed = 0;
    for source in &sources {
        let outcome =
            crate::ingest::ingest_source(db, segmenter, &fetcher, source, SystemClock.now())
                .await?;
        match outcome {
            Outcome::Stored(report) => {
                println!(
                    "{}: {} new drafts, {} items already taken in, {} skipped",
                    source.slug,
                    report.created.len(),
                    report.known,
                    report.skipped.len()
                );
                for skipped in report.skipped {
                    println!("  item {} skipped: {}", skipped.position, skipped.reason);
                }
            }
            Outcome::Failed {
                error,
                next_attempt_at,
            } => {
                failed += 1;
                println!(
                    "{}: failed: {error} (the next attempt is due at {next_attempt_at})",
                    source.slug
                );
            }
        }
    }
    let _ = std::io::stdout().flush();
    if failed > 0 {
        bail!(
            "{failed} of {} feeds could not be taken in; nothing of them was kept",
            sources.len()
        );
    }
    Ok(())
}

async fn seed(db: &DatabaseConnection, segmenter: &Segmenter) -> anyhow::Result<()> {
    let txn = db.begin().await?;
    let report = demo::seed(&txn, segmenter)
        .await
        .context("loading the demo content")?;
    let recent = demo::seed_recent_views(&txn, SystemClock.now())
        .await
        .context("loading the demo's recent views")?;
    txn.commit().await?;
    tracing::info!(?report, recent_view_buckets = recent, "demo content loaded");
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Editor => "editor",
        Role::Partner => "partner",
    }
}

async fn serve(config: Config, load_demo: bool) -> anyhow::Result<()> {
    // Keys first: a missing secret in production should stop the start before anything else.
    let auth = AuthKeys::from_config(&config)?;
    let segmenter = segmenter(&config)?;
    let db = connect(&config).await?;
    match config.env {
        Environment::Development => migrate(&db, &config).await?,
        Environment::Production => {
            let pending = Migrator::get_pending_migrations(&db).await?.len();
            if pending > 0 {
                bail!(
                    "{pending} migration(s) pending: run `newsroom migrate` before serving in production"
                );
            }
        }
    }
    if load_demo && demo::is_empty(&db).await? {
        seed(&db, &segmenter).await?;
    }
    let app = Application::build(&config, auth, db, Arc::new(SystemClock), segmenter)
        .await
        .with_context(|| format!("listening on NEWSROOM_BIND ({})", config.bind))?;
    let base = format!("http://{}:{}", config.bind.ip(), app.port());
    tracing::info!("serving GraphQL at {base}/graphql");
    println!("Newsroom is up. GraphQL endpoint: {base}/graphql  query console: {base}/");
    app.stop_on_signals()
        .context("listening for SIGTERM and SIGINT")?;
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/news"),
            "postgres://app@db:5432/news"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact("sqlite://data/newsroom.db?mode=rwc"),
            "sqlite://data/newsroom.db?mode=rwc"
        );
    }
}
