//! A host unit's yearly evaluation (the figures a ministry asks for) and its declarations.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::model::*;
use super::service::amount;
use super::stats::{span, sum_by_instrument};
use super::store;
use crate::auth::{authorize, Action, Principal};
use crate::clock::naive;
use crate::config::EvaluationSettings;
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
pub fn evaluation(
    conn: &mut DbConnection,
    unit: UnitId,
    year: i32,
    round: &EvaluationSettings,
) -> AppResult<Evaluation> {
    let row = catalogue::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    let (from, to) = year_bounds(year)?;
    let span = span(from, to);
    let sums = sum_by_instrument(store::unit_instruments_year(conn, unit, year)?)?;
    let per_client: HashMap<i64, i64> = store::instrument_client_counts(conn, unit, year)?
        .into_iter()
        .collect();
    let clients = ClientUnits::of(&store::clients(conn, &span, Some(unit))?);
    let splits = unit_splits(conn, &span, unit)?;
    let listed = store::listed_during(conn, unit, year_start(year)?, to)?;
    let rated = unit_satisfaction(conn, unit, year)?;
    let mut total = Figures::default();
    let mut per_instrument = Vec::with_capacity(listed.len());
    // The unit's satisfaction counts every rating of its year, an instrument retired since
    // included: the platform's round reads the same counts.
    let (ratings, satisfied) = rated.values().fold((0, 0), |(a, b), (r, s)| (a + r, b + s));
    for (id, name, asset_no, value, run_status, share_mode, listed_on) in listed {
        let f = sums.get(&id).copied().unwrap_or_default();
        let (r, s) = rated.get(&id).copied().unwrap_or_default();
        total.merge(&f);
        per_instrument.push(InstrumentYear {
            instrument_id: InstrumentId(id),
            name,
            asset_no,
            original_value_yuan: Yuan(value),
            large: value >= round.large_value_yuan,
            listed_on,
            run_status,
            share_mode,
            client_units: per_client.get(&id).copied().unwrap_or(0),
            utilisation: utilisation(f.minutes, 1),
            figures: f,
            satisfaction: share(r, s),
            ratings: r,
        });
    }
    let registered = per_instrument.len() as i64;
    let eligible = store::declared_eligible(conn, unit, year)?.map(i64::from);
    let complaints = complaint_figures(conn, Some(unit), year)?
        .remove(&unit.0)
        .unwrap_or_default();
    let satisfaction = share(ratings, satisfied);
    Ok(Evaluation {
        voucher_fen: crate::vouchers::store::redeemed(conn, Some(unit), from, to)?,
        unit_id: unit,
        unit_name: row.name,
        year,
        instruments: registered,
        large_instruments: per_instrument.iter().filter(|i| i.large).count() as i64,
        large_value_yuan: round.large_value_yuan,
        clients,
        figures: total,
        splits,
        utilisation: utilisation(total.minutes, registered),
        saturation_hours: SATURATION_HOURS,
        satisfaction,
        ratings,
        rectify: rectify_reasons(ratings, satisfied, &complaints, round),
        complaints,
        notices: store::rectifications(conn, Some(unit), year)?
            .into_iter()
            .map(Rectification::from)
            .collect(),
        eligible_instruments: eligible,
        ratios: national_ratios(eligible, &per_instrument),
        per_instrument,
    })
}

/// The four ratios of the yearly round, as the national evaluation defines them (科技部、
/// 财政部《重大科研基础设施和大型科研仪器开放共享评价考核实施办法》: 入网率, 运行率, 共享率,
/// 对外共享率). Only large instruments listed in the year count; the denominator of three of
/// them is what the unit declares falls under the rules (应入网), which the platform cannot
/// know. Written once: the evaluation page, the API and the national export read these.
pub fn national_ratios(eligible: Option<i64>, year: &[InstrumentYear]) -> Ratios {
    use crate::navigation::model::{RunStatus, ShareMode};
    let large: Vec<&InstrumentYear> = year.iter().filter(|i| i.large).collect();
    let count =
        |keep: &dyn Fn(&InstrumentYear) -> bool| large.iter().filter(|i| keep(i)).count() as i64;
    let registered = large.len() as i64;
    Ratios {
        // 入网率 = 入网的大型仪器 / 应入网的大型仪器.
        registered_of_eligible: Ratio::of(registered, eligible),
        // 运行率 = 运行状态正常的入网仪器 / 入网仪器 (the status recorded today: the platform
        // keeps no history of it).
        running_of_registered: Ratio::of(
            count(&|i| i.run_status == RunStatus::Normal),
            Some(registered),
        ),
        // 共享率 = 开放共享（不是“不共享”）且年内提供过服务的仪器 / 应入网: an instrument kept
        // to its owners is not shared, however much it ran.
        shared_of_eligible: Ratio::of(
            count(&|i| i.share_mode != ShareMode::NotShared && i.figures.services > 0),
            eligible,
        ),
        // 对外共享率 = 年内为本单位法人以外的用户服务过的仪器 / 应入网: counted by services,
        // so an instrument that only ran external samples counts too.
        shared_externally_of_eligible: Ratio::of(
            count(&|i| i.figures.external_services > 0),
            eligible,
        ),
    }
}

/// The instant a year starts in Beijing, as stored (UTC).
fn year_start(year: i32) -> AppResult<chrono::NaiveDateTime> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| AppError::invalid("year", "2000..=2100"))?;
    crate::reservations::rules::local(first, 0)
        .map(naive)
        .ok_or_else(|| AppError::invalid("year", "2000..=2100"))
}

