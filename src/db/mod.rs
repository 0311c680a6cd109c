//! Storage on both backends: one connection enum over PostgreSQL and bundled SQLite, an r2d2
//! pool whose manager picks the backend from the URL scheme, embedded per-backend migrations,
//! and the few places where the backends must be told apart.

pub mod backup;
pub mod copy;
mod pool;
pub mod schema;
mod writer;

pub use pool::{connect_pool, run, ConnectError, Manager, Pool, PoolConn};
pub use writer::{checkpoint, write_tx, Writer};

use std::path::Path;

use anyhow::Context;
use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Values bound in one `IN (…)` at most: SQLite refuses a statement with more than 32,766, so
/// a list that can grow with the catalogue is asked about this many at a time.
pub const IDS_PER_STATEMENT: usize = 1_000;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The query backend of [`DbConnection`], for boxed queries.
pub type Db = <DbConnection as Connection>::Backend;

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
                let mut conn = PgConnection::establish(url)
                    .with_context(|| format!("cannot connect to {}", self.describe()))?;
                // Every statement is prepared once per connection (diesel's cache) and its
                // plan kept: PostgreSQL otherwise re-decides between a generic plan and
                // planning each execution by comparing costs under the statistics of the
                // moment, and after the bookings grew it kept planning every availability
                // request afresh (half the throughput, benches/week.sh). The hot queries are
                // index lookups whose generic plans are the right ones.
                conn.batch_execute("SET plan_cache_mode = force_generic_plan")
                    .context("cannot set plan_cache_mode (PostgreSQL 12 or later is needed)")?;
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

/// One connection outside any pool (the CLI, tests).
pub fn connect(url: &str) -> anyhow::Result<DbConnection> {
    Target::parse(url)?.connect()
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

/// Gives SQLite's page cache room for a bulk load (`true`) and takes it back (`false`). With
/// the default 2 MB, a transaction of tens of thousands of rows fills it again and again, and
/// each time the freed pages go back to the system and come back as page faults: the demo at
/// scale 50 spent 13 of its 21 seconds in the kernel. PostgreSQL needs nothing.
pub fn bulk_load(conn: &mut DbConnection, on: bool) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(_) => Ok(()),
        // KiB when negative: at most 256 MiB, used only as the load needs it.
        DbConnection::Sqlite(c) => c.batch_execute(if on {
            "PRAGMA cache_size = -262144"
        } else {
            "PRAGMA cache_size = -2000"
        }),
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
