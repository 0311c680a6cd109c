//! Delivers due outbox rows: claim, send, then mark sent, retry with exponential backoff and
//! jitter, or mark dead with the last error kept. A crash mid-way leaves rows `sending`; they
//! are claimed again when their lease runs out, so a message can go out twice in that case
//! (at least once, never lost).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::model::OutboxRow;
use super::store;
use super::transport::{DeliveryError, Transport};
use crate::clock::SharedClock;
use crate::config::MailSettings;
use crate::db::{self, Pool};
use crate::error::AppError;

/// Retry rules, from `[mail]` settings.
#[derive(Debug, Clone)]
pub struct Policy {
    pub max_attempts: i32,
    pub backoff_base: chrono::Duration,
    pub backoff_max: chrono::Duration,
    pub lease: chrono::Duration,
    pub batch_size: i64,
    /// Messages per second at most; 0 = as fast as the server accepts.
    pub rate_per_sec: u32,
    /// Messages in flight at once (without a rate limit).
    pub concurrency: usize,
}

impl Policy {
    pub fn from_settings(s: &MailSettings) -> Policy {
        Policy {
            max_attempts: s.max_attempts.max(1) as i32,
            backoff_base: chrono::Duration::seconds(s.backoff_base_secs as i64),
            backoff_max: chrono::Duration::seconds(s.backoff_max_secs as i64),
            lease: chrono::Duration::seconds(s.lease_secs as i64),
            batch_size: s.batch_size.max(1) as i64,
            rate_per_sec: s.rate_per_sec,
            concurrency: s.concurrency.max(1) as usize,
        }
    }

    /// The wait before attempt `attempts + 1`: base·2^(attempts−1), capped, plus up to a
    /// quarter more so that messages failed together do not come back together. The jitter
    /// is derived from the message id, so it is spread yet reproducible in tests.
    pub fn backoff(&self, attempts: i32, id: i64) -> chrono::Duration {
        let exp = attempts.clamp(1, 30) - 1;
        let base = self.backoff_base.num_milliseconds().max(1);
        let delay = base
            .saturating_mul(1_i64 << exp)
            .min(self.backoff_max.num_milliseconds().max(base));
        let jitter = delay / 4 * (id.wrapping_mul(7919).rem_euclid(101)) / 100;
        chrono::Duration::milliseconds(delay + jitter)
    }
}

/// What the sender has done lately, for `/ready`.
#[derive(Debug, Default)]
pub struct Health {
    last_sent_at: Mutex<Option<DateTime<Utc>>>,
}

impl Health {
    pub fn last_sent_at(&self) -> Option<DateTime<Utc>> {
        self.last_sent_at.lock().ok().and_then(|t| *t)
    }
}

enum Outcome {
    Sent,
    Retry,
    Dead,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

pub struct Sender {
    transport: Transport,
    from: Mailbox,
    policy: Policy,
    clock: SharedClock,
    pub health: Arc<Health>,
}

impl Sender {
    pub fn from_settings(s: &MailSettings, clock: SharedClock) -> anyhow::Result<Sender> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from {:?} is not an address: {e}", s.from))?;
        Ok(Sender {
            transport: Transport::from_settings(s)?,
            from,
            policy: Policy::from_settings(s),
            clock,
            health: Arc::new(Health::default()),
        })
    }

