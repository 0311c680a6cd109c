//! The pool: connections for one database, handed to blocking tasks by `run`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::writer::CURRENT_WRITER;
use super::*;
use crate::error::AppResult;

pub type Pool = r2d2::Pool<Manager>;

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
    let pool = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        // No SELECT 1 before every use (it cost PostgreSQL a third of its throughput): `run`
        // checks a connection only after a request failed on it, and drops it if it is dead.
        .test_on_check_out(false)
        .build(Manager {
            writer: (backend == Backend::Sqlite).then(|| Arc::new(Writer::new(target.clone()))),
            target,
        })
        .context("cannot open the connection pool")?;
    Ok((pool, backend))
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
