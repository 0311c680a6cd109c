//! The booking rules of one instrument, as pure functions of its settings and "now": opening
//! hours and closed days in the platform zone, the slot grid, minimum and maximum length,
//! notice, horizon, and the fee. Each broken rule is a 422 with its own code.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};

use crate::error::{AppError, AppResult, ErrorCode};
use crate::reservations::model::BookingSettingsRow;
use crate::types::{day_time_zh, day_zh, duration_zh, PLATFORM_ZONE};
use crate::users::model::PriceTier;

/// Opening windows per ISO weekday (1 = Monday), minutes after local midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours(pub [Vec<(u32, u32)>; 7]);

impl Default for OpeningHours {
    /// Every day 08:00–22:00.
    fn default() -> Self {
        OpeningHours(std::array::from_fn(|_| vec![(480, 1320)]))
    }
}

impl OpeningHours {
    /// Reads the stored JSON (`{"1": [[480, 1320]], …}`); empty means the default.
    pub fn parse(field: &str, json: &str) -> AppResult<OpeningHours> {
        if json.trim().is_empty() {
            return Ok(OpeningHours::default());
        }
        let bad = |m: &str| {
            AppError::invalid(
                field,
                format!(
                    "{m} (e.g. {{\"1\": [[480, 1320]]}}, minutes after midnight, ISO weekdays 1–7)"
                ),
            )
        };
        let map: BTreeMap<String, Vec<[u32; 2]>> =
            serde_json::from_str(json).map_err(|_| bad("not an object of weekday → windows"))?;
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, windows) in map {
            let d: usize = day
                .parse()
                .ok()
                .filter(|d| (1..=7).contains(d))
                .ok_or_else(|| bad("weekday keys are 1 to 7"))?;
            let mut ws: Vec<(u32, u32)> = windows.into_iter().map(|[a, b]| (a, b)).collect();
            ws.sort_unstable();
            for (i, &(a, b)) in ws.iter().enumerate() {
                if a >= b || b > 1440 || (i > 0 && ws[i - 1].1 > a) {
                    return Err(bad(
                        "each window starts before it ends, within the day, without overlaps",
                    ));
                }
            }
            days[d - 1] = ws;
        }
        Ok(OpeningHours(days))
    }

    /// "周三开放时间为 08:00–12:00、13:00–22:00", or "周日不开放".
    pub fn describe(&self, day: chrono::Weekday) -> String {
        const NAMES: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
        let i = day.num_days_from_monday() as usize;
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let windows: Vec<String> = self.0[i]
            .iter()
            .map(|&(a, b)| format!("{}–{}", hm(a), hm(b)))
            .collect();
        if windows.is_empty() {
            format!("周{}不开放", NAMES[i])
        } else {
            format!("周{}开放时间为 {}", NAMES[i], windows.join("、"))
        }
    }

    pub fn to_json(&self) -> String {
        let map: BTreeMap<String, Vec<[u32; 2]>> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, ws)| {
                (
                    (i + 1).to_string(),
                    ws.iter().map(|&(a, b)| [a, b]).collect(),
                )
            })
            .collect();
        serde_json::to_string(&map).unwrap_or_default()
    }

    /// The windows of one local date, as UTC intervals.
    pub fn windows_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let day = &self.0[date.weekday().number_from_monday() as usize - 1];
        day.iter()
            .filter_map(|&(a, b)| Some((local(date, a)?, local(date, b)?)))
            .collect()
    }
}

/// The grid's second mark after 09:00 ("09:30" for 30 minutes), for the off-grid message.
fn grid_example(slot_minutes: i32) -> String {
    let m = 9 * 60 + slot_minutes.clamp(1, 600);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `minutes` after local midnight of `date`, in UTC. (Shanghai has no DST: always unique.)
pub fn local(date: NaiveDate, minutes: u32) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    let t = midnight + Duration::minutes(minutes as i64);
    t.and_local_timezone(PLATFORM_ZONE)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

pub fn closed_days(field: &str, json: &str) -> AppResult<Vec<NaiveDate>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(json)
        .map_err(|_| AppError::invalid(field, "a list of dates, e.g. [\"2026-10-01\"]"))
}

/// The longest booking any instrument may allow (a week): `max_minutes` is validated against
/// it and every slot against `max_minutes`, so queries over a window may assume that nothing
/// which ends inside it started more than this before.
pub const MAX_BOOKING_MINUTES: i64 = 7 * 24 * 60;

/// The settings an instrument is booked under, read once per request.
pub struct Rules {
    pub settings: BookingSettingsRow,
    pub hours: OpeningHours,
    pub closed: Vec<NaiveDate>,
}

