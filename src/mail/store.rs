//! Outbox queries, the claim (which differs by backend) among them.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use super::model::{NewOutboxRow, OutboxRow, OutboxStatus, QueueStatus};
use crate::db::schema::mail_outbox;
use crate::db::DbConnection;
use crate::types::MessageId;

pub fn insert(conn: &mut DbConnection, row: &NewOutboxRow) -> QueryResult<usize> {
    crate::db::per_backend!(conn, |conn| diesel::insert_into(mail_outbox::table)
        .values(row)
        .execute(conn))
}

pub fn mark_sent(conn: &mut DbConnection, id: MessageId, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq(OutboxStatus::Sent.code()),
            mail_outbox::sent_at.eq(Some(at)),
            mail_outbox::lease_until.eq(None::<NaiveDateTime>),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

pub fn mark_retry(
    conn: &mut DbConnection,
    id: MessageId,
    next: NaiveDateTime,
    error: &str,
) -> QueryResult<usize> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq(OutboxStatus::Queued.code()),
            mail_outbox::next_attempt_at.eq(next),
            mail_outbox::lease_until.eq(None::<NaiveDateTime>),
            mail_outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
}

pub fn mark_dead(conn: &mut DbConnection, id: MessageId, error: &str) -> QueryResult<usize> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq(OutboxStatus::Dead.code()),
            mail_outbox::lease_until.eq(None::<NaiveDateTime>),
            mail_outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
}

pub fn status(conn: &mut DbConnection) -> QueryResult<QueueStatus> {
    let counts: Vec<(OutboxStatus, i64)> = mail_outbox::table
        .group_by(mail_outbox::status)
        .select((mail_outbox::status, count_star()))
        .load(conn)?;
    let mut s = QueueStatus::default();
    for (status, n) in counts {
        match status {
            OutboxStatus::Queued => s.queued = n,
            OutboxStatus::Sending => s.sending = n,
            OutboxStatus::Sent => s.sent = n,
            OutboxStatus::Dead => s.dead = n,
        }
    }
    s.oldest_queued_at = mail_outbox::table
        .filter(mail_outbox::status.eq(OutboxStatus::Queued.code()))
        .select(min(mail_outbox::created_at))
        .first(conn)?;
    Ok(s)
}

pub fn dead(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    mail_outbox::table
        .filter(mail_outbox::status.eq(OutboxStatus::Dead.code()))
        .select(OutboxRow::as_select())
        .order(mail_outbox::id)
        .limit(limit)
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: MessageId) -> QueryResult<Option<OutboxRow>> {
    mail_outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

/// Puts dead messages (all, or one) back in the queue with a fresh count of attempts.
pub fn requeue_dead(
    conn: &mut DbConnection,
    id: Option<MessageId>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut q = diesel::update(mail_outbox::table)
        .filter(mail_outbox::status.eq(OutboxStatus::Dead.code()))
        .into_boxed();
    if let Some(id) = id {
        q = q.filter(mail_outbox::id.eq(id));
    }
    q.set((
        mail_outbox::status.eq(OutboxStatus::Queued.code()),
        mail_outbox::attempts.eq(0),
        mail_outbox::next_attempt_at.eq(now),
    ))
    .execute(conn)
}

/// A page of the outbox, newest first, optionally of one status (the operator's queue page).
pub fn list(
    conn: &mut DbConnection,
    status: Option<OutboxStatus>,
    page: crate::types::PageRequest,
) -> QueryResult<(Vec<OutboxRow>, i64)> {
    let filtered = || {
        let mut q = mail_outbox::table.into_boxed();
        if let Some(s) = status {
            q = q.filter(mail_outbox::status.eq(s.code()));
        }
        q
    };
    let rows = filtered()
        .select(OutboxRow::as_select())
        .order(mail_outbox::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered().count().get_result(conn)?;
    Ok((rows, total))
}

/// Claims up to `limit` e-mails that are due (queued and past their next attempt, or left in
/// `sending` by a sender whose lease ran out): marks them `sending` until `lease_until` and
/// counts the attempt. On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED`, so
/// several senders (instances) never claim the same message; SQLite serializes writers with
/// `BEGIN IMMEDIATE`.
pub fn claim_due(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    lease_until: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<crate::mail::model::OutboxRow>> {
    use crate::db::schema::mail_outbox as m;
    use crate::mail::model::{OutboxRow, OutboxStatus};
    use diesel::prelude::*;
    let (queued, sending) = (OutboxStatus::Queued.code(), OutboxStatus::Sending.code());

    macro_rules! due {
        () => {
            m::table
                .filter(
                    m::status
                        .eq(queued)
                        .and(m::next_attempt_at.le(now))
                        .or(m::status.eq(sending).and(m::lease_until.le(now))),
                )
                .select(m::id)
                .order((m::next_attempt_at, m::id))
                .limit(limit)
        };
    }
    macro_rules! mark {
        ($c:expr, $ids:expr) => {
            diesel::update(m::table.filter(m::id.eq_any($ids)))
                .set((
                    m::status.eq(sending),
                    m::attempts.eq(m::attempts + 1),
                    m::lease_until.eq(Some(lease_until)),
                ))
                .returning(OutboxRow::as_returning())
                .get_results($c)
        };
    }
    match conn {
        DbConnection::Pg(c) => c.transaction(|c| {
            let ids: Vec<i64> = due!().for_update().skip_locked().load(c)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            mark!(c, &ids)
        }),
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            let ids: Vec<i64> = due!().load(c)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            mark!(c, &ids)
        }),
    }
}
