//! Storage on both backends: one connection enum over PostgreSQL and bundled SQLite, an r2d2
//! pool whose manager picks the backend from the URL scheme, embedded per-backend migrations,
//! and the few places where the backends must be told apart.

pub mod schema;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The query backend of [`DbConnection`], for boxed queries.
pub type Db = <DbConnection as Connection>::Backend;

pub type Pool = r2d2::Pool<Manager>;

/// A pooled connection with a mark for "do not reuse me", and its database's writer.
pub struct PoolConn {
    conn: DbConnection,
    broken: bool,
    writer: Option<Arc<Writer>>,
}

/// SQLite: the one connection of a pool that writes, used by every `write_tx` of the pool in
/// turn. SQLite has one writer at a time anyway; waiting writers queue on this mutex, woken as
/// soon as it is free, instead of in SQLite's busy handler (sleeps of up to 100 ms). A
/// connection drops its page cache whenever another connection has written: with one writing
/// connection, the pages a booking touches stay cached from one booking to the next.
///
/// Group commit: a `write_tx` runs in a savepoint of a transaction that writers hand on to
/// each other while some are waiting (up to [`GROUP_MAX`]), and the last one commits for all.
/// Each waits for that commit before it returns, so nobody is told "done" before the work is
/// durable, and a failed commit fails every member. A member whose own work fails is rolled
/// back to its savepoint alone. One commit (the log write, the checkpoint) then serves many
/// bookings instead of one.
pub struct Writer {
    target: Target,
    conn: std::sync::Mutex<Option<DbConnection>>,
    /// Writers blocked on `conn`.
    waiting: std::sync::atomic::AtomicUsize,
    groups: std::sync::Mutex<Groups>,
    committed: std::sync::Condvar,
}

/// The open transaction shared by a group, and how the last groups ended.
#[derive(Default)]
struct Groups {
    /// The open group: its number and how many writers joined it.
    open: Option<(u64, usize)>,
    last: u64,
    /// The highest group number that has ended (committed or failed), and recent failures.
    ended: u64,
    failed: std::collections::VecDeque<(u64, String)>,
}

/// The most writers one transaction serves: enough to share a commit, few enough that the
/// first of them does not wait long.
const GROUP_MAX: usize = 32;

thread_local! {
    /// The writer of the pool `run` took the current connection from (see `exclusive`).
    static CURRENT_WRITER: std::cell::RefCell<Option<Arc<Writer>>> =
        const { std::cell::RefCell::new(None) };
}

impl std::ops::Deref for PoolConn {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where the database is, as read from a URL: the scheme picks the backend explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Postgres(String),
    /// A SQLite file, created if `create` is set (the URL said `sqlite://`).
    Sqlite {
        path: String,
        create: bool,
    },
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            anyhow::ensure!(!path.is_empty(), "DATABASE_URL sqlite:// names no file");
            return Ok(Target::Sqlite {
                path: path.to_owned(),
                create: true,
            });
        }
        if let Some((scheme, _)) = url.split_once("://") {
            anyhow::bail!(
                "DATABASE_URL scheme {scheme}:// is not supported; use sqlite://PATH or postgres://…"
            );
        }
        anyhow::ensure!(!url.is_empty(), "DATABASE_URL is empty");
        // A bare path must name an existing file, so a typo never creates an empty database.
        anyhow::ensure!(
            Path::new(url).is_file(),
            "no SQLite database at {url}; write sqlite://{url} to create one"
        );
        Ok(Target::Sqlite {
            path: url.to_owned(),
            create: false,
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// What may be logged: the backend and place, never a password.
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres(url) => {
                let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
                let host = after_scheme
                    .rsplit_once('@')
                    .map_or(after_scheme, |(_, h)| h);
                let host = host.split('?').next().unwrap_or(host);
                format!("postgres://{host}")
            }
            Target::Sqlite { path, .. } => format!("sqlite://{path}"),
        }
    }

    fn connect(&self) -> anyhow::Result<DbConnection> {
        match self {
            Target::Postgres(url) => {
                let conn = PgConnection::establish(url)
                    .with_context(|| format!("cannot connect to {}", self.describe()))?;
                Ok(DbConnection::Pg(conn))
            }
            Target::Sqlite { path, create } => {
                if *create {
                    if let Some(dir) = Path::new(path)
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                    {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                    }
                }
                let mut conn = SqliteConnection::establish(path)
                    .with_context(|| format!("cannot open {}", self.describe()))?;
                // Per connection: these pragmas are not stored in the file (but WAL is, harmlessly).
                // The WAL is checkpointed by `checkpoint` on a loop of its own; a committing
                // writer does it only if that falls far behind (16,384 pages, 64 MiB).
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
                     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
                     PRAGMA wal_autocheckpoint = 16384;",
                )
                .context("cannot set SQLite pragmas")?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("target", &self.target.describe())
            .finish()
    }
}

