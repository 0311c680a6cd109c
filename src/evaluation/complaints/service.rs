//! 投诉: a user files a complaint; the platform accepts it (or sends it back); the unit
//! answers within working days; the complainant accepts the answer or asks the platform to
//! decide; an upheld complaint ends with the unit's rectification, confirmed by the
//! complainant. Every step writes history and e-mails the other parties; staff steps are
//! audited. Complaints are seen by their parties only: anyone else gets 404.

use chrono::{DateTime, Utc};

use super::model::*;
use super::store::{self, Scope};
use crate::audit::{self, Target};
use crate::auth::{allowed, Action, Principal, Role};
use crate::clock::naive;
use crate::config::EvaluationSettings;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::evaluation::calendar;
use crate::mail::{self, templates::page_url, templates::Notice};
use crate::navigation::store as catalogue;
use crate::reservations::service::Actor;
use crate::reservations::store as bookings;
use crate::types::{local_date_time, ComplaintId, InstrumentId, UnitId};
use crate::usage::store as records;
use crate::users::store as people;
use crate::validate;

/// Complaints a list shows at most.
pub const LIST: i64 = 200;
/// Overdue complaints marked per round of the job.
const BATCH: i64 = 200;

fn missing() -> AppError {
    AppError::NotFound { what: "complaint" }
}

/// Whether `who` is a party to the complaint: its complainant, an administrator of the unit
/// it is about (once the platform has accepted it: a complaint sent back as out of scope
/// never reaches the unit), or a platform administrator.
fn party_of(who: &Principal, row: &ComplaintRow) -> Option<Party> {
    if allowed(who, Action::JudgeComplaints) {
        Some(Party::Platform)
    } else if row.accepted_at.is_some() && allowed(who, Action::AnswerForUnit { unit: row.unit_id })
    {
        Some(Party::Unit)
    } else if who.id == row.complainant_id {
        Some(Party::Complainant)
    } else {
        None
    }
}

/// Whether `who` can act as `party`: nobody judges their own complaint.
fn acts_as(who: &Principal, row: &ComplaintRow, party: Party) -> bool {
    match party {
        Party::Complainant => who.id == row.complainant_id,
        Party::Unit => {
            row.accepted_at.is_some() && allowed(who, Action::AnswerForUnit { unit: row.unit_id })
        }
        Party::Platform => allowed(who, Action::JudgeComplaints) && who.id != row.complainant_id,
        Party::System => false,
    }
}

/// The steps `who` may take on the complaint now.
fn steps_for(who: &Principal, row: &ComplaintRow) -> Vec<ComplaintStep> {
    ComplaintStep::ALL
        .iter()
        .copied()
        .filter(|s| acts_as(who, row, s.party()))
        .filter(|s| next(row.status, *s, row.overdue_at.is_some()).is_some())
        .collect()
}

fn visible(conn: &mut DbConnection, who: &Principal, id: ComplaintId) -> AppResult<ComplaintRow> {
    store::find(conn, id)?
        .filter(|r| party_of(who, r).is_some())
        .ok_or_else(missing)
}

/// What the complaint is about, as people recognise it, and the unit and instrument it
/// concerns. A service or a booking must be the complainant's own.
fn resolve(
    conn: &mut DbConnection,
    who: &Principal,
    subject: Subject,
    id: i64,
) -> AppResult<(UnitId, Option<InstrumentId>)> {
    let not_yours = |what: &str| AppError::invalid("subject_id", format!("没有这条您的{what}"));
    let instrument = match subject {
        Subject::ServiceRecord => Some(
            records::find(conn, crate::types::ServiceRecordId(id))?
                .filter(|r| r.client_user_id == Some(who.id))
                .ok_or_else(|| not_yours("服务记录 (no such service of yours)"))?
                .instrument_id,
        ),
        Subject::Reservation => Some(
            bookings::find(conn, crate::types::ReservationId(id))?
                .filter(|r| r.user_id == who.id)
                .ok_or_else(|| not_yours("预约或送样 (no such booking of yours)"))?
                .instrument_id,
        ),
        Subject::Instrument => Some(InstrumentId(id)),
        Subject::Unit => None,
    };
    let unit = match instrument {
        Some(i) => {
            catalogue::find_instrument(conn, i)?
                .ok_or_else(|| {
                    AppError::invalid("subject_id", "没有这台仪器 (no such instrument)")
                })?
                .unit_id
        }
        None => {
            catalogue::find_unit(conn, UnitId(id))?
                .ok_or_else(|| AppError::invalid("subject_id", "没有这个单位 (no such unit)"))?
                .id
        }
    };
    Ok((unit, instrument))
}

