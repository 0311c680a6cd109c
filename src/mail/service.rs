//! What people do to the mail queue: a platform admin puts a dead message back in it.

use chrono::NaiveDateTime;

use super::model::OutboxRow;
use super::store;
use crate::audit::{self, Target};
use crate::auth::{authorize, Action, Principal};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::types::MessageId;

/// Queues dead message `id` again, audited; a message that is not dead is a conflict, and
/// nothing is written.
pub fn retry(
    conn: &mut DbConnection,
    who: &Principal,
    id: MessageId,
    now: NaiveDateTime,
) -> AppResult<Option<OutboxRow>> {
    authorize(who, Action::ManageMail)?;
    db::write_tx(conn, |conn| {
        store::find(conn, id)?.ok_or(AppError::NotFound { what: "message" })?;
        if store::requeue_dead(conn, Some(id), now)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::NotDead,
                "只有发送失败的邮件可以重发 (only dead messages are retried)",
            ));
        }
        audit::record(
            conn,
            Some(who.id),
            "mail.retry",
            Target("mail", Some(id.0)),
            None::<&()>,
            None::<&()>,
            now,
        )?;
        Ok(store::find(conn, id)?)
    })
}
