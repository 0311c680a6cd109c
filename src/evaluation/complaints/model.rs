//! 投诉: complaints as stored and shown, and their life. The states, the steps, which party
//! takes each step and where it leads live here and nowhere else.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{complaint_history, complaints};
use crate::types::{code_enum, ComplaintId, InstrumentId, UnitId, UserId};

code_enum! {
    /// What a complaint is about.
    pub enum Subject {
        ServiceRecord = "service_record" / "服务记录",
        Reservation = "reservation" / "预约或送样",
        Instrument = "instrument" / "仪器",
        Unit = "unit" / "单位",
    }
}

code_enum! {
    pub enum Category {
        Refused = "refused" / "拒绝服务",
        Overcharging = "overcharging" / "乱收费",
        Quality = "quality" / "数据或结果质量",
        Delay = "delay" / "拖延",
        Attitude = "attitude" / "服务态度",
        FalseListing = "false_listing" / "虚假信息",
        Other = "other" / "其他",
    }
}

code_enum! {
    pub enum ComplaintStatus {
        Submitted = "submitted" / "待受理",
        SentBack = "sent_back" / "不予受理",
        Accepted = "accepted" / "待单位答复",
        Answered = "answered" / "单位已答复",
        Escalated = "escalated" / "待平台裁定",
        Rectifying = "rectifying" / "待单位整改",
        Rectified = "rectified" / "待确认整改",
        Closed = "closed" / "已办结",
        Withdrawn = "withdrawn" / "已撤回",
    }
}

impl ComplaintStatus {
    /// Nothing more happens to a complaint in these states.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ComplaintStatus::SentBack | ComplaintStatus::Closed | ComplaintStatus::Withdrawn
        )
    }

    pub const OPEN: [ComplaintStatus; 6] = [
        ComplaintStatus::Submitted,
        ComplaintStatus::Accepted,
        ComplaintStatus::Answered,
        ComplaintStatus::Escalated,
        ComplaintStatus::Rectifying,
        ComplaintStatus::Rectified,
    ];
}

code_enum! {
    /// The platform's decision.
    pub enum Decision {
        Upheld = "upheld" / "投诉成立",
        PartlyUpheld = "partly_upheld" / "部分成立",
        Rejected = "rejected" / "投诉不成立",
    }
}

code_enum! {
    /// What someone (or the overdue job) does to a complaint.
    pub enum ComplaintStep {
        Submit = "submit" / "提交投诉",
        Accept = "accept" / "受理",
        SendBack = "send_back" / "不予受理",
        Answer = "answer" / "单位答复",
        Agree = "agree" / "接受答复",
        Escalate = "escalate" / "申请平台裁定",
        Uphold = "uphold" / "裁定投诉成立",
        PartlyUphold = "partly_uphold" / "裁定部分成立",
        Reject = "reject" / "裁定投诉不成立",
        Rectify = "rectify" / "报告整改",
        Confirm = "confirm" / "确认整改",
        Withdraw = "withdraw" / "撤回",
        MarkOverdue = "overdue" / "答复逾期",
    }
}

/// Who takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Complainant,
    /// The administrators of the unit complained about.
    Unit,
    /// The platform's administrators.
    Platform,
    /// The overdue job.
    System,
}

impl ComplaintStep {
    pub fn party(self) -> Party {
        use ComplaintStep::*;
        match self {
            Accept | SendBack | Uphold | PartlyUphold | Reject => Party::Platform,
            Answer | Rectify => Party::Unit,
            Submit | Agree | Escalate | Confirm | Withdraw => Party::Complainant,
            MarkOverdue => Party::System,
        }
    }

    /// The text the step must carry (a reason, an answer, a report), as (field, label); the
    /// others take an optional note.
    pub fn needs_text(self) -> Option<&'static str> {
        use ComplaintStep::*;
        match self {
            SendBack => Some("不予受理的理由"),
            Answer => Some("答复内容"),
            Escalate => Some("申请裁定的理由"),
            Uphold | PartlyUphold | Reject => Some("裁定理由"),
            Rectify => Some("整改情况"),
            Submit | Accept | Agree | Confirm | Withdraw | MarkOverdue => None,
        }
    }

    pub fn decision(self) -> Option<Decision> {
        match self {
            ComplaintStep::Uphold => Some(Decision::Upheld),
            ComplaintStep::PartlyUphold => Some(Decision::PartlyUpheld),
            ComplaintStep::Reject => Some(Decision::Rejected),
            _ => None,
        }
    }
}

