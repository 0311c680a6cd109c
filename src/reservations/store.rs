//! Reservation queries.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{blackouts, reservation_history, reservations};
use crate::db::{Db, DbConnection};
use crate::types::PageRequest;

/// `status = a OR status = b …` over a fixed list: the same SQL text every call, so the hot
/// queries stay in the prepared-statement cache (an `eq_any` list is prepared afresh each
/// time). SQLite turns it into `IN` and uses the same index.
macro_rules! status_is_one_of {
    ($first:expr $(, $rest:expr)*) => {
        reservations::status.eq($first.code())$(.or(reservations::status.eq($rest.code())))*
    };
}

/// Active machine-time reservations of `instrument` that come within `buffer` of
/// [`starts`, `ends`) — what a new booking would clash with.
pub fn clashes(
    conn: &mut DbConnection,
    instrument: i64,
    starts: NaiveDateTime,
    ends: NaiveDateTime,
    buffer: chrono::Duration,
    except: Option<i64>,
) -> QueryResult<Vec<ReservationRow>> {
    let [a, b, c] = ReservationStatus::ACTIVE;
    reservations::table
        .filter(reservations::instrument_id.eq(instrument))
        .filter(reservations::kind.eq(ReservationKind::MachineTime.code()))
        .filter(status_is_one_of!(a, b, c))
        .filter(reservations::starts_at.lt(ends + buffer))
        .filter(reservations::ends_at.gt(starts - buffer))
        // Ids start at 1: 0 excepts nothing, and the query's text stays the same.
        .filter(reservations::id.ne(except.unwrap_or(0)))
        .select(ReservationRow::as_select())
        .limit(5)
        .load(conn)
}

pub fn count_active_of(conn: &mut DbConnection, user: i64, instrument: i64) -> QueryResult<i64> {
    use ReservationStatus as S;
    let [a, b, c] = ReservationStatus::ACTIVE;
    reservations::table
        .filter(reservations::user_id.eq(user))
        .filter(reservations::instrument_id.eq(instrument))
        .filter(status_is_one_of!(
            a,
            b,
            c,
            S::Submitted,
            S::Accepted,
            S::InTest
        ))
        .select(count_star())
        .get_result(conn)
}

pub fn find_by_key(
    conn: &mut DbConnection,
    user: i64,
    key: &str,
) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .filter(reservations::user_id.eq(user))
        .filter(reservations::idempotency_key.eq(key))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .find(id)
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts `row` and returns it as stored, built from what was written rather than read back:
/// one statement less in the write lock.
pub fn insert(conn: &mut DbConnection, row: NewReservation) -> QueryResult<ReservationRow> {
    let id: i64 = diesel::insert_into(reservations::table)
        .values(&row)
        .returning(reservations::id)
        .get_result(conn)?;
    Ok(row.stored(id))
}

pub fn insert_history(conn: &mut DbConnection, row: &NewHistory) -> QueryResult<usize> {
    diesel::insert_into(reservation_history::table)
        .values(row)
        .execute(conn)
}

/// Writes a transition: only from the state it was read in (a second, racing decision finds
/// 0 rows and is refused).
#[allow(clippy::too_many_arguments)]
pub fn set_status(
    conn: &mut DbConnection,
    row: &ReservationRow,
    from: ReservationStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reservations::table
            .find(row.id)
            .filter(reservations::status.eq(from.code())),
    )
    .set((
        reservations::status.eq(&row.status),
        reservations::starts_at.eq(row.starts_at),
        reservations::ends_at.eq(row.ends_at),
        reservations::planned_on.eq(row.planned_on),
        reservations::reason.eq(&row.reason),
        reservations::checked_in_at.eq(row.checked_in_at),
        reservations::checked_out_at.eq(row.checked_out_at),
        reservations::fee_estimate_fen.eq(row.fee_estimate_fen),
        reservations::updated_at.eq(now),
    ))
    .execute(conn)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user: Option<i64>,
    pub unit_instruments_of: Option<i64>,
    pub instruments: Option<Vec<i64>>,
    pub instrument: Option<i64>,
    pub status: Option<ReservationStatus>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

fn filtered(f: &Filter) -> reservations::BoxedQuery<'static, Db> {
    use crate::db::schema::instruments;
    let mut q = reservations::table.into_boxed();
    if let Some(u) = f.user {
        q = q.filter(reservations::user_id.eq(u));
    }
    if let Some(unit) = f.unit_instruments_of {
        q = q.filter(
            reservations::instrument_id.eq_any(
                instruments::table
                    .filter(instruments::unit_id.eq(unit))
                    .select(instruments::id),
            ),
        );
    }
    if let Some(ids) = &f.instruments {
        q = q.filter(reservations::instrument_id.eq_any(ids.clone()));
    }
    if let Some(i) = f.instrument {
        q = q.filter(reservations::instrument_id.eq(i));
    }
    if let Some(s) = f.status {
        q = q.filter(reservations::status.eq(s.code()));
    }
    if let Some(from) = f.from {
        q = q.filter(reservations::ends_at.gt(from));
    }
    if let Some(to) = f.to {
        q = q.filter(reservations::starts_at.lt(to));
    }
    q
}