/// A unit's figures over the span by service way and direction, from its rollup.
fn unit_splits(conn: &mut DbConnection, span: &store::Span, unit: UnitId) -> AppResult<Splits> {
    Ok(super::stats::splits(&super::stats::unit_cells_in(
        conn,
        span,
        Some(unit),
    )?))
}

/// (ratings, ratings at the top two levels) per instrument of the unit, for the services it
/// gave in `year`.
fn unit_satisfaction(
    conn: &mut DbConnection,
    unit: UnitId,
    year: i32,
) -> AppResult<HashMap<i64, (i64, i64)>> {
    let mut per: HashMap<i64, (i64, i64)> = HashMap::new();
    for (instrument, level, n) in store::unit_levels(conn, unit, year)? {
        let e = per.entry(instrument).or_default();
        e.0 += n;
        if level.satisfied() {
            e.1 += n;
        }
    }
    Ok(per)
}

/// The complaints filed against units in `year` (Beijing time) and accepted, per unit.
fn complaint_figures(
    conn: &mut DbConnection,
    unit: Option<UnitId>,
    year: i32,
) -> AppResult<HashMap<i64, ComplaintFigures>> {
    let (from, to) = (year_start(year)?, year_start(year + 1)?);
    let mut per: HashMap<i64, ComplaintFigures> = HashMap::new();
    for (u, decision, overdue, answered, due) in store::complaint_outcomes(conn, unit, from, to)? {
        let f = per.entry(u).or_default();
        f.received += 1;
        f.upheld += i64::from(matches!(
            decision.as_deref(),
            Some("upheld" | "partly_upheld")
        ));
        let late = overdue.is_some() || matches!((answered, due), (Some(a), Some(d)) if a > d);
        f.late += i64::from(late);
    }
    Ok(per)
}

/// Why the yearly round orders a unit to rectify (限期整改): satisfaction under
/// `rectify_below` over at least `rectify_min_ratings` ratings, or `rectify_upheld` upheld
/// complaints.
pub fn rectify_reasons(
    ratings: i64,
    satisfied: i64,
    complaints: &ComplaintFigures,
    round: &EvaluationSettings,
) -> Vec<String> {
    let mut why = Vec::new();
    // On the counts, not the rounded share: 79.96 % is under 80 %.
    if ratings > 0
        && ratings >= round.rectify_min_ratings
        && (satisfied as f64) < round.rectify_below * ratings as f64
    {
        why.push(format!(
            "满意度 {:.1}% 低于 {:.0}%（{ratings} 条评价）",
            satisfied as f64 / ratings as f64 * 100.0,
            round.rectify_below * 100.0
        ));
    }
    if complaints.upheld >= round.rectify_upheld {
        why.push(format!("投诉成立 {} 件", complaints.upheld));
    }
    why
}

/// The platform's evaluation list: every unit's satisfaction, complaints, flag and notices
/// for `year`, flagged units first.
pub fn round(
    conn: &mut DbConnection,
    year: i32,
    settings: &EvaluationSettings,
) -> AppResult<Vec<UnitRound>> {
    year_bounds(year)?;
    let mut rated: HashMap<i64, (i64, i64)> = HashMap::new();
    for (unit, level, n) in store::levels_by_unit(conn, year)? {
        let e = rated.entry(unit).or_default();
        e.0 += n;
        if level.satisfied() {
            e.1 += n;
        }
    }
    let mut complaints = complaint_figures(conn, None, year)?;
    let mut notices: HashMap<i64, Vec<Rectification>> = HashMap::new();
    for n in store::rectifications(conn, None, year)? {
        notices.entry(n.unit_id.0).or_default().push(n.into());
    }
    let mut list: Vec<UnitRound> = store::unit_names(conn)?
        .into_iter()
        .map(|(id, name, _)| {
            let (ratings, satisfied) = rated.get(&id).copied().unwrap_or_default();
            let r = Satisfaction::of(ratings, satisfied);
            let c = complaints.remove(&id).unwrap_or_default();
            UnitRound {
                unit_id: UnitId(id),
                unit_name: name,
                rectify: rectify_reasons(ratings, satisfied, &c, settings),
                rated: r,
                complaints: c,
                notices: notices.remove(&id).unwrap_or_default(),
            }
        })
        .collect();
    list.sort_by_key(|u| (u.rectify.is_empty(), u.unit_id));
    Ok(list)
}

/// The share of `satisfied` in `ratings`, none without ratings.
fn share(ratings: i64, satisfied: i64) -> Option<f64> {
    Satisfaction::of(ratings, satisfied).satisfaction
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round() -> EvaluationSettings {
        EvaluationSettings {
            rating_window_days: 30,
            rating_edit_days: 7,
            answer_deadline_days: 5,
            rectify_below: 0.8,
            rectify_min_ratings: 5,
            rectify_upheld: 3,
            large_value_yuan: 500_000,
        }
    }

    #[test]
    fn the_flag_reads_the_counts_not_the_rounded_share() {
        let none = ComplaintFigures::default();
        // 79.96 % rounds to 80.0 % but is under the mark.
        assert_eq!(rectify_reasons(5000, 3998, &none, &round()).len(), 1);
        assert!(rectify_reasons(5000, 4000, &none, &round()).is_empty());
        // Too few ratings to judge by.
        assert!(rectify_reasons(4, 0, &none, &round()).is_empty());
        let upheld = ComplaintFigures {
            received: 3,
            upheld: 3,
            late: 0,
        };
        let why = rectify_reasons(0, 0, &upheld, &round());
        assert_eq!(why, ["投诉成立 3 件"]);
    }
}
