//! The database: one code path over SQLite (the embedded default) and
//! PostgreSQL, through sqlx's `Any` driver.
//!
//! Queries use `$1`-style parameters, which both engines understand, and the
//! portable column types (text, 64-bit integers). Each backend has its own
//! migration folder; they move in lockstep and a test compares the schemas.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a `DATABASE_URL` names, or `None` for any other scheme.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

mod bulk;
pub mod copy;
mod replica;
pub use bulk::{encode_rows, RowSet, Statement, StepError, Steps, Value};
pub use replica::ReplicaHealth;

pub type Tx = Transaction<'static, Any>;
pub type Row = AnyRow;
/// One connection, pooled or not; a transaction's statements run on it.
pub type Conn = sqlx::AnyConnection;

/// What SQLite connections set before their first statement: WAL lets
/// readers run beside the one writer; the busy timeout makes a second
/// writer wait instead of failing. Checkpoints run in the background
/// ([`Db::checkpoint_in_background`]), so a commit only appends to the
/// WAL; the automatic checkpoint stays as a backstop, at 40 MB of WAL
/// instead of 4. The page cache stays at SQLite's 2 MiB per connection:
/// 16 MiB measured no faster for the overview (docs/BENCHMARKS.md).
const SQLITE_PRAGMAS: &str = "pragma journal_mode = wal; pragma synchronous = normal; \
                              pragma foreign_keys = on; pragma busy_timeout = 5000; \
                              pragma temp_store = memory; pragma wal_autocheckpoint = 10000; \
                              pragma journal_size_limit = 67108864;";

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: std::sync::Arc<str>,
    /// A PostgreSQL read replica for heavy reads, when one is configured.
    replica: Option<std::sync::Arc<replica::Replica>>,
}

impl Db {
    /// Connects and applies any pending migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            sqlx::Error::Configuration(format!("unsupported database URL scheme in {url}").into())
        })?;
        // No ping before each acquire: it costs a round trip on every
        // query, and a connection that died fails its query and is dropped.
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false);
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(url).await?,
        };
        let db = Self {
            pool,
            backend,
            url: url.into(),
            replica: None,
        };
        db.migrator().run(&db.pool).await?;
        Ok(db)
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Adds a PostgreSQL read replica at `url` for [`Db::reads`]; heavy
    /// reads go to it while it answers and is at most `max_lag` behind.
    /// Connects lazily: a replica that is down now is not an error.
    pub fn with_replica(mut self, url: &str, max_lag: Duration) -> Result<Self, sqlx::Error> {
        if self.backend != Backend::Postgres || Backend::from_url(url) != Some(Backend::Postgres) {
            return Err(sqlx::Error::Configuration(
                "a read replica needs PostgreSQL for both the database and the replica".into(),
            ));
        }
        self.replica = Some(std::sync::Arc::new(replica::Replica::open(url, max_lag)?));
        Ok(self)
    }

    /// The database for a heavy read that may be a moment behind (reports,
    /// history, exports): the replica while it is in use, else this one.
    /// Never for writes, nor for reading what the caller just wrote.
    pub fn reads(&self) -> Db {
        match self.replica.as_ref().and_then(|r| r.pool_if_usable()) {
            Some(pool) => Db {
                pool: pool.clone(),
                backend: self.backend,
                url: self.url.clone(),
                replica: None,
            },
            None => self.clone(),
        }
    }

    /// The replica's health and last measured lag, when one is configured.
    pub fn replica(&self) -> Option<(ReplicaHealth, Duration)> {
        self.replica.as_ref().map(|r| (r.health(), r.lag()))
    }

    /// Measures the replica's lag twice a second until `shutdown`, moving
    /// [`Db::reads`] between it and the primary. `None` without a replica.
    pub fn watch_replica(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let replica = self.replica.clone()?;
        Some(tokio::spawn(async move { replica.watch(shutdown).await }))
    }

    /// A connection of its own, outside the pool, set up as pooled ones
    /// are: for a task that writes all day (the movement writer) and
    /// should never wait for the pool or share its connection.
    pub async fn connect_one(&self) -> Result<Conn, sqlx::Error> {
        use sqlx::Connection as _;
        let mut conn = Conn::connect(&self.url).await?;
        if self.backend == Backend::Sqlite {
            conn.execute(SQLITE_PRAGMAS).await?;
        }
        Ok(conn)
    }

    /// Opens a transaction that will write. On SQLite it takes the write
    /// lock up front, so two writers queue instead of one failing when it
    /// upgrades from reading to writing.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("begin immediate").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// SQLite: copies the WAL into the database file every
    /// [`CHECKPOINT_EVERY`], without waiting for readers or the writer
    /// (`passive`), so that work is not done inside a commit. Nothing to
    /// do on PostgreSQL. Ends when `shutdown` turns true.
    pub fn checkpoint_in_background(
        &self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let pool = self.pool.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
                    _ = shutdown.changed() => return,
                }
                if *shutdown.borrow() {
                    return;
                }
                if let Err(error) = sqlx::query("pragma wal_checkpoint(passive)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(%error, "background WAL checkpoint failed; the next one tries again");
                }
            }
        }))
    }

    /// Migrations embedded in this binary that the database has not applied.
    /// Zero means the schema is current.
    pub async fn pending_migrations(&self) -> Result<usize, sqlx::Error> {
        let applied: Vec<i64> =
            sqlx::query_scalar("select version from _sqlx_migrations where success = true")
                .fetch_all(&self.pool)
                .await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .count())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// A tiny builder for SQL with numbered parameters.