pub fn list(
    conn: &mut DbConnection,
    f: &Filter,
    page: PageRequest,
) -> QueryResult<(Vec<ReservationRow>, i64)> {
    let rows = filtered(f)
        .select(ReservationRow::as_select())
        .order(reservations::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered(f).count().get_result(conn)?;
    Ok((rows, total))
}

/// Machine-time reservations in `status` starting at or before `until`, oldest first.
pub fn starting_by(
    conn: &mut DbConnection,
    status: ReservationStatus,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ReservationRow>> {
    reservations::table
        .filter(reservations::kind.eq(ReservationKind::MachineTime.code()))
        .filter(reservations::status.eq(status.code()))
        .filter(reservations::starts_at.le(until))
        .select(ReservationRow::as_select())
        .order(reservations::starts_at)
        .limit(limit)
        .load(conn)
}

/// Approved bookings starting in [`from`, `until`) whose booker has not been reminded.
pub fn due_reminders(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ReservationRow>> {
    reservations::table
        .filter(reservations::status.eq(ReservationStatus::Approved.code()))
        .filter(reservations::reminded_at.is_null())
        .filter(reservations::starts_at.ge(from))
        .filter(reservations::starts_at.lt(until))
        .select(ReservationRow::as_select())
        .order(reservations::starts_at)
        .limit(limit)
        .load(conn)
}

/// Marks a reminder sent; 0 if another instance did first.
pub fn mark_reminded(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::reminded_at.is_null()),
    )
    .set(reservations::reminded_at.eq(now))
    .execute(conn)
}

/// Runs `$query` (a closure of the instrument filter) with `instrument_id = ?` for one
/// instrument — one SQL text, kept prepared — and `IN (…)` for several.
macro_rules! for_instruments {
    ($column:expr, $ids:expr, |$filter:ident| $query:expr) => {
        match $ids {
            [one] => {
                let $filter = $column.eq(*one);
                $query
            }
            many => {
                let $filter = $column.eq_any(many);
                $query
            }
        }
    };
}

/// Active machine-time reservations of `instruments` overlapping [`from`, `to`).
pub fn busy(
    conn: &mut DbConnection,
    instruments: &[i64],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<ReservationRow>> {
    let [a, b, c] = ReservationStatus::ACTIVE;
    for_instruments!(reservations::instrument_id, instruments, |of| {
        reservations::table
            .filter(of)
            .filter(reservations::kind.eq(ReservationKind::MachineTime.code()))
            .filter(status_is_one_of!(a, b, c))
            .filter(reservations::starts_at.lt(to))
            .filter(reservations::ends_at.gt(from))
            .select(ReservationRow::as_select())
            .order(reservations::starts_at)
            .load(conn)
    })
}

/// Blackouts of `instruments` overlapping [`from`, `to`): (instrument, start, end, reason).
pub fn blackouts_of(
    conn: &mut DbConnection,
    instruments: &[i64],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(i64, NaiveDateTime, NaiveDateTime, String)>> {
    for_instruments!(blackouts::instrument_id, instruments, |of| {
        blackouts::table
            .filter(of)
            .filter(blackouts::starts_at.lt(to))
            .filter(blackouts::ends_at.gt(from))
            .select((
                blackouts::instrument_id,
                blackouts::starts_at,
                blackouts::ends_at,
                blackouts::reason,
            ))
            .order(blackouts::starts_at)
            .load(conn)
    })
}

/// A person's reservations with times, for their calendar feed (the latest 500).
pub fn of_user_with_times(conn: &mut DbConnection, user: i64) -> QueryResult<Vec<ReservationRow>> {
    reservations::table
        .filter(reservations::user_id.eq(user))
        .filter(reservations::starts_at.is_not_null())
        .select(ReservationRow::as_select())
        .order(reservations::starts_at.desc())
        .limit(500)
        .load(conn)
}

pub fn insert_blackout(
    conn: &mut DbConnection,
    instrument: i64,
    starts: NaiveDateTime,
    ends: NaiveDateTime,
    reason: &str,
    by: i64,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(blackouts::table)
        .values((
            blackouts::instrument_id.eq(instrument),
            blackouts::starts_at.eq(starts),
            blackouts::ends_at.eq(ends),
            blackouts::reason.eq(reason),
            blackouts::created_by.eq(by),
            blackouts::created_at.eq(now),
        ))
        .returning(blackouts::id)
        .get_result(conn)
}