/// The one table of transitions: from a state, by a step, to a state. `overdue` is whether
/// the unit let its deadline pass: then the complainant need not wait for the answer to ask
/// the platform, and the job has nothing more to mark.
pub fn next(from: ComplaintStatus, step: ComplaintStep, overdue: bool) -> Option<ComplaintStatus> {
    use ComplaintStatus as S;
    use ComplaintStep::*;
    Some(match (from, step) {
        (S::Submitted, Accept) => S::Accepted,
        (S::Submitted, SendBack) => S::SentBack,
        (S::Accepted, Answer) => S::Answered,
        (S::Accepted, MarkOverdue) if !overdue => S::Accepted,
        (S::Accepted, Escalate) if overdue => S::Escalated,
        (S::Answered, Agree) => S::Closed,
        (S::Answered, Escalate) => S::Escalated,
        (S::Escalated, Uphold | PartlyUphold) => S::Rectifying,
        (S::Escalated, Reject) => S::Closed,
        (S::Rectifying, Rectify) => S::Rectified,
        (S::Rectified, Confirm) => S::Closed,
        (S::Submitted | S::Accepted | S::Answered | S::Escalated, Withdraw) => S::Withdrawn,
        _ => return None,
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = complaints)]
pub struct ComplaintRow {
    pub id: ComplaintId,
    pub complainant_id: UserId,
    pub subject: Subject,
    pub subject_id: i64,
    pub unit_id: UnitId,
    pub instrument_id: Option<InstrumentId>,
    pub category: Category,
    pub description: String,
    pub request: String,
    pub status: ComplaintStatus,
    pub sent_back_reason: Option<String>,
    pub answer: Option<String>,
    pub decision: Option<Decision>,
    pub decision_reason: Option<String>,
    pub rectification: Option<String>,
    pub accepted_at: Option<NaiveDateTime>,
    pub answer_due_at: Option<NaiveDateTime>,
    pub answered_at: Option<NaiveDateTime>,
    pub overdue_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ComplaintRow {
    /// Answered after the deadline, or not answered by it.
    pub fn late(&self) -> bool {
        match (self.answer_due_at, self.answered_at) {
            (_, _) if self.overdue_at.is_some() => true,
            (Some(due), Some(at)) => at > due,
            _ => false,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = complaints)]
pub struct NewComplaint {
    pub complainant_id: UserId,
    pub subject: Subject,
    pub subject_id: i64,
    pub unit_id: UnitId,
    pub instrument_id: Option<InstrumentId>,
    pub category: Category,
    pub description: String,
    pub request: String,
    pub status: ComplaintStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = complaint_history, treat_none_as_default_value = false)]
pub struct NewComplaintHistory {
    pub complaint_id: ComplaintId,
    pub from_status: Option<ComplaintStatus>,
    pub to_status: ComplaintStatus,
    pub step: String,
    pub actor_id: Option<UserId>,
    pub note: String,
    pub at: NaiveDateTime,
}

/// Body of `POST /api/v1/complaints`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintInput {
    /// `service_record`, `reservation`, `instrument` or `unit`.
    pub subject: String,
    /// The id of the service record, reservation, instrument or unit.
    pub subject_id: i64,
    /// `refused`, `overcharging`, `quality`, `delay`, `attitude`, `false_listing` or `other`.
    pub category: String,
    /// What happened: 1 to 2,000 characters.
    pub description: String,
    /// What the complainant asks for: at most 500 characters.
    #[serde(default)]
    pub request: String,
}

/// Body of `POST /api/v1/complaints/{id}/{step}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintStepInput {
    /// The answer, reason or report the step carries (required for `send_back`, `answer`,
    /// `escalate`, `uphold`, `partly_uphold`, `reject`, `rectify`), else an optional note;
    /// at most 2,000 characters.
    #[serde(default)]
    pub text: String,
}

/// One step of a complaint's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComplaintEvent {
    pub step: String,
    pub step_label: String,
    pub to_status: ComplaintStatus,
    /// Who took it, by role ("投诉人", "单位", "平台", "系统") and, for staff, name.
    pub by: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// A complaint as its parties see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Complaint {
    pub id: ComplaintId,
    pub complainant_id: UserId,
    pub complainant: String,
    pub subject: Subject,
    pub subject_id: i64,
    /// What the complaint is about, as a person recognises it.
    pub subject_label: String,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub instrument_id: Option<InstrumentId>,
    pub category: Category,
    pub category_label: &'static str,
    pub description: String,
    pub request: String,
    pub status: ComplaintStatus,
    pub status_label: &'static str,
    pub sent_back_reason: Option<String>,
    pub answer: Option<String>,
    pub decision: Option<Decision>,
    pub decision_label: Option<&'static str>,
    pub decision_reason: Option<String>,
    pub rectification: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// The unit must answer before this instant (Beijing working days after acceptance).
    pub answer_due_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    /// The deadline passed without an answer.
    pub overdue: bool,
    /// Answered after the deadline or not by it.
    pub late: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The steps the caller may take now.
    pub steps: Vec<ComplaintStep>,
    /// Every step so far, oldest first (on a single complaint; empty in lists).
    pub history: Vec<ComplaintEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplaintStatus as S;
    use ComplaintStep::*;

    #[test]
    fn the_table_walks_a_complaint_from_filing_to_closing() {
        let path = [
            (S::Submitted, Accept, S::Accepted),
            (S::Accepted, Answer, S::Answered),
            (S::Answered, Escalate, S::Escalated),
            (S::Escalated, Uphold, S::Rectifying),
            (S::Rectifying, Rectify, S::Rectified),
            (S::Rectified, Confirm, S::Closed),
        ];
        for (from, step, to) in path {
            assert_eq!(next(from, step, false), Some(to), "{from} by {step}");
        }
    }

    #[test]
    fn out_of_order_and_final_states_go_nowhere() {
        assert_eq!(next(S::Submitted, Answer, false), None);
        assert_eq!(next(S::Accepted, Escalate, false), None);
        assert_eq!(next(S::Accepted, Escalate, true), Some(S::Escalated));
        assert_eq!(next(S::Accepted, MarkOverdue, true), None);
        assert_eq!(next(S::Rectifying, Withdraw, false), None);
        for s in [S::Closed, S::Withdrawn, S::SentBack] {
            assert!(s.is_final());
            for step in ComplaintStep::ALL {
                assert_eq!(next(s, *step, false), None, "{s} by {step}");
            }
        }
    }
}