#[derive(Default, Clone)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

#[derive(Clone)]
enum Arg {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

impl Sql {
    /// A builder with `$1` already bound to `v`, for statements that name
    /// `$1` themselves (several times, in fixed fragments); the values
    /// added after it are `$2` on.
    pub fn with_first(v: impl Into<String>) -> Self {
        Self {
            text: String::new(),
            args: vec![Arg::Text(v.into())],
        }
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    pub fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.args.push(Arg::Text(v.into()));
        let n = self.args.len();
        self.text.push_str(&format!("${n}"));
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.args.push(Arg::Int(v));
        let n = self.args.len();
        self.text.push_str(&format!("${n}"));
        self
    }
    pub fn opt_text(&mut self, v: Option<String>) -> &mut Self {
        self.args.push(Arg::OptText(v));
        let n = self.args.len();
        self.text.push_str(&format!("${n}"));
        self
    }
    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        self.args.push(Arg::OptInt(v));
        let n = self.args.len();
        self.text.push_str(&format!("${n}"));
        self
    }
    /// Appends `($1, $2, …)`, one bound text per item, for `in` lists.
    pub fn text_list<S: AsRef<str>>(&mut self, items: &[S]) -> &mut Self {
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(item.as_ref());
        }
        self.push(")")
    }
    /// Appends `(a, b, …), (…)`: one parenthesized group per row, each
    /// filled by `row`, for a multi-row insert.
    pub fn rows<T>(
        &mut self,
        items: &[T],
        mut row: impl FnMut(&mut RowValues<'_>, &T),
    ) -> &mut Self {
        for (i, item) in items.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            let mut values = RowValues {
                sql: self,
                first: true,
            };
            row(&mut values, item);
            self.push(")");
        }
        self
    }
    /// How many arguments are bound so far.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
                Arg::OptText(s) => q.bind(s.as_deref()),
                Arg::OptInt(i) => q.bind(*i),
            };
        }
        q
    }

    /// This query inside another: `before` + this + `after`, same arguments.
    pub fn wrapped(&self, before: &str, after: &str) -> Self {
        Self {
            text: format!("{before}{}{after}", self.text),
            args: self.args.clone(),
        }
    }
}

/// The values of one row in [`Sql::rows`], comma-separated as added.
pub struct RowValues<'a> {
    sql: &'a mut Sql,
    first: bool,
}

impl RowValues<'_> {
    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.sql.push(", ");
        }
    }
    pub fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.comma();
        self.sql.text(v);
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.comma();
        self.sql.int(v);
        self
    }
    pub fn opt_text(&mut self, v: Option<String>) -> &mut Self {
        self.comma();
        self.sql.opt_text(v);
        self
    }
    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        self.comma();
        self.sql.opt_int(v);
        self
    }
}

/// A `like` pattern matching `q` anywhere, lowercased, with its wildcards
/// escaped (use with `escape '\'`).
pub fn contains_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Now, in UTC milliseconds since the Unix epoch: the storage form of time.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Formats a stored time for people: `2026-11-22 14:05 UTC`.
pub fn format_time(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown time".into())
}

/// True when the error is a unique-constraint violation, so the caller can
/// turn a race between two identical requests into a friendly conflict.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_a_backend() {
        assert_eq!(
            Backend::from_url("sqlite://data/larder.db"),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://h/db"), None);
    }

    #[test]
    fn rows_number_their_arguments_in_order() {
        let mut sql = Sql::default();
        sql.push("insert into t (a, b, c) values ");
        sql.rows(&[(1, "x"), (2, "y")], |r, (n, s)| {
            r.int(*n).text(*s).opt_int(None);
        });
        assert_eq!(
            sql.text,
            "insert into t (a, b, c) values ($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(sql.arg_count(), 6);
    }

    #[test]
    fn times_format_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
    }
}
