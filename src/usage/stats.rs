//! The platform statistics over a period, from the rollups, and their cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};

use super::model::*;
use super::service::WRITES;
use super::store::{self, Span};
use crate::cache::Cache;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::navigation::service::CatalogueCounts;
use crate::types::{InstrumentId, UnitId};

type StatsKey = (Option<NaiveDate>, Option<NaiveDate>, usize);

/// The platform overview by period, kept for `ttl` (the catalogue's `counts_ttl_secs`): the same
/// figures are read by everyone, and each costs grouped reads over the rollups (up to a second
/// at national scale). A write in this process or a change of the catalogue figures makes them
/// stale at once: the next request computes them afresh, and while it does the others get the
/// figures it is replacing. Figures only older than `ttl` are served while one task recomputes
/// them in the background. Other instances' writes reach it through `cache::Watch`.
#[derive(Clone)]
pub struct StatsCache(Cache<StatsKey, Arc<UsageStats>>);

/// Periods remembered at most; past it the map starts afresh.
const MAX_CACHED_PERIODS: usize = 1000;

impl StatsCache {
    pub fn new(ttl: std::time::Duration, clock: crate::clock::SharedClock) -> StatsCache {
        StatsCache(Cache::new(ttl, MAX_CACHED_PERIODS, clock))
    }

    /// Makes every period stale (the records changed through another instance).
    pub fn invalidate(&self) {
        self.0.invalidate();
    }

    pub async fn get(
        &self,
        pool: &db::Pool,
        catalogue: &crate::navigation::service::Catalogue,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        top: usize,
    ) -> AppResult<Arc<UsageStats>> {
        let counts = catalogue.counts(pool).await?;
        // The figures depend on the records (this process's writes), the catalogue's figures
        // and its edits here (a corrected 入网日期 moves a period's catalogue counts).
        let version = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            WRITES.load(Ordering::SeqCst).hash(&mut h);
            catalogue.edits().hash(&mut h);
            let p = &counts.stats;
            (
                p.sub_platforms,
                p.units,
                p.instruments,
                p.original_value_yuan.0,
            )
                .hash(&mut h);
            h.finish()
        };
        let pool = pool.clone();
        self.0
            .get_or_compute((from, to, top), version, move || {
                let (pool, counts) = (pool.clone(), counts.clone());
                async move {
                    Ok(Arc::new(
                        db::run(&pool, move |c| stats(c, &counts, from, to, top)).await?,
                    ))
                }
            })
            .await
    }
}

fn far_past() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()
}

fn far_future() -> NaiveDate {
    NaiveDate::from_ymd_opt(2999, 12, 31).unwrap_or_default()
}

/// Splits [from, to] into whole months (read from the rollups) and the days at the edges
/// (read from the records).
pub fn span(from: NaiveDate, to: NaiveDate) -> Span {
    // An empty range both databases can store (PostgreSQL refuses chrono's extremes).
    let none = (far_future(), far_past());
    let first_of = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    let next_month = |d: NaiveDate| {
        let d = first_of(d);
        if d.month() == 12 {
            NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
        }
        .unwrap_or(far_future())
    };
    let start = if from.day() == 1 {
        from
    } else {
        next_month(from)
    };
    let after_end = if next_month(to) == to + Duration::days(1) {
        to + Duration::days(1)
    } else {
        first_of(to)
    };
    // Whole months are [start, after_end).
    if start >= after_end {
        return Span {
            years: (1, 0),
            months: (1, 0),
            loose_months: [(1, 0), (1, 0)],
            days: [(from, to), none],
        };
    }
    let last = after_end - Duration::days(1);
    let months = (month_of(start), month_of(last));
    let (years, loose_months) = split_years(months);
    Span {
        years,
        months,
        loose_months,
        days: [
            if from < start {
                (from, start - Duration::days(1))
            } else {
                none
            },
            if after_end <= to {
                (after_end, to)
            } else {
                none
            },
        ],
    }
}

