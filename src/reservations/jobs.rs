//! What the service does by itself, run by `jobs::spawn_housekeeping` (and by tests at chosen
//! instants): expire requests nobody decided, mark no-shows (a violation, and past the limit a
//! ban), remind bookers the day before. Each step is a conditional transition, so several
//! instances may run them side by side.

use chrono::{DateTime, Duration, Utc};

use super::model::{ReservationStatus, Step};
use super::service::{take_step, Actor, StepCommand};
use super::store;
use crate::clock::naive;
use crate::config::ReservationSettings;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::mail::{self, templates::Notice};
use crate::navigation::store as catalogue;
use crate::types::{local_date_time, UserId};
use crate::users::model::{BanScope, NewBan, NewViolation, ViolationKind};
use crate::users::store as people;

const BATCH: i64 = 200;

/// Pending requests whose start has come: expired, and the booker told.
pub fn expire_pending(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let due = store::starting_by(conn, ReservationStatus::Pending, naive(now), BATCH)?;
    let mut done = 0;
    for row in due {
        match take_step(
            conn,
            Actor::System,
            row.id,
            Step::Expire,
            &StepCommand::default(),
            now,
        ) {
            Ok(_) => done += 1,
            // Decided a moment ago by someone else.
            Err(AppError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Approved bookings not checked in by start + grace: no-show, a violation, and at the
/// limit a ban on every instrument.
pub fn mark_no_shows(
    conn: &mut DbConnection,
    policy: &ReservationSettings,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let candidates = store::starting_by(conn, ReservationStatus::Approved, naive(now), BATCH)?;
    let mut done = 0;
    // One settings read per instrument, however many of its bookings are due.
    let mut graces = std::collections::HashMap::new();
    for row in candidates {
        let grace = match graces.get(&row.instrument_id) {
            Some(&g) => g,
            None => {
                let s = super::settings::settings_of(conn, row.instrument_id)?;
                let g = Duration::minutes(s.no_show_grace_minutes as i64);
                graces.insert(row.instrument_id, g);
                g
            }
        };
        let Some(starts) = row.starts_at else {
            continue;
        };
        if starts.and_utc() + grace > now {
            continue;
        }
        let marked = db::write_tx(conn, |conn| -> AppResult<bool> {
            match take_step(
                conn,
                Actor::System,
                row.id,
                Step::MarkNoShow,
                &StepCommand::default(),
                now,
            ) {
                Ok(_) => {}
                Err(AppError::Conflict { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
            people::insert_violation(
                conn,
                &NewViolation {
                    user_id: row.user_id,
                    kind: ViolationKind::NoShow,
                    instrument_id: row.instrument_id,
                    occurred_at: starts,
                    note: format!("预约 #{} 未签到", row.id),
                    recorded_by: None,
                    created_at: naive(now),
                },
            )?;
            ban_if_over_limit(conn, row.user_id, policy, now)?;
            Ok(true)
        })?;
        done += marked as usize;
    }
    Ok(done)
}

fn ban_if_over_limit(
    conn: &mut DbConnection,
    user: UserId,
    policy: &ReservationSettings,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if policy.no_show_limit <= 0 {
        return Ok(());
    }
    let since = naive(now - Duration::days(policy.no_show_window_days));
    let count = people::count_violations(conn, user, ViolationKind::NoShow, since)?;
    if count < policy.no_show_limit {
        return Ok(());
    }
    let ends = now + Duration::days(policy.no_show_ban_days);
    let reason = format!("{} 天内爽约 {} 次", policy.no_show_window_days, count);
    people::insert_ban(
        conn,
        &NewBan {
            user_id: user,
            scope: BanScope::All,
            unit_id: None,
            instrument_id: None,
            reason: reason.clone(),
            starts_at: naive(now),
            ends_at: naive(ends),
            created_by: None,
            created_at: naive(now),
        },
    )?;
    if let Some(u) = people::find_user(conn, user)? {
        mail::enqueue(
            conn,
            &Notice {
                kind: "ban_created",
                to: &u.email,
                name: &u.name,
                subject: "预约权限已暂停 Booking paused",
                paragraphs: vec![format!(
                    "由于{reason}，您在全部仪器上的预约权限暂停至 {}。",
                    local_date_time(ends)
                )],
                link: None,
                footer: "",
                related: Some(("user", user.0)),
            }
            .render()?,
            naive(now),
        )?;
    }
    Ok(())
}

/// A reminder the day before: approved bookings starting within 24 hours.
pub fn send_reminders(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let due = store::due_reminders(conn, naive(now), naive(now + Duration::hours(24)), BATCH)?;
    let mut done = 0;
    for row in due {
        let sent = db::write_tx(conn, |conn| -> AppResult<bool> {
            if store::mark_reminded(conn, row.id, naive(now))? == 0 {
                return Ok(false);
            }
            let (Some(user), Some(inst), Some(starts)) = (
                people::find_user(conn, row.user_id)?,
                catalogue::find_instrument(conn, row.instrument_id)?,
                row.starts_at,
            ) else {
                return Ok(false);
            };
            mail::enqueue(
                conn,
                &Notice {
                    kind: "reservation_reminder",
                    to: &user.email,
                    name: &user.name,
                    subject: &format!("明天上机提醒：{}", inst.name_zh),
                    paragraphs: vec![
                        format!(
                            "提醒您：{} 使用 {}（{}）。",
                            local_date_time(starts.and_utc()),
                            inst.name_zh,
                            inst.address
                        ),
                        "请按时签到；如不能前来，请尽早取消，以免记为爽约。".to_owned(),
                    ],
                    link: None,
                    footer: "",
                    related: Some(("reservation", row.id.0)),
                }
                .render()?,
                naive(now),
            )?;
            Ok(true)
        })?;
        done += sent as usize;
    }
    Ok(done)
}
