//! A host unit's yearly evaluation (the figures a ministry asks for) and its declarations.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::model::*;
use super::service::amount;
use super::stats::{span, sum_by_instrument};
use super::store;
use crate::auth::{authorize, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::navigation::store as catalogue;
use crate::types::{InstrumentId, UnitId, Yuan};

pub fn year_bounds(year: i32) -> AppResult<(NaiveDate, NaiveDate)> {
    match (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) {
        (Some(a), Some(b)) if (2000..=2100).contains(&year) => Ok((a, b)),
        _ => Err(AppError::invalid("year", "2000..=2100")),
    }
}

/// The unit's staff and platform admins read a unit's evaluation.
pub fn may_evaluate(who: &Principal, unit: UnitId) -> AppResult<()> {
    authorize(who, Action::ReadUnitQueue { unit })
}

/// A unit's yearly evaluation (开放共享评价考核) computed from its records.
pub fn evaluation(conn: &mut DbConnection, unit: UnitId, year: i32) -> AppResult<Evaluation> {
    let row = catalogue::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    let (from, to) = year_bounds(year)?;
    let span = span(from, to);
    let sums = sum_by_instrument(store::unit_instruments_year(conn, unit, year)?)?;
    let per_client: HashMap<i64, i64> = store::instrument_client_counts(conn, unit, year)?
        .into_iter()
        .collect();
    let client_units = store::clients(conn, &span, Some(unit))?
        .into_iter()
        .collect::<HashSet<_>>()
        .len() as i64;
    let listed = store::unit_instruments(conn, unit)?;
    let rated = unit_satisfaction(conn, unit, from, to)?;
    let mut total = Figures::default();
    let mut per_instrument = Vec::with_capacity(listed.len());
    let (mut running, mut shared, mut shared_externally) = (0, 0, 0);
    let (mut ratings, mut satisfied) = (0, 0);
    for (id, name, asset_no, value, run_status) in listed.iter().cloned() {
        let f = sums.get(&id).copied().unwrap_or_default();
        let (r, s) = rated.get(&id).copied().unwrap_or_default();
        ratings += r;
        satisfied += s;
        total.merge(&f);
        running += i64::from(run_status == crate::navigation::model::RunStatus::Normal);
        shared += i64::from(f.services > 0);
        shared_externally += i64::from(f.external_minutes > 0);
        per_instrument.push(InstrumentYear {
            instrument_id: InstrumentId(id),
            name,
            asset_no,
            original_value_yuan: Yuan(value),
            run_status,
            client_units: per_client.get(&id).copied().unwrap_or(0),
            utilisation: utilisation(f.minutes, 1),
            figures: f,
            satisfaction: share(r, s),
            ratings: r,
        });
    }
    let registered = listed.len() as i64;
    let eligible = store::declared_eligible(conn, unit, year)?.map(i64::from);
    Ok(Evaluation {
        unit_id: unit,
        unit_name: row.name,
        year,
        instruments: registered,
        client_units,
        figures: total,
        utilisation: utilisation(total.minutes, registered),
        saturation_hours: SATURATION_HOURS,
        satisfaction: share(ratings, satisfied),
        ratings,
        eligible_instruments: eligible,
        ratios: Ratios {
            registered_of_eligible: Ratio::of(registered, eligible),
            running_of_registered: Ratio::of(running, Some(registered)),
            shared_of_eligible: Ratio::of(shared, eligible),
            shared_externally_of_eligible: Ratio::of(shared_externally, eligible),
        },
        per_instrument,
    })
}

/// (ratings, share at the top two levels) per instrument of the unit, for the services it
/// gave in [from, to].
fn unit_satisfaction(
    conn: &mut DbConnection,
    unit: crate::types::UnitId,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> AppResult<std::collections::HashMap<i64, (i64, i64)>> {
    let mut per: std::collections::HashMap<i64, (i64, i64)> = std::collections::HashMap::new();
    for (instrument, level, n) in store::unit_levels(conn, unit, from, to)? {
        let e = per.entry(instrument).or_default();
        e.0 += n;
        if level.satisfied() {
            e.1 += n;
        }
    }
    Ok(per)
}

/// The share of `satisfied` in `ratings`, none without ratings.
fn share(ratings: i64, satisfied: i64) -> Option<f64> {
    (ratings > 0).then(|| (satisfied as f64 / ratings as f64 * 1000.0).round() / 1000.0)
}

/// Mean effective hours per instrument as a share of the saturation mark, to three decimals.
fn utilisation(minutes: i64, instruments: i64) -> f64 {
    if instruments == 0 {
        return 0.0;
    }
    let per = minutes as f64 / 60.0 / instruments as f64;
    (per / SATURATION_HOURS as f64 * 1000.0).round() / 1000.0
}

/// The unit admin declares how many instruments fall under the sharing rules in a year.
pub fn declare(
    conn: &mut DbConnection,
    who: &Principal,
    unit: UnitId,
    input: DeclarationInput,
    now: DateTime<Utc>,
) -> AppResult<()> {
    catalogue::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    authorize(who, Action::ManageInstruments { unit })?;
    year_bounds(input.year)?;
    let eligible = amount(
        "eligible_instruments",
        input.eligible_instruments,
        1_000_000,
    )?;
    db::write_tx(conn, |c| {
        store::declare(c, unit, input.year, eligible, Some(who.id), naive(now))
    })?;
    Ok(())
}
