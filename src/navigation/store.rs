//! Catalogue queries. Every list is one page plus one count; every count is a grouped query.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::{
    CategoryFilter, InstrumentBrief, InstrumentFilter, InstrumentListRow, InstrumentRow,
    InstrumentSort, NewInstrument, NewSubPlatform, NewUnit, SubPlatformRow, UnitFilter, UnitRow,
};
use crate::db::schema::{
    catalogue_changes, categories, instruments, organisations, sub_platforms, units,
};
use crate::db::{Db, DbConnection};
use crate::types::{InstrumentId, PageRequest, SubPlatformId, UnitId};

pub fn categories(conn: &mut DbConnection) -> QueryResult<Vec<(String, Option<String>, String)>> {
    categories::table
        .select((
            categories::code,
            categories::parent_code,
            categories::name_zh,
        ))
        .order(categories::code)
        .load(conn)
}

pub fn sub_platforms(conn: &mut DbConnection) -> QueryResult<Vec<SubPlatformRow>> {
    sub_platforms::table
        .select(SubPlatformRow::as_select())
        .order((sub_platforms::sort_order, sub_platforms::id))
        .load(conn)
}

pub fn unit_counts_by_sub_platform(
    conn: &mut DbConnection,
) -> QueryResult<Vec<(SubPlatformId, i64)>> {
    units::table
        .group_by(units::sub_platform_id)
        .select((units::sub_platform_id, count_star()))
        .load(conn)
}

pub fn instrument_counts_by_sub_platform(
    conn: &mut DbConnection,
) -> QueryResult<Vec<(SubPlatformId, i64)>> {
    instruments::table
        .filter(instruments::retired_at.is_null())
        .inner_join(units::table)
        .group_by(units::sub_platform_id)
        .select((units::sub_platform_id, count_star()))
        .load(conn)
}

pub fn instrument_counts_by_category(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    instruments::table
        .filter(instruments::retired_at.is_null())
        .group_by(instruments::category_code)
        .select((instruments::category_code, count_star()))
        .load(conn)
}

/// (units, instruments, sum of original values in yuan).
pub fn totals(conn: &mut DbConnection) -> QueryResult<(i64, i64, i64)> {
    let units = units::table.count().get_result(conn)?;
    let (instruments, value) = instruments::table
        .filter(instruments::retired_at.is_null())
        .select((count_star(), crate::db::sum_i64("original_value_yuan")))
        .get_result(conn)?;
    Ok((units, instruments, value))
}

pub fn find_sub_platform(
    conn: &mut DbConnection,
    id: SubPlatformId,
) -> QueryResult<Option<SubPlatformRow>> {
    sub_platforms::table
        .find(id)
        .select(SubPlatformRow::as_select())
        .first(conn)
        .optional()
}

fn filtered_units(f: &UnitFilter) -> units::BoxedQuery<'static, Db> {
    let mut q = units::table.into_boxed();
    if let Some(sp) = f.sub_platform {
        q = q.filter(units::sub_platform_id.eq(sp));
    }
    if let Some(city) = &f.city {
        q = q.filter(units::city.eq(city.clone()));
    }
    if let Some(kind) = f.kind {
        q = q.filter(units::kind.eq(kind.code()));
    }
    q
}

pub fn list_units(
    conn: &mut DbConnection,
    f: &UnitFilter,
    page: PageRequest,
) -> QueryResult<(Vec<UnitRow>, i64)> {
    let rows = filtered_units(f)
        .select(UnitRow::as_select())
        .order(units::id)
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered_units(f).count().get_result(conn)?;
    Ok((rows, total))
}

pub fn find_unit(conn: &mut DbConnection, id: UnitId) -> QueryResult<Option<UnitRow>> {
    crate::db::per_backend!(conn, |conn| units::table
        .find(id)
        .select(UnitRow::as_select())
        .first(conn)
        .optional())
}

pub fn sub_platform_names(
    conn: &mut DbConnection,
    ids: &[SubPlatformId],
) -> QueryResult<Vec<(SubPlatformId, String)>> {
    sub_platforms::table
        .filter(sub_platforms::id.eq_any(ids))
        .select((sub_platforms::id, sub_platforms::name))
        .load(conn)
}

pub fn instrument_counts_for_units(
    conn: &mut DbConnection,
    ids: &[UnitId],
) -> QueryResult<Vec<(UnitId, i64)>> {
    instruments::table
        .filter(instruments::retired_at.is_null())
        .filter(instruments::unit_id.eq_any(ids))
        .group_by(instruments::unit_id)
        .select((instruments::unit_id, count_star()))
        .load(conn)
}