/// Whole calendar years inside the months `(first, last)` (yyyymm), and the months outside
/// them. An empty range is `(1, 0)`.
fn split_years((first, last): (i32, i32)) -> ((i32, i32), [(i32, i32); 2]) {
    let y0 = if first % 100 == 1 {
        first / 100
    } else {
        first / 100 + 1
    };
    let y1 = if last % 100 == 12 {
        last / 100
    } else {
        last / 100 - 1
    };
    if y0 > y1 {
        return ((1, 0), [(first, last), (1, 0)]);
    }
    let before = if first < y0 * 100 + 1 {
        (first, (y0 - 1) * 100 + 12)
    } else {
        (1, 0)
    };
    let after = if last > y1 * 100 + 12 {
        ((y1 + 1) * 100 + 1, last)
    } else {
        (1, 0)
    };
    ((y0, y1), [before, after])
}

fn has_days(span: &Span) -> bool {
    span.days.iter().any(|(a, b)| a <= b)
}

fn has_months(span: &Span) -> bool {
    span.months.0 <= span.months.1
}

/// Sums by instrument over the span: whole years, then the other whole months, from the
/// rollups; the edge days from the records.
fn instrument_sums(conn: &mut DbConnection, span: &Span) -> AppResult<HashMap<i64, Figures>> {
    let mut rows = Vec::new();
    if span.years.0 <= span.years.1 {
        rows.extend(store::instruments_yearly(conn, span)?);
    }
    if span.loose_months.iter().any(|(a, b)| a <= b) {
        rows.extend(store::instruments_loose_months(conn, span)?);
    }
    if has_days(span) {
        rows.extend(store::instruments_raw(conn, span)?);
    }
    sum_by_instrument(rows)
}

pub(super) fn sum_by_instrument(
    rows: Vec<store::InstrumentSums>,
) -> AppResult<HashMap<i64, Figures>> {
    let mut by: HashMap<i64, Figures> = HashMap::new();
    for (inst, internal, services, minutes, samples, fee) in rows {
        by.entry(inst)
            .or_default()
            .add(services, minutes, internal, samples, fee);
    }
    Ok(by)
}

fn month_label(m: i32) -> String {
    format!("{:04}-{:02}", m / 100, m % 100)
}

