//! What the index reads from the database: the instruments in service with their units, and
//! the change log the editing services write.

use diesel::prelude::*;

use crate::db::schema::{catalogue_changes, instruments, units};
use crate::db::{DbConnection, IDS_PER_STATEMENT};
use crate::navigation::model::{InstrumentRow, UnitRow};
use crate::types::{InstrumentId, UnitId};

/// Instruments in service with ids above `after`, in id order, `limit` at a time (a rebuild
/// reads the catalogue in batches, not in one answer).
pub fn live_batch(
    conn: &mut DbConnection,
    after: InstrumentId,
    limit: i64,
) -> QueryResult<Vec<(InstrumentRow, UnitRow)>> {
    instruments::table
        .inner_join(units::table)
        .filter(instruments::retired_at.is_null())
        .filter(instruments::id.gt(after))
        .order(instruments::id)
        .limit(limit)
        .select((InstrumentRow::as_select(), UnitRow::as_select()))
        .load(conn)
}

/// The given instruments, those in service only.
pub fn live_of(
    conn: &mut DbConnection,
    ids: &[InstrumentId],
) -> QueryResult<Vec<(InstrumentRow, UnitRow)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        out.extend(
            instruments::table
                .inner_join(units::table)
                .filter(instruments::retired_at.is_null())
                .filter(instruments::id.eq_any(chunk))
                .select((InstrumentRow::as_select(), UnitRow::as_select()))
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Every instrument of the given units, retired ones included (they leave the index).
pub fn instruments_of_units(
    conn: &mut DbConnection,
    units: &[UnitId],
) -> QueryResult<Vec<InstrumentId>> {
    let mut out = Vec::new();
    for chunk in units.chunks(IDS_PER_STATEMENT) {
        out.extend(
            instruments::table
                .filter(instruments::unit_id.eq_any(chunk))
                .select(instruments::id)
                .load::<InstrumentId>(conn)?,
        );
    }
    Ok(out)
}

/// A change-log row: (id, instrument, unit).
pub type Change = (i64, Option<InstrumentId>, Option<UnitId>);

/// Change-log rows with ids above `after`.
pub fn changes_after(conn: &mut DbConnection, after: i64) -> QueryResult<Vec<Change>> {
    catalogue_changes::table
        .filter(catalogue_changes::id.gt(after))
        .order(catalogue_changes::id)
        .select((
            catalogue_changes::id,
            catalogue_changes::instrument_id,
            catalogue_changes::unit_id,
        ))
        .load(conn)
}

/// The newest change-log id (0 when there is none).
pub fn last_change(conn: &mut DbConnection) -> QueryResult<i64> {
    Ok(catalogue_changes::table
        .select(diesel::dsl::max(catalogue_changes::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}
