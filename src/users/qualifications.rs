//! 上机资格, violations and bans: the rules the reservations module consults before letting
//! someone operate an instrument.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::model::*;
use super::store::{self, QualificationFilter};
use crate::audit::{self, Target};
use crate::auth::{authorize, Action, Principal, Role};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use crate::navigation::service::{instrument_to_run, no_such_instrument, run_action};
use crate::navigation::{model::InstrumentRow, store as catalogue};
use crate::types::{BanId, InstrumentId, PageRequest, Paged, QualificationId, UnitId, UserId};
use crate::validate;

/// An instrument in service (retired ones take no applications, bans or violations).
pub fn instrument(conn: &mut DbConnection, id: InstrumentId) -> AppResult<InstrumentRow> {
    catalogue::find_instrument(conn, id)?
        .filter(|i| i.retired_at.is_none())
        .ok_or(AppError::NotFound { what: "instrument" })
}

fn to_api(
    row: QualificationRow,
    instrument: String,
    unit: UnitId,
    name: String,
    email: String,
) -> Qualification {
    let status = row.status;
    Qualification {
        id: row.id,
        user: PersonRef {
            id: row.user_id,
            name,
            email,
        },
        instrument: InstrumentRef {
            id: row.instrument_id,
            name: instrument,
            unit_id: unit,
        },
        status,
        status_label: status.label_zh(),
        level: row.level,
        note: row.note,
        reason: row.reason,
        expires_at: row.expires_at.map(|t| t.and_utc()),
        decided_at: row.decided_at.map(|t| t.and_utc()),
        created_at: row.created_at.and_utc(),
    }
}