/// r2d2 manager that establishes connections for one [`Target`], showing the real error.
#[derive(Debug)]
pub struct Manager {
    target: Target,
    writer: Option<Arc<Writer>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct ConnectError(anyhow::Error);

impl r2d2::ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<PoolConn, ConnectError> {
        let conn = self.target.connect().map_err(ConnectError)?;
        Ok(PoolConn {
            conn,
            broken: false,
            writer: self.writer.clone(),
        })
    }

    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), ConnectError> {
        ping(&mut conn.conn).map_err(|e| ConnectError(anyhow::anyhow!("{e}")))
    }

    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        conn.broken
    }
}

/// One connection outside any pool (the CLI, tests).
pub fn connect(url: &str) -> anyhow::Result<DbConnection> {
    Target::parse(url)?.connect()
}

/// Opens the pool after one direct connection attempt, so a wrong URL or a down server
/// reports its own error instead of r2d2's time-out.
pub fn connect_pool(url: &str, size: u32, timeout: Duration) -> anyhow::Result<(Pool, Backend)> {
    let target = Target::parse(url)?;
    let backend = target.backend();
    let first = target.connect()?;
    drop(first);
    let pool = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        // No SELECT 1 before every use (it cost PostgreSQL a third of its throughput): `run`
        // checks a connection only after a request failed on it, and drops it if it is dead.
        .test_on_check_out(false)
        .build(Manager {
            writer: (backend == Backend::Sqlite).then(|| {
                Arc::new(Writer {
                    target: target.clone(),
                    conn: std::sync::Mutex::new(None),
                    waiting: Default::default(),
                    groups: Default::default(),
                    committed: Default::default(),
                })
            }),
            target,
        })
        .context("cannot open the connection pool")?;
    Ok((pool, backend))
}

/// Runs pending migrations of the connection's backend; returns how many ran.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let ran = match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(ran.len())
}

/// Reverts every migration of the connection's backend (used by the migration tests).
pub fn revert_all(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(drop),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(drop),
    }
    .map_err(|e| anyhow::anyhow!("revert failed: {e}"))
}

/// Runs `f` with a pooled connection on the blocking thread pool: the one way handlers reach
/// the database.
pub async fn run<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut pooled = pool.get()?;
        let previous = CURRENT_WRITER.replace(pooled.writer.clone());
        let result = f(&mut pooled.conn);
        CURRENT_WRITER.set(previous);
        // After a database restart every pooled connection is dead; the first request on each
        // gets a 503, and the connection is not handed out again.
        if result.is_err() && ping(&mut pooled.conn).is_err() {
            tracing::warn!("dropping a dead database connection");
            pooled.broken = true;
        }
        result
    })
    .await?
}

/// A write transaction. On SQLite it runs on the database's writer connection (see [`Writer`];
/// `f` gets that connection) and starts with `BEGIN IMMEDIATE`, taking the write lock up
/// front: a deferred transaction that upgrades later can fail with "database is locked"
/// despite busy_timeout. On PostgreSQL it is a plain transaction; callers lock rows they check.
/// Inside another transaction it is a savepoint.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let outermost_sqlite = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()
            .is_ok_and(|d| d.is_none()),
        DbConnection::Pg(_) => false,
    };
    if outermost_sqlite {
        if let Some(writer) = CURRENT_WRITER.with_borrow(Clone::clone) {
            return writer.transaction(f);
        }
        let _queue = SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner());
        if let DbConnection::Sqlite(c) = conn {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        }
        return finish(conn, f);
    }
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c)?,
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    finish(conn, f)
}

