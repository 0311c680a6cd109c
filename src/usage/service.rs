//! The rules of the machine-hour log: who records and corrects what, and how the statistics
//! and the yearly evaluation are computed from the records.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::model::*;
use super::store::{self, Delta, Span};
use crate::auth::permissions::{visibility, Visibility};
use crate::auth::{authorize, Action, Principal};
use crate::cache::Cache;
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use crate::navigation::service::CatalogueCounts;
use crate::navigation::service::{instrument_to_run, no_such_instrument};
use crate::navigation::store as catalogue;
use crate::types::{InstrumentId, PageRequest, Paged, UnitId, Yuan, PLATFORM_ZONE};
use crate::users::store as people;
use crate::validate;
use crate::validate::instant;

/// Writes to the records made by this process, counted after each commit: a cached overview
/// computed before the last write is not served again.
static WRITES: AtomicU64 = AtomicU64::new(0);

pub fn note_write() {
    WRITES.fetch_add(1, Ordering::SeqCst);
}

type StatsKey = (Option<NaiveDate>, Option<NaiveDate>, usize);

/// The platform overview by period, kept for `ttl` (the catalogue's `counts_ttl_secs`): the same
/// figures are read by everyone, and each costs grouped reads over the rollups (up to a second
/// at national scale). A write in this process or a change of the catalogue figures makes them
/// stale at once: the next request computes them afresh, and while it does the others get the
/// figures it is replacing. Figures only older than `ttl` (which is how other instances' writes
/// show) are served while one task recomputes them in the background.
pub struct StatsCache(Cache<StatsKey, Arc<UsageStats>>);

/// Periods remembered at most; past it the map starts afresh.
const MAX_CACHED_PERIODS: usize = 1000;

impl StatsCache {
    pub fn new(ttl: std::time::Duration, clock: crate::clock::SharedClock) -> StatsCache {
        StatsCache(Cache::new(ttl, MAX_CACHED_PERIODS, clock))
    }