fn load(conn: &mut DbConnection, id: QualificationId) -> AppResult<Qualification> {
    let row = store::find_qualification(conn, id)?.ok_or(AppError::NotFound {
        what: "qualification",
    })?;
    let inst = catalogue::find_instrument(conn, row.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    let user = store::find_user(conn, row.user_id)?.ok_or(AppError::NotFound { what: "user" })?;
    Ok(to_api(
        row,
        inst.name_zh,
        inst.unit_id,
        user.name,
        user.email,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    #[serde(default)]
    pub note: String,
}

/// Applies for the qualification to operate `instrument`. One open application or
/// qualification per person and instrument: a second is 409 (the unique index decides, so
/// a double click cannot make two).
pub fn apply(
    conn: &mut DbConnection,
    who: &Principal,
    instrument_id: InstrumentId,
    input: &Application,
    public_url: &str,
    now: DateTime<Utc>,
) -> AppResult<Qualification> {
    authorize(who, Action::Apply)?;
    let note = validate::text("note", &input.note, 0, 500)?;
    db::write_tx(conn, |conn| {
        let inst = instrument(conn, instrument_id)?;
        let id = store::insert_qualification(
            conn,
            &NewQualification {
                user_id: who.id,
                instrument_id: inst.id,
                status: QualificationStatus::Applied,
                note: note.clone(),
                created_at: naive(now),
            },
        )
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::conflict(
                ErrorCode::AlreadyApplied,
                "您已申请或已获得该仪器的上机资格 (an application or qualification is open)",
            ),
            other => other,
        })?;
        let queue = format!("{public_url}/manage/qualifications");
        for (email, name) in store::staff_to_notify(conn, inst.unit_id, inst.id)? {
            let message = Notice {
                kind: "qualification_applied",
                to: &email,
                name: &name,
                subject: &format!("上机资格申请：{}", inst.name_zh),
                paragraphs: vec![
                    format!(
                        "{}（{}）申请 {} 的上机资格。",
                        who.name, who.email, inst.name_zh
                    ),
                    if note.is_empty() {
                        "申请说明：无".to_owned()
                    } else {
                        format!("申请说明：{note}")
                    },
                ],
                link: Some(("去审核 Review", &queue)),
                footer: "您收到此邮件，是因为您负责这台仪器或是本单位管理员。",
                related: Some(("qualification", id.0)),
            }
            .render()?;
            mail::enqueue(conn, &message, naive(now))?;
        }
        load(conn, id)
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualificationDecision {
    pub decision: String,
    pub level: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// Approves (with a level and optionally an expiry) or refuses (with a reason the applicant
/// receives) an application.
pub fn decide(
    conn: &mut DbConnection,
    who: &Principal,
    id: QualificationId,
    d: &QualificationDecision,
    now: DateTime<Utc>,
) -> AppResult<Qualification> {
    db::write_tx(conn, |conn| {
        let mut row = store::find_qualification(conn, id)?.ok_or(AppError::NotFound {
            what: "qualification",
        })?;
        let inst = instrument_to_run(conn, who, row.instrument_id, || AppError::NotFound {
            what: "instrument",
        })?;
        let current = row.status;
        if current != QualificationStatus::Applied {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                format!(
                    "该申请当前为「{}」（{}），不能再审核",
                    current.label_zh(),
                    current.code()
                ),
            ));
        }
        let before = load(conn, id)?;
        let applicant =
            store::find_user(conn, row.user_id)?.ok_or(AppError::NotFound { what: "user" })?;
        let (subject, paragraphs, action) = match d.decision.as_str() {
            "approve" => {
                let level = d
                    .level
                    .as_deref()
                    .and_then(QualificationLevel::from_code)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "level",
                            format!("one of {}", QualificationLevel::codes()),
                        )
                    })?;
                if let Some(exp) = d.expires_at {
                    if exp <= now {
                        return Err(AppError::invalid(
                            "expires_at",
                            "有效期必须晚于现在 (must be in the future)",
                        ));
                    }
                }
                row.status = QualificationStatus::Approved;
                row.level = Some(level);
                row.expires_at = d.expires_at.map(naive);
                let until = d.expires_at.map_or_else(
                    || "长期有效".to_owned(),
                    |t| format!("有效期至 {}", crate::types::local_date(t)),
                );
                (
                    format!("上机资格已批准：{}", inst.name_zh),
                    vec![format!(
                        "您申请的 {} 上机资格已批准，级别：{}，{}。",
                        inst.name_zh,
                        level.label_zh(),
                        until
                    )],
                    "qualification.approve",
                )
            }
            "refuse" => {
                let reason = validate::text("reason", d.reason.as_deref().unwrap_or(""), 1, 500)?;
                row.status = QualificationStatus::Refused;
                row.reason = Some(reason.clone());
                (
                    format!("上机资格未通过：{}", inst.name_zh),
                    vec![
                        format!("您申请的 {} 上机资格未获批准。", inst.name_zh),
                        format!("原因：{reason}"),
                        "您可以在完成培训后重新申请。".to_owned(),
                    ],
                    "qualification.refuse",
                )
            }
            _ => return Err(AppError::invalid("decision", "approve 或 refuse")),
        };
        row.decided_by = Some(who.id);
        row.decided_at = Some(naive(now));
        if store::decide_qualification(conn, &row, QualificationStatus::Applied)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "该申请已被他人审核 (already decided)",
            ));
        }
        let message = Notice {
            kind: action,
            to: &applicant.email,
            name: &applicant.name,
            subject: &subject,
            paragraphs,
            link: None,
            footer: "",
            related: Some(("qualification", row.id.0)),
        }
        .render()?;
        mail::enqueue(conn, &message, naive(now))?;
        let after = load(conn, id)?;
        audit::record(
            conn,
            Some(who.id),
            action,
            Target("qualification", Some(row.id.0)),
            Some(&before),
            Some(&after),
            naive(now),
        )?;
        Ok(after)
    })
}

