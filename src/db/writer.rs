//! Write transactions: on SQLite one writer connection per database, shared by group commit.

use std::sync::Arc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

use super::*;

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
    pub(super) static CURRENT_WRITER: std::cell::RefCell<Option<Arc<Writer>>> =
        const { std::cell::RefCell::new(None) };
}

impl Writer {
    /// The writer of the database at `target`; it connects on first use.
    pub(super) fn new(target: Target) -> Writer {
        Writer {
            target,
            conn: std::sync::Mutex::new(None),
            waiting: Default::default(),
            groups: Default::default(),
            committed: Default::default(),
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