/// Files a complaint: the platform is told, the complainant gets a receipt.
pub fn file(
    conn: &mut DbConnection,
    who: &Principal,
    input: ComplaintInput,
    now: DateTime<Utc>,
) -> AppResult<Complaint> {
    if !who.verified {
        return Err(AppError::Forbidden {
            code: ErrorCode::EmailUnverified,
            message: "请先验证邮箱 (verify your e-mail address first)".to_owned(),
        });
    }
    let subject = Subject::from_code(&input.subject).ok_or_else(|| {
        AppError::invalid("subject", format!("投诉对象 (one of {})", Subject::codes()))
    })?;
    let category = Category::from_code(&input.category).ok_or_else(|| {
        AppError::invalid(
            "category",
            format!("投诉类型 (one of {})", Category::codes()),
        )
    })?;
    let description = validate::text("description", &input.description, 1, 2000)?;
    let request = validate::text("request", &input.request, 0, 500)?;
    let (unit, instrument) = resolve(conn, who, subject, input.subject_id)?;
    if who.role.is_staff() && who.unit == Some(unit) {
        return Err(AppError::invalid(
            "subject_id",
            "不能投诉本单位 (staff cannot complain about their own unit)",
        ));
    }
    let open = || {
        AppError::conflict(
            ErrorCode::ComplaintOpen,
            "您对此已有一件未办结的投诉，请在原投诉中跟进 (you have an open complaint about this)",
        )
    };
    let id = db::write_tx(conn, |c| -> AppResult<ComplaintId> {
        let id = store::insert(
            c,
            &NewComplaint {
                complainant_id: who.id,
                subject,
                subject_id: input.subject_id,
                unit_id: unit,
                instrument_id: instrument,
                category,
                description,
                request,
                status: ComplaintStatus::Submitted,
                created_at: naive(now),
                updated_at: naive(now),
            },
        )
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => open(),
            e => e.into(),
        })?;
        store::insert_history(
            c,
            &NewComplaintHistory {
                complaint_id: id,
                from_status: None,
                to_status: ComplaintStatus::Submitted,
                step: ComplaintStep::Submit.code().to_owned(),
                actor_id: Some(who.id),
                note: String::new(),
                at: naive(now),
            },
        )?;
        let row = store::find(c, id)?.ok_or_else(missing)?;
        tell_the_parties(c, &row, ComplaintStep::Submit, Party::Complainant, "", now)?;
        Ok(id)
    })?;
    get(conn, who, id)
}

/// One complaint with its history and what the caller may do next.
pub fn get(conn: &mut DbConnection, who: &Principal, id: ComplaintId) -> AppResult<Complaint> {
    let row = visible(conn, who, id)?;
    let (unit, person) = store::names(conn, &row)?;
    let mut c = shown(conn, who, row, unit, person)?;
    c.history = store::history(conn, id)?
        .into_iter()
        .map(|(step, to, actor, name, note, at)| {
            let by = match ComplaintStep::from_code(&step).map(ComplaintStep::party) {
                Some(Party::Complainant) => "投诉人".to_owned(),
                Some(Party::Unit) => format!("{}（单位）", name.unwrap_or_default()),
                Some(Party::Platform) => format!("{}（平台）", name.unwrap_or_default()),
                Some(Party::System) | None if actor.is_none() => "系统".to_owned(),
                _ => name.unwrap_or_default(),
            };
            ComplaintEvent {
                step_label: ComplaintStep::from_code(&step)
                    .map_or(step.clone(), |s| s.label_zh().to_owned()),
                step,
                to_status: to,
                by,
                note,
                at: at.and_utc(),
            }
        })
        .collect();
    Ok(c)
}