    /// Claims one batch of due messages and tries each once.
    #[tracing::instrument(name = "mail.send_due", skip_all, fields(claimed))]
    pub async fn send_due(&self, pool: &Pool) -> Result<Report, AppError> {
        let now = self.clock.now_naive();
        let lease_until = now + self.policy.lease;
        let limit = self.policy.batch_size;
        let rows = db::run(pool, move |c| {
            super::store::claim_due(c, now, lease_until, limit).map_err(AppError::from)
        })
        .await?;
        tracing::Span::current().record("claimed", rows.len());
        let mut report = Report {
            claimed: rows.len(),
            ..Report::default()
        };
        let outcomes: Vec<Outcome> = if self.policy.rate_per_sec > 0 {
            // A rate limit sends one at a time, paced.
            let pace = Duration::from_secs_f64(1.0 / f64::from(self.policy.rate_per_sec));
            let mut outcomes = Vec::with_capacity(rows.len());
            for row in rows {
                let started = std::time::Instant::now();
                outcomes.push(self.process(pool, row).await?);
                if let Some(rest) = pace.checked_sub(started.elapsed()) {
                    tokio::time::sleep(rest).await;
                }
            }
            outcomes
        } else {
            // Several messages in flight over the transport's pooled connections: an SMTP
            // exchange is a handful of round trips, mostly waiting.
            use futures_util::stream::{self, StreamExt, TryStreamExt};
            stream::iter(rows)
                .map(|row| self.process(pool, row))
                .buffer_unordered(self.policy.concurrency)
                .try_collect()
                .await?
        };
        for outcome in outcomes {
            match outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Retry => report.retried += 1,
                Outcome::Dead => report.dead += 1,
            }
        }
        Ok(report)
    }

    /// Tries one claimed message and records what happened to it.
    async fn process(&self, pool: &Pool, row: OutboxRow) -> Result<Outcome, AppError> {
        let outcome = self.deliver(&row).await;
        let id = row.id;
        let now = self.clock.now_naive();
        match outcome {
            Ok(()) => {
                db::run(pool, move |c| Ok(store::mark_sent(c, id, now)?)).await?;
                if let Ok(mut t) = self.health.last_sent_at.lock() {
                    *t = Some(self.clock.now());
                }
                Ok(Outcome::Sent)
            }
            Err(err) => {
                let give_up = err.permanent || row.attempts >= self.policy.max_attempts;
                tracing::warn!(id = id.0, attempts = row.attempts, permanent = err.permanent, error = %err.message, "mail delivery failed");
                let message = err.message;
                if give_up {
                    db::run(pool, move |c| Ok(store::mark_dead(c, id, &message)?)).await?;
                    Ok(Outcome::Dead)
                } else {
                    let next: NaiveDateTime = now + self.policy.backoff(row.attempts, id.0);
                    db::run(pool, move |c| Ok(store::mark_retry(c, id, next, &message)?)).await?;
                    Ok(Outcome::Retry)
                }
            }
        }
    }

    /// Sends batches until nothing is due (the `yiqi mail send-pending` command).
    pub async fn send_all_due(&self, pool: &Pool) -> Result<Report, AppError> {
        let mut total = Report::default();
        loop {
            let r = self.send_due(pool).await?;
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retried += r.retried;
            total.dead += r.dead;
            if r.claimed == 0 {
                return Ok(total);
            }
        }
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError> {
        let unsendable = |message: String| DeliveryError {
            message,
            permanent: true,
        };
        let domain = self.from.email.domain().to_owned();
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(row.subject.clone())
            // One id per outbox row: a duplicate after a crash is recognisable as one.
            .message_id(Some(format!("<outbox-{}@{domain}>", row.id)));
        let recipients = row.recipients();
        if recipients.is_empty() {
            return Err(unsendable("no recipients".to_owned()));
        }
        if let Some(url) = &row.list_unsubscribe {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        for to in recipients {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| unsendable(format!("recipient {to:?}: {e}")))?;
            builder = builder.to(mailbox);
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(row.body_text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(row.body_html.clone()),
                    ),
            )
            .map_err(|e| unsendable(e.to_string()))?;
        self.transport.send(message).await
    }
}

/// `List-Unsubscribe: <https://…>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a mail client may
/// unsubscribe with one POST, without opening a page.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let p = Policy {
            max_attempts: 8,
            backoff_base: chrono::Duration::seconds(30),
            backoff_max: chrono::Duration::seconds(3600),
            lease: chrono::Duration::seconds(300),
            batch_size: 50,
            rate_per_sec: 0,
            concurrency: 1,
        };
        for id in [1_i64, 2, 77, 12345] {
            let d1 = p.backoff(1, id).num_milliseconds();
            let d2 = p.backoff(2, id).num_milliseconds();
            assert!((30_000..=37_500).contains(&d1), "{d1}");
            assert!((60_000..=75_000).contains(&d2), "{d2}");
            let d20 = p.backoff(20, id).num_milliseconds();
            assert!((3_600_000..=4_500_000).contains(&d20), "{d20}");
        }
        assert_ne!(p.backoff(1, 1), p.backoff(1, 2), "jitter spreads messages");
    }
}