/// Runs `f` in the transaction just begun on `conn`, then commits or rolls back.
fn finish<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match f(conn) {
        Ok(value) => {
            commit(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The caller's error matters more than a failed rollback, which poisons the
            // connection anyway and makes r2d2 drop it.
            let _ = rollback(conn);
            Err(err)
        }
    }
}

/// SQLite: runs `f` alone among the writers of the database, outside any transaction — on
/// its writer connection when `conn` came from a pool through `run`, else (the CLI, tests) on
/// `conn` behind a queue for the whole process. PostgreSQL: runs `f` on `conn`.
fn exclusive<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if let DbConnection::Pg(_) = conn {
        return f(conn);
    }
    match CURRENT_WRITER.with_borrow(Clone::clone) {
        Some(writer) => writer.alone(f),
        None => {
            let _queue = SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner());
            f(conn)
        }
    }
}

fn closed(message: String) -> diesel::result::Error {
    diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::ClosedConnection,
        Box::new(message),
    )
}

impl Writer {
    /// Takes the connection, opening it if needed.
    fn take(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, Option<DbConnection>>, diesel::result::Error> {
        use std::sync::atomic::Ordering;
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if slot.is_none() {
            *slot = Some(
                self.target
                    .connect()
                    .map_err(|e| closed(format!("{e:#}")))?,
            );
        }
        Ok(slot)
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, Groups> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits (or, failing that, rolls back) the open group, if any, and wakes its members.
    fn end_group(&self, w: &mut DbConnection) {
        let Some((group, _)) = self.groups().open else {
            return;
        };
        let outcome = commit(w).map_err(|e| {
            let _ = rollback(w);
            e.to_string()
        });
        let mut groups = self.groups();
        groups.open = None;
        groups.ended = group;
        if let Err(message) = outcome {
            tracing::error!(group, error = %message, "group commit failed");
            groups.failed.push_back((group, message));
            if groups.failed.len() > 64 {
                groups.failed.pop_front();
            }
        }
        drop(groups);
        self.committed.notify_all();
    }

    /// `f` alone on the writer, outside any transaction (the open group is committed first).
    fn alone<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        let mut slot = self.take()?;
        let Some(w) = slot.as_mut() else {
            return Err(closed("no writer connection".to_owned()).into());
        };
        self.end_group(w);
        let result = f(w);
        self.drop_if_dead(&mut slot, result.is_err());
        result
    }

    /// `f` in a savepoint of the group's transaction; returns once the group has committed.
    fn transaction<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        use std::sync::atomic::Ordering;
        let mut slot = self.take()?;
        let Some(w) = slot.as_mut() else {
            return Err(closed("no writer connection".to_owned()).into());
        };
        let open = self.groups().open;
        let (group, members) = match open {
            Some(open) => open,
            None => {
                if let DbConnection::Sqlite(c) = w {
                    AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
                }
                let mut groups = self.groups();
                groups.last += 1;
                (groups.last, 0)
            }
        };
        self.groups().open = Some((group, members + 1));
        // A savepoint: this writer's failure takes back its own work only.
        let result = match w {
            DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c),
            DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c),
        }
        .map_err(E::from)
        .and_then(|()| finish(w, f));
        if self.waiting.load(Ordering::SeqCst) > 0 && members + 1 < GROUP_MAX {
            // Hand the open transaction on; the writer that ends the group wakes us.
            drop(slot);
            let value = result?;
            let mut groups = self.groups();
            while groups.ended < group {
                groups = self
                    .committed
                    .wait(groups)
                    .unwrap_or_else(|p| p.into_inner());
            }
            return match groups.failed.iter().find(|(g, _)| *g == group) {
                Some((_, message)) => Err(closed(message.clone()).into()),
                None => Ok(value),
            };
        }
        self.end_group(w);
        let failed = self
            .groups()
            .failed
            .back()
            .filter(|(g, _)| *g == group)
            .cloned();
        self.drop_if_dead(&mut slot, result.is_err() || failed.is_some());
        match failed {
            Some((_, message)) => Err(closed(message).into()),
            None => result,
        }
    }

    /// A writer that no longer answers (the file was replaced, the disk failed) is opened
    /// again by the next writer.
    fn drop_if_dead(&self, slot: &mut Option<DbConnection>, failed: bool) {
        if failed && slot.as_mut().is_some_and(|w| ping(w).is_err()) {
            *slot = None;
        }
    }
}