fn filtered_instruments(f: &InstrumentFilter) -> instruments::BoxedQuery<'static, Db> {
    let mut q = instruments::table
        .filter(instruments::retired_at.is_null())
        .into_boxed();
    if let Some(unit) = f.unit {
        q = q.filter(instruments::unit_id.eq(unit));
    }
    if let Some(sp) = f.sub_platform {
        q = q.filter(
            instruments::unit_id.eq_any(
                units::table
                    .filter(units::sub_platform_id.eq(sp))
                    .select(units::id),
            ),
        );
    }
    match &f.category {
        Some(CategoryFilter::Class(code)) => {
            q = q.filter(instruments::category_l1.eq(code.clone()))
        }
        Some(CategoryFilter::Middle(code)) => {
            q = q.filter(instruments::category_l2.eq(code.clone()))
        }
        Some(CategoryFilter::Exact(code)) => {
            q = q.filter(instruments::category_code.eq(code.clone()))
        }
        None => {}
    }
    if let Some(city) = &f.city {
        q = q.filter(instruments::city.eq(city.clone()));
    }
    if let Some(mode) = f.share_mode {
        q = q.filter(instruments::share_mode.eq(mode.code()));
    }
    if let Some(status) = f.status {
        q = q.filter(instruments::run_status.eq(status.code()));
    }
    q
}

/// Orders an instrument query by `sort`. Every order ends on the id so that pages never
/// overlap or skip rows. (A macro: the plain and the joined query are different types.)
macro_rules! order_by_sort {
    ($query:expr, $sort:expr) => {
        match $sort {
            InstrumentSort::Id => $query.order(instruments::id),
            InstrumentSort::Name => $query.order((instruments::name_zh, instruments::id)),
            InstrumentSort::ValueDesc => {
                $query.order((instruments::original_value_yuan.desc(), instruments::id))
            }
            InstrumentSort::ValueAsc => {
                $query.order((instruments::original_value_yuan, instruments::id))
            }
            InstrumentSort::NewestFirst => {
                $query.order((instruments::in_service_on.desc(), instruments::id))
            }
            InstrumentSort::OldestFirst => {
                $query.order((instruments::in_service_on, instruments::id))
            }
        }
    };
}

/// A page of instruments with their units' names. The page is found on ids alone (an
/// index-only scan that skips the offset without reading table rows), then only its rows are
/// read: deep pages stay cheap, and the planner has no reason to walk the primary key instead
/// of the filter's index. (One statement with a subquery would save a round trip, but a boxed
/// subquery cannot be rendered through the multi-backend connection.)
pub fn instrument_page(
    conn: &mut DbConnection,
    f: &InstrumentFilter,
    sort: InstrumentSort,
    page: PageRequest,
) -> QueryResult<Vec<(InstrumentListRow, String)>> {
    let ids: Vec<InstrumentId> =
        order_by_sort!(filtered_instruments(f).select(instruments::id), sort)
            .limit(page.per_page)
            .offset(page.offset())
            .load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<(InstrumentListRow, String)> = instruments::table
        .inner_join(units::table)
        .filter(instruments::id.eq_any(&ids))
        .select((InstrumentListRow::as_select(), units::name))
        .load(conn)?;
    rows.sort_by_key(|(r, _)| ids.iter().position(|&id| id == r.id));
    Ok(rows)
}

pub fn count_instruments(conn: &mut DbConnection, f: &InstrumentFilter) -> QueryResult<i64> {
    filtered_instruments(f).count().get_result(conn)
}

pub fn find_instrument(
    conn: &mut DbConnection,
    id: InstrumentId,
) -> QueryResult<Option<InstrumentRow>> {
    crate::db::per_backend!(conn, |conn| instruments::table
        .find(id)
        .select(InstrumentRow::as_select())
        .first(conn)
        .optional())
}

/// Whether an instrument exists (retired ones too), from the primary key alone.
pub fn instrument_exists(conn: &mut DbConnection, id: InstrumentId) -> QueryResult<bool> {
    crate::db::per_backend!(conn, |conn| diesel::select(diesel::dsl::exists(
        instruments::table.find(id)
    ))
    .get_result(conn))
}

/// Distinct cities with instruments, for the filter menus.
pub fn instrument_cities(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    instruments::table
        .filter(instruments::retired_at.is_null())
        .group_by(instruments::city)
        .select((instruments::city, count_star()))
        .order(count_star().desc())
        .load(conn)
}

// --- writes (catalogue editing) -----------------------------------------------------------

pub fn insert_sub_platform(
    conn: &mut DbConnection,
    row: &NewSubPlatform,
) -> QueryResult<SubPlatformId> {
    diesel::insert_into(sub_platforms::table)
        .values(row)
        .returning(sub_platforms::id)
        .get_result(conn)
}

pub fn update_sub_platform(conn: &mut DbConnection, row: &SubPlatformRow) -> QueryResult<usize> {
    diesel::update(sub_platforms::table.find(row.id))
        .set(row)
        .execute(conn)
}

pub fn insert_unit(conn: &mut DbConnection, row: &NewUnit) -> QueryResult<UnitId> {
    diesel::insert_into(units::table)
        .values(row)
        .returning(units::id)
        .get_result(conn)
}

pub fn update_unit(conn: &mut DbConnection, row: &UnitRow) -> QueryResult<usize> {
    diesel::update(units::table.find(row.id))
        .set(row)
        .execute(conn)
}

