//! SQL of the machine-hour log: records, reductions, declarations and the rollups.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{
    hour_reductions, instruments, organisations, service_records, unit_declarations, units,
    usage_clients, usage_instrument_client_counts, usage_instrument_clients, usage_monthly,
    usage_platform_clients, usage_unit_monthly, usage_yearly, users,
};
use crate::db::{sum_i64 as sum, Db, DbConnection};
use crate::navigation::model::{RunStatus, ShareMode};
use crate::types::{
    InstrumentId, OrganisationId, PageRequest, ReductionId, ReservationId, ServiceRecordId, UnitId,
    UserId,
};

pub fn insert(conn: &mut DbConnection, row: &NewServiceRecord) -> QueryResult<ServiceRecordId> {
    diesel::insert_into(service_records::table)
        .values(row)
        .returning(service_records::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: ServiceRecordId) -> QueryResult<Option<ServiceRecordRow>> {
    service_records::table
        .find(id)
        .select(ServiceRecordRow::as_select())
        .first(conn)
        .optional()
}

/// The latest service record of a booking (a session is logged once; a record may be
/// corrected, never doubled).
pub fn of_reservation(
    conn: &mut DbConnection,
    reservation: ReservationId,
) -> QueryResult<Option<ServiceRecordRow>> {
    service_records::table
        .filter(service_records::reservation_id.eq(reservation))
        .select(ServiceRecordRow::as_select())
        .order(service_records::id.desc())
        .first(conn)
        .optional()
}

pub fn set_amounts(
    conn: &mut DbConnection,
    id: ServiceRecordId,
    minutes: i32,
    fee: i64,
) -> QueryResult<usize> {
    diesel::update(service_records::table.find(id))
        .set((
            service_records::minutes.eq(minutes),
            service_records::fee_fen.eq(fee),
        ))
        .execute(conn)
}

/// A change to the sums of one record's rollup cells.
pub struct Delta {
    pub instrument_id: InstrumentId,
    pub unit_id: UnitId,
    pub month: i32,
    pub service_type: ServiceType,
    pub service_way: ServiceWay,
    pub direction: Direction,
    pub internal: bool,
    pub organisation_id: Option<OrganisationId>,
    pub services: i64,
    pub minutes: i64,
    pub samples: i64,
    pub fee_fen: i64,
}

/// Upserts `$d`'s services, minutes, samples and fee into the cell of table `$t` keyed by the
/// given columns.
macro_rules! add_sums {
    ($conn:expr, $t:ident, [$($k:ident = $v:expr),+], $d:expr) => {
        crate::db::per_backend!($conn, |c| diesel::insert_into($t::table)
            .values((
                $($t::$k.eq($v),)+
                $t::services.eq($d.services),
                $t::minutes.eq($d.minutes),
                $t::samples.eq($d.samples),
                $t::fee_fen.eq($d.fee_fen),
            ))
            .on_conflict(($($t::$k,)+))
            .do_update()
            .set((
                $t::services.eq($t::services + $d.services),
                $t::minutes.eq($t::minutes + $d.minutes),
                $t::samples.eq($t::samples + $d.samples),
                $t::fee_fen.eq($t::fee_fen + $d.fee_fen),
            ))
            .execute(c))
    };
}

/// Adds `d` to the rollups (an upsert per table), inside the caller's transaction.
pub fn add_to_rollups(conn: &mut DbConnection, d: &Delta) -> QueryResult<()> {
    add_sums!(
        conn,
        usage_monthly,
        [
            instrument_id = d.instrument_id,
            month = d.month,
            service_type = d.service_type,
            internal = d.internal
        ],
        d
    )?;
    add_sums!(
        conn,
        usage_yearly,
        [
            instrument_id = d.instrument_id,
            year = d.month / 100,
            internal = d.internal
        ],
        d
    )?;
    add_sums!(
        conn,
        usage_unit_monthly,
        [
            unit_id = d.unit_id,
            month = d.month,
            service_type = d.service_type,
            service_way = d.service_way,
            direction = d.direction,
            internal = d.internal
        ],
        d
    )?;
    if let (Some(org), true) = (d.organisation_id, d.services != 0) {
        use usage_clients as u;
        crate::db::per_backend!(conn, |c| diesel::insert_into(u::table)
            .values((
                u::unit_id.eq(d.unit_id),
                u::month.eq(d.month),
                u::organisation_id.eq(org),
                u::internal.eq(d.internal),
                u::services.eq(d.services),
            ))
            .on_conflict((u::unit_id, u::month, u::organisation_id, u::internal))
            .do_update()
            .set(u::services.eq(u::services + d.services))
            .execute(c))?;
        use usage_platform_clients as p;
        crate::db::per_backend!(conn, |c| diesel::insert_into(p::table)
            .values((
                p::month.eq(d.month),
                p::organisation_id.eq(org),
                p::internal.eq(d.internal),
                p::services.eq(d.services),
            ))
            .on_conflict((p::month, p::organisation_id, p::internal))
            .do_update()
            .set(p::services.eq(p::services + d.services))
            .execute(c))?;
        // An instrument's client units in a year: counted when an organisation first appears.
        use usage_instrument_clients as ic;
        let year = d.month / 100;
        let first = crate::db::per_backend!(conn, |c| diesel::insert_into(ic::table)
            .values((
                ic::instrument_id.eq(d.instrument_id),
                ic::year.eq(year),
                ic::organisation_id.eq(org),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        if first == 1 {
            use usage_instrument_client_counts as n;
            crate::db::per_backend!(conn, |c| diesel::insert_into(n::table)
                .values((
                    n::instrument_id.eq(d.instrument_id),
                    n::year.eq(year),
                    n::clients.eq(1),
                ))
                .on_conflict((n::instrument_id, n::year))
                .do_update()
                .set(n::clients.eq(n::clients + 1))
                .execute(c))?;
        }
    }
    Ok(())
}

/// Sums of one (owner, period, service type, internal) group: owner (an instrument or a unit),
/// period (a yyyymm month or a day), type, internal, services, minutes, samples, fee.
pub type Sums<P> = (i64, P, String, bool, i64, i64, i64, i64);

/// Every cell of `usage_monthly`, in key order (what the tests compare).
pub fn monthly_cells(conn: &mut DbConnection) -> QueryResult<Vec<Sums<i32>>> {
    use usage_monthly as m;
    m::table
        .select((
            m::instrument_id,
            m::month,
            m::service_type,
            m::internal,
            m::services,
            m::minutes,
            m::samples,
            m::fee_fen,
        ))
        .order((m::instrument_id, m::month, m::service_type, m::internal))
        .load(conn)
}

/// (unit, month, organisation, internal, services).
pub type ClientCell = (i64, i32, i64, bool, i64);

/// Every cell of `usage_clients`, in key order.
pub fn client_cells(conn: &mut DbConnection) -> QueryResult<Vec<ClientCell>> {
    use usage_clients as c;
    c::table
        .select((
            c::unit_id,
            c::month,
            c::organisation_id,
            c::internal,
            c::services,
        ))
        .order((c::unit_id, c::month, c::organisation_id, c::internal))
        .load(conn)
}

/// (instrument, year, internal, services, minutes, samples, fee).
pub type YearCell = (i64, i32, bool, i64, i64, i64, i64);

/// Every cell of `usage_yearly`, in key order.
pub fn yearly_cells(conn: &mut DbConnection) -> QueryResult<Vec<YearCell>> {
    use usage_yearly as y;
    y::table
        .select((
            y::instrument_id,
            y::year,
            y::internal,
            y::services,
            y::minutes,
            y::samples,
            y::fee_fen,
        ))
        .order((y::instrument_id, y::year, y::internal))
        .load(conn)
}

/// (instrument, year, client units) or (instrument, year, organisation).
pub type InstrumentYearCell = (i64, i32, i64);

/// Every (instrument, year, client units) of `usage_instrument_client_counts`, with the set
/// it counts, in key order.
pub fn instrument_client_cells(
    conn: &mut DbConnection,
) -> QueryResult<(Vec<InstrumentYearCell>, Vec<InstrumentYearCell>)> {
    use usage_instrument_client_counts as n;
    use usage_instrument_clients as ic;
    Ok((
        n::table
            .select((n::instrument_id, n::year, n::clients))
            .order((n::instrument_id, n::year))
            .load(conn)?,
        ic::table
            .select((ic::instrument_id, ic::year, ic::organisation_id))
            .order((ic::instrument_id, ic::year, ic::organisation_id))
            .load(conn)?,
    ))
}

/// Every (month, organisation, internal, services) of `usage_platform_clients`, in key order.
pub fn platform_client_cells(conn: &mut DbConnection) -> QueryResult<Vec<(i32, i64, bool, i64)>> {
    use usage_platform_clients as p;
    p::table
        .select((p::month, p::organisation_id, p::internal, p::services))
        .order((p::month, p::organisation_id, p::internal))
        .load(conn)
}

/// Months [first, last] as yyyymm and up to two day ranges at the edges of a period: the
/// months come from the rollups, the edge days from the records. An empty range has
/// from > to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Whole calendar years inside the months, for the per-instrument figures.
    pub years: (i32, i32),
    pub months: (i32, i32),
    /// The months outside `years` (before and after them).
    pub loose_months: [(i32, i32); 2],
    pub days: [(NaiveDate, NaiveDate); 2],
}

/// The span's non-empty day ranges: each is read with its own index range scan (an `OR` of
/// two ranges is not one).
fn day_ranges(span: &Span) -> impl Iterator<Item = (NaiveDate, NaiveDate)> + '_ {
    span.days.iter().copied().filter(|(a, b)| a <= b)
}

/// One unit, or all of them: a fixed query text either way.
fn unit_range(unit: Option<UnitId>) -> (i64, i64) {
    unit.map_or((i64::MIN, i64::MAX), |u| (u.0, u.0))
}

/// Sums of one unit's (period, service type, service way, direction, internal) group: unit,
/// period (a yyyymm month or a day), type, way, direction, internal, services, minutes,
/// samples, fee.
pub type UnitSums<P> = (
    i64,
    P,
    ServiceType,
    ServiceWay,
    Direction,
    bool,
    i64,
    i64,
    i64,
    i64,
);

/// Sums by (unit, month, type, way, direction, internal) from the unit rollup, of one unit or
/// all.
pub fn unit_months_rolled(
    conn: &mut DbConnection,
    span: &Span,
    unit: Option<UnitId>,
) -> QueryResult<Vec<UnitSums<i32>>> {
    use usage_unit_monthly as u;
    let mut q = u::table
        .filter(u::month.between(span.months.0, span.months.1))
        .into_boxed();
    // One unit by equality: its key prefix (unit, month) is then the whole read; a range on
    // the unit let SQLite prefer the month index and read every unit's months.
    if let Some(unit) = unit {
        q = q.filter(u::unit_id.eq(unit));
    }
    q.select((
        u::unit_id,
        u::month,
        u::service_type,
        u::service_way,
        u::direction,
        u::internal,
        u::services,
        u::minutes,
        u::samples,
        u::fee_fen,
    ))
    .load(conn)
}

/// Every cell of `usage_unit_monthly`, in key order (what the tests compare).
pub fn unit_cells(conn: &mut DbConnection) -> QueryResult<Vec<UnitSums<i32>>> {
    use usage_unit_monthly as u;
    u::table
        .select((
            u::unit_id,
            u::month,
            u::service_type,
            u::service_way,
            u::direction,
            u::internal,
            u::services,
            u::minutes,
            u::samples,
            u::fee_fen,
        ))
        .order((
            u::unit_id,
            u::month,
            u::service_type,
            u::service_way,
            u::direction,
            u::internal,
        ))
        .load(conn)
}

/// The same sums from the records of the edge days, by day.
pub fn unit_days_raw(
    conn: &mut DbConnection,
    span: &Span,
    unit: Option<UnitId>,
) -> QueryResult<Vec<UnitSums<NaiveDate>>> {
    use service_records as r;
    let (lo, hi) = unit_range(unit);
    let mut rows = Vec::new();
    for (a, b) in day_ranges(span) {
        rows.extend(
            r::table
                .inner_join(instruments::table)
                .filter(r::served_on.between(a, b))
                .filter(instruments::unit_id.between(lo, hi))
                .group_by((
                    instruments::unit_id,
                    r::served_on,
                    r::service_type,
                    r::service_way,
                    r::direction,
                    r::internal,
                ))
                .select((
                    instruments::unit_id,
                    r::served_on,
                    r::service_type,
                    r::service_way,
                    r::direction,
                    r::internal,
                    count_star(),
                    sum("service_records.minutes"),
                    sum("service_records.sample_count"),
                    sum("service_records.fee_fen"),
                ))
                .load::<UnitSums<NaiveDate>>(conn)?,
        );
    }
    Ok(rows)
}

/// Sums by (instrument, internal): (instrument, internal, services, minutes, samples, fee).
pub type InstrumentSums = (i64, bool, i64, i64, i64, i64);

/// All instruments' sums over the span's whole years (one row per instrument and year).
pub fn instruments_yearly(
    conn: &mut DbConnection,
    span: &Span,
) -> QueryResult<Vec<InstrumentSums>> {
    use usage_yearly as y;
    y::table
        .filter(y::year.between(span.years.0, span.years.1))
        .group_by((y::instrument_id, y::internal))
        .select((
            y::instrument_id,
            y::internal,
            sum("usage_yearly.services"),
            sum("usage_yearly.minutes"),
            sum("usage_yearly.samples"),
            sum("usage_yearly.fee_fen"),
        ))
        .load(conn)
}

/// All instruments' sums over the span's months outside whole years (read by month).
pub fn instruments_loose_months(
    conn: &mut DbConnection,
    span: &Span,
) -> QueryResult<Vec<InstrumentSums>> {
    use usage_monthly as m;
    let [a, b] = span.loose_months;
    m::table
        .filter(m::month.between(a.0, a.1).or(m::month.between(b.0, b.1)))
        .group_by((m::instrument_id, m::internal))
        .select((
            m::instrument_id,
            m::internal,
            sum("usage_monthly.services"),
            sum("usage_monthly.minutes"),
            sum("usage_monthly.samples"),
            sum("usage_monthly.fee_fen"),
        ))
        .load(conn)
}

/// One unit's instruments' sums over a year: read instrument by instrument along the primary
/// key of the yearly rollup.
pub fn unit_instruments_year(
    conn: &mut DbConnection,
    unit: UnitId,
    year: i32,
) -> QueryResult<Vec<InstrumentSums>> {
    use usage_yearly as y;
    y::table
        .filter(y::instrument_id.eq_any(crate::navigation::store::ids_in_unit(unit)))
        .filter(y::year.eq(year))
        .select((
            y::instrument_id,
            y::internal,
            y::services,
            y::minutes,
            y::samples,
            y::fee_fen,
        ))
        .load(conn)
}

/// All instruments' sums over the span's edge days, from the records.
pub fn instruments_raw(conn: &mut DbConnection, span: &Span) -> QueryResult<Vec<InstrumentSums>> {
    use service_records as r;
    let mut rows = Vec::new();
    for (a, b) in day_ranges(span) {
        rows.extend(
            r::table
                .filter(r::served_on.between(a, b))
                .group_by((r::instrument_id, r::internal))
                .select((
                    r::instrument_id,
                    r::internal,
                    count_star(),
                    sum("service_records.minutes"),
                    sum("service_records.sample_count"),
                    sum("service_records.fee_fen"),
                ))
                .load::<InstrumentSums>(conn)?,
        );
    }
    Ok(rows)
}

/// Distinct (client organisation, served internally) pairs in the span, by the platform
/// (`None`) or one unit: whole months from the rollups, edge days from the records.
pub fn clients(
    conn: &mut DbConnection,
    span: &Span,
    unit: Option<UnitId>,
) -> QueryResult<Vec<(i64, bool)>> {
    let mut orgs: Vec<(i64, bool)> = match unit {
        None => usage_platform_clients::table
            .filter(usage_platform_clients::month.between(span.months.0, span.months.1))
            .select((
                usage_platform_clients::organisation_id,
                usage_platform_clients::internal,
            ))
            .distinct()
            .load(conn)?,
        Some(unit) => usage_clients::table
            .filter(usage_clients::unit_id.eq(unit))
            .filter(usage_clients::month.between(span.months.0, span.months.1))
            .select((usage_clients::organisation_id, usage_clients::internal))
            .distinct()
            .load(conn)?,
    };
    let (lo, hi) = unit_range(unit);
    for (a, b) in day_ranges(span) {
        orgs.extend(
            service_records::table
                .inner_join(instruments::table)
                .filter(service_records::served_on.between(a, b))
                .filter(instruments::unit_id.between(lo, hi))
                .filter(service_records::client_organisation_id.is_not_null())
                .select((
                    service_records::client_organisation_id.assume_not_null(),
                    service_records::internal,
                ))
                .distinct()
                .load::<(i64, bool)>(conn)?,
        );
    }
    Ok(orgs)
}

/// How many client organisations each of a unit's instruments served in `year` (instruments
/// without any are left out).
pub fn instrument_client_counts(
    conn: &mut DbConnection,
    unit: UnitId,
    year: i32,
) -> QueryResult<Vec<(i64, i64)>> {
    use usage_instrument_client_counts as n;
    n::table
        .filter(n::instrument_id.eq_any(crate::navigation::store::ids_in_unit(unit)))
        .filter(n::year.eq(year))
        .select((n::instrument_id, n::clients))
        .load(conn)
}

/// A record with the names the national report shows.
pub type ReportRow = (
    ServiceRecordRow,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The records of a unit's instruments in [from, to], with instrument name and asset number,
/// client organisation and client name, in date order.
pub fn unit_records(
    conn: &mut DbConnection,
    unit: UnitId,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<ReportRow>> {
    service_records::table
        .inner_join(instruments::table)
        .left_join(
            organisations::table.on(organisations::id
                .nullable()
                .eq(service_records::client_organisation_id)),
        )
        .left_join(users::table.on(users::id.nullable().eq(service_records::client_user_id)))
        .filter(instruments::unit_id.eq(unit))
        .filter(service_records::served_on.between(from, to))
        .select((
            ServiceRecordRow::as_select(),
            instruments::name_zh,
            instruments::asset_no,
            organisations::name.nullable(),
            users::name.nullable(),
        ))
        .order((service_records::served_on, service_records::id))
        .load(conn)
}

/// Filters of a record list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub unit: Option<UnitId>,
    /// The instrument asked for.
    pub instrument: Option<InstrumentId>,
    /// The reader's scope (an instrument manager's instruments).
    pub instruments: Option<Vec<InstrumentId>>,
    /// The client (a user) whose records they are.
    pub client: Option<UserId>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn filtered(f: &Filter) -> service_records::BoxedQuery<'static, Db> {
    let mut q = service_records::table.into_boxed();
    if let Some(unit) = f.unit {
        q = q.filter(
            service_records::instrument_id.eq_any(crate::navigation::store::ids_in_unit(unit)),
        );
    }
    if let Some(ids) = &f.instruments {
        q = q.filter(service_records::instrument_id.eq_any(ids.clone()));
    }
    if let Some(id) = f.instrument {
        q = q.filter(service_records::instrument_id.eq(id));
    }
    if let Some(client) = f.client {
        q = q.filter(service_records::client_user_id.eq(client));
    }
    if let Some(from) = f.from {
        q = q.filter(service_records::served_on.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(service_records::served_on.le(to));
    }
    q
}

pub fn list(
    conn: &mut DbConnection,
    f: &Filter,
    page: PageRequest,
) -> QueryResult<(Vec<ServiceRecordRow>, i64)> {
    let total = filtered(f).count().get_result(conn)?;
    let rows = filtered(f)
        .select(ServiceRecordRow::as_select())
        .order((
            service_records::served_on.desc(),
            service_records::id.desc(),
        ))
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    Ok((rows, total))
}

pub fn insert_reduction(conn: &mut DbConnection, row: &NewReduction) -> QueryResult<ReductionId> {
    diesel::insert_into(hour_reductions::table)
        .values(row)
        .returning(hour_reductions::id)
        .get_result(conn)
}

pub fn find_reduction(
    conn: &mut DbConnection,
    id: ReductionId,
) -> QueryResult<Option<ReductionRow>> {
    hour_reductions::table
        .find(id)
        .select(ReductionRow::as_select())
        .first(conn)
        .optional()
}

pub fn reductions_of(
    conn: &mut DbConnection,
    record: ServiceRecordId,
) -> QueryResult<Vec<ReductionRow>> {
    hour_reductions::table
        .filter(hour_reductions::service_record_id.eq(record))
        .select(ReductionRow::as_select())
        .order(hour_reductions::id)
        .load(conn)
}

/// Pending reductions of the given instruments (all when `None`), oldest first.
pub fn pending_reductions(
    conn: &mut DbConnection,
    instruments: Option<Vec<i64>>,
) -> QueryResult<Vec<ReductionRow>> {
    let mut q = hour_reductions::table
        .inner_join(service_records::table)
        .filter(hour_reductions::status.eq(ReductionStatus::Pending.code()))
        .select(ReductionRow::as_select())
        .order(hour_reductions::id)
        .into_boxed::<Db>();
    if let Some(ids) = instruments {
        q = q.filter(service_records::instrument_id.eq_any(ids));
    }
    q.load(conn)
}

/// Writes a decision, only on a pending request (a second, racing decision finds 0 rows).
pub fn decide_reduction(
    conn: &mut DbConnection,
    id: ReductionId,
    status: ReductionStatus,
    by: UserId,
    reason: &str,
    fee_after: Option<i64>,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        hour_reductions::table
            .find(id)
            .filter(hour_reductions::status.eq(ReductionStatus::Pending.code())),
    )
    .set((
        hour_reductions::status.eq(status.code()),
        hour_reductions::decided_by.eq(Some(by)),
        hour_reductions::decision_reason.eq(reason),
        hour_reductions::fee_after_fen.eq(fee_after),
        hour_reductions::decided_at.eq(Some(at)),
    ))
    .execute(conn)
}

pub fn declared_eligible(
    conn: &mut DbConnection,
    unit: UnitId,
    year: i32,
) -> QueryResult<Option<i32>> {
    unit_declarations::table
        .find((unit, year))
        .select(unit_declarations::eligible_instruments)
        .first(conn)
        .optional()
}

pub fn declare(
    conn: &mut DbConnection,
    unit: UnitId,
    year: i32,
    eligible: i32,
    by: Option<UserId>,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    use unit_declarations as d;
    crate::db::per_backend!(conn, |c| diesel::insert_into(d::table)
        .values((
            d::unit_id.eq(unit),
            d::year.eq(year),
            d::eligible_instruments.eq(eligible),
            d::declared_by.eq(by),
            d::declared_at.eq(at),
        ))
        .on_conflict((d::unit_id, d::year))
        .do_update()
        .set((
            d::eligible_instruments.eq(eligible),
            d::declared_by.eq(by),
            d::declared_at.eq(at),
        ))
        .execute(c))
}

/// (id, name, asset number) of the unit's instruments in the catalogue today.
pub fn unit_instruments(
    conn: &mut DbConnection,
    unit: UnitId,
) -> QueryResult<Vec<(i64, String, String)>> {
    instruments::table
        .filter(instruments::unit_id.eq(unit))
        .filter(instruments::retired_at.is_null())
        .select((instruments::id, instruments::name_zh, instruments::asset_no))
        .order(instruments::id)
        .load(conn)
}

/// An instrument listed in a period: (id, name, asset number, value in yuan, run status,
/// share mode, joined on).
pub type Listed = (i64, String, String, i64, RunStatus, ShareMode, NaiveDate);

/// The unit's instruments listed at some time in a period: joined on or before `last_day`
/// and not retired before `starts` (the period's first instant, UTC).
pub fn listed_during(
    conn: &mut DbConnection,
    unit: UnitId,
    starts: NaiveDateTime,
    last_day: NaiveDate,
) -> QueryResult<Vec<Listed>> {
    instruments::table
        .filter(instruments::unit_id.eq(unit))
        .filter(instruments::listed_on.le(last_day))
        .filter(
            instruments::retired_at
                .is_null()
                .or(instruments::retired_at.ge(starts)),
        )
        .select((
            instruments::id,
            instruments::name_zh,
            instruments::asset_no,
            instruments::original_value_yuan,
            instruments::run_status,
            instruments::share_mode,
            instruments::listed_on,
        ))
        .order(instruments::id)
        .load(conn)
}

/// (sub-platforms, units, instruments, value in yuan) of the catalogue during a period: the
/// instruments listed in it, the units hosting them and the sub-platforms of those units.
pub fn catalogue_during(
    conn: &mut DbConnection,
    starts: NaiveDateTime,
    last_day: NaiveDate,
) -> QueryResult<(i64, i64, i64, i64)> {
    let rows: Vec<(i64, i64, i64)> = instruments::table
        .inner_join(units::table)
        .filter(instruments::listed_on.le(last_day))
        .filter(
            instruments::retired_at
                .is_null()
                .or(instruments::retired_at.ge(starts)),
        )
        .select((
            units::sub_platform_id,
            instruments::unit_id,
            instruments::original_value_yuan,
        ))
        .load(conn)?;
    let sps: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
    let us: std::collections::HashSet<i64> = rows.iter().map(|r| r.1).collect();
    Ok((
        sps.len() as i64,
        us.len() as i64,
        rows.len() as i64,
        rows.iter().map(|r| r.2).sum(),
    ))
}

/// (id, name, sub-platform) of every unit.
pub fn unit_names(conn: &mut DbConnection) -> QueryResult<Vec<(i64, String, i64)>> {
    units::table
        .select((units::id, units::name, units::sub_platform_id))
        .load(conn)
}

/// (instrument, overall level, ratings) of the unit's services served in `year`, from the
/// kept counts: the satisfaction of its yearly evaluation.
pub fn unit_levels(
    conn: &mut DbConnection,
    unit: crate::types::UnitId,
    year: i32,
) -> QueryResult<Vec<(i64, super::model::Level, i64)>> {
    use crate::db::schema::rating_counts as k;
    k::table
        .inner_join(instruments::table)
        .filter(instruments::unit_id.eq(unit))
        .filter(k::year.eq(year))
        .filter(k::ratings.gt(0))
        .select((k::instrument_id, k::overall, k::ratings))
        .load(conn)
}

/// (record, instrument, instrument's name, day served) of the records `ids`: what a person
/// recognises a service by.
pub fn record_briefs(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, i64, String, NaiveDate)>> {
    service_records::table
        .inner_join(instruments::table)
        .filter(service_records::id.eq_any(ids))
        .select((
            service_records::id,
            instruments::id,
            instruments::name_zh,
            service_records::served_on,
        ))
        .load(conn)
}

/// (id, name, unit) of the given instruments.
pub fn instrument_names(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, i64)>> {
    instruments::table
        .filter(instruments::id.eq_any(ids))
        .select((instruments::id, instruments::name_zh, instruments::unit_id))
        .load(conn)
}

/// Recomputes the machine-hour rollups (`usage_monthly`, `usage_yearly`, `usage_unit_monthly`,
/// `usage_clients`, `usage_platform_clients`) from the service
/// records, in one transaction: after a bulk load, or to check the kept sums. Only the month
/// expression differs between the backends.
pub fn rebuild_rollups(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    let month = match conn {
        DbConnection::Pg(_) => "CAST(to_char(r.served_on, 'YYYYMM') AS INTEGER)",
        DbConnection::Sqlite(_) => "CAST(strftime('%Y%m', r.served_on) AS INTEGER)",
    };
    let sql = format!(
        "DELETE FROM usage_monthly; DELETE FROM usage_unit_monthly; DELETE FROM usage_clients; \
         DELETE FROM usage_yearly; \
         DELETE FROM usage_platform_clients; \
         DELETE FROM usage_instrument_client_counts; DELETE FROM usage_instrument_clients; \
         INSERT INTO usage_monthly (instrument_id, month, service_type, internal, services, minutes, samples, fee_fen) \
           SELECT r.instrument_id, {month}, r.service_type, r.internal, COUNT(*), SUM(r.minutes), SUM(r.sample_count), SUM(r.fee_fen) \
           FROM service_records r GROUP BY 1, 2, 3, 4; \
         INSERT INTO usage_yearly (instrument_id, year, internal, services, minutes, samples, fee_fen) \
           SELECT instrument_id, month / 100, internal, SUM(services), SUM(minutes), SUM(samples), SUM(fee_fen) \
           FROM usage_monthly GROUP BY 1, 2, 3; \
         INSERT INTO usage_unit_monthly (unit_id, month, service_type, service_way, direction, internal, services, minutes, samples, fee_fen) \
           SELECT i.unit_id, {month}, r.service_type, r.service_way, r.direction, r.internal, COUNT(*), SUM(r.minutes), SUM(r.sample_count), SUM(r.fee_fen) \
           FROM service_records r JOIN instruments i ON i.id = r.instrument_id GROUP BY 1, 2, 3, 4, 5, 6; \
         INSERT INTO usage_clients (unit_id, month, organisation_id, internal, services) \
           SELECT i.unit_id, {month}, r.client_organisation_id, r.internal, COUNT(*) \
           FROM service_records r JOIN instruments i ON i.id = r.instrument_id \
           WHERE r.client_organisation_id IS NOT NULL GROUP BY 1, 2, 3, 4; \
         INSERT INTO usage_platform_clients (month, organisation_id, internal, services) \
           SELECT month, organisation_id, internal, SUM(services) FROM usage_clients GROUP BY 1, 2, 3; \
         INSERT INTO usage_instrument_clients (instrument_id, year, organisation_id) \
           SELECT DISTINCT r.instrument_id, {month} / 100, r.client_organisation_id \
           FROM service_records r WHERE r.client_organisation_id IS NOT NULL; \
         INSERT INTO usage_instrument_client_counts (instrument_id, year, clients) \
           SELECT instrument_id, year, COUNT(*) FROM usage_instrument_clients GROUP BY 1, 2; \
         DELETE FROM rating_counts; \
         INSERT INTO rating_counts (instrument_id, year, overall, ratings) \
           SELECT g.instrument_id, {month} / 100, g.overall, COUNT(*) \
           FROM ratings g JOIN service_records r ON r.id = g.service_record_id GROUP BY 1, 2, 3;"
    );
    crate::db::write_tx(conn, |c| c.batch_execute(&sql))
}

/// (unit, decision, overdue mark, answered, deadline) of the complaints filed in [from, to)
/// and accepted by the platform, for one unit or all: the yearly round's complaint figures.
#[allow(clippy::type_complexity)]
pub fn complaint_outcomes(
    conn: &mut DbConnection,
    unit: Option<UnitId>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<
    Vec<(
        i64,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    )>,
> {
    use crate::db::schema::complaints as c;
    let mut q = c::table
        .filter(c::created_at.ge(from))
        .filter(c::created_at.lt(to))
        .filter(c::accepted_at.is_not_null())
        .select((
            c::unit_id,
            c::decision,
            c::overdue_at,
            c::answered_at,
            c::answer_due_at,
        ))
        .into_boxed();
    if let Some(u) = unit {
        q = q.filter(c::unit_id.eq(u));
    }
    q.load(conn)
}

/// (unit, overall level, ratings) of every unit's services served in `year`, from the kept
/// counts: the platform's evaluation list.
pub fn levels_by_unit(
    conn: &mut DbConnection,
    year: i32,
) -> QueryResult<Vec<(i64, super::model::Level, i64)>> {
    use crate::db::schema::rating_counts as k;
    k::table
        .inner_join(instruments::table)
        .filter(k::year.eq(year))
        .filter(k::ratings.gt(0))
        .select((instruments::unit_id, k::overall, k::ratings))
        .load(conn)
}

pub fn insert_rectification(
    conn: &mut DbConnection,
    row: &super::model::NewRectification,
) -> QueryResult<crate::types::RectificationId> {
    use crate::db::schema::rectifications as r;
    diesel::insert_into(r::table)
        .values(row)
        .returning(r::id)
        .get_result(conn)
}

pub fn find_rectification(
    conn: &mut DbConnection,
    id: crate::types::RectificationId,
) -> QueryResult<Option<super::model::RectificationRow>> {
    use crate::db::schema::rectifications as r;
    r::table
        .find(id)
        .select(super::model::RectificationRow::as_select())
        .first(conn)
        .optional()
}

/// The notices of `year`, for one unit or all, newest first.
pub fn rectifications(
    conn: &mut DbConnection,
    unit: Option<UnitId>,
    year: i32,
) -> QueryResult<Vec<super::model::RectificationRow>> {
    use crate::db::schema::rectifications as r;
    let mut q = r::table
        .filter(r::year.eq(year))
        .order(r::id.desc())
        .select(super::model::RectificationRow::as_select())
        .into_boxed();
    if let Some(u) = unit {
        q = q.filter(r::unit_id.eq(u));
    }
    q.load(conn)
}

/// Writes the notice's new state if nobody moved it since `before` (its `updated_at` is its
/// version): 0 rows otherwise.
pub fn set_rectification(
    conn: &mut DbConnection,
    row: &super::model::RectificationRow,
    before: &super::model::RectificationRow,
) -> QueryResult<usize> {
    use crate::db::schema::rectifications as r;
    diesel::update(
        r::table
            .find(row.id)
            .filter(r::status.eq(before.status))
            .filter(r::updated_at.eq(before.updated_at)),
    )
    .set((
        r::status.eq(row.status),
        r::deadline.eq(row.deadline),
        r::report.eq(&row.report),
        r::reported_at.eq(row.reported_at),
        r::extensions.eq(row.extensions),
        r::closed_at.eq(row.closed_at),
        r::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
}

/// (instrument, overall level, ratings) of the services served in [first, last]: the
/// statistics' satisfaction over any window (the yearly figures read the kept counts).
pub fn levels_between(
    conn: &mut DbConnection,
    first: NaiveDate,
    last: NaiveDate,
) -> QueryResult<Vec<(i64, super::model::Level, i64)>> {
    use crate::db::schema::ratings;
    ratings::table
        .inner_join(service_records::table)
        .filter(service_records::served_on.between(first, last))
        .group_by((ratings::instrument_id, ratings::overall))
        .select((ratings::instrument_id, ratings::overall, count_star()))
        .load(conn)
}

/// A service record as the national report needs it: the record, its instrument's internal
/// id, the client organisation's name and the client's overall rating.
pub type NriiRow = (ServiceRecordRow, String, Option<String>, Option<Level>);

/// The records in [from, to] of the given instruments, in date order: what the national
/// report sends of a unit's large instruments.
pub fn nrii_records(
    conn: &mut DbConnection,
    instruments_of: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<NriiRow>> {
    use crate::db::schema::ratings;
    service_records::table
        .inner_join(instruments::table)
        .left_join(
            organisations::table.on(organisations::id
                .nullable()
                .eq(service_records::client_organisation_id)),
        )
        .left_join(ratings::table.on(ratings::service_record_id.eq(service_records::id)))
        .filter(service_records::instrument_id.eq_any(instruments_of))
        .filter(service_records::served_on.between(from, to))
        .select((
            ServiceRecordRow::as_select(),
            instruments::asset_no,
            organisations::name.nullable(),
            ratings::overall.nullable(),
        ))
        .order((service_records::served_on, service_records::id))
        .load(conn)
}

/// The full rows of the given instruments, in id order.
pub fn instrument_rows(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<crate::navigation::model::InstrumentRow>> {
    instruments::table
        .filter(instruments::id.eq_any(ids))
        .select(crate::navigation::model::InstrumentRow::as_select())
        .order(instruments::id)
        .load(conn)
}
