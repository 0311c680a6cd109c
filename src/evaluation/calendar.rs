//! Beijing working days: Monday to Friday, except the public holidays, plus the weekend days
//! worked in their place (调休上班). Platform admins keep the table of those days; answer
//! deadlines are counted by it. The table is small: its SQL lives here with its rules.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Target};
use crate::auth::{authorize, Action, Principal};
use crate::clock::naive;
use crate::db::schema::holidays;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::types::{code_enum, PLATFORM_ZONE};
use crate::validate;

code_enum! {
    pub enum DayKind {
        Holiday = "holiday" / "放假",
        Workday = "workday" / "调休上班",
    }
}

/// A day that differs from the weekly rule.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = holidays)]
pub struct Holiday {
    pub day: NaiveDate,
    pub kind: DayKind,
    /// "国庆节", "春节调休".
    pub name: String,
}

/// Body of `PUT /api/v1/holidays/{day}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayInput {
    /// `holiday` (a weekday off) or `workday` (a weekend day worked).
    pub kind: String,
    /// At most 20 characters.
    #[serde(default)]
    pub name: String,
}

/// The exceptions over a stretch of days.
#[derive(Debug, Default)]
pub struct Calendar {
    exceptions: HashMap<NaiveDate, DayKind>,
}

impl Calendar {
    pub fn new(days: impl IntoIterator<Item = (NaiveDate, DayKind)>) -> Calendar {
        Calendar {
            exceptions: days.into_iter().collect(),
        }
    }

    pub fn is_workday(&self, day: NaiveDate) -> bool {
        match self.exceptions.get(&day) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The end (next midnight, Beijing time) of the `n`th working day after the Beijing day
    /// of `start`: "within 5 working days" of a Friday-evening acceptance ends at the close
    /// of the next Friday.
    pub fn deadline(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let mut day = start.with_timezone(&PLATFORM_ZONE).date_naive();
        let mut counted = 0;
        while counted < n {
            day += Duration::days(1);
            if self.is_workday(day) {
                counted += 1;
            }
        }
        end_of(day)
    }
}

/// Midnight after `day`, Beijing time (Shanghai has no DST: the instant is unique).
fn end_of(day: NaiveDate) -> DateTime<Utc> {
    let next = day + Duration::days(1);
    next.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(PLATFORM_ZONE).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// The calendar from `start` far enough ahead for `n` working days (a week of holidays and
/// its weekends included).
pub fn around(conn: &mut DbConnection, start: DateTime<Utc>, n: u32) -> QueryResult<Calendar> {
    let from = start.with_timezone(&PLATFORM_ZONE).date_naive();
    let to = from + Duration::days(i64::from(n) * 2 + 30);
    Ok(Calendar::new(
        holidays::table
            .filter(holidays::day.between(from, to))
            .select((holidays::day, holidays::kind))
            .load::<(NaiveDate, DayKind)>(conn)?,
    ))
}

pub fn list_year(conn: &mut DbConnection, year: i32) -> QueryResult<Vec<Holiday>> {
    let (from, to) = (
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default(),
    );
    holidays::table
        .filter(holidays::day.between(from, to))
        .order(holidays::day)
        .select(Holiday::as_select())
        .load(conn)
}

/// A platform admin sets a day (audited).
pub fn set_day(
    conn: &mut DbConnection,
    who: &Principal,
    day: NaiveDate,
    input: HolidayInput,
    now: DateTime<Utc>,
) -> AppResult<Holiday> {
    authorize(who, Action::JudgeComplaints)?;
    let kind = DayKind::from_code(&input.kind)
        .ok_or_else(|| AppError::invalid("kind", format!("one of {}", DayKind::codes())))?;
    let name = validate::line("name", &input.name, 0, 20)?;
    let h = Holiday { day, kind, name };
    crate::db::write_tx(conn, |c| -> AppResult<()> {
        diesel::delete(holidays::table.find(day)).execute(c)?;
        diesel::insert_into(holidays::table).values(&h).execute(c)?;
        audit::record(
            c,
            Some(who.id),
            "holiday.put",
            Target("holiday", None),
            None::<&()>,
            Some(&h),
            naive(now),
        )
    })?;
    Ok(h)
}

/// A platform admin returns a day to the weekly rule (audited); 404 when it was not listed.
pub fn clear_day(
    conn: &mut DbConnection,
    who: &Principal,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<()> {
    authorize(who, Action::JudgeComplaints)?;
    crate::db::write_tx(conn, |c| -> AppResult<()> {
        if diesel::delete(holidays::table.find(day)).execute(c)? == 0 {
            return Err(AppError::NotFound { what: "holiday" });
        }
        audit::record(
            c,
            Some(who.id),
            "holiday.delete",
            Target("holiday", None),
            Some(&day),
            None::<&()>,
            naive(now),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        PLATFORM_ZONE
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .expect("a Beijing time")
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn five_working_days_from_a_friday_evening_end_with_the_next_friday() {
        let cal = Calendar::default();
        // Friday 4 December 2026, 19:30.
        let due = cal.deadline(beijing(2026, 12, 4, 19, 30), 5);
        assert_eq!(due, beijing(2026, 12, 12, 0, 0));
    }

    #[test]
    fn holidays_are_skipped_and_weekend_workdays_count() {
        // National Day 2026: 1–7 October off, Saturday 10 October worked.
        let mut days: Vec<(NaiveDate, DayKind)> = (1..=7)
            .map(|d| (day(2026, 10, d), DayKind::Holiday))
            .collect();
        days.push((day(2026, 10, 10), DayKind::Workday));
        let cal = Calendar::new(days);
        // Accepted Wednesday 30 September: Thu 8, Fri 9, Sat 10 (worked), Mon 12, Tue 13.
        let due = cal.deadline(beijing(2026, 9, 30, 10, 0), 5);
        assert_eq!(due, beijing(2026, 10, 14, 0, 0));
        assert!(!cal.is_workday(day(2026, 10, 5)));
        assert!(cal.is_workday(day(2026, 10, 10)));
    }
}
