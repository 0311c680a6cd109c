//! 创新券: programmes, quotas (vouchers) and their uses as stored and shown. The states, the
//! steps, who takes each and where it leads live here and nowhere else, and so does the rule
//! that splits a fee between the voucher and the company.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{
    voucher_files, voucher_history, voucher_programmes, voucher_uses, vouchers,
};
use crate::types::{
    code_enum, InstrumentId, OrganisationId, ProgrammeId, ReservationId, ServiceRecordId, UnitId,
    UserId, VoucherFileId, VoucherId, VoucherUseId,
};

code_enum! {
    /// A company's quota (额度).
    pub enum VoucherStatus {
        Applied = "applied" / "待审批",
        Approved = "approved" / "已发放",
        Refused = "refused" / "未批准",
        Withdrawn = "withdrawn" / "已撤回",
        Expired = "expired" / "已到期",
    }
}

code_enum! {
    pub enum VoucherStep {
        Apply = "apply" / "申领额度",
        Approve = "approve" / "批准额度",
        Refuse = "refuse" / "不予批准",
        Withdraw = "withdraw" / "撤回申请",
        Expire = "expire" / "到期收回",
    }
}

code_enum! {
    /// A voucher used on one booking or sample order, through to its redemption.
    pub enum UseStatus {
        Requested = "requested" / "待服务方确认",
        Confirmed = "confirmed" / "已确认",
        Declined = "declined" / "服务方未接受",
        Cancelled = "cancelled" / "已取消",
        Claimed = "claimed" / "兑付待审核",
        Returned = "returned" / "退回补正",
        Approved = "approved" / "兑付已批准（公示）",
        Refused = "refused" / "不予兑付",
        Paid = "paid" / "已拨付",
        Lapsed = "lapsed" / "已失效",
    }
}

code_enum! {
    pub enum UseStep {
        Request = "request" / "申请使用",
        Confirm = "confirm" / "确认订单和金额",
        Decline = "decline" / "不接受",
        Cancel = "cancel" / "取消使用",
        Claim = "claim" / "申请兑付",
        Return = "return" / "退回补正",
        Approve = "approve" / "批准兑付",
        Refuse = "refuse" / "不予兑付",
        Pay = "pay" / "拨付",
        Lapse = "lapse" / "过期失效",
    }
}

code_enum! {
    /// A redemption's files.
    pub enum FileKind {
        Contract = "contract" / "服务合同",
        Invoice = "invoice" / "发票",
        Payment = "payment" / "企业自付部分的付款凭证",
        Result = "result" / "服务成果（报告等）",
    }
}

code_enum! {
    /// What a programme names as eligible providers.
    pub enum ProviderScope {
        Unit = "unit" / "单位",
        SubPlatform = "sub_platform" / "子平台",
        Instrument = "instrument" / "仪器",
    }
}

/// Who takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The company holding the voucher (any verified member of the organisation).
    Company,
    /// The host unit serving: its administrators, or the instrument's managers to confirm.
    Provider,
    /// The issuer's officers (and platform administrators).
    Issuer,
    /// The jobs and the booking's own life (a cancelled booking cancels its use).
    System,
}

impl Party {
    pub fn label_zh(self) -> &'static str {
        match self {
            Party::Company => "企业",
            Party::Provider => "服务单位",
            Party::Issuer => "发券机构",
            Party::System => "系统",
        }
    }
}

impl VoucherStep {
    pub fn party(self) -> Party {
        match self {
            VoucherStep::Apply | VoucherStep::Withdraw => Party::Company,
            VoucherStep::Approve | VoucherStep::Refuse => Party::Issuer,
            VoucherStep::Expire => Party::System,
        }
    }
}

/// The one table of a quota's transitions.
pub fn next_voucher(from: VoucherStatus, step: VoucherStep) -> Option<VoucherStatus> {
    use VoucherStatus as S;
    use VoucherStep::*;
    Some(match (from, step) {
        (S::Applied, Approve) => S::Approved,
        (S::Applied, Refuse) => S::Refused,
        (S::Applied, Withdraw) => S::Withdrawn,
        (S::Approved, Expire) => S::Expired,
        _ => return None,
    })
}

