//! Storage on both backends: one connection enum over PostgreSQL and bundled SQLite, an r2d2
//! pool whose manager picks the backend from the URL scheme, embedded per-backend migrations,
//! and the few places where the backends must be told apart.

pub mod schema;

use std::path::Path;
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
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// A pooled connection with a mark for "do not reuse me".
pub struct PoolConn {
    conn: DbConnection,
    broken: bool,
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
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
                     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                )
                .context("cannot set SQLite pragmas")?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// r2d2 manager that establishes connections for one [`Target`], showing the real error.
#[derive(Debug)]
pub struct Manager {
    target: Target,
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
        .build(Manager { target })
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

pub fn backend_of(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Pg(_) => Backend::Postgres,
        DbConnection::Sqlite(_) => Backend::Sqlite,
    }
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
        let result = f(&mut pooled.conn);
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

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock up
/// front: a deferred transaction that upgrades later can fail with "database is locked"
/// despite busy_timeout. On PostgreSQL it is a plain transaction; callers lock rows they check.
/// Inside another transaction it is a savepoint.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // SQLite has one writer at a time. Waiting writers queue here, woken as soon as the lock
    // is free, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
    let mut _writer = None;
    match conn {
        DbConnection::Sqlite(c) => {
            let nested = AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .is_ok_and(|d| d.is_some());
            if nested {
                AnsiTransactionManager::begin_transaction(c)?
            } else {
                _writer = Some(SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner()));
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
            }
        }
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
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

/// The queue of SQLite writers in this process (see `write_tx`). One for all SQLite files:
/// a process serves one database; tests with several only wait a little longer.
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

/// Multi-row INSERT. The multi-connection cannot build one (its backend has no batch-insert
/// dialect), so the statement is built for the inner connection's own backend.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
    };
}

/// Claims up to `limit` e-mails that are due (queued and past their next attempt, or left in
/// `sending` by a sender whose lease ran out): marks them `sending` until `lease_until` and
/// counts the attempt. On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED`, so
/// several senders (instances) never claim the same message; SQLite serializes writers with
/// `BEGIN IMMEDIATE`.
pub fn claim_due_mail(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    lease_until: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<crate::mail::model::OutboxRow>> {
    use crate::mail::model::{OutboxRow, OutboxStatus};
    use schema::mail_outbox as m;
    let (queued, sending) = (OutboxStatus::Queued.code(), OutboxStatus::Sending.code());

    macro_rules! due {
        () => {
            m::table
                .filter(
                    m::status
                        .eq(queued)
                        .and(m::next_attempt_at.le(now))
                        .or(m::status.eq(sending).and(m::lease_until.le(now))),
                )
                .select(m::id)
                .order((m::next_attempt_at, m::id))
                .limit(limit)
        };
    }
    macro_rules! mark {
        ($c:expr, $ids:expr) => {
            diesel::update(m::table.filter(m::id.eq_any($ids)))
                .set((
                    m::status.eq(sending),
                    m::attempts.eq(m::attempts + 1),
                    m::lease_until.eq(Some(lease_until)),
                ))
                .returning(OutboxRow::as_returning())
                .get_results($c)
        };
    }
    match conn {
        DbConnection::Pg(c) => c.transaction(|c| {
            let ids: Vec<i64> = due!().for_update().skip_locked().load(c)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            mark!(c, &ids)
        }),
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            let ids: Vec<i64> = due!().load(c)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            mark!(c, &ids)
        }),
    }
}

/// Locks an instrument row for the rest of the transaction, so that bookings of one
/// instrument are checked and written one at a time (PostgreSQL `SELECT … FOR UPDATE`; on
/// SQLite the caller's `BEGIN IMMEDIATE` already serializes writers). False if no such row.
pub fn lock_instrument(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    use schema::instruments as i;
    match conn {
        DbConnection::Pg(c) => Ok(i::table
            .find(id)
            .select(i::id)
            .for_update()
            .first::<i64>(c)
            .optional()?
            .is_some()),
        DbConnection::Sqlite(c) => Ok(i::table
            .find(id)
            .select(i::id)
            .first::<i64>(c)
            .optional()?
            .is_some()),
    }
}

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