/// The caller's complaints (`mine`), or those they handle: a unit's admins see their unit's,
/// platform admins all. `open` keeps the unfinished ones.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    mine: bool,
    open: bool,
) -> AppResult<Vec<Complaint>> {
    let scope = if mine {
        Scope::Complainant(who.id)
    } else if allowed(who, Action::JudgeComplaints) {
        Scope::All
    } else {
        match who.unit {
            Some(unit) if who.role == Role::UnitAdmin => Scope::Unit(unit),
            _ => {
                return Err(AppError::forbidden(
                    "仅限单位管理员和平台管理员 (unit and platform administrators only)",
                ))
            }
        }
    };
    store::list(conn, &scope, open, LIST)?
        .into_iter()
        .map(|(row, unit, person)| shown(conn, who, row, unit, person))
        .collect()
}

fn shown(
    conn: &mut DbConnection,
    who: &Principal,
    row: ComplaintRow,
    unit_name: String,
    complainant: String,
) -> AppResult<Complaint> {
    let subject_label = subject_label(conn, &row, &unit_name)?;
    let steps = steps_for(who, &row);
    let late = row.late();
    Ok(Complaint {
        id: row.id,
        complainant_id: row.complainant_id,
        complainant,
        subject: row.subject,
        subject_id: row.subject_id,
        subject_label,
        unit_id: row.unit_id,
        unit_name,
        instrument_id: row.instrument_id,
        category: row.category,
        category_label: row.category.label_zh(),
        description: row.description,
        request: row.request,
        status: row.status,
        status_label: row.status.label_zh(),
        sent_back_reason: row.sent_back_reason,
        answer: row.answer,
        decision: row.decision,
        decision_label: row.decision.map(Decision::label_zh),
        decision_reason: row.decision_reason,
        rectification: row.rectification,
        accepted_at: row.accepted_at.map(|t| t.and_utc()),
        answer_due_at: row.answer_due_at.map(|t| t.and_utc()),
        answered_at: row.answered_at.map(|t| t.and_utc()),
        overdue: row.overdue_at.is_some() && row.answered_at.is_none(),
        late,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        closed_at: row.closed_at.map(|t| t.and_utc()),
        steps,
        history: Vec::new(),
    })
}

fn subject_label(conn: &mut DbConnection, row: &ComplaintRow, unit: &str) -> AppResult<String> {
    let instrument = match row.instrument_id {
        Some(i) => catalogue::find_instrument(conn, i)?.map(|i| i.name_zh),
        None => None,
    };
    let instrument = instrument.unwrap_or_default();
    Ok(match row.subject {
        Subject::ServiceRecord => format!("服务记录 #{}：{instrument}", row.subject_id),
        Subject::Reservation => format!("预约 #{}：{instrument}", row.subject_id),
        Subject::Instrument => format!("仪器：{instrument}（{unit}）"),
        Subject::Unit => format!("单位：{unit}"),
    })
}

/// A person takes `step` on complaint `id`; the complaint as they now see it.
pub fn step(
    conn: &mut DbConnection,
    who: &Principal,
    id: ComplaintId,
    step: ComplaintStep,
    input: &ComplaintStepInput,
    settings: &EvaluationSettings,
    now: DateTime<Utc>,
) -> AppResult<Complaint> {
    take_step(conn, Actor::Person(who), id, step, input, settings, now)?;
    get(conn, who, id)
}