impl UseStep {
    pub fn party(self) -> Party {
        use UseStep::*;
        match self {
            Request | Cancel => Party::Company,
            Confirm | Decline | Claim => Party::Provider,
            Return | Approve | Refuse | Pay => Party::Issuer,
            Lapse => Party::System,
        }
    }

    /// The reason the step must carry, as the label a form asks for.
    pub fn needs_text(self) -> Option<&'static str> {
        match self {
            UseStep::Decline => Some("不接受的理由"),
            UseStep::Return => Some("需补正的内容"),
            UseStep::Refuse => Some("不予兑付的理由"),
            _ => None,
        }
    }
}

/// The one table of a use's transitions, from the request to the payment.
pub fn next_use(from: UseStatus, step: UseStep) -> Option<UseStatus> {
    use UseStatus as S;
    use UseStep::*;
    Some(match (from, step) {
        (S::Requested, Confirm) => S::Confirmed,
        (S::Requested, Decline) => S::Declined,
        (S::Requested | S::Confirmed, Cancel) => S::Cancelled,
        (S::Confirmed | S::Returned, Claim) => S::Claimed,
        (S::Claimed, Return) => S::Returned,
        (S::Claimed, Approve) => S::Approved,
        (S::Claimed, Refuse) => S::Refused,
        (S::Approved, Pay) => S::Paid,
        (S::Requested | S::Confirmed | S::Returned, Lapse) => S::Lapsed,
        _ => return None,
    })
}

impl UseStatus {
    /// What the use holds of its voucher: the confirmed amount until the issuer decides, then
    /// the approved claim; nothing once it ended without payment.
    pub fn held(self, voucher_fen: i64, claim_fen: Option<i64>) -> i64 {
        use UseStatus as S;
        match self {
            S::Requested | S::Confirmed | S::Claimed | S::Returned => voucher_fen,
            S::Approved | S::Paid => claim_fen.unwrap_or(voucher_fen),
            S::Declined | S::Cancelled | S::Refused | S::Lapsed => 0,
        }
    }

    /// A claim was made and not refused: what "claimed" counts in the figures.
    pub fn is_claimed(self) -> bool {
        matches!(
            self,
            UseStatus::Claimed | UseStatus::Returned | UseStatus::Approved | UseStatus::Paid
        )
    }

    pub const LIVE: [UseStatus; 6] = [
        UseStatus::Requested,
        UseStatus::Confirmed,
        UseStatus::Claimed,
        UseStatus::Returned,
        UseStatus::Approved,
        UseStatus::Paid,
    ];
}

/// The voucher's part of a fee, in fen: all of it up to `full_below_fen`, else `share_percent`
/// of it rounded down to the fen (the company pays the odd fen: public money never pays a
/// fraction the fee does not justify).
pub fn voucher_part(fee_fen: i64, share_percent: i32, full_below_fen: i64) -> i64 {
    if fee_fen <= 0 {
        return 0;
    }
    if fee_fen <= full_below_fen {
        return fee_fen;
    }
    let part = i128::from(fee_fen) * i128::from(share_percent.clamp(0, 100)) / 100;
    i64::try_from(part).unwrap_or(fee_fen)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = voucher_programmes)]
pub struct ProgrammeRow {
    pub id: ProgrammeId,
    pub name: String,
    pub issuer_id: OrganisationId,
    pub description: String,
    pub budget_fen: i64,
    pub share_percent: i32,
    pub full_below_fen: i64,
    pub cap_per_application_fen: i64,
    pub cap_per_company_year_fen: i64,
    pub sme_only: bool,
    pub apply_from: NaiveDate,
    pub apply_until: NaiveDate,
    pub use_until: NaiveDate,
    pub redeem_until: NaiveDate,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = voucher_programmes)]
pub struct NewProgramme {
    pub name: String,
    pub issuer_id: OrganisationId,
    pub description: String,
    pub budget_fen: i64,
    pub share_percent: i32,
    pub full_below_fen: i64,
    pub cap_per_application_fen: i64,
    pub cap_per_company_year_fen: i64,
    pub sme_only: bool,
    pub apply_from: NaiveDate,
    pub apply_until: NaiveDate,
    pub use_until: NaiveDate,
    pub redeem_until: NaiveDate,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vouchers)]