impl Rules {
    pub fn new(settings: BookingSettingsRow) -> AppResult<Rules> {
        let hours = OpeningHours::parse("opening_hours", &settings.opening_hours)?;
        let closed = closed_days("closed_days", &settings.closed_days)?;
        Ok(Rules {
            settings,
            hours,
            closed,
        })
    }

    pub fn buffer(&self) -> Duration {
        Duration::minutes(self.settings.buffer_minutes as i64)
    }

    /// Every rule of a machine-time slot that does not depend on other bookings.
    pub fn check_slot(
        &self,
        starts: DateTime<Utc>,
        ends: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let s = &self.settings;
        if ends <= starts {
            return Err(AppError::rule(
                ErrorCode::InvalidInterval,
                "ends_at",
                "结束时间须晚于开始时间 (ends_at must be after starts_at)",
            ));
        }
        let minutes = (ends - starts).num_minutes();
        if (ends - starts) != Duration::minutes(minutes) {
            return Err(AppError::rule(
                ErrorCode::OffGrid,
                "starts_at",
                "时间须为整分钟 (whole minutes)",
            ));
        }
        if minutes < s.min_minutes as i64 {
            return Err(AppError::rule(
                ErrorCode::TooShort,
                "ends_at",
                format!(
                    "每次至少预约 {} (at least {} minutes)",
                    duration_zh(s.min_minutes as i64),
                    s.min_minutes
                ),
            ));
        }
        if minutes > s.max_minutes as i64 {
            return Err(AppError::rule(
                ErrorCode::TooLong,
                "ends_at",
                format!(
                    "每次最多预约 {} (at most {} minutes)",
                    duration_zh(s.max_minutes as i64),
                    s.max_minutes
                ),
            ));
        }
        let local_start = starts.with_timezone(&PLATFORM_ZONE);
        let from_midnight = local_start.hour() * 60 + local_start.minute();
        if local_start.second() != 0
            || !from_midnight.is_multiple_of(s.slot_minutes as u32)
            || minutes % s.slot_minutes as i64 != 0
        {
            return Err(AppError::rule(
                ErrorCode::OffGrid,
                "starts_at",
                format!(
                    "开始和结束时间须按每 {} 一格（如 09:00、{}）(on the {}-minute grid, local time)",
                    duration_zh(s.slot_minutes as i64),
                    grid_example(s.slot_minutes),
                    s.slot_minutes
                ),
            ));
        }
        if starts < now + Duration::minutes(s.notice_minutes as i64) {
            return Err(AppError::rule(
                ErrorCode::TooLittleNotice,
                "starts_at",
                format!(
                    "请至少提前 {} 预约，最早可约 {} (book at least {} minutes ahead)",
                    duration_zh(s.notice_minutes as i64),
                    day_time_zh(now + Duration::minutes(s.notice_minutes as i64), now),
                    s.notice_minutes
                ),
            ));
        }
        if starts > now + Duration::days(s.horizon_days as i64) {
            return Err(AppError::rule(
                ErrorCode::TooFarAhead,
                "starts_at",
                format!(
                    "最多提前 {} 天预约，最晚可约到 {} (at most {} days ahead)",
                    s.horizon_days,
                    day_zh(
                        (now + Duration::days(s.horizon_days as i64))
                            .with_timezone(&PLATFORM_ZONE)
                            .date_naive(),
                        now.with_timezone(&PLATFORM_ZONE).year()
                    ),
                    s.horizon_days
                ),
            ));
        }
        let date = local_start.date_naive();
        if self.closed.contains(&date) {
            return Err(AppError::rule(
                ErrorCode::ClosedDay,
                "starts_at",
                format!(
                    "{} 不开放，请换一天 (closed that day)",
                    day_zh(date, now.with_timezone(&PLATFORM_ZONE).year())
                ),
            ));
        }
        let inside = self
            .hours
            .windows_on(date)
            .iter()
            .any(|&(a, b)| a <= starts && ends <= b);
        if !inside {
            return Err(AppError::rule(
                ErrorCode::OutsideOpeningHours,
                "starts_at",
                format!(
                    "{} (outside the opening hours)",
                    self.hours.describe(date.weekday())
                ),
            ));
        }
        Ok(())
    }

    /// The fee for `minutes` of machine time or `samples` samples at `tier`, in fen: the
    /// rate, rounded up to the fen, never below the minimum fee.
    pub fn fee(&self, tier: PriceTier, minutes: i64, samples: i64) -> i64 {
        let (hour, sample) = self.rates(tier);
        let by_time = (hour * minutes + 59) / 60;
        (by_time + sample * samples).max(self.settings.min_fee_fen)
    }

    /// The hourly and per-sample rates at `tier`, in fen.
    pub fn rates(&self, tier: PriceTier) -> (i64, i64) {
        let s = &self.settings;
        match tier {
            PriceTier::OwnUnit => (s.own_hour_fen, s.own_sample_fen),
            PriceTier::Academic => (s.academic_hour_fen, s.academic_sample_fen),
            PriceTier::Enterprise => (s.enterprise_hour_fen, s.enterprise_sample_fen),
        }
    }
}

