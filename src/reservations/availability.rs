//! When an instrument is busy and when it can be booked, one instrument or a unit's week,
//! from a fixed number of queries whatever the number of bookings or instruments; and the
//! iCalendar (RFC 5545) feeds.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::Serialize;

use super::model::ReservationStatus;
use std::collections::HashMap;
use std::sync::Arc;

use super::rules::{Rules, RulesCache};
use super::store::{self, BusyRow};
use crate::clock::naive;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::navigation::store as catalogue;
use crate::types::{InstrumentId, UnitId, UserId, PLATFORM_ZONE};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Interval {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A busy interval, without the booker's identity.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Busy {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `reservation` or `blackout`.
    pub what: &'static str,
    /// For reservations: pending, approved or in_use; for blackouts: the reason.
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Availability {
    pub instrument_id: InstrumentId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub busy: Vec<Busy>,
    /// Intervals one may book now: open, not busy (buffer included), within notice and
    /// horizon, at least the minimum length, on the slot grid.
    pub free: Vec<Interval>,
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
}

/// The longest range one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 31;

/// The busy intervals of one instrument's `rows`, in time order.
fn busy_of(rows: &[BusyRow]) -> Vec<Busy> {
    let mut busy: Vec<Busy> = rows
        .iter()
        .filter_map(|r| {
            Some(Busy {
                starts_at: r.starts_at?.and_utc(),
                ends_at: r.ends_at?.and_utc(),
                what: if r.blackout {
                    "blackout"
                } else {
                    "reservation"
                },
                note: r.note.clone(),
            })
        })
        .collect();
    busy.sort_by_key(|b| b.starts_at);
    busy
}

pub fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> AppResult<()> {
    check_window(from, to, "to")
}

/// A window of at most MAX_RANGE_DAYS that ends after it starts; `end` names its end.
pub fn check_window(from: DateTime<Utc>, to: DateTime<Utc>, end: &str) -> AppResult<()> {
    if to <= from {
        return Err(AppError::bad_request(
            end,
            format!("{end} must be after the start"),
        ));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(AppError::bad_request(
            end,
            format!("at most {MAX_RANGE_DAYS} days at a time"),
        ));
    }
    Ok(())
}

/// An instrument's booking rules, from the cache while fresh.
fn cached_rules(
    conn: &mut DbConnection,
    cache: &RulesCache,
    id: InstrumentId,
) -> AppResult<Arc<Rules>> {
    if let Some(rules) = cache.fresh(&id.0) {
        return Ok(rules);
    }
    let generation = cache.generation();
    let settings = crate::reservations::settings::booking_settings(conn, id)?;
    let rules = Arc::new(Rules::new(settings)?);
    cache.put_computed(id.0, rules.clone(), generation);
    Ok(rules)
}

/// The rules of `ids` (instruments known to exist): from the cache, the others read in one
/// go (a cold cache would otherwise cost a query or two for each of hundreds of candidates).
pub fn rules_of(
    conn: &mut DbConnection,
    cache: &RulesCache,
    ids: &[InstrumentId],
) -> AppResult<HashMap<InstrumentId, Arc<Rules>>> {
    let mut out = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for &id in ids {
        match cache.fresh(&id.0) {
            Some(rules) => {
                out.insert(id, rules);
            }
            None => missing.push(id),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let generation = cache.generation();
    let mut rows: HashMap<InstrumentId, _> = store::booking_settings_of(conn, &missing)?
        .into_iter()
        .map(|row| (row.instrument_id, row))
        .collect();
    for id in missing {
        let settings = rows
            .remove(&id)
            .unwrap_or_else(|| super::model::BookingSettingsRow::defaults(id));
        let rules = Arc::new(Rules::new(settings)?);
        cache.put_computed(id.0, rules.clone(), generation);
        out.insert(id, rules);
    }
    Ok(out)
}

/// Of `ids` (instruments open for booking), those one could book machine time on for the
/// whole of [`from`, `to`) now: machine time offered, the window within each one's rules
/// (notice, horizon, opening hours, length) and nothing booked within its buffer or closed.
/// The same rules and the same busy rows a booking is checked against, read for all at once.
pub fn free_for_window(
    conn: &mut DbConnection,
    cache: &RulesCache,
    ids: &[InstrumentId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<Vec<InstrumentId>> {
    let rules = rules_of(conn, cache, ids)?;
    let mut candidates = Vec::new();
    for &id in ids {
        let Some(rules) = rules.get(&id) else {
            continue;
        };
        let offered = rules.settings.modes != super::model::BookingModes::SampleOrder;
        if offered && rules.check_slot(from, to, now).is_ok() {
            candidates.push((id, rules.buffer()));
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let widest = candidates.iter().map(|(_, b)| *b).max().unwrap_or_default();
    let ids: Vec<InstrumentId> = candidates.iter().map(|(id, _)| *id).collect();
    let rows = store::busy(conn, &ids, naive(from), naive(to), widest, None)?;
    Ok(candidates
        .into_iter()
        .filter(|(id, buffer)| {
            !rows.iter().any(|r| {
                let (Some(s), Some(e)) = (r.starts_at, r.ends_at) else {
                    return false;
                };
                let (s, e) = (s.and_utc(), e.and_utc());
                let pad = if r.blackout {
                    Duration::zero()
                } else {
                    *buffer
                };
                r.instrument_id == *id && s < to + pad && e > from - pad
            })
        })
        .map(|(id, _)| id)
        .collect())
}

pub fn availability(
    conn: &mut DbConnection,
    cache: &RulesCache,
    id: InstrumentId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<Availability> {
    check_range(from, to)?;
    let rules = cached_rules(conn, cache, id)?;
    let buffer = rules.buffer();
    let rows = store::busy(conn, &[id], naive(from), naive(to), buffer, None)?;
    let busy = busy_of(&rows);
    let s = &rules.settings;
    let earliest = (now + Duration::minutes(s.notice_minutes as i64)).max(from);
    let latest = (now + Duration::days(s.horizon_days as i64)).min(to);
    let slot = Duration::minutes(s.slot_minutes as i64);
    let mut free = Vec::new();
    let mut date = from.with_timezone(&PLATFORM_ZONE).date_naive();
    let last = to.with_timezone(&PLATFORM_ZONE).date_naive();
    while date <= last {
        if !rules.closed.contains(&date) {
            for (open, close) in rules.hours.windows_on(date) {
                // Cut the window by every busy interval (widened by the buffer).
                let mut pieces = vec![(
                    open.max(earliest),
                    close.min(latest + Duration::minutes(s.max_minutes as i64)),
                )];
                for b in &busy {
                    let (bs, be) = if b.what == "reservation" {
                        (b.starts_at - buffer, b.ends_at + buffer)
                    } else {
                        (b.starts_at, b.ends_at)
                    };
                    pieces = pieces
                        .into_iter()
                        .flat_map(|(a, z)| {
                            if be <= a || bs >= z {
                                vec![(a, z)]
                            } else {
                                [(a, bs), (be, z)]
                                    .into_iter()
                                    .filter(|(x, y)| x < y)
                                    .collect()
                            }
                        })
                        .collect();
                }
                for (a, z) in pieces {
                    // Round the start up to the grid, counted from the window's opening.
                    let offset = (a - open).num_minutes().max(0);
                    let step = slot.num_minutes().max(1);
                    let start = open + Duration::minutes((offset + step - 1) / step * step);
                    if start < z
                        && start <= latest
                        && (z - start).num_minutes() >= s.min_minutes as i64
                    {
                        free.push(Interval {
                            starts_at: start,
                            ends_at: z,
                        });
                    }
                }
            }
        }
        date = match date.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(Availability {
        instrument_id: id,
        from,
        to,
        busy,
        free,
        slot_minutes: s.slot_minutes,
        min_minutes: s.min_minutes,
        max_minutes: s.max_minutes,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstrumentWeek {
    pub id: InstrumentId,
    pub name: String,
    pub busy: Vec<Busy>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitWeek {
    pub unit_id: UnitId,
    pub week: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub instruments: Vec<InstrumentWeek>,
}

/// `2026-W49` → its Monday (ISO 8601 week date).
pub fn parse_week(value: &str) -> AppResult<NaiveDate> {
    let bad = || {
        AppError::bad_request(
            "week",
            format!("{value:?} is not an ISO week like 2026-W49"),
        )
    };
    let (y, w) = value.split_once("-W").ok_or_else(bad)?;
    let (y, w): (i32, u32) = (y.parse().map_err(|_| bad())?, w.parse().map_err(|_| bad())?);
    NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).ok_or_else(bad)
}

/// Every instrument of a unit with its busy intervals for one week (Monday 00:00 to Monday
/// 00:00 in the platform zone): four queries, whatever the unit's size. The bookings are read
/// through the unit's index, one descent for the whole unit.
pub fn unit_week(conn: &mut DbConnection, unit: UnitId, monday: NaiveDate) -> AppResult<UnitWeek> {
    catalogue::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    let instruments = catalogue::unit_instrument_names(conn, unit)?;
    let (from, to) = week_window(monday)?;
    let rows = store::busy_in_unit(conn, unit, naive(from), naive(to))?;
    Ok(assemble(unit, instruments, monday, (from, to), rows))
}

/// The busy intervals of some instruments of `unit` (a page of its grid) for the week from
/// `monday`, read instrument by instrument: a page need not read the whole unit's week.
pub fn week_of(
    conn: &mut DbConnection,
    unit: UnitId,
    instruments: Vec<(InstrumentId, String)>,
    monday: NaiveDate,
) -> AppResult<UnitWeek> {
    let (from, to) = week_window(monday)?;
    let ids: Vec<InstrumentId> = instruments.iter().map(|(id, _)| *id).collect();
    let rows = store::busy(conn, &ids, naive(from), naive(to), Duration::zero(), None)?;
    Ok(assemble(unit, instruments, monday, (from, to), rows))
}

fn week_window(monday: NaiveDate) -> AppResult<(DateTime<Utc>, DateTime<Utc>)> {
    let from = super::rules::local(monday, 0)
        .ok_or_else(|| AppError::bad_request("week", "no such week"))?;
    Ok((from, from + Duration::days(7)))
}

/// The grid of `instruments` from busy rows (rows of other instruments are left out).
fn assemble(
    unit: UnitId,
    instruments: Vec<(InstrumentId, String)>,
    monday: NaiveDate,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    rows: Vec<BusyRow>,
) -> UnitWeek {
    let mut by_instrument: std::collections::HashMap<InstrumentId, Vec<BusyRow>> =
        std::collections::HashMap::new();
    for r in rows {
        by_instrument.entry(r.instrument_id).or_default().push(r);
    }
    let instruments = instruments
        .into_iter()
        .map(|(id, name)| InstrumentWeek {
            id,
            name,
            busy: by_instrument
                .remove(&id)
                .map(|rows| busy_of(&rows))
                .unwrap_or_default(),
        })
        .collect();
    let iso = monday.iso_week();
    UnitWeek {
        unit_id: unit,
        week: format!("{}-W{:02}", iso.year(), iso.week()),
        from,
        to,
        instruments,
    }
}

// --- iCalendar ----------------------------------------------------------------------------

fn ical_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 text: backslash, semicolon, comma and newlines escaped.
fn ical_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// Lines longer than 75 octets are folded (CRLF + space), never inside a UTF-8 character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in line.chars() {
        if len + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

pub struct Event {
    pub uid: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub summary: String,
    pub description: String,
}

pub fn calendar(name: &str, events: &[Event], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//yiqi//instrument booking//ZH",
        "CALSCALE:GREGORIAN",
    ] {
        out.push_str(&fold(l));
    }
    out.push_str(&fold(&format!("X-WR-CALNAME:{}", ical_text(name))));
    for e in events {
        out.push_str(&fold("BEGIN:VEVENT"));
        out.push_str(&fold(&format!("UID:{}", e.uid)));
        out.push_str(&fold(&format!("DTSTAMP:{}", ical_time(now))));
        out.push_str(&fold(&format!("DTSTART:{}", ical_time(e.starts_at))));
        out.push_str(&fold(&format!("DTEND:{}", ical_time(e.ends_at))));
        out.push_str(&fold(&format!("SUMMARY:{}", ical_text(&e.summary))));
        if !e.description.is_empty() {
            out.push_str(&fold(&format!("DESCRIPTION:{}", ical_text(&e.description))));
        }
        out.push_str(&fold("END:VEVENT"));
    }
    out.push_str(&fold("END:VCALENDAR"));
    out
}

/// An instrument's busy times for the coming 60 days and the past 7, without identities.
pub fn instrument_feed(
    conn: &mut DbConnection,
    id: InstrumentId,
    host: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let inst =
        catalogue::find_instrument(conn, id)?.ok_or(AppError::NotFound { what: "instrument" })?;
    let (from, to) = (now - Duration::days(7), now + Duration::days(60));
    let rows = store::busy(conn, &[id], naive(from), naive(to), Duration::zero(), None)?;
    let mut events: Vec<Event> = rows
        .into_iter()
        .filter_map(|r| {
            Some(Event {
                uid: if r.blackout {
                    format!("blackout-{}@{host}", r.id)
                } else {
                    format!("reservation-{}@{host}", r.id)
                },
                starts_at: r.starts_at?.and_utc(),
                ends_at: r.ends_at?.and_utc(),
                summary: if r.blackout {
                    format!("停机：{}", r.note)
                } else if r.note == ReservationStatus::Pending.code() {
                    "已预约（待审核）".to_owned()
                } else {
                    "已预约".to_owned()
                },
                description: String::new(),
            })
        })
        .collect();
    events.sort_by_key(|e| e.starts_at);
    Ok(calendar(&inst.name_zh, &events, now))
}

/// A person's own bookings, behind their secret feed URL.
pub fn user_feed(
    conn: &mut DbConnection,
    user: UserId,
    host: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let rows = store::of_user_with_times(conn, user)?;
    let ids: Vec<InstrumentId> = rows.iter().map(|r| r.instrument_id).collect();
    let names = catalogue::instrument_names(conn, &ids)?;
    let events: Vec<Event> = rows
        .into_iter()
        .filter(|r| {
            !matches!(
                r.status,
                ReservationStatus::Rejected
                    | ReservationStatus::Cancelled
                    | ReservationStatus::Expired
            )
        })
        .filter_map(|r| {
            let name = names
                .iter()
                .find(|n| n.0 == r.instrument_id)
                .map(|n| n.1.clone())
                .unwrap_or_default();
            Some(Event {
                uid: format!("reservation-{}@{host}", r.id),
                starts_at: r.starts_at?.and_utc(),
                ends_at: r.ends_at?.and_utc(),
                summary: format!("{name}（{}）", r.status.label_zh()),
                description: format!("预约 #{}", r.id),
            })
        })
        .collect();
    Ok(calendar("我的仪器预约", &events, now))
}
