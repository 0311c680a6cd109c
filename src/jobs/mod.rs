//! Background loops that run inside `yiqi serve`. Each claims its work from the database, so
//! several instances can run them side by side.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::db::Pool;
use crate::mail::sender::Sender;

/// Delivers queued e-mail: a batch, then at once the next while there is work, else a pause.
pub fn spawn_mail_sender(pool: Pool, sender: Arc<Sender>, poll_interval: Duration) {
    actix_web::rt::spawn(async move {
        loop {
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