/// The platform's figures for [from, to] (whole history when both are absent).
pub fn stats(
    conn: &mut DbConnection,
    counts: &CatalogueCounts,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    top: usize,
) -> AppResult<UsageStats> {
    let first = from.unwrap_or(far_past());
    let last = to.unwrap_or(far_future());
    if last < first {
        return Err(AppError::invalid("to", "不能早于 from (before from)"));
    }
    let span = span(first, last);
    let cells = unit_cells_in(conn, &span, None)?;
    let units = store::unit_names(conn)?;
    let unit_info: HashMap<i64, (String, i64)> = units
        .iter()
        .map(|(id, n, sp)| (*id, (n.clone(), *sp)))
        .collect();
    let mut total = Figures::default();
    let mut by_unit: BTreeMap<i64, Figures> = BTreeMap::new();
    let mut by_sp: BTreeMap<i64, Figures> = BTreeMap::new();
    let mut by_month: BTreeMap<i32, Figures> = BTreeMap::new();
    let mut by_type: HashMap<ServiceType, Figures> = HashMap::new();
    for &(unit, month, ty, _, _, internal, services, minutes, samples, fee) in &cells {
        total.add(services, minutes, internal, samples, fee);
        by_unit
            .entry(unit)
            .or_default()
            .add(services, minutes, internal, samples, fee);
        if let Some((_, sp)) = unit_info.get(&unit) {
            by_sp
                .entry(*sp)
                .or_default()
                .add(services, minutes, internal, samples, fee);
        }
        by_month
            .entry(month)
            .or_default()
            .add(services, minutes, internal, samples, fee);
        by_type
            .entry(ty)
            .or_default()
            .add(services, minutes, internal, samples, fee);
    }

    let clients = ClientUnits::of(&store::clients(conn, &span, None)?);

    // (ratings, satisfied) per instrument and per unit over the window.
    let mut rated_instrument: HashMap<i64, (i64, i64)> = HashMap::new();
    for (inst, level, n) in store::levels_between(conn, first, last)? {
        let e = rated_instrument.entry(inst).or_default();
        e.0 += n;
        e.1 += if level.satisfied() { n } else { 0 };
    }
    let rated_ids: Vec<i64> = rated_instrument.keys().copied().collect();
    let mut rated_unit: HashMap<i64, (i64, i64)> = HashMap::new();
    for (id, _, unit) in store::instrument_names(conn, &rated_ids)? {
        let (r, s) = rated_instrument.get(&id).copied().unwrap_or_default();
        let e = rated_unit.entry(unit).or_default();
        e.0 += r;
        e.1 += s;
    }
    let rated = |m: &HashMap<i64, (i64, i64)>, id: i64| {
        let (r, s) = m.get(&id).copied().unwrap_or_default();
        Satisfaction::of(r, s)
    };
    let (all_r, all_s) = rated_unit
        .values()
        .fold((0, 0), |(a, b), (r, s)| (a + r, b + s));

    let mut instruments: Vec<(i64, Figures)> = instrument_sums(conn, &span)?.into_iter().collect();
    instruments.sort_by(|a, b| b.1.minutes.cmp(&a.1.minutes).then(a.0.cmp(&b.0)));
    instruments.truncate(top);
    let ids: Vec<i64> = instruments.iter().map(|i| i.0).collect();
    let names: HashMap<i64, (String, i64)> = store::instrument_names(conn, &ids)?
        .into_iter()
        .map(|(id, n, u)| (id, (n, u)))
        .collect();

    let mut by_unit: Vec<UnitFigures> = by_unit
        .into_iter()
        .map(|(unit, figures)| UnitFigures {
            unit_id: UnitId(unit),
            name: unit_info
                .get(&unit)
                .map(|u| u.0.clone())
                .unwrap_or_default(),
            figures,
            rated: rated(&rated_unit, unit),
        })
        .collect();
    by_unit.sort_by_key(|u| std::cmp::Reverse(u.figures.minutes));
    // A bounded period counts the catalogue as it was then: what was listed in it.
    let catalogue = match (from, to) {
        (None, None) => counts.stats.clone(),
        _ => {
            let starts = crate::reservations::rules::local(first, 0)
                .map(crate::clock::naive)
                .ok_or_else(|| AppError::invalid("from", "not a date the platform knows"))?;
            let (sub_platforms, units, instruments, value) =
                store::catalogue_during(conn, starts, last)?;
            crate::navigation::model::PlatformStats {
                sub_platforms,
                units,
                instruments,
                original_value_yuan: crate::types::Yuan(value),
            }
        }
    };
    Ok(UsageStats {
        catalogue,
        from,
        to,
        clients,
        services: total.services,
        external_services: total.external_services,
        machine_hours: total.machine_hours,
        external_hours: total.external_hours,
        income_fen: total.income_fen,
        voucher_fen: crate::vouchers::store::redeemed(conn, None, first, last)?,
        samples: total.samples,
        rated: Satisfaction::of(all_r, all_s),
        by_unit,
        by_sub_platform: counts
            .sub_platforms
            .iter()
            .map(|sp| SubPlatformFigures {
                sub_platform_id: sp.id,
                figures: by_sp.get(&sp.id.0).copied().unwrap_or_default(),
                name: sp.name.clone(),
            })
            .collect(),
        by_instrument: instruments
            .into_iter()
            .map(|(id, figures)| {
                let (name, unit) = names.get(&id).cloned().unwrap_or_default();
                InstrumentFigures {
                    instrument_id: InstrumentId(id),
                    name,
                    unit_id: UnitId(unit),
                    unit_name: unit_info
                        .get(&unit)
                        .map(|u| u.0.clone())
                        .unwrap_or_default(),
                    figures,
                    rated: rated(&rated_instrument, id),
                }
            })
            .collect(),
        by_month: by_month
            .into_iter()
            .map(|(m, figures)| MonthFigures {
                month: month_label(m),
                figures,
            })
            .collect(),
        by_service_type: ServiceType::ALL
            .iter()
            .map(|t| TypeFigures {
                service_type: *t,
                label: t.label_zh(),
                figures: by_type.get(t).copied().unwrap_or_default(),
            })
            .collect(),
        splits: splits(&cells),
    })
}