/// Marks approved qualifications past their expiry as expired and tells their holders.
/// Run by the jobs loop; returns how many expired.
pub fn expire_due(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let mut done = 0;
    loop {
        let batch = db::write_tx(conn, |conn| -> AppResult<usize> {
            let due = store::due_expirations(conn, naive(now), 100)?;
            for mut row in due.iter().cloned() {
                row.status = QualificationStatus::Expired;
                if store::decide_qualification(conn, &row, QualificationStatus::Approved)? == 0 {
                    continue;
                }
                let inst = catalogue::find_instrument(conn, row.instrument_id)?
                    .ok_or(AppError::NotFound { what: "instrument" })?;
                let user = store::find_user(conn, row.user_id)?
                    .ok_or(AppError::NotFound { what: "user" })?;
                let message = Notice {
                    kind: "qualification_expired",
                    to: &user.email,
                    name: &user.name,
                    subject: &format!("上机资格已到期：{}", inst.name_zh),
                    paragraphs: vec![
                        format!("您的 {} 上机资格已到期。", inst.name_zh),
                        "如需继续自主上机，请重新申请。".to_owned(),
                    ],
                    link: None,
                    footer: "",
                    related: Some(("qualification", row.id.0)),
                }
                .render()?;
                mail::enqueue(conn, &message, naive(now))?;
            }
            Ok(due.len())
        })?;
        done += batch;
        if batch < 100 {
            return Ok(done);
        }
    }
}

/// The qualifications one may see: one's own; staff see their unit's (managers only their
/// instruments'); platform admins everything.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    mine: bool,
    status: Option<QualificationStatus>,
    page: PageRequest,
) -> AppResult<Paged<Qualification>> {
    let mut f = QualificationFilter {
        status,
        ..Default::default()
    };
    if mine || who.role == Role::Researcher {
        f.user = Some(who.id);
    } else if who.role != Role::PlatformAdmin {
        let unit = who
            .unit
            .ok_or_else(|| AppError::forbidden("not staff of a unit"))?;
        authorize(who, Action::ReadUnitQueue { unit })?;
        f.unit = Some(unit);
        if who.role == Role::InstrumentManager {
            f.instruments = Some(who.managed.clone());
        }
    }
    let (rows, total) = store::list_qualifications(conn, &f, page)?;
    let items = rows
        .into_iter()
        .map(|(q, inst, unit, name, email)| to_api(q, inst, unit, name, email))
        .collect();
    Ok(Paged::new(items, total, page))
}

/// A person's latest application or qualification for one instrument.
pub fn latest(
    conn: &mut DbConnection,
    user: UserId,
    instrument: InstrumentId,
) -> AppResult<Option<Qualification>> {
    let f = QualificationFilter {
        user: Some(user),
        instruments: Some(vec![instrument]),
        ..Default::default()
    };
    let (rows, _) = store::list_qualifications(
        conn,
        &f,
        PageRequest {
            page: 1,
            per_page: 1,
        },
    )?;
    Ok(rows
        .into_iter()
        .next()
        .map(|(q, inst, unit, name, email)| to_api(q, inst, unit, name, email)))
}

/// Whether `user` may operate `instrument` alone now, and at what level.
pub fn qualification_level(
    conn: &mut DbConnection,
    user: UserId,
    instrument: InstrumentId,
    now: DateTime<Utc>,
) -> AppResult<Option<QualificationLevel>> {
    let f = QualificationFilter {
        user: Some(user),
        instruments: Some(vec![instrument]),
        status: Some(QualificationStatus::Approved),
        ..Default::default()
    };
    let (rows, _) = store::list_qualifications(
        conn,
        &f,
        PageRequest {
            page: 1,
            per_page: 1,
        },
    )?;
    Ok(rows
        .into_iter()
        .map(|r| r.0)
        .find(|q| q.expires_at.is_none_or(|e| e > naive(now)))
        .and_then(|q| q.level))
}

// --- violations ------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViolationInput {
    pub instrument_id: InstrumentId,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(default)]
    pub note: String,
}

