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

/// Keeps the search index current with edits made through other instances: every
/// `refresh_secs` it applies the catalogue's change log. Builds the index first when
/// `build_on_start` (else the first search builds it, and this loop waits until then).
pub fn spawn_search_refresher(
    pool: Pool,
    search: crate::search::service::Search,
    settings: crate::config::SearchSettings,
) {
    if settings.refresh_secs == 0 && !settings.build_on_start {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut first = true;
        loop {
            if !first || !settings.build_on_start {
                if settings.refresh_secs == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(settings.refresh_secs)).await;
            }
            first = false;
            if !search.is_built() && !settings.build_on_start {
                continue;
            }
            let span = tracing::info_span!("job.search_refresh");
            let s = search.clone();
            let result = crate::db::run(&pool, move |conn| s.catch_up(conn, 0))
                .instrument(span)
                .await;
            if let Err(err) = result {
                tracing::warn!(error = ?err, "search index: cannot catch up");
            }
        }
    });
}

/// Several instances on one database: every `interval`, makes stale the cached figures whose
/// data another instance changed (`cache::watch`).
pub fn spawn_cache_watch(pool: Pool, watch: crate::cache::Watch, interval: Duration) {
    actix_web::rt::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let span = tracing::debug_span!("job.cache_watch");
            let w = watch.clone();
            match crate::db::run(&pool, move |conn| w.poll(conn))
                .instrument(span)
                .await
            {
                Ok(0) => {}
                Ok(moved) => tracing::debug!(moved, "caches made stale by changes elsewhere"),
                Err(err) => tracing::warn!(error = %err, "cache watch: cannot read the counters"),
            }
        }
    });
}

/// SQLite only: checkpoints the write-ahead log every 100 ms, off the write path (see
/// `db::checkpoint`), so commits no longer pause to do it.
pub fn spawn_wal_checkpoints(pool: Pool) {
    actix_web::rt::spawn(async move {
        loop {
            let span = tracing::debug_span!("job.wal_checkpoint");
            let result = crate::db::run(&pool, |conn| Ok(crate::db::checkpoint(conn)?))
                .instrument(span)
                .await;
            if let Err(err) = result {
                tracing::warn!(error = %err, "WAL checkpoint failed");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// SQLite only: a copy of the database every `backup.interval_hours`, the newest
/// `backup.keep` kept (`db::backup::scheduled`).
pub fn spawn_backups(
    pool: Pool,
    clock: SharedClock,
    health: Arc<JobsHealth>,
    settings: crate::config::BackupSettings,
) {
    if settings.interval_hours == 0 {
        return;
    }
    actix_web::rt::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(settings.interval_hours * 3600)).await;
            let now = clock.now();
            let (dir, keep) = (settings.dir.clone(), settings.keep);
            let span = tracing::info_span!("job", name = "backup");
            let result = crate::db::run(&pool, move |conn| {
                crate::db::backup::scheduled(conn, std::path::Path::new(&dir), keep, now)
                    .map_err(crate::error::AppError::internal)
            })
            .instrument(span)
            .await;
            let ok = match result {
                Ok(file) => {
                    tracing::info!(file = %file.display(), "database backed up");
                    true
                }
                Err(err) => {
                    tracing::error!(error = %err, "backup failed");
                    false
                }
            };
            health.record(
                "backup",
                JobRun {
                    at: now,
                    ok,
                    done: usize::from(ok),
                },
            );
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

    /// Each job's last run: (name, when, whether it succeeded).
    pub fn last_runs(&self) -> Vec<(&'static str, chrono::DateTime<chrono::Utc>, bool)> {
        self.last
            .lock()
            .map(|l| l.iter().map(|(name, r)| (*name, r.at, r.ok)).collect())
            .unwrap_or_default()
    }

    pub fn snapshot(&self) -> serde_json::Value {
        self.last
            .lock()
            .map(|l| serde_json::json!(*l))
            .unwrap_or(serde_json::Value::Null)
    }
}

/// The settings the housekeeping jobs follow.
#[derive(Debug, Clone, Copy)]
pub struct Policies {
    pub reservations: crate::config::ReservationSettings,
    pub evaluation: crate::config::EvaluationSettings,
    pub vouchers: crate::config::VoucherSettings,
}

/// Runs the service's own work every `reservations.jobs_interval_secs`: expire undecided
/// reservations, mark no-shows, send reminders, expire qualifications, mark complaints the
/// unit did not answer in time, tell subscribers of new articles and send the 08:00 digests,
/// delete the rate limits' ended windows. Several instances may run it: each step is a conditional
/// update, so only one of them acts and e-mails.
pub fn spawn_housekeeping(
    pool: Pool,
    clock: SharedClock,
    health: Arc<JobsHealth>,
    policy: Policies,
) {
    actix_web::rt::spawn(async move {
        loop {
            run_housekeeping(&pool, clock.now(), &health, policy).await;
            let pause = policy.reservations.jobs_interval_secs.max(1);
            tokio::time::sleep(Duration::from_secs(pause)).await;
        }
    });
}

/// One round of every job, each recorded in `health`.
pub async fn run_housekeeping(
    pool: &Pool,
    now: chrono::DateTime<chrono::Utc>,
    health: &JobsHealth,
    policy: Policies,
) {
    use crate::reservations::jobs as r;
    type Job = fn(
        &mut crate::db::DbConnection,
        chrono::DateTime<chrono::Utc>,
        Policies,
    ) -> crate::error::AppResult<usize>;
    let jobs: [(&'static str, Job); 9] = [
        ("expire_reservations", |c, now, _| r::expire_pending(c, now)),
        ("mark_no_shows", |c, now, p| {
            r::mark_no_shows(c, &p.reservations, now)
        }),
        ("send_reminders", |c, now, _| r::send_reminders(c, now)),
        ("expire_qualifications", |c, now, _| {
            crate::users::qualifications::expire_due(c, now)
        }),
        ("mark_overdue_complaints", |c, now, p| {
            crate::evaluation::complaints::service::mark_overdue(c, &p.evaluation, now)
        }),
        ("announce_articles", |c, now, _| {
            crate::publishing::subscriptions::service::announce(c, now)
        }),
        ("send_article_digests", |c, now, _| {
            crate::publishing::subscriptions::service::send_digests(c, now)
        }),
        ("expire_vouchers", |c, now, _| {
            crate::vouchers::service::expire_due(c, now)
        }),
        ("sweep_rate_limits", |c, now, _| {
            crate::auth::limiter::sweep(c, now)
        }),
    ];
    for (name, job) in jobs {
        let span = tracing::info_span!("job", name);
        let result = crate::db::run(pool, move |conn| job(conn, now, policy))
            .instrument(span)
            .await;
        let run = match result {
            Ok(done) => JobRun {
                at: now,
                ok: true,
                done,
            },
            Err(err) => {
                tracing::warn!(job = name, error = %err, "job failed");
                JobRun {
                    at: now,
                    ok: false,
                    done: 0,
                }
            }
        };
        health.record(name, run);
    }
}