pub struct VoucherRow {
    pub id: VoucherId,
    pub number: Option<String>,
    pub programme_id: ProgrammeId,
    pub organisation_id: OrganisationId,
    pub applicant_id: UserId,
    pub need: String,
    pub requested_fen: i64,
    pub sme_declared: bool,
    pub status: VoucherStatus,
    pub approved_fen: i64,
    pub returned_fen: i64,
    pub year: i32,
    pub reason: String,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl VoucherRow {
    /// What the quota holds of the budget: granted, less what went back.
    pub fn committed(&self) -> i64 {
        self.approved_fen - self.returned_fen
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = vouchers)]
pub struct NewVoucher {
    pub programme_id: ProgrammeId,
    pub organisation_id: OrganisationId,
    pub applicant_id: UserId,
    pub need: String,
    pub requested_fen: i64,
    pub sme_declared: bool,
    pub status: VoucherStatus,
    pub year: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = voucher_uses)]
pub struct UseRow {
    pub id: VoucherUseId,
    pub voucher_id: VoucherId,
    pub reservation_id: ReservationId,
    pub unit_id: UnitId,
    pub instrument_id: InstrumentId,
    pub fee_fen: i64,
    pub voucher_fen: i64,
    pub status: UseStatus,
    pub service_record_id: Option<ServiceRecordId>,
    pub claim_fee_fen: Option<i64>,
    pub claim_fen: Option<i64>,
    pub reason: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub claimed_at: Option<NaiveDateTime>,
    pub approved_at: Option<NaiveDateTime>,
    pub notice_until: Option<NaiveDateTime>,
    pub paid_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UseRow {
    pub fn held(&self) -> i64 {
        self.status.held(self.voucher_fen, self.claim_fen)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = voucher_uses)]
pub struct NewUse {
    pub voucher_id: VoucherId,
    pub reservation_id: ReservationId,
    pub unit_id: UnitId,
    pub instrument_id: InstrumentId,
    pub fee_fen: i64,
    pub voucher_fen: i64,
    pub status: UseStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = voucher_files)]
pub struct FileRow {
    pub id: VoucherFileId,
    pub use_id: VoucherUseId,
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: UserId,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = voucher_files)]
pub struct NewFile {
    pub use_id: VoucherUseId,
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: UserId,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = voucher_history, treat_none_as_default_value = false)]
pub struct NewHistory {
    pub voucher_id: VoucherId,
    pub use_id: Option<VoucherUseId>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub step: String,
    pub actor_id: Option<UserId>,
    pub amount_fen: Option<i64>,
    pub note: String,
    pub at: NaiveDateTime,
}

/// An eligible provider as a programme names it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// `unit`, `sub_platform` or `instrument`.
    pub scope: String,
    pub id: i64,
}

/// Body of `POST /api/v1/voucher-programmes`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeInput {
    /// 1 to 100 characters.
    pub name: String,
    /// The issuing organisation (a district science bureau); its officers run the programme.
    pub issuer_id: OrganisationId,
    #[serde(default)]
    pub description: String,
    /// The whole budget, in fen (> 0).
    pub budget_fen: i64,
    /// The share of a fee a voucher pays, 1–100 (%).
    pub share_percent: i32,
    /// Fees up to this many fen are paid whole (0: none).
    #[serde(default)]
    pub full_below_fen: i64,
    /// The most one application may be granted, in fen.
    pub cap_per_application_fen: i64,
    /// The most one company may be granted in a year, in fen (≥ the cap per application).
    pub cap_per_company_year_fen: i64,
    /// Only companies declaring themselves SMEs (中小微企业) may apply.
    #[serde(default)]
    pub sme_only: bool,
    /// The first and last day to apply, the last day to use a voucher on a booking and the
    /// last day to claim redemption (Beijing dates, YYYY-MM-DD, in that order).
    pub apply_from: String,
    pub apply_until: String,
    pub use_until: String,
    pub redeem_until: String,
    /// Eligible providers; none means every host unit of the platform.
    #[serde(default)]
    pub providers: Vec<ProviderInput>,
}

