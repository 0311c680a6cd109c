//! The pool: connections for one database, handed to blocking tasks by `run`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::writer::CURRENT_WRITER;
use super::*;
use crate::error::AppResult;

/// The connections, and a turn for each, handed out in the order requests asked for them.
///
/// r2d2 gives a freed connection to whichever waiting thread wakes first, not to the one that
/// waited longest: under a load of twice the pool's size on PostgreSQL, a page that took 7 ms
/// at the median took 195 ms at the 99th percentile. A FIFO semaphore in front of it, one
/// permit per connection, queues requests fairly (the same page: p99 24 ms), and they wait
/// on the async side instead of holding a blocking thread.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    turns: Arc<tokio::sync::Semaphore>,
    timeout: Duration,
    outage: Arc<Outage>,
    /// Requests waiting for a turn now.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
}

/// The pool as the metrics show it.
pub struct PoolStatus {
    pub size: usize,
    pub in_use: usize,
    pub waiting: usize,
    pub database_down: bool,
}

/// Whether the database is known to be unreachable. Without it, every request during an
/// outage would wait the whole pool time-out for r2d2 to give up connecting before its 503;
/// once one request has found the database gone, the others get their 503 at once, and a
/// background check (one connection attempt every `RECHECK`) lifts it when the database is
/// back.
struct Outage {
    down: AtomicBool,
    target: Target,
}

const RECHECK: Duration = Duration::from_millis(500);

impl Outage {
    fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Marks the database down and, if it was not already, starts the check that lifts it.
    fn begin(self: &Arc<Self>) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("database unreachable: answering 503 until it is back");
        let outage = self.clone();
        let started = std::thread::Builder::new()
            .name("db-recheck".into())
            .spawn(move || {
                let _span = tracing::info_span!("job.database_recheck").entered();
                loop {
                    std::thread::sleep(RECHECK);
                    if outage.target.connect().is_ok() {
                        outage.down.store(false, Ordering::Release);
                        tracing::info!("database reachable again");
                        return;
                    }
                }
            });
        if started.is_err() {
            // No thread for the check: do not stay down for good; r2d2's time-out applies.
            self.down.store(false, Ordering::Release);
        }
    }
}

impl Pool {
    /// A connection straight from r2d2, for work outside a request (jobs, the CLI). It takes
    /// no turn: a job may get a connection ahead of queued requests, which is rare (jobs run
    /// every few seconds) and bounded by the pool's time-out.
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, r2d2::Error> {
        self.inner.get()
    }

    pub fn status(&self) -> PoolStatus {
        let size = self.inner.max_size() as usize;
        PoolStatus {
            size,
            in_use: size.saturating_sub(self.turns.available_permits()),
            waiting: self.waiting.load(Ordering::Relaxed),
            database_down: self.outage.is_down(),
        }
    }
}

/// A pooled connection with a mark for "do not reuse me", and its database's writer.
pub struct PoolConn {
    conn: DbConnection,
    broken: bool,
    writer: Option<Arc<Writer>>,
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

/// Opens the pool after one direct connection attempt, so a wrong URL or a down server
/// reports its own error instead of r2d2's time-out.
pub fn connect_pool(url: &str, size: u32, timeout: Duration) -> anyhow::Result<(Pool, Backend)> {
    let target = Target::parse(url)?;
    let backend = target.backend();
    let first = target.connect()?;
    drop(first);
    let inner = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        // No SELECT 1 before every use (it cost PostgreSQL a third of its throughput): `run`
        // checks a connection only after a request failed on it, and drops it if it is dead.
        .test_on_check_out(false)
        .build(Manager {
            writer: (backend == Backend::Sqlite).then(|| Arc::new(Writer::new(target.clone()))),
            target: target.clone(),
        })
        .context("cannot open the connection pool")?;
    let pool = Pool {
        inner,
        turns: Arc::new(tokio::sync::Semaphore::new(size as usize)),
        timeout,
        outage: Arc::new(Outage {
            down: AtomicBool::new(false),
            target,
        }),
        waiting: Arc::default(),
    };
    Ok((pool, backend))
}

/// Runs `f` with a pooled connection on the blocking thread pool: the one way handlers reach
/// the database.
pub async fn run<T, F>(pool: &Pool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    if pool.outage.is_down() {
        return Err(crate::error::AppError::Unavailable {
            retry_after_secs: 2,
        });
    }
    // Past the pool's time-out the request gets the same 503 as r2d2's own time-out.
    pool.waiting.fetch_add(1, Ordering::Relaxed);
    let turn = tokio::time::timeout(pool.timeout, pool.turns.clone().acquire_owned()).await;
    pool.waiting.fetch_sub(1, Ordering::Relaxed);
    let turn = turn
        .map_err(|_| crate::error::AppError::Unavailable {
            retry_after_secs: 2,
        })?
        .map_err(crate::error::AppError::internal)?;
    let pool = pool.clone();
    actix_web::web::block(move || {
        let _turn = turn;
        let mut pooled = pool.inner.get().inspect_err(|_| pool.outage.begin())?;
        let previous = CURRENT_WRITER.replace(pooled.writer.clone());
        let result = f(&mut pooled.conn);
        CURRENT_WRITER.set(previous);
        // After a database restart every pooled connection is dead; the first request on each
        // gets a 503, and the connection is not handed out again.
        if result.is_err() && ping(&mut pooled.conn).is_err() {
            tracing::warn!("dropping a dead database connection");
            pooled.broken = true;
            // A restart kills every connection but the server may be back already: only a
            // failed new connection means an outage.
            if pool.outage.target.connect().is_err() {
                pool.outage.begin();
            }
        }
        result
    })
    .await?
}
