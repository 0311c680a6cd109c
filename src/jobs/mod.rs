//! Background loops that run inside `yiqi serve`. Each claims its work from the database, so
//! several instances can run them side by side.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::clock::SharedClock;
use crate::db::Pool;
use crate::mail::sender::Sender;

/// Delivers queued e-mail: a batch, then at once the next while there is work, else a pause.
pub fn spawn_mail_sender(pool: Pool, sender: Arc<Sender>, poll_interval: Duration) {
    actix_web::rt::spawn(async move {
        let sender = RuntimeBound(Some(sender));
        loop {
            let Some(sender) = sender.0.as_ref() else {
                return;
            };
            let span = tracing::info_span!("job.mail_sender");
            match sender.send_due(&pool).instrument(span).await {
                Ok(report) if report.claimed > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "mail sender: database unavailable"),
            }
            tokio::time::sleep(poll_interval).await;
        }
    });
}

/// Holds the sender, whose SMTP connection pool closes its connections on a task it spawns
/// when dropped. A server shutting down drops its tasks after the runtime has gone, where that
/// spawn would panic; then the pool is left to the process's exit instead.
struct RuntimeBound(Option<Arc<Sender>>);

impl Drop for RuntimeBound {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err() {
            std::mem::forget(self.0.take());
        }
    }
}

/// When each in-process job last finished, for `/ready`.
#[derive(Default)]
pub struct JobsHealth {
    last: std::sync::Mutex<std::collections::BTreeMap<&'static str, JobRun>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobRun {
    pub at: chrono::DateTime<chrono::Utc>,
    pub ok: bool,
    pub done: usize,
}

impl JobsHealth {
    pub fn record(&self, job: &'static str, run: JobRun) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(job, run);
        }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        self.last
            .lock()
            .map(|l| serde_json::json!(*l))
            .unwrap_or(serde_json::Value::Null)
    }
}

/// How often the housekeeping jobs run.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// Expires qualifications whose time has come (and tells their holders). Several instances
/// may run it: each expiry is a conditional update, so only one of them sends the e-mail.
pub fn spawn_housekeeping(pool: Pool, clock: SharedClock, health: Arc<JobsHealth>) {
    actix_web::rt::spawn(async move {
        loop {
            let now = clock.now();
            let span = tracing::info_span!("job.expire_qualifications");
            let result = crate::db::run(&pool, move |conn| {
                crate::users::qualifications::expire_due(conn, now)
            })
            .instrument(span)
            .await;
            let run = match result {
                Ok(done) => JobRun {
                    at: now,
                    ok: true,
                    done,
                },
                Err(err) => {
                    tracing::warn!(error = %err, "qualification expiry failed");
                    JobRun {
                        at: now,
                        ok: false,
                        done: 0,
                    }
                }
            };
            health.record("expire_qualifications", run);
            tokio::time::sleep(HOUSEKEEPING_EVERY).await;
        }
    });
}