/// Instruments' booking rules, for availability (read for every week grid shown).
pub type RulesCache = crate::cache::Cache<i64, Arc<Rules>>;

/// Instruments remembered at most; past it the map starts afresh.
pub const MAX_CACHED_RULES: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rules() -> Rules {
        let mut s = BookingSettingsRow::defaults(crate::types::InstrumentId(1));
        s.opening_hours = r#"{"1": [[480, 720], [780, 1080]], "6": [[540, 720]]}"#.into();
        s.closed_days = r#"["2026-12-01"]"#.into();
        s.enterprise_hour_fen = 30_000;
        s.min_fee_fen = 20_000;
        s.min_minutes = 60;
        Rules::new(s).unwrap()
    }

    /// Shanghai wall time → UTC.
    fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        PLATFORM_ZONE
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn slots_follow_the_local_opening_hours() {
        let r = rules();
        let now = sh(2026, 11, 27, 9, 0);
        // Monday 2026-11-30, 08:00–09:00 Shanghai = Sunday 23:00 UTC the day before.
        assert!(r
            .check_slot(sh(2026, 11, 30, 8, 0), sh(2026, 11, 30, 9, 0), now)
            .is_ok());
        let code = |res: AppResult<()>| res.unwrap_err().code().as_str();
        assert_eq!(
            code(r.check_slot(sh(2026, 11, 30, 7, 30), sh(2026, 11, 30, 8, 30), now)),
            "outside_opening_hours"
        );
        assert_eq!(
            code(r.check_slot(sh(2026, 11, 30, 11, 30), sh(2026, 11, 30, 13, 30), now)),
            "outside_opening_hours",
            "across the lunch break"
        );
        assert_eq!(
            code(r.check_slot(sh(2026, 11, 29, 9, 0), sh(2026, 11, 29, 10, 0), now)),
            "outside_opening_hours",
            "Sunday has no window"
        );
        assert_eq!(
            code(r.check_slot(sh(2026, 12, 1, 9, 0), sh(2026, 12, 1, 10, 0), now)),
            "closed_day"
        );
        assert_eq!(
            code(r.check_slot(sh(2026, 11, 30, 8, 15), sh(2026, 11, 30, 9, 15), now)),
            "off_grid"
        );
        assert_eq!(
            code(r.check_slot(sh(2026, 11, 30, 8, 0), sh(2026, 11, 30, 8, 0), now)),
            "invalid_interval"
        );
        assert_eq!(
            code(r.check_slot(
                sh(2026, 11, 30, 8, 0),
                sh(2026, 11, 30, 8, 0) + Duration::minutes(0) + Duration::seconds(1800),
                now
            )),
            "too_short"
        );
        assert_eq!(
            code(r.check_slot(sh(2026, 11, 27, 9, 30), sh(2026, 11, 27, 10, 30), now)),
            "too_little_notice"
        );
        assert_eq!(
            code(r.check_slot(sh(2027, 1, 4, 9, 0), sh(2027, 1, 4, 10, 0), now)),
            "too_far_ahead"
        );
    }

    #[test]
    fn a_local_day_is_the_platform_zones() {
        let hours = OpeningHours::default();
        let w = hours.windows_on(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(
            w,
            vec![(
                Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap()
            )]
        );
    }

    #[test]
    fn fees_round_up_and_respect_the_minimum() {
        let r = rules();
        assert_eq!(r.fee(PriceTier::Enterprise, 90, 0), 45_000);
        assert_eq!(
            r.fee(PriceTier::Enterprise, 30, 0),
            20_000,
            "the minimum fee"
        );
        assert_eq!(r.fee(PriceTier::OwnUnit, 60, 0), 20_000);
        let mut s = BookingSettingsRow::defaults(crate::types::InstrumentId(1));
        s.own_hour_fen = 100;
        assert_eq!(
            Rules::new(s).unwrap().fee(PriceTier::OwnUnit, 1, 0),
            2,
            "1/60 of a yuan rounds up to 2 fen"
        );
    }

    #[test]
    fn opening_hours_are_checked() {
        assert!(OpeningHours::parse("h", r#"{"8": [[0, 60]]}"#).is_err());
        assert!(OpeningHours::parse("h", r#"{"1": [[600, 500]]}"#).is_err());
        assert!(OpeningHours::parse("h", r#"{"1": [[0, 600], [500, 700]]}"#).is_err());
        let h = OpeningHours::parse("h", r#"{"2": [[480, 600]]}"#).unwrap();
        assert_eq!(OpeningHours::parse("h", &h.to_json()).unwrap(), h);
    }
}
