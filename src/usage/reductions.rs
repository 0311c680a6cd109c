//! 核减机时: a client asks to reduce a record's hours within a window; the staff decide.

use chrono::{DateTime, Duration, Utc};

use super::model::*;
use super::service::{amount, local_day, may_read, note_write, staff_scope};
use super::store::{self, Delta};
use crate::auth::Principal;
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use crate::navigation::service::instrument_to_run;
use crate::navigation::store as catalogue;
use crate::types::{ReductionId, ServiceRecordId};
use crate::users::store as people;
use crate::validate;

/// A client asks to reduce a record's hours (核减机时), within `window_days` of the service.
pub fn request_reduction(
    conn: &mut DbConnection,
    who: &Principal,
    record_id: ServiceRecordId,
    input: ReductionInput,
    window_days: i64,
    now: DateTime<Utc>,
) -> AppResult<Reduction> {
    let row = store::find(conn, record_id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    if row.client_user_id != Some(who.id) {
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
                "须少于记录的 {} 小时 (fewer than the {} minutes recorded)",
                crate::types::hours_1(i64::from(row.minutes)),
                row.minutes
            ),
        ));
    }
    let reason = validate::text("reason", &input.reason, 1, 500)?;
    let unit = may_read(conn, who, &row)?;
    let id = db::write_tx(conn, |c| -> AppResult<ReductionId> {
        let id = store::insert_reduction(
            c,
            &NewReduction {
                service_record_id: row.id,
                requested_by: who.id,
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
                            "{} 申请将 {} 的服务记录（{}）由 {} 小时核减为 {} 小时。",
                            who.name,
                            inst_name,
                            row.served_on,
                            crate::types::hours_1(i64::from(row.minutes)),
                            crate::types::hours_1(input.minutes)
                        ),
                        format!("理由：{reason}"),
                    ],
                    link: None,
                    footer: "",
                    related: Some(("service_record", row.id.0)),
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
    id: ReductionId,
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
            store::decide_reduction(c, id, status, who.id, &reason, fee_after, naive(now))?;
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
                    service_way: row.service_way,
                    direction: row.national.direction,
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
                        "您对 {}（{}）的核减申请已同意：有效机时 {} 小时，费用 {} 元。",
                        inst.name_zh,
                        row.served_on,
                        crate::types::hours_1(i64::from(req.minutes_requested)),
                        crate::types::yuan_2(fee_after.unwrap_or(0))
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
                    related: Some(("service_record", row.id.0)),
                }
                .render()?,
                naive(now),
            )?;
        }
        crate::cache::changed(c, crate::cache::Topic::Usage)?;
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
    let scope = staff_scope(conn, who)?;
    Ok(store::pending_reductions(conn, scope)?
        .into_iter()
        .map(Reduction::from)
        .collect())
}
