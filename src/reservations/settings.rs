//! An instrument's booking settings: read (its own or the defaults) and changed by the people
//! who run it, validated here, audited.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::model::BookingModes;
use super::model::BookingSettingsRow;
use super::rules::{OpeningHours, RulesCache, MAX_BOOKING_MINUTES};
use super::store;
use crate::audit::{self, Target};
use crate::auth::Principal;
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::navigation::service::instrument_to_run;
use crate::navigation::store as catalogue;
use crate::types::InstrumentId;

/// The settings of an instrument, its own or the defaults; 404 if there is no such
/// instrument. Settings exist only for an existing instrument (a foreign key), so existence
/// is asked only of one that keeps the defaults.
pub fn booking_settings(
    conn: &mut DbConnection,
    id: InstrumentId,
) -> AppResult<BookingSettingsRow> {
    match store::booking_settings(conn, id)? {
        Some(settings) => Ok(settings),
        None if catalogue::instrument_exists(conn, id)? => Ok(BookingSettingsRow::defaults(id)),
        None => Err(AppError::NotFound { what: "instrument" }),
    }
}

/// The settings of an instrument known to exist: its own, or the defaults.
pub fn settings_of(conn: &mut DbConnection, id: InstrumentId) -> AppResult<BookingSettingsRow> {
    Ok(store::booking_settings(conn, id)?.unwrap_or_else(|| BookingSettingsRow::defaults(id)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingSettingsInput {
    pub modes: Option<String>,
    pub approval_required: Option<bool>,
    pub slot_minutes: Option<i32>,
    pub min_minutes: Option<i32>,
    pub max_minutes: Option<i32>,
    pub horizon_days: Option<i32>,
    pub notice_minutes: Option<i32>,
    pub buffer_minutes: Option<i32>,
    pub qualification_required: Option<bool>,
    pub max_active_per_user: Option<i32>,
    pub cancel_deadline_minutes: Option<i32>,
    pub no_show_grace_minutes: Option<i32>,
    /// `{"1": [[480, 1320]], …}`: minutes after local midnight per ISO weekday.
    #[schema(value_type = Option<Object>)]
    pub opening_hours: Option<serde_json::Value>,
    /// Local dates the instrument is closed.
    pub closed_days: Option<Vec<NaiveDate>>,
    pub max_samples: Option<i32>,
    pub own_hour_fen: Option<i64>,
    pub academic_hour_fen: Option<i64>,
    pub enterprise_hour_fen: Option<i64>,
    pub own_sample_fen: Option<i64>,
    pub academic_sample_fen: Option<i64>,
    pub enterprise_sample_fen: Option<i64>,
    pub min_fee_fen: Option<i64>,
    /// Take bookings while the instrument fails often (故障频繁); off by default.
    pub book_when_faulty: Option<bool>,
}

const MAX_MINUTES: i32 = MAX_BOOKING_MINUTES as i32;

fn within(field: &str, v: i32, lo: i32, hi: i32) -> AppResult<i32> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::invalid(
            field,
            format!("应在 {lo} 到 {hi} 之间 (between {lo} and {hi})"),
        ))
    }
}

pub fn save_booking_settings(
    conn: &mut DbConnection,
    who: &Principal,
    rules: &RulesCache,
    id: InstrumentId,
    i: &BookingSettingsInput,
    now: DateTime<Utc>,
) -> AppResult<BookingSettingsRow> {
    let saved = db::write_tx(conn, |conn| {
        instrument_to_run(conn, who, id, || AppError::NotFound { what: "instrument" })?;
        let before = settings_of(conn, id)?;
        let mut row = before.clone();
        if let Some(v) = &i.modes {
            row.modes = BookingModes::from_code(v).ok_or_else(|| {
                AppError::invalid("modes", format!("one of {}", BookingModes::codes()))
            })?;
        }
        if let Some(v) = i.approval_required {
            row.approval_required = v;
        }
        if let Some(v) = i.slot_minutes {
            row.slot_minutes = within("slot_minutes", v, 5, 1440)?;
        }
        if let Some(v) = i.min_minutes {
            row.min_minutes = within("min_minutes", v, 5, MAX_MINUTES)?;
        }
        if let Some(v) = i.max_minutes {
            row.max_minutes = within("max_minutes", v, 5, MAX_MINUTES)?;
        }
        if let Some(v) = i.horizon_days {
            row.horizon_days = within("horizon_days", v, 1, 365)?;
        }
        if let Some(v) = i.notice_minutes {
            row.notice_minutes = within("notice_minutes", v, 0, 43200)?;
        }
        if let Some(v) = i.buffer_minutes {
            row.buffer_minutes = within("buffer_minutes", v, 0, 1440)?;
        }
        if let Some(v) = i.qualification_required {
            row.qualification_required = v;
        }
        if let Some(v) = i.book_when_faulty {
            row.book_when_faulty = v;
        }
        if let Some(v) = i.max_active_per_user {
            row.max_active_per_user = within("max_active_per_user", v, 1, 100)?;
        }
        if let Some(v) = i.cancel_deadline_minutes {
            row.cancel_deadline_minutes = within("cancel_deadline_minutes", v, 0, 43200)?;
        }
        if let Some(v) = i.no_show_grace_minutes {
            row.no_show_grace_minutes = within("no_show_grace_minutes", v, 0, 1440)?;
        }
        if let Some(v) = &i.opening_hours {
            let hours = OpeningHours::parse("opening_hours", &v.to_string())?;
            row.opening_hours = hours.to_json();
        }
        if let Some(v) = &i.closed_days {
            row.closed_days = serde_json::to_string(v).map_err(AppError::internal)?;
        }
        if let Some(v) = i.max_samples {
            row.max_samples = within("max_samples", v, 1, 1000)?;
        }
        macro_rules! fen {
            ($($f:ident),+) => {$(
                if let Some(v) = i.$f {
                    if !(0..=100_000_000).contains(&v) {
                        return Err(AppError::invalid(stringify!($f), "0 到 100 万元之间，以分计 (0 to 100,000,000 fen)"));
                    }
                    row.$f = v;
                }
            )+};
        }
        fen!(
            own_hour_fen,
            academic_hour_fen,
            enterprise_hour_fen,
            own_sample_fen,
            academic_sample_fen,
            enterprise_sample_fen,
            min_fee_fen
        );
        if row.max_minutes < row.min_minutes {
            return Err(AppError::invalid(
                "max_minutes",
                "最长时长不能短于最短时长 (max < min)",
            ));
        }
        if row.min_minutes % row.slot_minutes != 0 {
            return Err(AppError::invalid(
                "min_minutes",
                "最短时长应为时间粒度的整数倍 (a multiple of slot_minutes)",
            ));
        }
        row.updated_at = naive(now);
        store::save_booking_settings(conn, &row)?;
        crate::cache::changed(conn, crate::cache::Topic::BookingRules)?;
        audit::record(
            conn,
            Some(who.id),
            "booking_settings.update",
            Target("instrument", Some(id.0)),
            Some(&before),
            Some(&row),
            naive(now),
        )?;
        Ok(row)
    })?;
    // Availability reads the new rules at once here (other instances at their next poll).
    rules.forget(&id.0);
    Ok(saved)
}
