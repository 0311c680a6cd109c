//! Who may do what: every action a handler can take that is not open to everyone is listed
//! here, and `authorize` is the only place the answer is decided.
//!
//! Denials are consistent: no or bad credentials → 401; signed in but not allowed (another
//! unit's data included) → 403; a target that does not exist → 404, checked before the
//! permission, since the catalogue is public anyway.

use super::{Principal, Role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::types::{InstrumentId, OrganisationId, UnitId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create and edit sub-platforms.
    ManageSubPlatforms,
    /// Create host units and edit any unit's record.
    ManageUnits,
    /// List accounts, disable and enable them, accept proposed organisations.
    ManageUsers,
    ReadAudit,
    /// The mail queue: read it, requeue dead messages.
    ManageMail,
    /// Create, edit and retire the unit's instruments.
    ManageInstruments {
        unit: UnitId,
    },
    /// Add and remove the unit's staff, name instrument managers.
    ManageStaff {
        unit: UnitId,
    },
    /// An instrument's booking settings, its qualification queue and its violations.
    RunInstrument {
        unit: UnitId,
        instrument: InstrumentId,
    },
    /// Read the qualification queue of a unit (filtered to what the reader runs).
    ReadUnitQueue {
        unit: UnitId,
    },
    /// Ban a user from a unit's instruments (`Some`) or from all (`None`), or lift a ban.
    ManageBans {
        unit: Option<UnitId>,
    },
    /// Apply for a qualification: any verified account.
    Apply,
    /// The platform's part in complaints (accept, send back, decide), the holiday table the
    /// deadlines count by, and rectification notices.
    JudgeComplaints,
    /// The unit's part: answer complaints about it, state its rectification, report back
    /// on a rectification notice.
    AnswerForUnit {
        unit: UnitId,
    },
    /// Write articles for a unit (`Some`), or for the platform and its sub-platforms (`None`).
    Publish {
        unit: Option<UnitId>,
    },
    /// Publish articles platform-wide, return a unit's with a reason, edit any.
    ApproveArticles,
    /// An issuer's part in innovation vouchers: open its programmes, decide quota
    /// applications, review redemptions and mark them paid; its officers and platform admins.
    IssueVouchers {
        issuer: OrganisationId,
    },
    /// Claim redemption of vouchers used on the unit's services: the unit's administrators
    /// (the unit is paid, so the platform does not claim for it).
    ClaimVouchers {
        unit: UnitId,
    },
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::ManageSubPlatforms => "管理子平台 (manage sub-platforms)",
            Action::ManageUnits => "管理单位 (manage host units)",
            Action::ManageUsers => "管理用户 (manage accounts)",
            Action::ReadAudit => "查看审计日志 (read the audit log)",
            Action::ManageMail => "管理邮件队列 (manage the mail queue)",
            Action::ManageInstruments { .. } => "管理该单位的仪器 (manage this unit's instruments)",
            Action::ManageStaff { .. } => "管理该单位的人员 (manage this unit's staff)",
            Action::RunInstrument { .. } => "管理该仪器 (manage this instrument)",
            Action::ReadUnitQueue { .. } => "查看该单位的审核队列 (read this unit's queue)",
            Action::ManageBans { .. } => "设置或解除禁约 (ban or lift a ban)",
            Action::Apply => "申请上机资格 (apply for a qualification)",
            Action::JudgeComplaints => "受理和裁定投诉 (handle complaints for the platform)",
            Action::AnswerForUnit { .. } => "代表该单位答复投诉和整改 (answer for this unit)",
            Action::Publish { unit: Some(_) } => "为该单位发布信息 (publish for this unit)",
            Action::Publish { unit: None } => "发布平台信息 (publish for the platform)",
            Action::ApproveArticles => "审核发布平台信息 (publish platform-wide)",
            Action::IssueVouchers { .. } => "管理该机构的创新券 (act for this voucher issuer)",
            Action::ClaimVouchers { .. } => "为该单位申请创新券兑付 (claim vouchers for this unit)",
        }
    }
}

fn admin_of(p: &Principal, unit: UnitId) -> bool {
    p.role == Role::UnitAdmin && p.unit == Some(unit)
}

fn staff_of(p: &Principal, unit: UnitId) -> bool {
    p.role.is_staff() && p.unit == Some(unit)
}

pub fn allowed(p: &Principal, action: Action) -> bool {
    if let Action::AnswerForUnit { unit } | Action::ClaimVouchers { unit } = action {
        // The unit answers (and claims) for itself: the platform, which judges complaints and
        // may act for an issuer, does not act for the unit.
        return admin_of(p, unit);
    }
    if p.role == Role::PlatformAdmin {
        return true;
    }
    match action {
        Action::ManageSubPlatforms
        | Action::ManageUnits
        | Action::ManageUsers
        | Action::ReadAudit
        | Action::ManageMail
        | Action::JudgeComplaints
        | Action::ApproveArticles
        | Action::Publish { unit: None }
        | Action::ManageBans { unit: None } => false,
        Action::ManageInstruments { unit }
        | Action::ManageStaff { unit }
        | Action::ManageBans { unit: Some(unit) }
        | Action::Publish { unit: Some(unit) }
        | Action::AnswerForUnit { unit }
        | Action::ClaimVouchers { unit } => admin_of(p, unit),
        Action::IssueVouchers { issuer } => p.voucher_issuer == Some(issuer),
        Action::RunInstrument { unit, instrument } => {
            admin_of(p, unit) || (staff_of(p, unit) && p.managed.contains(&instrument))
        }
        Action::ReadUnitQueue { unit } => staff_of(p, unit),
        Action::Apply => p.verified,
    }
}

/// Whose records of instrument use (bookings, service records, reductions) a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// The person's own.
    Own,
    /// Those of every instrument of the unit (its administrators).
    Unit(UnitId),
    /// Those of these instruments (their managers).
    Instruments(Vec<InstrumentId>),
    /// Everyone's (platform administrators).
    All,
}

/// What `p` sees in such a list; `mine` asks for the person's own whatever their role.
pub fn visibility(p: &Principal, mine: bool) -> Visibility {
    match (mine, p.role, p.unit) {
        (true, _, _) | (_, Role::Researcher, _) => Visibility::Own,
        (false, Role::PlatformAdmin, _) => Visibility::All,
        (false, Role::UnitAdmin, Some(unit)) => Visibility::Unit(unit),
        (false, Role::InstrumentManager, Some(_)) => Visibility::Instruments(p.managed.clone()),
        _ => Visibility::Own,
    }
}

/// Ok when `p` may take `action`, else 403 saying what was refused.
pub fn authorize(p: &Principal, action: Action) -> AppResult<()> {
    if allowed(p, action) {
        return Ok(());
    }
    if action == Action::Apply {
        return Err(AppError::Forbidden {
            code: ErrorCode::EmailUnverified,
            message: "请先验证邮箱 (verify your e-mail address first)".to_owned(),
        });
    }
    Err(AppError::forbidden(format!(
        "{}无权{}",
        p.role.label_zh(),
        action.describe()
    )))
}
