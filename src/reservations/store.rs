//! Reservation queries.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{blackouts, reservation_history, reservations};
use crate::db::{Db, DbConnection};
use crate::types::{InstrumentId, PageRequest, ReservationId, UnitId, UserId};

/// `kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use')`, written into the
/// SQL text instead of bound: these are the words of the PostgreSQL partial index behind the
/// exclusion constraint, and a prepared statement's generic plan can use that index only if
/// they are literals. With bound values PostgreSQL planned every execution afresh (custom
/// plans), which was most of its work per availability request.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
pub struct ActiveMachineTime;

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for ActiveMachineTime {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("\"reservations\".\"kind\" = '");
        out.push_sql(ReservationKind::MachineTime.code());
        out.push_sql("' AND ");
        push_status_in(&mut out, &ReservationStatus::ACTIVE);
        Ok(())
    }
}

/// `status IN ('a', 'b' …)` with the states written as literals, like [`ActiveMachineTime`]:
/// a bound list hides from a generic plan which states are asked for, and PostgreSQL then
/// read every reservation of each instrument and filtered them (the approval queue of a unit
/// grew slower with its history, not with its queue). Each list is its own statement text.
#[derive(Debug, Clone)]
pub struct StatusIn(pub Vec<ReservationStatus>);

impl diesel::query_builder::QueryId for StatusIn {
    type QueryId = ();
    // The text depends on the list: cached by its SQL, never by this type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for StatusIn {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        push_status_in(&mut out, &self.0);
        Ok(())
    }
}

