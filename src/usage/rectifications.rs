//! 限期整改: after the yearly round the platform orders a unit to rectify by a deadline; the
//! unit reports back; the platform closes the notice or extends it. Each step is audited and
//! e-mailed to the other side.

use chrono::{DateTime, Utc};

use super::model::*;
use super::service::local_day;
use super::store;
use crate::audit::{self, Target};
use crate::auth::{allowed, authorize, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::page_url, templates::Notice};
use crate::navigation::store as catalogue;
use crate::types::{RectificationId, UnitId};
use crate::users::store as people;
use crate::validate;

fn missing() -> AppError {
    AppError::NotFound {
        what: "rectification notice",
    }
}

/// A platform admin orders the unit to rectify by `deadline`; its admins are e-mailed.
pub fn issue(
    conn: &mut DbConnection,
    who: &Principal,
    unit: UnitId,
    input: RectificationInput,
    now: DateTime<Utc>,
) -> AppResult<Rectification> {
    let u = catalogue::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    authorize(who, Action::JudgeComplaints)?;
    super::evaluation::year_bounds(input.year)?;
    let reason = validate::text("reason", &input.reason, 1, 2000)?;
    if input.deadline <= local_day(now) {
        return Err(AppError::invalid(
            "deadline",
            "整改期限须在今天之后 (after today)",
        ));
    }
    let id = db::write_tx(conn, |c| -> AppResult<RectificationId> {
        let id = store::insert_rectification(
            c,
            &NewRectification {
                unit_id: unit,
                year: input.year,
                reason: reason.clone(),
                deadline: input.deadline,
                status: RectificationStatus::Issued,
                issued_by: who.id,
                created_at: naive(now),
                updated_at: naive(now),
            },
        )
        .map_err(|e| match e {
            // A double click, or a second tab: the first notice stands.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::conflict(
                ErrorCode::AlreadyExists,
                format!(
                    "该单位 {} 年度已有未结束的整改通知，请在原通知中延期 (an open notice exists)",
                    input.year
                ),
            ),
            e => e.into(),
        })?;
        audit::record(
            c,
            Some(who.id),
            "rectification.issue",
            Target("rectification", Some(id.0)),
            None::<&()>,
            Some(&reason),
            naive(now),
        )?;
        let row = store::find_rectification(c, id)?.ok_or_else(missing)?;
        tell(c, &row, &u.name, None, &reason, now)?;
        Ok(id)
    })?;
    store::find_rectification(conn, id)?
        .map(Rectification::from)
        .ok_or_else(missing)
}

/// The notice, for the platform and the unit's staff (who read the unit's evaluation that
/// lists it); anyone else gets 404.
pub fn get(
    conn: &mut DbConnection,
    who: &Principal,
    id: RectificationId,
) -> AppResult<RectificationRow> {
    store::find_rectification(conn, id)?
        .filter(|r| super::evaluation::may_evaluate(who, r.unit_id).is_ok())
        .ok_or_else(missing)
}

/// The steps `who` may take on the notice now.
pub fn steps_for(who: &Principal, row: &RectificationRow) -> Vec<RectificationStep> {
    RectificationStep::ALL
        .iter()
        .copied()
        .filter(|s| {
            if s.by_unit() {
                allowed(who, Action::AnswerForUnit { unit: row.unit_id })
            } else {
                allowed(who, Action::JudgeComplaints)
            }
        })
        .filter(|s| rectification_next(row.status, *s).is_some())
        .collect()
}

/// The unit reports back; the platform closes the notice or extends its deadline.
pub fn step(
    conn: &mut DbConnection,
    who: &Principal,
    id: RectificationId,
    step: RectificationStep,
    input: RectificationStepInput,
    now: DateTime<Utc>,
) -> AppResult<Rectification> {
    let row = store::find_rectification(conn, id)?.ok_or_else(missing)?;
    if step.by_unit() {
        authorize(who, Action::AnswerForUnit { unit: row.unit_id })?;
    } else {
        authorize(who, Action::JudgeComplaints)?;
    }
    let text = if step == RectificationStep::Report {
        validate::text("text", &input.text, 1, 2000)?
    } else {
        validate::text("text", &input.text, 0, 2000)?
    };
    let unit = catalogue::find_unit(conn, row.unit_id)?
        .map(|u| u.name)
        .unwrap_or_default();
    db::write_tx(conn, |c| -> AppResult<()> {
        let before = store::find_rectification(c, id)?.ok_or_else(missing)?;
        let Some(to) = rectification_next(before.status, step) else {
            let code = if before.status == RectificationStatus::Closed {
                ErrorCode::NoticeClosed
            } else {
                ErrorCode::InvalidTransition
            };
            return Err(AppError::conflict(
                code,
                format!(
                    "整改通知当前为「{}」，不能{} (the step does not apply now)",
                    before.status.label_zh(),
                    step.label_zh()
                ),
            ));
        };
        let mut new = before.clone();
        new.status = to;
        new.updated_at = naive(now);
        match step {
            RectificationStep::Report => {
                new.report = Some(text.clone());
                new.reported_at = Some(naive(now));
            }
            RectificationStep::Close => new.closed_at = Some(naive(now)),
            RectificationStep::Extend => {
                let later = before.deadline.max(local_day(now));
                let Some(deadline) = input.deadline.filter(|d| *d > later) else {
                    return Err(AppError::invalid(
                        "deadline",
                        format!(
                            "新的整改期限须晚于 {} (a later deadline)",
                            later.format("%Y-%m-%d")
                        ),
                    ));
                };
                new.deadline = deadline;
                new.extensions += 1;
            }
        }
        if store::set_rectification(c, &new, &before)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "整改通知已被他人处理 (the notice changed meanwhile)",
            ));
        }
        audit::record(
            c,
            Some(who.id),
            &format!("rectification.{}", step.code()),
            Target("rectification", Some(id.0)),
            Some(&before.status),
            Some(&to),
            naive(now),
        )?;
        tell(c, &new, &unit, Some(step), &text, now)
    })?;
    store::find_rectification(conn, id)?
        .map(Rectification::from)
        .ok_or_else(missing)
}

/// The unit's admins hear of the platform's steps; the platform's admins of the unit's.
fn tell(
    conn: &mut DbConnection,
    row: &RectificationRow,
    unit: &str,
    step: Option<RectificationStep>,
    text: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let to_unit = !step.is_some_and(RectificationStep::by_unit);
    let people = people::admins(conn, to_unit.then_some(row.unit_id))?;
    let what = match step {
        None => format!(
            "平台对{unit} {} 年度开放共享评价结果下达限期整改通知。",
            row.year
        ),
        Some(s) => format!("{unit}的整改通知：{}。", s.label_zh()),
    };
    let paragraphs = vec![
        what,
        text.to_owned(),
        format!("整改期限：{}。", row.deadline.format("%Y年%-m月%-d日")),
    ];
    let link = page_url(&format!("/rectifications/{}", row.id));
    for (email, name) in people {
        mail::enqueue(
            conn,
            &Notice {
                kind: "rectification",
                to: &email,
                name: &name,
                subject: &format!("限期整改通知：{unit}（{}）", row.status.label_zh()),
                paragraphs: paragraphs.clone(),
                link: Some(("查看整改通知", &link)),
                footer: if to_unit {
                    "您收到此邮件，是因为您是该单位的管理员。"
                } else {
                    "您收到此邮件，是因为您是平台管理员。"
                },
                related: Some(("rectification", row.id.0)),
            }
            .render()?,
            naive(now),
        )?;
    }
    Ok(())
}