/// The queue of SQLite writers outside any pool (see `exclusive`).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn commit(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
        DbConnection::Pg(c) => AnsiTransactionManager::commit_transaction(c),
    }
}

fn rollback(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        DbConnection::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
    }
}

/// Copies the SQLite write-ahead log back into the database file. Left to SQLite, the commit
/// that crosses 1,000 pages does it while holding the write lock — half of what a booking's
/// commit cost. Here the bulk is copied beside the writers (PASSIVE), then the few pages
/// written meanwhile under the writers' queue, so that the next writer finds the log fully
/// copied and starts it again from the beginning (else it would only grow). Returns the
/// size of the log in pages before the call; PostgreSQL needs nothing.
pub fn checkpoint(conn: &mut DbConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    let DbConnection::Sqlite(c) = conn else {
        return Ok(0);
    };
    let pages = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
        .get_result::<Checkpoint>(c)?
        .log;
    if pages > 0 {
        exclusive(conn, |w| {
            diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").execute(w)
        })?;
    }
    Ok(pages.max(0))
}

/// Is the database answering? For `/ready`.
pub fn ping(conn: &mut DbConnection) -> AppResult<()> {
    conn.batch_execute("SELECT 1").map_err(AppError::from)
}

/// After rows were inserted with explicit ids (the demo seed), moves PostgreSQL's identity
/// sequences past them so that later inserts get fresh ids. SQLite's rowid needs nothing.
pub fn after_explicit_ids(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        for table in ["sub_platforms", "units", "instruments"] {
            c.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))?;
        }
    }
    Ok(())
}

/// Refreshes the planner's statistics after a bulk load (the demo seed), so the first queries
/// get the plans the data deserves. On PostgreSQL VACUUM also sets the visibility map, which
/// lets counts run as index-only scans. Must run outside a transaction.
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute("VACUUM ANALYZE"),
        DbConnection::Sqlite(c) => c.batch_execute("ANALYZE"),
    }
}

/// `SUM(column)` as a BIGINT on both backends (PostgreSQL sums a BIGINT to NUMERIC), 0 when
/// there are no rows. `column` is trusted SQL text, never input.
pub fn sum_i64(column: &str) -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql(&format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
}

/// Runs `$body` with `$c` bound to the inner connection of either backend: for statements
/// the multi-backend connection cannot build (multi-row INSERT, `ON CONFLICT` upserts,
/// `UNION ALL`), which both backends write alike; and for the queries of the booking and
/// availability paths: the multi-backend connection writes every query out as SQL twice
/// per execution to find its prepared statement (diesel's `SerializedQuery`), which was a
/// third of a booking's time under the write lock, where the inner connection finds a
/// select's statement by its type.
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Multi-row INSERT.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        $crate::db::per_backend!($conn, |c| diesel::insert_into($table)
            .values($rows)
            .execute(c))
    };
}
pub(crate) use {insert_rows, per_backend};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(
            Target::parse("postgres://u:p@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            Target::parse("sqlite://data/x.db").unwrap(),
            Target::Sqlite {
                path: "data/x.db".into(),
                create: true
            }
        );
        let err = Target::parse("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("mysql://"), "{err}");
        let err = Target::parse("no/such/file.db").unwrap_err().to_string();
        assert!(err.contains("sqlite://no/such/file.db"), "{err}");
    }

    #[test]
    fn descriptions_hide_passwords() {
        let t =
            Target::parse("postgres://yiqi:hunter2@db.example:5432/yiqi?sslmode=require").unwrap();
        assert_eq!(t.describe(), "postgres://db.example:5432/yiqi");
    }
}