/// Makes each type a boolean condition on `reservations`, its SQL being its `QueryFragment`.
macro_rules! reservations_condition {
    ($($t:ty),+) => {$(
        impl diesel::expression::Expression for $t {
            type SqlType = diesel::sql_types::Bool;
        }
        impl<GB> diesel::expression::ValidGrouping<GB> for $t {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
        impl diesel::expression::AppearsOnTable<reservations::table> for $t {}
        impl diesel::expression::SelectableExpression<reservations::table> for $t {}
    )+};
}
reservations_condition!(ActiveMachineTime, StatusIn);

fn push_status_in<DB: diesel::backend::Backend>(
    out: &mut diesel::query_builder::AstPass<'_, '_, DB>,
    list: &[ReservationStatus],
) {
    if list.is_empty() {
        out.push_sql("1 = 0");
        return;
    }
    // Codes are lower-case words (checked by a test): nothing to escape.
    out.push_sql("\"reservations\".\"status\" IN (");
    for (i, status) in list.iter().enumerate() {
        out.push_sql(if i == 0 { "'" } else { ", '" });
        out.push_sql(status.code());
        out.push_sql("'");
    }
    out.push_sql(")");
}

pub fn count_active_of(
    conn: &mut DbConnection,
    user: UserId,
    instrument: InstrumentId,
) -> QueryResult<i64> {
    // Bound, not literal (StatusIn): with literals a planner whose statistics predate the
    // open bookings reads every open booking of the platform through (status, starts_at);
    // bound, it reads this person's bookings of the instrument.
    let open: Vec<&str> = ReservationStatus::OPEN.iter().map(|s| s.code()).collect();
    crate::db::per_backend!(conn, |conn| reservations::table
        .filter(reservations::user_id.eq(user))
        .filter(reservations::instrument_id.eq(instrument))
        .filter(reservations::status.eq_any(open.clone()))
        .select(count_star())
        .get_result(conn))
}

/// The reservation `user` made with Idempotency-Key `key`, with the fingerprint of what that
/// request asked for.
pub fn find_by_key(
    conn: &mut DbConnection,
    user: UserId,
    key: &str,
) -> QueryResult<Option<(ReservationRow, Option<String>)>> {
    crate::db::per_backend!(conn, |conn| reservations::table
        .filter(reservations::user_id.eq(user))
        .filter(reservations::idempotency_key.eq(key))
        .select((
            ReservationRow::as_select(),
            reservations::idempotency_fingerprint,
        ))
        .first(conn)
        .optional())
}

pub fn find(conn: &mut DbConnection, id: ReservationId) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .find(id)
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts `row` and returns it as stored, built from what was written rather than read back:
/// one statement less in the write lock.
pub fn insert(conn: &mut DbConnection, row: NewReservation) -> QueryResult<ReservationRow> {
    let id: ReservationId =
        crate::db::per_backend!(conn, |conn| diesel::insert_into(reservations::table)
            .values(&row)
            .returning(reservations::id)
            .get_result(conn))?;
    Ok(row.stored(id))
}

pub fn insert_history(conn: &mut DbConnection, row: &NewHistory) -> QueryResult<usize> {
    crate::db::per_backend!(conn, |conn| diesel::insert_into(reservation_history::table)
        .values(row)
        .execute(conn))
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
    pub user: Option<UserId>,
    pub unit_instruments_of: Option<UnitId>,
    pub instruments: Option<Vec<InstrumentId>>,
    pub instrument: Option<InstrumentId>,
    pub status: Option<ReservationStatus>,
    /// Any of these states (a page's tab: those waiting for a decision, say).
    pub statuses: Option<Vec<ReservationStatus>>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// In the order they start (a queue: the most urgent first; sample orders, which have no
    /// start, after them), instead of the newest first.
    pub by_start: bool,
}

fn filtered(f: &Filter) -> reservations::BoxedQuery<'static, Db> {
    let mut q = reservations::table.into_boxed();
    if let Some(u) = f.user {
        q = q.filter(reservations::user_id.eq(u));
    }
    if let Some(unit) = f.unit_instruments_of {
        q = q.filter(
            reservations::instrument_id.eq_any(crate::navigation::store::ids_in_unit(unit)),
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
    if let Some(list) = &f.statuses {
        q = q.filter(StatusIn(list.clone()));
    }
    if let Some(from) = f.from {
        // No booking is longer than MAX_BOOKING_MINUTES, so one that ends after `from`
        // started after this: a bound that keeps the index scan to the window instead of
        // every earlier reservation.
        let earliest = from - chrono::Duration::minutes(super::rules::MAX_BOOKING_MINUTES);
        q = q
            .filter(reservations::ends_at.gt(from))
            .filter(reservations::starts_at.gt(earliest));
    }
    if let Some(to) = f.to {
        q = q.filter(reservations::starts_at.lt(to));
    }
    q
}

/// How many reservations the filter keeps.
pub fn count(conn: &mut DbConnection, f: &Filter) -> QueryResult<i64> {
    filtered(f).count().get_result(conn)
}

pub fn list(
    conn: &mut DbConnection,
    f: &Filter,
    page: PageRequest,
) -> QueryResult<(Vec<ReservationRow>, i64)> {
    let query = filtered(f).select(ReservationRow::as_select());
    let query = if f.by_start {
        query.order((
            reservations::starts_at.is_null(),
            reservations::starts_at.asc(),
            reservations::id.asc(),
        ))
    } else {
        query.order(reservations::id.desc())
    };
    let rows = query
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
pub fn mark_reminded(
    conn: &mut DbConnection,
    id: ReservationId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::reminded_at.is_null()),
    )
    .set(reservations::reminded_at.eq(now))
    .execute(conn)
}

/// Runs `$query` with each `$filter` bound to `$column = ?` for one instrument (one SQL
/// text, kept prepared) or to `$column IN (…)` for several.
macro_rules! for_instruments {
    ($ids:expr, |$($filter:ident = $column:path),+| $query:expr) => {
        match $ids {
            [one] => {
                $(let $filter = $column.eq(*one);)+
                $query
            }
            many => {
                $(let $filter = $column.eq_any(many);)+
                $query
            }
        }
    };
}

/// What occupies an instrument: an active machine-time reservation (its id and status) or a
/// blackout (its id and reason).
#[derive(Debug, Clone, Queryable)]
pub struct BusyRow {
    pub instrument_id: InstrumentId,
    pub blackout: bool,
    pub id: ReservationId,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    /// A reservation's status; a blackout's reason.
    pub note: String,
}

/// The statement of [`busy`] and [`busy_in_unit`]: active machine-time reservations kept by
/// `booked` that come within `buffer` of [`from`, `to`) (but `except`), `UNION ALL` the
/// blackouts kept by `closed` that overlap it.
macro_rules! busy_statement {
    ($conn:expr, $booked:expr, $closed:expr, $from:expr, $to:expr, $buffer:expr, $except:expr) => {{
        use diesel::sql_types::Bool;
        reservations::table
            .filter($booked)
            .filter(ActiveMachineTime)
            .filter(reservations::starts_at.lt($to + $buffer))
            .filter(reservations::ends_at.gt($from - $buffer))
            .filter(reservations::id.ne($except))
            .select((
                reservations::instrument_id,
                false.into_sql::<Bool>(),
                reservations::id,
                reservations::starts_at,
                reservations::ends_at,
                reservations::status,
            ))
            .union_all(
                blackouts::table
                    .filter($closed)
                    .filter(blackouts::starts_at.lt($to))
                    .filter(blackouts::ends_at.gt($from))
                    .select((
                        blackouts::instrument_id,
                        true.into_sql::<Bool>(),
                        blackouts::id,
                        blackouts::starts_at.nullable(),
                        blackouts::ends_at.nullable(),
                        blackouts::reason,
                    )),
            )
            .load($conn)
    }};
}

/// What occupies `instruments` over [`from`, `to`), in one statement: active machine-time
/// reservations that come within `buffer` of it (but `except`) and blackouts overlapping it.
/// Unordered. Every caller — availability, a page of the week grid, the feeds and the clash
/// check under the lock — reads the same rows.
pub fn busy(
    conn: &mut DbConnection,
    instruments: &[InstrumentId],
    from: NaiveDateTime,
    to: NaiveDateTime,
    buffer: chrono::Duration,
    except: Option<ReservationId>,
) -> QueryResult<Vec<BusyRow>> {
    // Ids start at 1: 0 excepts nothing, and the statement's text stays the same.
    let except = except.unwrap_or(ReservationId(0));
    crate::db::per_backend!(conn, |conn| for_instruments!(instruments, |
        booked = reservations::instrument_id,
        closed = blackouts::instrument_id
    | busy_statement!(conn, booked, closed, from, to, buffer, except)))
}

/// What occupies the instruments of `unit` over [`from`, `to`): [`busy`] for a whole unit
/// (its week grid), reading its bookings through `(unit_id, starts_at)` in one index descent
/// instead of one per instrument. Unordered.
pub fn busy_in_unit(
    conn: &mut DbConnection,
    unit: UnitId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<BusyRow>> {
    use crate::navigation::store::ids_in_unit;
    crate::db::per_backend!(conn, |conn| busy_statement!(
        conn,
        reservations::unit_id.eq(unit),
        blackouts::instrument_id.eq_any(ids_in_unit(unit)),
        from,
        to,
        chrono::Duration::zero(),
        ReservationId(0)
    ))
}

/// A person's reservations with times, for their calendar feed (the latest 500).
pub fn of_user_with_times(
    conn: &mut DbConnection,
    user: UserId,
) -> QueryResult<Vec<ReservationRow>> {
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
    instrument: InstrumentId,
    starts: NaiveDateTime,
    ends: NaiveDateTime,
    reason: &str,
    by: UserId,
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

/// Locks an instrument row for the rest of the transaction, so that bookings of one
/// instrument are checked and written one at a time (PostgreSQL `SELECT … FOR UPDATE`; false
/// if no such row). On SQLite the caller's `BEGIN IMMEDIATE` already serializes writers, and
/// nothing is read: instruments are retired, never deleted, and callers read the row anyway.
pub fn lock_instrument(conn: &mut DbConnection, id: InstrumentId) -> QueryResult<bool> {
    use crate::db::schema::instruments as i;
    use diesel::prelude::*;
    match conn {
        DbConnection::Pg(c) => Ok(i::table
            .find(id)
            .select(i::id)
            .for_update()
            .first::<i64>(c)
            .optional()?
            .is_some()),
        DbConnection::Sqlite(_) => Ok(true),
    }
}

/// An instrument with its booking settings row (None: it has the defaults).
pub fn instrument_and_settings(
    conn: &mut DbConnection,
    id: InstrumentId,
) -> QueryResult<
    Option<(
        crate::navigation::model::InstrumentRow,
        Option<BookingSettingsRow>,
    )>,
> {
    use crate::db::schema::{booking_settings, instruments};
    use crate::navigation::model::InstrumentRow;
    crate::db::per_backend!(conn, |conn| instruments::table
        .left_join(booking_settings::table)
        .filter(instruments::id.eq(id))
        .select((
            InstrumentRow::as_select(),
            Option::<BookingSettingsRow>::as_select(),
        ))
        .first(conn)
        .optional())
}

pub fn booking_settings(
    conn: &mut DbConnection,
    instrument: InstrumentId,
) -> QueryResult<Option<BookingSettingsRow>> {
    crate::db::per_backend!(conn, |conn| crate::db::schema::booking_settings::table
        .find(instrument)
        .select(BookingSettingsRow::as_select())
        .first(conn)
        .optional())
}

/// The settings rows of these instruments (those that have one), a bounded number of ids a
/// statement.
pub fn booking_settings_of(
    conn: &mut DbConnection,
    instruments: &[InstrumentId],
) -> QueryResult<Vec<BookingSettingsRow>> {
    use crate::db::schema::booking_settings;
    let mut out = Vec::with_capacity(instruments.len());
    for chunk in instruments.chunks(crate::db::IDS_PER_STATEMENT) {
        let rows: Vec<BookingSettingsRow> =
            crate::db::per_backend!(conn, |conn| booking_settings::table
                .filter(booking_settings::instrument_id.eq_any(chunk))
                .select(BookingSettingsRow::as_select())
                .load(conn))?;
        out.extend(rows);
    }
    Ok(out)
}

/// Insert or replace, portably: the row is written in the caller's transaction, which holds
/// the instrument (SQLite's IMMEDIATE lock; on PostgreSQL a racing insert gets a 409).
pub fn save_booking_settings(conn: &mut DbConnection, row: &BookingSettingsRow) -> QueryResult<()> {
    let updated =
        diesel::update(crate::db::schema::booking_settings::table.find(row.instrument_id))
            .set(row)
            .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(crate::db::schema::booking_settings::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal predicate must say what the partial indexes say (the one behind the
    /// exclusion constraint, and the active bookings by start), or the planners cannot use
    /// them.
    #[test]
    fn active_machine_time_is_the_partial_index_predicate() {
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(
            &reservations::table
                .filter(ActiveMachineTime)
                .select(reservations::id),
        )
        .to_string();
        assert!(
            sql.contains(
                r#""reservations"."kind" = 'machine_time' AND "reservations"."status" IN ('pending', 'approved', 'in_use')"#
            ),
            "{sql}"
        );
        let migration =
            include_str!("../../migrations/postgres/2026-11-28-000003_reservations/up.sql");
        assert!(migration.contains(
            "WHERE (kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use'))"
        ));
        // And the index of active machine time by instrument and start, on both backends.
        for migration in [
            include_str!(
                "../../migrations/postgres/2026-12-08-000001_reservations_active_time/up.sql"
            ),
            include_str!(
                "../../migrations/sqlite/2026-12-08-000001_reservations_active_time/up.sql"
            ),
        ] {
            assert!(migration.contains(
                "WHERE kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use');"
            ));
        }
    }
}
