//! Opening the database: SQLite (embedded default) or PostgreSQL, through the same code.

use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    SqliteTransactionMode, SqlxError, SqlxPostgresError, SqlxSqliteError, TransactionOptions,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, extension::postgres::PgFunc},
    sqlx::{
        error::DatabaseError,
        sqlite::{SqliteJournalMode, SqliteSynchronous},
    },
};

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` and `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or `None` for a scheme we do not support.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0;
        match scheme {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// The file a SQLite URL names, if it names one (not `sqlite::memory:`).
pub fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.starts_with(":memory:")).then_some(path)
}

/// How a pool waits for the database. The defaults are what the server runs with unless
/// configured otherwise (`NEWSROOM_DB_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a query waits for a connection, opening one included, before it fails. When the
    /// database is down this is how long a request takes to fail, so it is short.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a write waits for another writer's lock before it fails.
    pub busy_timeout: Duration,
    /// PostgreSQL only: plan each prepared statement once per connection (`plan_cache_mode =
    /// force_generic_plan`) instead of letting PostgreSQL re-plan it at every execution, which
    /// it does for the article lists: with their time and limit as parameters the generic plan
    /// never looks cheaper than a custom one, and planning against `articles`' partial indexes
    /// costs more than running the statement. Every statement is shaped by its indexes and
    /// limits, not by its parameters' values, so the generic plan is the custom one.
    pub generic_plans: bool,
}

impl PoolOptions {
    /// The defaults with `max_connections` connections.
    pub fn with_max(max_connections: u32) -> Self {
        PoolOptions {
            max_connections,
            ..PoolOptions::default()
        }
    }
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(5),
            generic_plans: true,
        }
    }
}

/// How long a connection may have been idle in the pool before it is tested on its way out. When
/// it came back it had just finished an exchange with the database (or passed a test, after one
/// that did not finish); one idle for less than this is handed out untested, so a connection the
/// database dropped within that moment fails one statement (an unavailable error, `503`) and is
/// then tested and closed as it comes back. Under load connections are idle for well under a
/// millisecond, so they are not tested at all.
pub const TEST_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens a pool of `max_connections` on `url` with the default timeouts; see [`connect_with`].
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, PoolOptions::with_max(max_connections)).await
}

/// Opens a pool on `url`. For a SQLite file the folder is created first, and every connection
/// uses WAL (readers never wait for the writer), a busy timeout instead of immediate lock errors,
/// and enforced foreign keys.
///
/// A connection the database dropped during an outage is replaced, not used, once it is back:
/// the pool tests a connection before handing it out if it has sat idle for
/// [`TEST_IF_IDLE_FOR`], and (the patched sqlx, vendor/README.md) as it comes back unless its
/// last exchange ran to completion, so one that failed is found dead and closed. sqlx by default
/// tests every connection both ways, which cost each statement two extra round trips, both
/// processes waking for each: without them the uncached home page served 9% and then 20% more.
pub async fn connect_with(url: &str, pool: PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let backend = Backend::of_url(url)
        .ok_or_else(|| DbErr::Custom("DATABASE_URL must start with sqlite: or postgres:".into()))?;
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            DbErr::Custom(format!("cannot create the folder {}: {e}", dir.display()))
        })?;
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool.max_connections)
        .min_connections(1)
        .connect_timeout(pool.acquire_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .test_before_acquire_if_idle_for(TEST_IF_IDLE_FOR)
        .sqlx_logging(false);
    if backend == Backend::Postgres && pool.generic_plans {
        options.map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_generic_plan")]));
    }
    if backend == Backend::Sqlite {
        let busy = pool.busy_timeout;
        options.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy)
                .foreign_keys(true)
        });
    }
    Database::connect(options).await
}