pub fn record_violation(
    conn: &mut DbConnection,
    who: &Principal,
    user: UserId,
    input: &ViolationInput,
    now: DateTime<Utc>,
) -> AppResult<Violation> {
    let kind = ViolationKind::from_code(&input.kind)
        .ok_or_else(|| AppError::invalid("kind", format!("one of {}", ViolationKind::codes())))?;
    let note = validate::text("note", &input.note, 0, 500)?;
    if input.occurred_at > now {
        return Err(AppError::invalid(
            "occurred_at",
            "不能晚于现在 (cannot be in the future)",
        ));
    }
    db::write_tx(conn, |conn| {
        let inst = catalogue::find_instrument(conn, input.instrument_id)?
            .ok_or_else(no_such_instrument)?;
        store::find_user(conn, user)?.ok_or(AppError::NotFound { what: "user" })?;
        authorize(who, run_action(&inst))?;
        let id = store::insert_violation(
            conn,
            &NewViolation {
                user_id: user,
                kind,
                instrument_id: inst.id,
                occurred_at: naive(input.occurred_at),
                note: note.clone(),
                recorded_by: Some(who.id),
                created_at: naive(now),
            },
        )?;
        let v = Violation {
            id,
            user_id: user,
            kind,
            instrument_id: inst.id,
            occurred_at: input.occurred_at,
            note: note.clone(),
        };
        audit::record(
            conn,
            Some(who.id),
            "violation.record",
            Target("user", Some(user.0)),
            None::<&()>,
            Some(&v),
            naive(now),
        )?;
        Ok(v)
    })
}

/// Who may read a person's violations and bans: the person, any staff, platform admins.
fn may_read_record(who: &Principal, user: UserId) -> AppResult<()> {
    if who.id == user || who.role != Role::Researcher {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "只能查看自己的记录 (only your own record)",
        ))
    }
}

pub fn violations_of(
    conn: &mut DbConnection,
    who: &Principal,
    user: UserId,
) -> AppResult<Vec<Violation>> {
    may_read_record(who, user)?;
    store::find_user(conn, user)?.ok_or(AppError::NotFound { what: "user" })?;
    Ok(store::violations_of(conn, user)?
        .into_iter()
        .map(Violation::from)
        .collect())
}

// --- bans ------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanInput {
    pub user_id: UserId,
    pub scope: String,
    pub unit_id: Option<UnitId>,
    pub instrument_id: Option<InstrumentId>,
    pub reason: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
}

