//! E-mail that is never lost: `enqueue` writes an outbox row inside the caller's transaction
//! (no request ever talks to SMTP), and the sender (`sender.rs`, run by `jobs/`) delivers it
//! with retries.

pub mod handlers;
pub mod model;
pub mod sender;
pub mod service;
pub mod store;
pub mod templates;
pub mod transport;

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use model::{Message, NewOutboxRow, OutboxStatus};

/// Queues `message` in the caller's transaction: it is sent if and only if that commits.
pub fn enqueue(conn: &mut DbConnection, message: &Message, now: NaiveDateTime) -> AppResult<()> {
    if message.to.is_empty() {
        return Err(AppError::invalid(
            "to",
            "a message needs at least one recipient",
        ));
    }
    let recipients = serde_json::to_string(&message.to).map_err(AppError::internal)?;
    store::insert(
        conn,
        &NewOutboxRow {
            kind: message.kind.to_owned(),
            recipients,
            subject: message.subject.clone(),
            body_text: message.text.clone(),
            body_html: message.html.clone(),
            related_type: message.related.map(|(t, _)| t.to_owned()),
            related_id: message.related.map(|(_, id)| id),
            status: OutboxStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            list_unsubscribe: message.list_unsubscribe.clone(),
        },
    )?;
    Ok(())
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(handlers::list, handlers::retry))]
pub struct Api;