/// Body of `POST /api/v1/vouchers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoucherInput {
    pub programme_id: ProgrammeId,
    /// The quota asked for, in fen (> 0, at most the programme's cap per application).
    pub requested_fen: i64,
    /// What the company needs tested or measured, and why: 1 to 2,000 characters.
    pub need: String,
    /// The company declares it is a small or medium enterprise (中小微企业).
    #[serde(default)]
    pub sme_declared: bool,
}

/// Body of `POST /api/v1/vouchers/{id}/{step}` and `POST /api/v1/voucher-uses/{id}/{step}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoucherStepInput {
    /// `approve` on a quota: the amount granted (default: the amount asked). `confirm` on a
    /// use: the voucher's part the provider accepts (default: the part asked; never more).
    #[serde(default)]
    pub amount_fen: Option<i64>,
    /// `claim`: the service record of the booking (default: the booking's latest).
    #[serde(default)]
    pub service_record_id: Option<ServiceRecordId>,
    /// The reason (`refuse`, `decline`, `return`), else an optional note; at most 2,000.
    #[serde(default)]
    pub text: String,
}

/// Body of `POST /api/v1/voucher-uses`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UseInput {
    pub voucher_id: VoucherId,
    pub reservation_id: ReservationId,
}

/// Body of `PUT /api/v1/organisations/{id}/voucher-officers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerInput {
    /// The account's e-mail; it must belong to the issuing organisation.
    pub email: String,
}