/// Takes `step` on complaint `id`: checks who may, that the step follows, writes the row and
/// its history, e-mails the other parties and audits staff steps.
pub fn take_step(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    id: ComplaintId,
    step: ComplaintStep,
    input: &ComplaintStepInput,
    settings: &EvaluationSettings,
    now: DateTime<Utc>,
) -> AppResult<ComplaintId> {
    let before = match &actor {
        Actor::Person(who) => visible(conn, who, id)?,
        Actor::System => store::find(conn, id)?.ok_or_else(missing)?,
    };
    let party = step.party();
    if let Actor::Person(who) = &actor {
        if !acts_as(who, &before, party) {
            return Err(AppError::forbidden(format!(
                "「{}」由{}办理 (not the caller's step)",
                step.label_zh(),
                match party {
                    Party::Complainant => "投诉人",
                    Party::Unit => "被投诉单位",
                    Party::Platform => "平台",
                    Party::System => "系统",
                }
            )));
        }
    }
    // A step that cannot follow says so before its text is looked at: an answer to a closed
    // complaint is `complaint_closed`, whatever it says.
    if next(before.status, step, before.overdue_at.is_some()).is_none() {
        return Err(refused(&before, step));
    }
    let text = match step.needs_text() {
        Some(label) => validate::text("text", &input.text, 1, 2000)
            .map_err(|_| AppError::invalid("text", format!("请填写{label}（1–2000 字）")))?,
        None => validate::text("text", &input.text, 0, 2000)?,
    };
    // The deadline is counted at acceptance, by the holiday table as it stands then.
    let due = (step == ComplaintStep::Accept)
        .then(|| calendar::around(conn, now, settings.answer_deadline_days))
        .transpose()?
        .map(|cal| cal.deadline(now, settings.answer_deadline_days));
    let taken = db::write_tx(conn, |c| -> AppResult<ComplaintId> {
        let before = store::find(c, id)?.ok_or_else(missing)?;
        let Some(to) = next(before.status, step, before.overdue_at.is_some()) else {
            return Err(refused(&before, step));
        };
        let mut row = before.clone();
        row.status = to;
        row.updated_at = naive(now);
        let at = Some(naive(now));
        match step {
            ComplaintStep::Accept => {
                row.accepted_at = at;
                row.answer_due_at = due.map(naive);
            }
            ComplaintStep::SendBack => row.sent_back_reason = Some(text.clone()),
            ComplaintStep::Answer => {
                row.answer = Some(text.clone());
                row.answered_at = at;
            }
            ComplaintStep::Uphold | ComplaintStep::PartlyUphold | ComplaintStep::Reject => {
                row.decision = step.decision();
                row.decision_reason = Some(text.clone());
                row.decided_at = at;
            }
            ComplaintStep::Rectify => row.rectification = Some(text.clone()),
            ComplaintStep::MarkOverdue => row.overdue_at = at,
            ComplaintStep::Agree
            | ComplaintStep::Escalate
            | ComplaintStep::Confirm
            | ComplaintStep::Withdraw
            | ComplaintStep::Submit => {}
        }
        if to.is_final() {
            row.closed_at = at;
        }
        if store::set_state(c, &row, &before)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "投诉已被他人处理，请刷新后再看 (the complaint changed meanwhile)",
            ));
        }
        let actor_id = match &actor {
            Actor::Person(p) => Some(p.id),
            Actor::System => None,
        };
        store::insert_history(
            c,
            &NewComplaintHistory {
                complaint_id: id,
                from_status: Some(before.status),
                to_status: to,
                step: step.code().to_owned(),
                actor_id,
                note: text.clone(),
                at: naive(now),
            },
        )?;
        if matches!(party, Party::Unit | Party::Platform) {
            audit::record(
                c,
                actor_id,
                &format!("complaint.{}", step.code()),
                Target("complaint", Some(id.0)),
                Some(&before.status),
                Some(&to),
                naive(now),
            )?;
        }
        tell_the_parties(c, &row, step, party, &text, now)?;
        Ok(id)
    })?;
    Ok(taken)
}

/// Why a step does not apply: the complaint is finished, or the step comes at another time.
fn refused(row: &ComplaintRow, step: ComplaintStep) -> AppError {
    if row.status.is_final() {
        return AppError::conflict(
            ErrorCode::ComplaintClosed,
            format!(
                "投诉已{}，不能再{} (the complaint is finished)",
                row.status.label_zh(),
                step.label_zh()
            ),
        );
    }
    let hint = match (row.status, step) {
        (ComplaintStatus::Accepted, ComplaintStep::Escalate) => {
            "：单位答复期限未到，请等待答复 (the unit's deadline has not passed)"
        }
        _ => "",
    };
    AppError::conflict(
        ErrorCode::InvalidTransition,
        format!(
            "投诉当前为「{}」，不能{}{hint} (the step does not apply now)",
            row.status.label_zh(),
            step.label_zh()
        ),
    )
}