pub fn create_ban(
    conn: &mut DbConnection,
    who: &Principal,
    input: &BanInput,
    now: DateTime<Utc>,
) -> AppResult<Ban> {
    let scope = BanScope::from_code(&input.scope)
        .ok_or_else(|| AppError::invalid("scope", format!("one of {}", BanScope::codes())))?;
    let reason = validate::text("reason", &input.reason, 1, 500)?;
    let starts = input.starts_at.unwrap_or(now);
    if input.ends_at <= starts || input.ends_at <= now {
        return Err(AppError::invalid(
            "ends_at",
            "结束时间必须晚于开始时间和现在 (must be after the start and now)",
        ));
    }
    db::write_tx(conn, |conn| {
        let user = store::find_user(conn, input.user_id)?
            .ok_or_else(|| AppError::invalid("user_id", "没有这个用户 (no such user)"))?;
        let (unit, instrument, unit_scope) = match scope {
            BanScope::All => (None, None, None),
            BanScope::Unit => {
                let unit = input
                    .unit_id
                    .ok_or_else(|| AppError::invalid("unit_id", "scope=unit 需要 unit_id"))?;
                catalogue::find_unit(conn, unit)?
                    .ok_or_else(|| AppError::invalid("unit_id", "没有这个单位"))?;
                (Some(unit), None, Some(unit))
            }
            BanScope::Instrument => {
                let id = input.instrument_id.ok_or_else(|| {
                    AppError::invalid("instrument_id", "scope=instrument 需要 instrument_id")
                })?;
                let inst = catalogue::find_instrument(conn, id)?
                    .ok_or_else(|| AppError::invalid("instrument_id", "没有这台仪器"))?;
                (None, Some(id), Some(inst.unit_id))
            }
        };
        authorize(who, Action::ManageBans { unit: unit_scope })?;
        let id = store::insert_ban(
            conn,
            &NewBan {
                user_id: user.id,
                scope,
                unit_id: unit,
                instrument_id: instrument,
                reason: reason.clone(),
                starts_at: naive(starts),
                ends_at: naive(input.ends_at),
                created_by: Some(who.id),
                created_at: naive(now),
            },
        )?;
        let row = store::find_ban(conn, id)?.ok_or(AppError::NotFound { what: "ban" })?;
        let ban = Ban::from_row(row, naive(now));
        let message = Notice {
            kind: "ban_created",
            to: &user.email,
            name: &user.name,
            subject: "预约权限已暂停 Booking paused",
            paragraphs: vec![
                format!(
                    "您在{}的预约权限已暂停，至 {} 止。",
                    scope.label_zh(),
                    crate::types::local_date_time(input.ends_at)
                ),
                format!("原因：{reason}"),
                "如有异议，请联系相关单位或平台管理员。".to_owned(),
            ],
            link: None,
            footer: "",
            related: Some(("ban", id.0)),
        }
        .render()?;
        mail::enqueue(conn, &message, naive(now))?;
        audit::record(
            conn,
            Some(who.id),
            "ban.create",
            Target("ban", Some(id.0)),
            None::<&()>,
            Some(&ban),
            naive(now),
        )?;
        Ok(ban)
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftInput {
    pub reason: String,
}

/// Lifts a ban early; who lifted it and why stay in its history.
pub fn lift_ban(
    conn: &mut DbConnection,
    who: &Principal,
    id: BanId,
    input: &LiftInput,
    now: DateTime<Utc>,
) -> AppResult<Ban> {
    let reason = validate::text("reason", &input.reason, 1, 500)?;
    db::write_tx(conn, |conn| {
        let row = store::find_ban(conn, id)?.ok_or(AppError::NotFound { what: "ban" })?;
        let unit = match (row.unit_id, row.instrument_id) {
            (Some(u), _) => Some(u),
            (None, Some(i)) => catalogue::find_instrument(conn, i)?.map(|inst| inst.unit_id),
            (None, None) => None,
        };
        authorize(who, Action::ManageBans { unit })?;
        let before = Ban::from_row(row.clone(), naive(now));
        if row.lifted_at.is_some() || row.ends_at <= naive(now) {
            return Err(AppError::conflict(
                ErrorCode::BanNotActive,
                "该禁约已解除或已到期 (already lifted or ended)",
            ));
        }
        store::lift_ban(conn, id, who.id, &reason, naive(now))?;
        let row = store::find_ban(conn, id)?.ok_or(AppError::NotFound { what: "ban" })?;
        let after = Ban::from_row(row.clone(), naive(now));
        if let Some(user) = store::find_user(conn, row.user_id)? {
            let message = Notice {
                kind: "ban_lifted",
                to: &user.email,
                name: &user.name,
                subject: "预约权限已恢复 Booking restored",
                paragraphs: vec![format!("您被暂停的预约权限已提前恢复。说明：{reason}")],
                link: None,
                footer: "",
                related: Some(("ban", id.0)),
            }
            .render()?;
            mail::enqueue(conn, &message, naive(now))?;
        }
        audit::record(
            conn,
            Some(who.id),
            "ban.lift",
            Target("ban", Some(id.0)),
            Some(&before),
            Some(&after),
            naive(now),
        )?;
        Ok(after)
    })
}

pub fn bans_of(
    conn: &mut DbConnection,
    who: &Principal,
    user: UserId,
    now: DateTime<Utc>,
) -> AppResult<Vec<Ban>> {
    may_read_record(who, user)?;
    store::find_user(conn, user)?.ok_or(AppError::NotFound { what: "user" })?;
    Ok(store::bans_of(conn, user)?
        .into_iter()
        .map(|r| Ban::from_row(r, naive(now)))
        .collect())
}

/// The ban in force that keeps `user` from booking `instrument` now, the longest first
/// (the reservations module answers 403 with its end).
pub fn active_ban(
    conn: &mut DbConnection,
    user: UserId,
    instrument: &InstrumentRow,
    now: DateTime<Utc>,
) -> AppResult<Option<Ban>> {
    Ok(
        store::active_bans(conn, user, instrument.unit_id, instrument.id, naive(now))?
            .into_iter()
            .next()
            .map(|r| Ban::from_row(r, naive(now))),
    )
}