/// Whether `err` means the database could not be reached or is refusing work for now (no
/// connection within the acquire timeout, a connection lost, the server shutting down or out of
/// connections, SQLite's lock held past the busy timeout), as opposed to a fault of the statement
/// or the data. Such an error is worth retrying later; the gateway answers it with a 503.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(err: &SqlxError) -> bool {
    match err {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<SqlxPostgresError>() {
                // Class 08: connection exceptions; 57P01-57P03: the server is shutting down,
                // crashed or starting; 53300: too many connections.
                let code = pg.code();
                code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
            } else if let Some(code) = db
                .try_downcast_ref::<SqlxSqliteError>()
                .and_then(|e| e.code())
            {
                // The primary result code (the low byte of the extended one): SQLITE_BUSY (5),
                // SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_CANTOPEN (14).
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 14))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that read first and then tries to write fails at once
/// with "database is locked" when another writer got there in between, where an immediate one
/// simply waits its turn (up to the busy timeout). PostgreSQL ignores the option.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// `column IN (ids)`, as the backend runs it best.
///
/// On PostgreSQL it is `column = ANY($1)`, the ids bound as one `bigint[]`. `IN ($1, …, $n)` is
/// a statement of its own for every count of ids, each prepared anew on every connection; and
/// under the generic plans the pool asks for, PostgreSQL builds the array of `$1 … $n` again for
/// every row it filters. The home page's channels and sources are small tables it scans whole,
/// and that came to about 30 µs of the database's CPU a page (perf, against pgbench running the
/// same statements with the ids written in). SQLite has no arrays: `IN` there.
///
/// One id is `column = $1` on both: an article page asks for one channel, one source and one
/// article's tags, and PostgreSQL runs `= ANY` over an array as an index scan with array keys,
/// which costs more than a plain key (pgbench, the article page's statements with the three
/// lists as one-element arrays: 8% fewer pages a second than with `=`).
pub fn id_in<C: ColumnTrait>(backend: DbBackend, column: C, ids: &[i64]) -> Expr {
    match (backend, ids) {
        (_, [id]) => column.into_expr().eq(*id),
        (DbBackend::Postgres, _) => column.into_expr().eq(PgFunc::any(Expr::val(ids.to_vec()))),
        _ => column.is_in(ids.iter().copied()),
    }
}

/// Rewrites `?` placeholders as `$1, $2, ...` for PostgreSQL.
///
/// The text between them is copied a run at a time (`split` finds each `?` with a fast byte
/// search); a `char` at a time, this was 2.3% of the article page's instructions, when the
/// related articles' statement was still built for each request (it is built once now).
pub fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut number = itoa::Buffer::new();
    for (n, run) in sql.split('?').enumerate() {
        if n > 0 {
            out.push('$');
            out.push_str(number.format(n));
        }
        out.push_str(run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            placeholders(DbBackend::Postgres, "a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(
            placeholders(DbBackend::Postgres, "?? IN (?,?) 南昌?"),
            "$1$2 IN ($3,$4) 南昌$5"
        );
        assert_eq!(placeholders(DbBackend::Postgres, "SELECT 1"), "SELECT 1");
        assert_eq!(placeholders(DbBackend::Postgres, ""), "");
        let many = ["?"; 12].join(",");
        assert_eq!(
            placeholders(DbBackend::Postgres, &many),
            (1..=12)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(placeholders(DbBackend::Sqlite, "a = ?"), "a = ?");
    }

    #[test]
    fn urls_are_recognised() {
        assert_eq!(
            Backend::of_url("sqlite://data/newsroom.db?mode=rwc"),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::of_url("postgres://postgres@127.0.0.1/x"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://x"), None);
        assert_eq!(Backend::of_url("newsroom.db"), None);
        assert_eq!(
            sqlite_file("sqlite://data/newsroom.db?mode=rwc"),
            Some("data/newsroom.db")
        );
        assert_eq!(sqlite_file("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }

    #[test]
    fn lost_connections_and_timeouts_are_unavailability() {
        use std::sync::Arc;
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        let reset = SqlxError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_unavailable(&DbErr::Query(RuntimeErr::SqlxError(
            Arc::new(reset)
        ))));
        assert!(is_unavailable(&DbErr::Conn(RuntimeErr::SqlxError(
            Arc::new(SqlxError::PoolTimedOut)
        ))));
        assert!(!is_unavailable(&DbErr::Query(RuntimeErr::SqlxError(
            Arc::new(SqlxError::RowNotFound)
        ))));
        assert!(!is_unavailable(&DbErr::Custom("bad data".into())));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
    }

    #[tokio::test]
    async fn a_held_sqlite_write_lock_is_unavailability_and_bad_sql_is_not() {
        use sea_orm::ConnectionTrait;
        let dir = std::env::temp_dir().join(format!("newsroom-db-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let options = PoolOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_millis(20),
            ..PoolOptions::default()
        };
        let holder = connect_with(&url, options).await.unwrap();
        let waiter = connect_with(&url, options).await.unwrap();
        holder
            .execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let lock = begin_write(&holder).await.unwrap();
        let err = waiter
            .execute_unprepared("INSERT INTO t (x) VALUES (1)")
            .await
            .unwrap_err();
        assert!(is_unavailable(&err), "{err}");
        lock.rollback().await.unwrap();
        waiter
            .execute_unprepared("INSERT INTO t (x) VALUES (1)")
            .await
            .unwrap();
        let err = waiter
            .execute_unprepared("INSERT INTO no_such_table (x) VALUES (1)")
            .await
            .unwrap_err();
        assert!(!is_unavailable(&err), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
