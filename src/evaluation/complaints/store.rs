//! The complaints' SQL.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{complaint_history, complaints, units, users};
use crate::db::DbConnection;
use crate::types::{ComplaintId, UnitId, UserId};

pub fn insert(conn: &mut DbConnection, row: &NewComplaint) -> QueryResult<ComplaintId> {
    diesel::insert_into(complaints::table)
        .values(row)
        .returning(complaints::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: ComplaintId) -> QueryResult<Option<ComplaintRow>> {
    complaints::table
        .find(id)
        .select(ComplaintRow::as_select())
        .first(conn)
        .optional()
}

/// Whose complaints a list shows.
pub enum Scope {
    Complainant(UserId),
    Unit(UnitId),
    All,
}

/// Complaints newest first, with their unit's and complainant's names; `open` keeps the
/// ones not yet finished.
pub fn list(
    conn: &mut DbConnection,
    scope: &Scope,
    open: bool,
    limit: i64,
) -> QueryResult<Vec<(ComplaintRow, String, String)>> {
    let mut q = complaints::table
        .inner_join(units::table)
        .inner_join(users::table)
        .select((ComplaintRow::as_select(), units::name, users::name))
        .order(complaints::id.desc())
        .limit(limit)
        .into_boxed();
    q = match scope {
        Scope::Complainant(u) => q.filter(complaints::complainant_id.eq(*u)),
        // A unit sees what the platform accepted.
        Scope::Unit(u) => q
            .filter(complaints::unit_id.eq(*u))
            .filter(complaints::accepted_at.is_not_null()),
        Scope::All => q,
    };
    if open {
        q = q.filter(complaints::status.eq_any(ComplaintStatus::OPEN));
    }
    q.load(conn)
}

/// The complaint's unit's and complainant's names.
pub fn names(conn: &mut DbConnection, row: &ComplaintRow) -> QueryResult<(String, String)> {
    let unit = units::table
        .find(row.unit_id)
        .select(units::name)
        .first(conn)?;
    let person = users::table
        .find(row.complainant_id)
        .select(users::name)
        .first(conn)?;
    Ok((unit, person))
}

/// Writes the row's new state if it is still as `before` left it: 0 rows when someone else
/// moved it first. Every step stamps `updated_at`, so it serves as the row's version.
pub fn set_state(
    conn: &mut DbConnection,
    row: &ComplaintRow,
    before: &ComplaintRow,
) -> QueryResult<usize> {
    diesel::update(
        complaints::table
            .find(row.id)
            .filter(complaints::status.eq(before.status))
            .filter(complaints::updated_at.eq(before.updated_at)),
    )
    .set((
        complaints::status.eq(row.status),
        complaints::sent_back_reason.eq(&row.sent_back_reason),
        complaints::answer.eq(&row.answer),
        complaints::decision.eq(row.decision),
        complaints::decision_reason.eq(&row.decision_reason),
        complaints::rectification.eq(&row.rectification),
        complaints::accepted_at.eq(row.accepted_at),
        complaints::answer_due_at.eq(row.answer_due_at),
        complaints::answered_at.eq(row.answered_at),
        complaints::overdue_at.eq(row.overdue_at),
        complaints::decided_at.eq(row.decided_at),
        complaints::closed_at.eq(row.closed_at),
        complaints::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
}

pub fn insert_history(conn: &mut DbConnection, h: &NewComplaintHistory) -> QueryResult<()> {
    diesel::insert_into(complaint_history::table)
        .values(h)
        .execute(conn)?;
    Ok(())
}

/// (step, to, actor's name and role, note, at), oldest first.
#[allow(clippy::type_complexity)]
pub fn history(
    conn: &mut DbConnection,
    id: ComplaintId,
) -> QueryResult<
    Vec<(
        String,
        ComplaintStatus,
        Option<UserId>,
        Option<String>,
        String,
        NaiveDateTime,
    )>,
> {
    complaint_history::table
        .left_join(users::table.on(users::id.nullable().eq(complaint_history::actor_id)))
        .filter(complaint_history::complaint_id.eq(id))
        .order(complaint_history::id)
        .select((
            complaint_history::step,
            complaint_history::to_status,
            complaint_history::actor_id,
            users::name.nullable(),
            complaint_history::note,
            complaint_history::at,
        ))
        .load(conn)
}

/// Accepted complaints whose deadline has come and that are not yet marked overdue.
pub fn due_unanswered(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ComplaintRow>> {
    complaints::table
        .filter(complaints::status.eq(ComplaintStatus::Accepted))
        .filter(complaints::answer_due_at.le(now))
        .filter(complaints::overdue_at.is_null())
        .order(complaints::answer_due_at)
        .limit(limit)
        .select(ComplaintRow::as_select())
        .load(conn)
}