/// The figures of `cells` by service way and by direction.
pub(super) fn splits(cells: &[store::UnitSums<i32>]) -> Splits {
    let mut ways: HashMap<ServiceWay, Figures> = HashMap::new();
    let mut directions: HashMap<Direction, Figures> = HashMap::new();
    for &(_, _, _, way, direction, internal, services, minutes, samples, fee) in cells {
        for f in [
            ways.entry(way).or_default(),
            directions.entry(direction).or_default(),
        ] {
            f.add(services, minutes, internal, samples, fee);
        }
    }
    Splits::of(&ways, &directions)
}

/// The (unit, month, type, way, direction, internal) sums over the span, of one unit or all:
/// whole months from the unit rollup, the edge days from the records.
pub(super) fn unit_cells_in(
    conn: &mut DbConnection,
    span: &Span,
    unit: Option<UnitId>,
) -> AppResult<Vec<store::UnitSums<i32>>> {
    let mut cells = Vec::new();
    if has_months(span) {
        cells.extend(store::unit_months_rolled(conn, span, unit)?);
    }
    if has_days(span) {
        cells.extend(
            store::unit_days_raw(conn, span, unit)?
                .into_iter()
                .map(|(u, d, t, w, r, i, s, m, sa, f)| (u, month_of(d), t, w, r, i, s, m, sa, f)),
        );
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_period_splits_into_whole_months_and_edge_days() {
        // A calendar year is months only.
        let s = span(d(2018, 1, 1), d(2018, 12, 31));
        assert_eq!(s.months, (201801, 201812));
        assert!(!has_days(&s));
        // Ragged ends: the days before the first whole month and after the last.
        let s = span(d(2018, 1, 15), d(2018, 3, 10));
        assert_eq!(s.months, (201802, 201802));
        assert_eq!(s.days[0], (d(2018, 1, 15), d(2018, 1, 31)));
        assert_eq!(s.days[1], (d(2018, 3, 1), d(2018, 3, 10)));
        // Inside one month: days only.
        let s = span(d(2018, 2, 3), d(2018, 2, 20));
        assert!(!has_months(&s));
        assert_eq!(s.days[0], (d(2018, 2, 3), d(2018, 2, 20)));
        // Across a year end, ending on a month's last day (February of a leap year).
        let s = span(d(2023, 12, 2), d(2024, 2, 29));
        assert_eq!(s.months, (202401, 202402));
        assert_eq!(s.days[0], (d(2023, 12, 2), d(2023, 12, 31)));
        assert!(s.days[1].0 > s.days[1].1);
        // Whole years inside whole months, and the months around them.
        let s = span(d(2017, 11, 1), d(2020, 2, 29));
        assert_eq!(s.years, (2018, 2019));
        assert_eq!(s.loose_months, [(201711, 201712), (202001, 202002)]);
        let s = span(d(2018, 1, 1), d(2018, 12, 31));
        assert_eq!((s.years, s.loose_months), ((2018, 2018), [(1, 0), (1, 0)]));
        let s = span(d(2018, 1, 15), d(2018, 3, 10));
        assert!(s.years.0 > s.years.1);
        assert_eq!(s.loose_months[0], (201802, 201802));
        // One day.
        let s = span(d(2026, 11, 30), d(2026, 11, 30));
        assert!(!has_months(&s));
        assert_eq!(s.days[0], (d(2026, 11, 30), d(2026, 11, 30)));
    }
}