/// The money of a programme, in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgrammeFigures {
    pub budget_fen: i64,
    /// Granted to companies and not returned.
    pub committed_fen: i64,
    /// Redemptions claimed and not refused.
    pub claimed_fen: i64,
    /// Redemptions approved (on notice or paid).
    pub approved_fen: i64,
    pub paid_fen: i64,
    /// Budget not committed: what new quotas may still take.
    pub remaining_fen: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgrammeProvider {
    pub scope: ProviderScope,
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Programme {
    pub id: ProgrammeId,
    pub name: String,
    pub issuer_id: OrganisationId,
    pub issuer_name: String,
    pub description: String,
    pub share_percent: i32,
    pub full_below_fen: i64,
    pub cap_per_application_fen: i64,
    pub cap_per_company_year_fen: i64,
    pub sme_only: bool,
    pub apply_from: NaiveDate,
    pub apply_until: NaiveDate,
    pub use_until: NaiveDate,
    pub redeem_until: NaiveDate,
    /// Applications are open today (Beijing).
    pub open: bool,
    /// Empty: every host unit.
    pub providers: Vec<ProgrammeProvider>,
    pub figures: ProgrammeFigures,
}

/// One step of a quota's or a use's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoucherEvent {
    pub use_id: Option<VoucherUseId>,
    pub step: String,
    pub step_label: String,
    pub to_status: String,
    /// Who took it: the party and, for a person, their name.
    pub by: String,
    pub amount_fen: Option<i64>,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoucherFile {
    pub id: VoucherFileId,
    pub kind: FileKind,
    pub kind_label: &'static str,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoucherUse {
    pub id: VoucherUseId,
    pub voucher_id: VoucherId,
    pub voucher_number: String,
    pub programme_id: ProgrammeId,
    pub organisation_id: OrganisationId,
    pub company: String,
    pub reservation_id: ReservationId,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub instrument_id: InstrumentId,
    pub instrument_name: String,
    /// The fee estimate when the voucher was asked for, and its split.
    pub fee_fen: i64,
    pub voucher_fen: i64,
    pub own_fen: i64,
    pub status: UseStatus,
    pub status_label: &'static str,
    pub service_record_id: Option<ServiceRecordId>,
    /// The service's actual fee and the voucher's part of it, as claimed.
    pub claim_fee_fen: Option<i64>,
    pub claim_fen: Option<i64>,
    pub reason: String,
    pub notice_until: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub files: Vec<VoucherFile>,
    /// The steps the caller may take now.
    pub steps: Vec<UseStep>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Voucher {
    pub id: VoucherId,
    /// 券号, given at approval (CXQ-…).
    pub number: Option<String>,
    pub programme_id: ProgrammeId,
    pub programme_name: String,
    pub organisation_id: OrganisationId,
    pub company: String,
    pub applicant: String,
    pub need: String,
    pub requested_fen: i64,
    pub sme_declared: bool,
    pub status: VoucherStatus,
    pub status_label: &'static str,
    pub approved_fen: i64,
    pub returned_fen: i64,
    /// Held by uses (asked, confirmed, claimed or redeemed).
    pub used_fen: i64,
    /// What can still be used on a booking.
    pub available_fen: i64,
    pub year: i32,
    pub reason: String,
    pub use_until: NaiveDate,
    pub redeem_until: NaiveDate,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub steps: Vec<VoucherStep>,
    pub uses: Vec<VoucherUse>,
    /// Every step so far, oldest first (on a single voucher; empty in lists).
    pub history: Vec<VoucherEvent>,
}

/// A redemption on public notice (公示) or paid.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoticeEntry {
    pub use_id: VoucherUseId,
    pub programme_name: String,
    pub voucher_number: String,
    pub company: String,
    pub unit_name: String,
    pub instrument_name: String,
    pub claim_fee_fen: i64,
    pub claim_fen: i64,
    pub approved_at: DateTime<Utc>,
    pub notice_until: DateTime<Utc>,
    pub status: UseStatus,
    pub status_label: &'static str,
}

/// One company's or one provider's line of a programme's report.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ProgrammeReportLine {
    pub id: i64,
    pub name: String,
    pub committed_fen: i64,
    pub claimed_fen: i64,
    pub approved_fen: i64,
    pub paid_fen: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgrammeReport {
    pub programme: Programme,
    pub companies: Vec<ProgrammeReportLine>,
    pub providers: Vec<ProgrammeReportLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_rounds_down_to_the_fen_and_small_fees_are_paid_whole() {
        assert_eq!(voucher_part(333, 50, 0), 166);
        assert_eq!(voucher_part(1, 50, 0), 0);
        assert_eq!(voucher_part(10_000, 50, 0), 5_000);
        assert_eq!(voucher_part(99_999, 70, 0), 69_999);
        assert_eq!(voucher_part(200_000, 50, 200_000), 200_000);
        assert_eq!(voucher_part(200_001, 50, 200_000), 100_000);
        assert_eq!(voucher_part(0, 100, 0), 0);
        assert_eq!(voucher_part(i64::MAX, 100, 0), i64::MAX);
    }

    #[test]
    fn a_use_walks_from_request_to_payment_and_no_further() {
        use UseStatus as S;
        use UseStep::*;
        let path = [
            (S::Requested, Confirm, S::Confirmed),
            (S::Confirmed, Claim, S::Claimed),
            (S::Claimed, Return, S::Returned),
            (S::Returned, Claim, S::Claimed),
            (S::Claimed, Approve, S::Approved),
            (S::Approved, Pay, S::Paid),
        ];
        for (from, step, to) in path {
            assert_eq!(next_use(from, step), Some(to), "{from} by {step}");
        }
        for s in [S::Paid, S::Refused, S::Declined, S::Cancelled, S::Lapsed] {
            for step in UseStep::ALL {
                assert_eq!(next_use(s, *step), None, "{s} by {step}");
            }
        }
        assert_eq!(next_use(S::Claimed, Cancel), None);
        assert_eq!(next_use(S::Approved, Lapse), None);
    }

    #[test]
    fn a_quota_is_decided_once() {
        use VoucherStatus as S;
        assert_eq!(
            next_voucher(S::Applied, VoucherStep::Approve),
            Some(S::Approved)
        );
        assert_eq!(next_voucher(S::Approved, VoucherStep::Approve), None);
        assert_eq!(next_voucher(S::Refused, VoucherStep::Approve), None);
        assert_eq!(next_voucher(S::Approved, VoucherStep::Withdraw), None);
        assert_eq!(
            next_voucher(S::Approved, VoucherStep::Expire),
            Some(S::Expired)
        );
    }

    #[test]
    fn what_a_use_holds_follows_its_state() {
        assert_eq!(UseStatus::Confirmed.held(500, None), 500);
        assert_eq!(UseStatus::Approved.held(500, Some(420)), 420);
        assert_eq!(UseStatus::Refused.held(500, Some(420)), 0);
    }
}