    pub async fn get(
        &self,
        pool: &db::Pool,
        counts: Arc<CatalogueCounts>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        top: usize,
    ) -> AppResult<Arc<UsageStats>> {
        // The figures depend on the records (this process's writes) and the catalogue's figures.
        let version = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            WRITES.load(Ordering::SeqCst).hash(&mut h);
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

/// Writes a service record and adds it to the rollups, inside the caller's transaction.
pub fn record(conn: &mut DbConnection, row: &NewServiceRecord) -> AppResult<i64> {
    let inst = catalogue::find_instrument(conn, row.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    let id = store::insert(conn, row)?;
    store::add_to_rollups(
        conn,
        &Delta {
            instrument_id: row.instrument_id,
            unit_id: inst.unit_id,
            month: month_of(row.served_on),
            service_type: row.service_type,
            internal: row.internal,
            organisation_id: row.client_organisation_id,
            services: 1,
            minutes: i64::from(row.minutes),
            samples: i64::from(row.sample_count),
            fee_fen: row.fee_fen,
        },
    )?;
    Ok(id)
}

/// The local (Asia/Shanghai) date of an instant: the day a service counts on.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&PLATFORM_ZONE).date_naive()
}

fn amount(field: &str, value: i64, max: i64) -> AppResult<i32> {
    if !(0..=max).contains(&value) {
        return Err(AppError::invalid(
            field,
            format!("必须在 0 到 {max} 之间 (0..={max})"),
        ));
    }
    Ok(value as i32)
}

/// A service logged by the instrument's staff outside a booking.
pub fn log_service(
    conn: &mut DbConnection,
    who: &Principal,
    input: ServiceInput,
    now: DateTime<Utc>,
) -> AppResult<ServiceRecord> {
    let inst = instrument_to_run(conn, who, input.instrument_id, no_such_instrument)?;
    let service_type = ServiceType::from_code(&input.service_type).ok_or_else(|| {
        AppError::invalid("service_type", format!("one of {}", ServiceType::codes()))
    })?;
    let service_way = ServiceWay::from_code(&input.service_way).ok_or_else(|| {
        AppError::invalid("service_way", format!("one of {}", ServiceWay::codes()))
    })?;
    let org = people::find_organisation(conn, input.client_organisation_id)?.ok_or_else(|| {
        AppError::invalid(
            "client_organisation_id",
            "没有这个单位 (no such organisation)",
        )
    })?;
    if let Some(user) = input.client_user_id {
        let found = people::find_user(conn, user)?
            .ok_or_else(|| AppError::invalid("client_user_id", "没有这个用户 (no such user)"))?;
        if found.organisation_id.is_some_and(|o| o != org.id) {
            return Err(AppError::invalid(
                "client_user_id",
                "该用户不属于所选单位 (the client belongs to another organisation)",
            ));
        }
    }
    let idle = amount("idle_minutes", input.idle_minutes, 24 * 60 * 366)?;
    let (starts, ends, served_on, minutes) = match (&input.starts_at, &input.ends_at) {
        (Some(s), Some(e)) => {
            let (s, e) = (instant("starts_at", s)?, instant("ends_at", e)?);
            if e <= s {
                return Err(AppError::invalid(
                    "ends_at",
                    "结束须晚于开始 (ends after it starts)",
                ));
            }
            let served = (e - s).num_minutes();
            if i64::from(idle) > served {
                return Err(AppError::invalid(
                    "idle_minutes",
                    "空转时间不能超过服务时长 (idle time exceeds the time served)",
                ));
            }
            (
                Some(naive(s)),
                Some(naive(e)),
                local_day(s),
                served - i64::from(idle),
            )
        }
        (None, None) => {
            let day = input.served_on.ok_or_else(|| {
                AppError::invalid(
                    "served_on",
                    "请填写服务日期或起止时间 (a date, or start and end)",
                )
            })?;
            let minutes = input.minutes.ok_or_else(|| {
                AppError::invalid("minutes", "请填写有效机时 (effective minutes)")
            })?;
            (None, None, day, minutes)
        }
        (None, Some(_)) => return Err(AppError::invalid("starts_at", "required with ends_at")),
        (Some(_), None) => return Err(AppError::invalid("ends_at", "required with starts_at")),
    };
    if served_on > local_day(now) {
        return Err(AppError::invalid(
            "served_on",
            "服务尚未发生 (the service lies in the future)",
        ));
    }
    let minutes = amount("minutes", minutes, 24 * 60 * 366)?;
    let row = NewServiceRecord {
        reservation_id: None,
        instrument_id: inst.id,
        client_user_id: input.client_user_id,
        client_organisation_id: Some(org.id),
        internal: input.internal.unwrap_or(org.unit_id == Some(inst.unit_id)),
        service_type,
        service_way,
        starts_at: starts,
        ends_at: ends,
        minutes,
        sample_count: amount("sample_count", input.sample_count, 1_000_000)?,
        fee_fen: i64::from(amount("fee_fen", input.fee_fen, i64::from(i32::MAX))?),
        project: validate::text("project", &input.project, 0, 200)?,
        funding_source: validate::text("funding_source", &input.funding_source, 0, 200)?,
        note: validate::text("note", &input.note, 0, 500)?,
        created_at: naive(now),
        served_on,
        idle_minutes: idle,
        logged_by: Some(who.id.0),
    };
    let id = db::write_tx(conn, |c| record(c, &row))?;
    note_write();
    let found = store::find(conn, id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    Ok(ServiceRecord::from(found))
}

/// The client of a record, the staff of its instrument, platform admins.
fn may_read(conn: &mut DbConnection, who: &Principal, row: &ServiceRecordRow) -> AppResult<i64> {
    let inst = catalogue::find_instrument(conn, row.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    if row.client_user_id != Some(who.id.0) {
        authorize(
            who,
            Action::ReadUnitQueue {
                unit: UnitId(inst.unit_id),
            },
        )?;
    }
    Ok(inst.unit_id)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RecordWithHistory {
    #[serde(flatten)]
    pub record: ServiceRecord,
    pub reductions: Vec<Reduction>,
}

pub fn get(conn: &mut DbConnection, who: &Principal, id: i64) -> AppResult<RecordWithHistory> {
    let row = store::find(conn, id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    may_read(conn, who, &row)?;
    let reductions = store::reductions_of(conn, id)?
        .into_iter()
        .map(Reduction::from)
        .collect();
    Ok(RecordWithHistory {
        record: ServiceRecord::from(row),
        reductions,
    })
}

/// Mine (as a client), or for staff their unit's (managers: their instruments'); admins all.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    mut f: store::Filter,
    mine: bool,
    page: PageRequest,
) -> AppResult<Paged<ServiceRecord>> {
    match visibility(who, mine) {
        Visibility::Own => f.client = Some(who.id.0),
        Visibility::All => {}
        Visibility::Unit(unit) => f.unit = Some(unit.0),
        Visibility::Instruments(ids) => f.instruments = Some(ids.iter().map(|i| i.0).collect()),
    }
    let (rows, total) = store::list(conn, &f, page)?;
    Ok(Paged::new(
        rows.into_iter().map(ServiceRecord::from).collect(),
        total,
        page,
    ))
}

/// A client asks to reduce a record's hours (核减机时), within `window_days` of the service.
pub fn request_reduction(
    conn: &mut DbConnection,
    who: &Principal,
    record_id: i64,
    input: ReductionInput,
    window_days: i64,
    now: DateTime<Utc>,
) -> AppResult<Reduction> {
    let row = store::find(conn, record_id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    if row.client_user_id != Some(who.id.0) {
        return Err(AppError::forbidden(
            "只有该服务的用户可以申请核减机时 (only the client of this service may ask)",
        ));
    }
    let last_day = row.served_on + Duration::days(window_days);
    if local_day(now) > last_day {
        return Err(AppError::conflict(
            ErrorCode::ReductionWindowClosed,
            format!("核减申请期限已过（截至 {last_day}） (the window closed on {last_day})"),
        ));
    }
    if input.minutes < 0 || input.minutes >= i64::from(row.minutes) {
        return Err(AppError::invalid(
            "minutes",
            format!(
                "须少于记录的 {} 分钟 (fewer than the {} minutes recorded)",
                row.minutes, row.minutes
            ),
        ));
    }
    let reason = validate::text("reason", &input.reason, 1, 500)?;
    let unit = may_read(conn, who, &row)?;
    let id = db::write_tx(conn, |c| -> AppResult<i64> {
        let id = store::insert_reduction(
            c,
            &NewReduction {
                service_record_id: row.id,
                requested_by: who.id.0,
                minutes_before: row.minutes,
                minutes_requested: input.minutes as i32,
                fee_before_fen: row.fee_fen,
                reason: reason.clone(),
                status: ReductionStatus::Pending,
                created_at: naive(now),
            },
        )
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::conflict(
                ErrorCode::ReductionPending,
                "该记录已有待处理的核减申请 (a request for this record is already pending)",
            ),
            e => e.into(),
        })?;
        let inst_name = catalogue::find_instrument(c, row.instrument_id)?
            .map(|i| i.name_zh)
            .unwrap_or_default();
        for (email, name) in people::staff_to_notify(c, unit, row.instrument_id)? {
            mail::enqueue(
                c,
                &Notice {
                    kind: "reduction_requested",
                    to: &email,
                    name: &name,
                    subject: &format!("核减机时申请：{inst_name}"),
                    paragraphs: vec![
                        format!(
                            "{} 申请将 {} 的服务记录（{}）由 {} 分钟核减为 {} 分钟。",
                            who.name, inst_name, row.served_on, row.minutes, input.minutes
                        ),
                        format!("理由：{reason}"),
                    ],
                    link: None,
                    footer: "",
                    related: Some(("service_record", row.id)),
                }
                .render()?,
                naive(now),
            )?;
        }
        Ok(id)
    })?;
    let found = store::find_reduction(conn, id)?.ok_or(AppError::NotFound {
        what: "hour reduction",
    })?;
    Ok(Reduction::from(found))
}

/// The instrument's staff accept (the record and the rollups change, the old figures stay in
/// the request) or refuse with a reason; the client is told either way.
pub fn decide_reduction(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    input: DecisionInput,
    now: DateTime<Utc>,
) -> AppResult<Reduction> {
    let req = store::find_reduction(conn, id)?.ok_or(AppError::NotFound {
        what: "hour reduction",
    })?;
    let row = store::find(conn, req.service_record_id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    let inst = instrument_to_run(conn, who, row.instrument_id, || AppError::NotFound {
        what: "instrument",
    })?;
    let reason = validate::text("reason", &input.reason, usize::from(!input.accept), 500)?;
    let (status, fee_after) = if input.accept {
        let fee = match input.fee_fen {
            Some(f) => i64::from(amount("fee_fen", f, row.fee_fen)?),
            // In proportion to the hours, rounded to the fen.
            None if row.minutes > 0 => {
                (row.fee_fen * i64::from(req.minutes_requested) + i64::from(row.minutes) / 2)
                    / i64::from(row.minutes)
            }
            None => row.fee_fen,
        };
        (ReductionStatus::Accepted, Some(fee))
    } else {
        (ReductionStatus::Refused, None)
    };
    db::write_tx(conn, |c| -> AppResult<()> {
        // Re-read inside the lock: the record may have changed since.
        let row = store::find(c, req.service_record_id)?.ok_or(AppError::NotFound {
            what: "service record",
        })?;
        let decided =
            store::decide_reduction(c, id, status, who.id.0, &reason, fee_after, naive(now))?;
        if decided == 0 {
            return Err(AppError::conflict(
                ErrorCode::ReductionDecided,
                "该申请已处理 (this request has been decided already)",
            ));
        }
        if let Some(fee) = fee_after {
            store::set_amounts(c, row.id, req.minutes_requested, fee)?;
            store::add_to_rollups(
                c,
                &Delta {
                    instrument_id: row.instrument_id,
                    unit_id: inst.unit_id,
                    month: month_of(row.served_on),
                    service_type: row.service_type,
                    internal: row.internal,
                    organisation_id: row.client_organisation_id,
                    services: 0,
                    minutes: i64::from(req.minutes_requested) - i64::from(row.minutes),
                    samples: 0,
                    fee_fen: fee - row.fee_fen,
                },
            )?;
        }
        if let Some(client) = people::find_user(c, req.requested_by)? {
            let (subject, line) = if input.accept {
                (
                    format!("核减机时已同意：{}", inst.name_zh),
                    format!(
                        "您对 {}（{}）的核减申请已同意：有效机时 {} 分钟，费用 {:.2} 元。",
                        inst.name_zh,
                        row.served_on,
                        req.minutes_requested,
                        fee_after.unwrap_or(0) as f64 / 100.0
                    ),
                )
            } else {
                (
                    format!("核减机时未同意：{}", inst.name_zh),
                    format!(
                        "您对 {}（{}）的核减申请未获同意。",
                        inst.name_zh, row.served_on
                    ),
                )
            };
            let mut paragraphs = vec![line];
            if !reason.is_empty() {
                paragraphs.push(format!("说明：{reason}"));
            }
            mail::enqueue(
                c,
                &Notice {
                    kind: "reduction_decided",
                    to: &client.email,
                    name: &client.name,
                    subject: &subject,
                    paragraphs,
                    link: None,
                    footer: "",
                    related: Some(("service_record", row.id)),
                }
                .render()?,
                naive(now),
            )?;
        }
        Ok(())
    })?;
    note_write();
    let found = store::find_reduction(conn, id)?.ok_or(AppError::NotFound {
        what: "hour reduction",
    })?;
    Ok(Reduction::from(found))
}

/// Pending reductions the person may decide.
pub fn pending_reductions(conn: &mut DbConnection, who: &Principal) -> AppResult<Vec<Reduction>> {
    let scope = match visibility(who, false) {
        Visibility::All => None,
        Visibility::Unit(unit) => Some(
            store::unit_instruments(conn, unit.0)?
                .into_iter()
                .map(|i| i.0)
                .collect(),
        ),
        Visibility::Instruments(ids) => Some(ids.iter().map(|i| i.0).collect()),
        Visibility::Own => return Err(AppError::forbidden("仅限仪器管理人员 (staff only)")),
    };
    Ok(store::pending_reductions(conn, scope)?
        .into_iter()
        .map(Reduction::from)
        .collect())
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

fn sum_by_instrument(rows: Vec<store::InstrumentSums>) -> AppResult<HashMap<i64, Figures>> {
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

    // (unit, month, type, internal) sums from both sources.
    let mut cells: Vec<store::Sums<i32>> = Vec::new();
    if has_months(&span) {
        cells.extend(store::unit_months_rolled(conn, &span)?);
    }
    if has_days(&span) {
        cells.extend(
            store::unit_days_raw(conn, &span)?
                .into_iter()
                .map(|(u, d, t, i, s, m, sa, f)| (u, month_of(d), t, i, s, m, sa, f)),
        );
    }
    let units = store::unit_names(conn)?;
    let unit_info: HashMap<i64, (String, i64)> = units
        .iter()
        .map(|(id, n, sp)| (*id, (n.clone(), *sp)))
        .collect();
    let mut total = Figures::default();
    let mut by_unit: BTreeMap<i64, Figures> = BTreeMap::new();
    let mut by_sp: BTreeMap<i64, Figures> = BTreeMap::new();
    let mut by_month: BTreeMap<i32, Figures> = BTreeMap::new();
    let mut by_type: HashMap<String, Figures> = HashMap::new();
    for (unit, month, ty, internal, services, minutes, samples, fee) in cells {
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

    let clients: HashSet<i64> = store::clients(conn, &span, None)?.into_iter().collect();

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
        })
        .collect();
    by_unit.sort_by_key(|u| std::cmp::Reverse(u.figures.minutes));
    Ok(UsageStats {
        catalogue: counts.stats.clone(),
        from,
        to,
        client_units: clients.len() as i64,
        services: total.services,
        machine_hours: total.machine_hours,
        external_hours: total.external_hours,
        income_fen: total.income_fen,
        samples: total.samples,
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
                figures: by_type.get(t.code()).copied().unwrap_or_default(),
            })
            .collect(),
    })
}

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
pub fn evaluation(conn: &mut DbConnection, unit: i64, year: i32) -> AppResult<Evaluation> {
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
    let mut total = Figures::default();
    let mut per_instrument = Vec::with_capacity(listed.len());
    let (mut running, mut shared, mut shared_externally) = (0, 0, 0);
    for (id, name, asset_no, value, run_status) in listed.iter().cloned() {
        let f = sums.get(&id).copied().unwrap_or_default();
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
        });
    }
    let registered = listed.len() as i64;
    let eligible = store::declared_eligible(conn, unit, year)?.map(i64::from);
    Ok(Evaluation {
        unit_id: UnitId(unit),
        unit_name: row.name,
        year,
        instruments: registered,
        client_units,
        figures: total,
        utilisation: utilisation(total.minutes, registered),
        saturation_hours: SATURATION_HOURS,
        satisfaction: None,
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
    unit: i64,
    input: DeclarationInput,
    now: DateTime<Utc>,
) -> AppResult<()> {
    catalogue::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    authorize(who, Action::ManageInstruments { unit: UnitId(unit) })?;
    year_bounds(input.year)?;
    let eligible = amount(
        "eligible_instruments",
        input.eligible_instruments,
        1_000_000,
    )?;
    db::write_tx(conn, |c| {
        store::declare(c, unit, input.year, eligible, Some(who.id.0), naive(now))
    })?;
    Ok(())
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