pub fn insert_instrument(
    conn: &mut DbConnection,
    row: &NewInstrument,
) -> QueryResult<InstrumentId> {
    diesel::insert_into(instruments::table)
        .values(row)
        .returning(instruments::id)
        .get_result(conn)
}

pub fn update_instrument(conn: &mut DbConnection, row: &InstrumentRow) -> QueryResult<usize> {
    diesel::update(instruments::table.find(row.id))
        .set(row)
        .execute(conn)
}

/// Whether another instrument of `unit` carries `asset_no`.
/// The day of the instrument's first service record, if it has any.
pub fn first_served(
    conn: &mut DbConnection,
    id: InstrumentId,
) -> QueryResult<Option<chrono::NaiveDate>> {
    use crate::db::schema::service_records as r;
    r::table
        .filter(r::instrument_id.eq(id))
        .select(diesel::dsl::min(r::served_on))
        .first(conn)
}

pub fn asset_no_taken(
    conn: &mut DbConnection,
    unit: UnitId,
    asset_no: &str,
    except: Option<InstrumentId>,
) -> QueryResult<bool> {
    let mut q = instruments::table
        .filter(instruments::unit_id.eq(unit))
        .filter(instruments::asset_no.eq(asset_no))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(instruments::id.ne(id));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

/// The ids of `unit`'s instruments as a subquery: `column.eq_any(ids_in_unit(unit))` is
/// `column IN (SELECT id FROM instruments WHERE unit_id = …)`.
pub fn ids_in_unit(
    unit: UnitId,
) -> diesel::dsl::Select<
    diesel::dsl::Filter<instruments::table, diesel::dsl::Eq<instruments::unit_id, UnitId>>,
    instruments::id,
> {
    instruments::table
        .filter(instruments::unit_id.eq(unit))
        .select(instruments::id)
}

/// (id, name) of a unit's instruments in service, in id order.
pub fn unit_instrument_names(
    conn: &mut DbConnection,
    unit: UnitId,
) -> QueryResult<Vec<(InstrumentId, String)>> {
    crate::db::per_backend!(conn, |conn| instruments::table
        .filter(instruments::unit_id.eq(unit))
        .filter(instruments::retired_at.is_null())
        .select((instruments::id, instruments::name_zh))
        .order(instruments::id)
        .load(conn))
}

/// (id, name) of the given instruments.
pub fn instrument_names(
    conn: &mut DbConnection,
    ids: &[InstrumentId],
) -> QueryResult<Vec<(InstrumentId, String)>> {
    instruments::table
        .filter(instruments::id.eq_any(ids))
        .select((instruments::id, instruments::name_zh))
        .load(conn)
}

/// The given instruments as a list of bookings names them: where they stand and whom to call.
pub fn instrument_briefs(
    conn: &mut DbConnection,
    ids: &[InstrumentId],
) -> QueryResult<Vec<InstrumentBrief>> {
    instruments::table
        .inner_join(units::table)
        .filter(instruments::id.eq_any(ids))
        .select((
            instruments::id,
            instruments::name_zh,
            instruments::asset_no,
            units::id,
            units::name,
            instruments::city,
            instruments::address,
            instruments::contact_name,
            instruments::contact_phone,
        ))
        .load::<(
            InstrumentId,
            String,
            String,
            UnitId,
            String,
            String,
            String,
            String,
            String,
        )>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(
                    |(id, name, asset_no, unit_id, unit_name, city, address, contact, phone)| {
                        InstrumentBrief {
                            id,
                            name,
                            asset_no,
                            unit_id,
                            unit_name,
                            city,
                            address,
                            contact_name: contact,
                            contact_phone: phone,
                        }
                    },
                )
                .collect()
        })
}

// --- the unit's organisation: a host unit is also an organisation people belong to ------

/// Every host unit is an organisation: adds the rows units created in bulk (the seed) lack.
pub fn ensure_unit_organisations(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO organisations (name, kind, unit_id, status, created_at) \
         SELECT name, kind, id, 'active', created_at FROM units \
         WHERE id NOT IN (SELECT unit_id FROM organisations WHERE unit_id IS NOT NULL)",
    )
    .execute(conn)
}

/// Keeps a host unit's organisation in step with the unit's name and kind.
pub fn sync_unit_organisation(
    conn: &mut DbConnection,
    unit: UnitId,
    name: &str,
    kind: super::model::UnitKind,
) -> QueryResult<usize> {
    diesel::update(organisations::table.filter(organisations::unit_id.eq(unit)))
        .set((organisations::name.eq(name), organisations::kind.eq(kind)))
        .execute(conn)
}

// --- the change log the search index catches up from ----------------------------------------

/// Records, in the editing transaction, that an instrument or a unit changed.
pub fn log_change(
    conn: &mut DbConnection,
    instrument: Option<InstrumentId>,
    unit: Option<UnitId>,
    at: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(catalogue_changes::table)
        .values((
            catalogue_changes::instrument_id.eq(instrument),
            catalogue_changes::unit_id.eq(unit),
            catalogue_changes::changed_at.eq(at),
        ))
        .execute(conn)
}