/// Marks the accepted complaints whose deadline passed without an answer; each once, however
/// many instances run the job.
pub fn mark_overdue(
    conn: &mut DbConnection,
    settings: &EvaluationSettings,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let mut done = 0;
    for row in store::due_unanswered(conn, naive(now), BATCH)? {
        match take_step(
            conn,
            Actor::System,
            row.id,
            ComplaintStep::MarkOverdue,
            &ComplaintStepInput::default(),
            settings,
            now,
        ) {
            Ok(_) => done += 1,
            // Answered, withdrawn or marked by another instance a moment ago.
            Err(AppError::Conflict { .. }) => {}
            // One complaint that fails (a mail that cannot be rendered) does not hold up the
            // others; the next round tries it again.
            Err(e) => tracing::warn!(complaint = row.id.0, error = %e, "cannot mark overdue"),
        }
    }
    Ok(done)
}

/// E-mails every party but the one who acted: the complainant, the platform's admins, and
/// the unit's admins once the complaint has reached them (accepted).
fn tell_the_parties(
    conn: &mut DbConnection,
    row: &ComplaintRow,
    step: ComplaintStep,
    by: Party,
    text: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut to: Vec<(String, String, Party)> = Vec::new();
    // The complainant hears of every step but their own, and gets a receipt for filing.
    if by != Party::Complainant || step == ComplaintStep::Submit {
        if let Some(u) = people::find_user(conn, row.complainant_id)? {
            to.push((u.email, u.name, Party::Complainant));
        }
    }
    if by != Party::Unit && row.accepted_at.is_some() {
        for (e, n) in people::admins(conn, Some(row.unit_id))? {
            to.push((e, n, Party::Unit));
        }
    }
    if by != Party::Platform {
        for (e, n) in people::admins(conn, None)? {
            to.push((e, n, Party::Platform));
        }
    }
    let (unit, _) = store::names(conn, row)?;
    let what = |party: Party| match (step, party) {
        (ComplaintStep::Submit, Party::Complainant) => {
            format!("您对{unit}的投诉已提交，平台受理后会邮件通知您。")
        }
        (ComplaintStep::Submit, _) => {
            format!("收到一件对{unit}的投诉，请受理或说明不予受理的理由。")
        }
        (ComplaintStep::MarkOverdue, _) => format!("{unit}未在期限内答复投诉，已记为逾期。"),
        _ => format!("投诉已{}：{}。", step.label_zh(), row.status.label_zh()),
    };
    let paragraphs = |party: Party| {
        let mut p = vec![
            format!("投诉 #{}（{}）", row.id, row.category.label_zh()),
            what(party),
        ];
        if !text.is_empty() {
            p.push(text.to_owned());
        }
        if let (ComplaintStatus::Accepted, Some(due)) = (row.status, row.answer_due_at) {
            p.push(format!(
                "单位答复期限：{} 前（北京时间）。",
                local_date_time(due.and_utc())
            ));
        }
        p
    };
    let link = page_url(&format!("/complaints/{}", row.id));
    let subject = match step {
        ComplaintStep::MarkOverdue => format!("投诉 #{}：单位逾期未答复", row.id),
        _ => format!("投诉 #{}：{}", row.id, row.status.label_zh()),
    };
    for (email, name, party) in to {
        mail::enqueue(
            conn,
            &Notice {
                kind: "complaint",
                to: &email,
                name: &name,
                subject: &subject,
                paragraphs: paragraphs(party),
                link: Some(("查看投诉", &link)),
                footer: match party {
                    Party::Complainant => "您收到此邮件，是因为您提交了这件投诉。",
                    Party::Unit => "您收到此邮件，是因为您是被投诉单位的管理员。",
                    _ => "您收到此邮件，是因为您是平台管理员。",
                },
                related: Some(("complaint", row.id.0)),
            }
            .render()?,
            naive(now),
        )?;
    }
    Ok(())
}
