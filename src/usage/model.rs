//! Service records, hour reductions and the figures computed from them.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{hour_reductions, service_records};
use crate::types::{
    code_enum, InstrumentId, OrganisationId, ReductionId, ReservationId, ServiceRecordId,
    SubPlatformId, UnitId, UserId,
};

code_enum! {
    /// 服务类型: what the national service record calls the kind of service.
    pub enum ServiceType {
        Testing = "testing" / "测试",
        Training = "training" / "培训",
        Consulting = "consulting" / "咨询",
        Teaching = "teaching" / "教学",
    }
}

code_enum! {
    /// 服务方式: who operates the instrument.
    pub enum ServiceWay {
        Occupy = "occupy" / "占用共享",
        Technical = "technical" / "技术共享",
        Entrusted = "entrusted" / "委托共享",
        Remote = "remote" / "远程共享",
    }
}

code_enum! {
    /// 服务方向: what the work served, as the national service record names it.
    pub enum Direction {
        Research = "research" / "科学研究",
        Development = "development" / "科技开发",
        Teaching = "teaching" / "教学",
        Other = "other" / "其他",
    }
}

code_enum! {
    /// 项目经费来源: the fixed list of the national service record. Stored as its code; ''
    /// when the service served no project.
    pub enum ProjectFunding {
        Nsfc = "nsfc" / "国家自然科学基金",
        KeyRd = "key_rd" / "国家重点研发计划",
        Major = "major" / "国家科技重大专项",
        Guide = "guide" / "技术创新引导专项（基金）",
        BaseTalent = "base_talent" / "基地和人才专项",
        NationalOther = "national_other" / "其他国家级项目",
        Ministry = "ministry" / "部委项目",
        Provincial = "provincial" / "省级项目",
        Municipal = "municipal" / "市级项目",
        Enterprise = "enterprise" / "企业委托项目",
        International = "international" / "国际合作项目",
        Defence = "defence" / "国防科研项目",
        Institutional = "institutional" / "单位自设项目",
        Own = "own" / "单位自筹",
        Teaching = "teaching" / "教学经费",
        Foundation = "foundation" / "社会基金",
        Other = "other" / "其他",
    }
}

impl ProjectFunding {
    /// A funding code as sent ('' for none), checked and kept as its code.
    pub fn checked(field: &str, value: &str) -> crate::error::AppResult<String> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(String::new());
        }
        crate::validate::code(field, v, ProjectFunding::from_code, ProjectFunding::codes())
            .map(|f| f.code().to_owned())
    }

    /// A stored code ('' = none).
    pub fn stored(code: &str) -> Option<ProjectFunding> {
        ProjectFunding::from_code(code)
    }
}

impl Direction {
    /// A direction as sent: absent means 科学研究, the usual case.
    pub fn checked(field: &str, value: Option<&str>) -> crate::error::AppResult<Direction> {
        match value.map(str::trim) {
            None | Some("") => Ok(Direction::Research),
            Some(v) => crate::validate::code(field, v, Direction::from_code, Direction::codes()),
        }
    }
}

code_enum! {
    pub enum ReductionStatus {
        Pending = "pending" / "待处理",
        Accepted = "accepted" / "已核减",
        Refused = "refused" / "未核减",
    }
}

/// A month as `yyyymm`, the key of the rollups.
pub fn month_of(day: NaiveDate) -> i32 {
    day.year() * 100 + day.month() as i32
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = service_records)]
pub struct NewServiceRecord {
    pub reservation_id: Option<ReservationId>,
    pub instrument_id: InstrumentId,
    pub client_user_id: Option<UserId>,
    pub client_organisation_id: Option<OrganisationId>,
    pub internal: bool,
    pub service_type: ServiceType,
    pub service_way: ServiceWay,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    /// Effective minutes: the time served less `idle_minutes`.
    pub minutes: i32,
    pub sample_count: i32,
    pub fee_fen: i64,
    pub project: String,
    pub funding_source: String,
    pub note: String,
    pub created_at: NaiveDateTime,
    pub served_on: NaiveDate,
    pub idle_minutes: i32,
    pub logged_by: Option<UserId>,
    #[diesel(embed)]
    pub national: NationalFields,
}

/// What the national service record adds to a service: its content (服务内容), direction
/// (服务方向) and the applicant's contact.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = service_records)]
pub struct NationalFields {
    /// 服务内容, at most 200 characters.
    pub content: String,
    pub direction: Direction,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub applicant_email: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_records)]
pub struct ServiceRecordRow {
    pub id: ServiceRecordId,
    pub reservation_id: Option<ReservationId>,
    pub instrument_id: InstrumentId,
    pub client_user_id: Option<UserId>,
    pub client_organisation_id: Option<OrganisationId>,
    pub internal: bool,
    pub service_type: ServiceType,
    pub service_way: ServiceWay,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub minutes: i32,
    pub sample_count: i32,
    pub fee_fen: i64,
    pub project: String,
    pub funding_source: String,
    pub note: String,
    pub created_at: NaiveDateTime,
    pub served_on: NaiveDate,
    pub idle_minutes: i32,
    pub logged_by: Option<UserId>,
    #[diesel(embed)]
    pub national: NationalFields,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A service record as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceRecord {
    pub id: ServiceRecordId,
    pub reservation_id: Option<ReservationId>,
    pub instrument_id: InstrumentId,
    pub client_user_id: Option<UserId>,
    pub client_organisation_id: Option<OrganisationId>,
    pub internal: bool,
    pub service_type: ServiceType,
    pub service_way: ServiceWay,
    pub served_on: NaiveDate,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Effective machine-hours in minutes (有效机时), idle time excluded.
    pub minutes: i32,
    pub idle_minutes: i32,
    pub sample_count: i32,
    pub fee_fen: i64,
    pub project: String,
    /// The project's funding source (a code of the fixed list), null without a project.
    pub funding_source: Option<ProjectFunding>,
    pub note: String,
    pub logged_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub national: NationalFields,
}

impl From<ServiceRecordRow> for ServiceRecord {
    fn from(r: ServiceRecordRow) -> Self {
        ServiceRecord {
            id: r.id,
            reservation_id: r.reservation_id,
            instrument_id: r.instrument_id,
            client_user_id: r.client_user_id,
            client_organisation_id: r.client_organisation_id,
            internal: r.internal,
            service_type: r.service_type,
            service_way: r.service_way,
            served_on: r.served_on,
            starts_at: r.starts_at.map(utc),
            ends_at: r.ends_at.map(utc),
            minutes: r.minutes,
            idle_minutes: r.idle_minutes,
            sample_count: r.sample_count,
            fee_fen: r.fee_fen,
            funding_source: ProjectFunding::stored(&r.funding_source),
            project: r.project,
            note: r.note,
            logged_by: r.logged_by,
            created_at: utc(r.created_at),
            national: r.national,
        }
    }
}

/// A service logged by an instrument's staff outside a booking (a training session, a
/// consultation, a sample batch). Either `starts_at` and `ends_at` (RFC 3339) or `served_on`
/// with `minutes`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    pub instrument_id: InstrumentId,
    pub service_type: String,
    pub service_way: String,
    /// The client organisation (required: client units are counted from it).
    pub client_organisation_id: OrganisationId,
    /// The client's account, when they have one.
    pub client_user_id: Option<UserId>,
    /// Served inside the host unit's own legal entity; defaults to "the client organisation
    /// is the host unit".
    pub internal: Option<bool>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub served_on: Option<NaiveDate>,
    /// Effective minutes when no times are given.
    pub minutes: Option<i64>,
    #[serde(default)]
    pub idle_minutes: i64,
    #[serde(default)]
    pub sample_count: i64,
    pub fee_fen: i64,
    #[serde(default)]
    pub project: String,
    /// A code of the national list (`nsfc`, `key_rd`, …, `other`); empty without a project.
    #[serde(default)]
    pub funding_source: String,
    #[serde(default)]
    pub note: String,
    /// 服务内容, at most 200 characters.
    #[serde(default)]
    pub content: String,
    /// `research` (default), `development`, `teaching` or `other`.
    pub direction: Option<String>,
    /// The applicant; by default the client account's name, phone and e-mail.
    #[serde(default)]
    pub applicant_name: String,
    #[serde(default)]
    pub applicant_phone: String,
    #[serde(default)]
    pub applicant_email: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = hour_reductions)]
pub struct NewReduction {
    pub service_record_id: ServiceRecordId,
    pub requested_by: UserId,
    pub minutes_before: i32,
    pub minutes_requested: i32,
    pub fee_before_fen: i64,
    pub reason: String,
    pub status: ReductionStatus,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = hour_reductions)]
pub struct ReductionRow {
    pub id: ReductionId,
    pub service_record_id: ServiceRecordId,
    pub requested_by: UserId,
    pub minutes_before: i32,
    pub minutes_requested: i32,
    pub fee_before_fen: i64,
    pub fee_after_fen: Option<i64>,
    pub reason: String,
    pub status: ReductionStatus,
    pub decided_by: Option<UserId>,
    pub decision_reason: String,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
}

/// 核减机时: a request to reduce the hours of a record, and its decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reduction {
    pub id: ReductionId,
    pub service_record_id: ServiceRecordId,
    pub requested_by: UserId,
    pub minutes_before: i32,
    pub minutes_requested: i32,
    pub fee_before_fen: i64,
    pub fee_after_fen: Option<i64>,
    pub reason: String,
    pub status: ReductionStatus,
    pub status_label: &'static str,
    pub decided_by: Option<UserId>,
    pub decision_reason: String,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<ReductionRow> for Reduction {
    fn from(r: ReductionRow) -> Self {
        let status = r.status;
        Reduction {
            id: r.id,
            service_record_id: r.service_record_id,
            requested_by: r.requested_by,
            minutes_before: r.minutes_before,
            minutes_requested: r.minutes_requested,
            fee_before_fen: r.fee_before_fen,
            fee_after_fen: r.fee_after_fen,
            reason: r.reason,
            status,
            status_label: status.label_zh(),
            decided_by: r.decided_by,
            decision_reason: r.decision_reason,
            created_at: utc(r.created_at),
            decided_at: r.decided_at.map(utc),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReductionInput {
    /// The effective minutes the client says were served.
    pub minutes: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub accept: bool,
    /// Required when refusing; reaches the client.
    #[serde(default)]
    pub reason: String,
    /// The corrected fee; by default the fee is reduced in proportion to the hours.
    pub fee_fen: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclarationInput {
    pub year: i32,
    pub eligible_instruments: i64,
}

/// The sums every breakdown carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub services: i64,
    /// Services to clients outside the host unit's legal entity (对外服务).
    pub external_services: i64,
    /// Effective machine-hours (有效机时), to one decimal.
    pub machine_hours: f64,
    /// Hours served outside the host unit's legal entity (对外服务机时).
    pub external_hours: f64,
    pub samples: i64,
    pub income_fen: i64,
    #[serde(skip)]
    pub minutes: i64,
    #[serde(skip)]
    pub external_minutes: i64,
}

/// Minutes as hours to one decimal, for display; sums are kept in minutes.
pub fn hours(minutes: i64) -> f64 {
    (minutes as f64 / 6.0).round() / 10.0
}

impl Figures {
    pub fn add(&mut self, services: i64, minutes: i64, internal: bool, samples: i64, fee: i64) {
        self.services += services;
        self.minutes += minutes;
        if !internal {
            self.external_services += services;
            self.external_minutes += minutes;
        }
        self.samples += samples;
        self.income_fen += fee;
        self.machine_hours = hours(self.minutes);
        self.external_hours = hours(self.external_minutes);
    }

    /// Adds another set of sums (internal and external minutes kept apart as they are).
    pub fn merge(&mut self, other: &Figures) {
        self.add(
            other.services - other.external_services,
            other.minutes - other.external_minutes,
            true,
            other.samples,
            other.income_fen,
        );
        self.add(other.external_services, other.external_minutes, false, 0, 0);
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitFigures {
    pub unit_id: UnitId,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub rated: Satisfaction,
}

/// 满意度: the share of ratings at 非常满意 or 基本满意 (null without ratings) and how many
/// ratings it is taken over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Satisfaction {
    pub satisfaction: Option<f64>,
    pub ratings: i64,
}

impl Satisfaction {
    /// From (ratings, of which satisfied), to three decimals.
    pub fn of(ratings: i64, satisfied: i64) -> Satisfaction {
        Satisfaction {
            satisfaction: (ratings > 0)
                .then(|| (satisfied as f64 / ratings as f64 * 1000.0).round() / 1000.0),
            ratings,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubPlatformFigures {
    pub sub_platform_id: SubPlatformId,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstrumentFigures {
    pub instrument_id: InstrumentId,
    pub name: String,
    pub unit_id: UnitId,
    pub unit_name: String,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub rated: Satisfaction,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of one service way (服务方式).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WayFigures {
    pub service_way: ServiceWay,
    pub label: &'static str,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of one direction of the work (服务方向).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirectionFigures {
    pub direction: Direction,
    pub label: &'static str,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Distinct client units (服务用户单位), served from outside the host unit's legal entity
/// (external) and from inside it (internal); one served both ways counts in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClientUnits {
    pub client_units: i64,
    pub external_client_units: i64,
    pub internal_client_units: i64,
}

impl ClientUnits {
    pub fn of(pairs: &[(i64, bool)]) -> ClientUnits {
        use std::collections::HashSet;
        let all: HashSet<i64> = pairs.iter().map(|p| p.0).collect();
        let count = |internal: bool| {
            pairs
                .iter()
                .filter(|p| p.1 == internal)
                .map(|p| p.0)
                .collect::<HashSet<_>>()
                .len() as i64
        };
        ClientUnits {
            client_units: all.len() as i64,
            external_client_units: count(false),
            internal_client_units: count(true),
        }
    }
}

/// The period's figures split by service way and by direction, in the enums' order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Splits {
    pub by_service_way: Vec<WayFigures>,
    pub by_direction: Vec<DirectionFigures>,
}

impl Splits {
    pub fn of(
        ways: &std::collections::HashMap<ServiceWay, Figures>,
        directions: &std::collections::HashMap<Direction, Figures>,
    ) -> Splits {
        Splits {
            by_service_way: ServiceWay::ALL
                .iter()
                .map(|w| WayFigures {
                    service_way: *w,
                    label: w.label_zh(),
                    figures: ways.get(w).copied().unwrap_or_default(),
                })
                .collect(),
            by_direction: Direction::ALL
                .iter()
                .map(|d| DirectionFigures {
                    direction: *d,
                    label: d.label_zh(),
                    figures: directions.get(d).copied().unwrap_or_default(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TypeFigures {
    pub service_type: ServiceType,
    pub label: &'static str,
    #[serde(flatten)]
    pub figures: Figures,
}

/// `GET /api/v1/stats?from=&to=`: the catalogue counts and what was served in the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageStats {
    #[serde(flatten)]
    pub catalogue: crate::navigation::model::PlatformStats,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    #[serde(flatten)]
    pub clients: ClientUnits,
    pub services: i64,
    pub external_services: i64,
    pub machine_hours: f64,
    pub external_hours: f64,
    pub income_fen: i64,
    /// Of the income, what innovation vouchers paid (创新券): redemptions approved or paid
    /// for services of the window, in fen.
    pub voucher_fen: i64,
    pub samples: i64,
    /// Over the ratings of the services served in the window.
    #[serde(flatten)]
    pub rated: Satisfaction,
    pub by_unit: Vec<UnitFigures>,
    pub by_sub_platform: Vec<SubPlatformFigures>,
    /// The most used instruments (by machine-hours), at most `top`.
    pub by_instrument: Vec<InstrumentFigures>,
    pub by_month: Vec<MonthFigures>,
    pub by_service_type: Vec<TypeFigures>,
    #[serde(flatten)]
    pub splits: Splits,
}

/// One row of a unit's per-instrument table.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstrumentYear {
    pub instrument_id: InstrumentId,
    pub name: String,
    pub asset_no: String,
    pub original_value_yuan: crate::types::Yuan,
    /// 大型仪器: the original value reaches the evaluation's threshold.
    pub large: bool,
    /// 入网日期.
    pub listed_on: NaiveDate,
    pub run_status: crate::navigation::model::RunStatus,
    pub share_mode: crate::navigation::model::ShareMode,
    pub client_units: i64,
    /// Effective hours against the 1,200 h saturation mark.
    pub utilisation: f64,
    #[serde(flatten)]
    pub figures: Figures,
    /// Share of the year's services' ratings at 非常满意 or 基本满意; null without ratings.
    pub satisfaction: Option<f64>,
    pub ratings: i64,
}

/// A ratio with its parts; `value` is null when the denominator is unknown or zero.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ratio {
    pub numerator: i64,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
}

impl Ratio {
    pub fn of(numerator: i64, denominator: Option<i64>) -> Ratio {
        let value = denominator
            .filter(|&d| d > 0)
            .map(|d| (numerator as f64 / d as f64 * 1000.0).round() / 1000.0);
        Ratio {
            numerator,
            denominator,
            value,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ratios {
    /// 入网率: large instruments listed in the year / 应入网 (declared).
    pub registered_of_eligible: Ratio,
    /// 运行率: of those, running normally / listed.
    pub running_of_registered: Ratio,
    /// 共享率: listed, open to sharing and serving in the year / declared.
    pub shared_of_eligible: Ratio,
    /// 对外共享率: listed and serving a client outside the unit in the year / declared.
    pub shared_externally_of_eligible: Ratio,
}

/// `GET /api/v1/units/{id}/evaluation?year=`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// Of the service income, what innovation vouchers paid (创新券): redemptions approved
    /// or paid for services of the year, in fen.
    pub voucher_fen: i64,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub year: i32,
    /// Instruments listed at some time in the year: joined by its end, not retired before
    /// its start. A past year's figures do not move when the catalogue changes today.
    pub instruments: i64,
    /// Of them, large (原值 ≥ `large_value_yuan`): what the ratios count.
    pub large_instruments: i64,
    pub large_value_yuan: i64,
    #[serde(flatten)]
    pub clients: ClientUnits,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub splits: Splits,
    /// Mean effective hours per listed instrument against 1,200 h/year.
    pub utilisation: f64,
    pub saturation_hours: i64,
    /// Share of the ratings of the year's services at 非常满意 or 基本满意; null without
    /// ratings.
    pub satisfaction: Option<f64>,
    /// How many of the year's services were rated.
    pub ratings: i64,
    /// Complaints against the unit filed in the year.
    pub complaints: ComplaintFigures,
    /// Why the yearly round flags the unit 限期整改; empty when it does not.
    pub rectify: Vec<String>,
    /// The year's rectification notices, newest first.
    pub notices: Vec<Rectification>,
    pub eligible_instruments: Option<i64>,
    pub ratios: Ratios,
    pub per_instrument: Vec<InstrumentYear>,
}

/// 1,200 effective hours a year count as "saturated" (the benchmark host units are compared against).
pub const SATURATION_HOURS: i64 = 1200;

code_enum! {
    /// 满意度: the national five-level scale, best first.
    pub enum Level {
        VerySatisfied = "very_satisfied" / "非常满意",
        Satisfied = "satisfied" / "基本满意",
        Neutral = "neutral" / "一般",
        Dissatisfied = "dissatisfied" / "不满意",
        VeryDissatisfied = "very_dissatisfied" / "极差",
    }
}

impl Level {
    /// 5 for 非常满意 down to 1 for 极差: what an average is taken of.
    pub fn score(self) -> i64 {
        match self {
            Level::VerySatisfied => 5,
            Level::Satisfied => 4,
            Level::Neutral => 3,
            Level::Dissatisfied => 2,
            Level::VeryDissatisfied => 1,
        }
    }

    /// The top two levels: what the satisfaction rate counts.
    pub fn satisfied(self) -> bool {
        self.score() >= 4
    }

    /// 不满意 or worse: the unit hears of it at once.
    pub fn low(self) -> bool {
        self.score() <= 2
    }
}

/// The complaints against a unit in a year (filed that year and accepted by the platform).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ComplaintFigures {
    /// Accepted by the platform (sent-back ones are out of scope and not counted).
    pub received: i64,
    /// Decided upheld or partly upheld.
    pub upheld: i64,
    /// Answered after the deadline, or not by it.
    pub late: i64,
}

code_enum! {
    /// A rectification notice (限期整改通知).
    pub enum RectificationStatus {
        Issued = "issued" / "整改中",
        Reported = "reported" / "已报告整改",
        Closed = "closed" / "已结束",
    }
}

code_enum! {
    pub enum RectificationStep {
        Report = "report" / "报告整改情况",
        Close = "close" / "结束整改",
        Extend = "extend" / "延期",
    }
}

impl RectificationStep {
    /// The unit reports; the platform closes or extends.
    pub fn by_unit(self) -> bool {
        self == RectificationStep::Report
    }
}

/// The one table of a notice's transitions.
pub fn rectification_next(
    from: RectificationStatus,
    step: RectificationStep,
) -> Option<RectificationStatus> {
    use RectificationStatus as S;
    use RectificationStep::*;
    Some(match (from, step) {
        (S::Issued, Report) => S::Reported,
        (S::Reported, Close) => S::Closed,
        (S::Issued | S::Reported, Extend) => S::Issued,
        _ => return None,
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::rectifications)]
pub struct RectificationRow {
    pub id: crate::types::RectificationId,
    pub unit_id: UnitId,
    pub year: i32,
    pub reason: String,
    pub deadline: NaiveDate,
    pub status: RectificationStatus,
    pub report: Option<String>,
    pub reported_at: Option<NaiveDateTime>,
    pub extensions: i32,
    pub issued_by: UserId,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = crate::db::schema::rectifications)]
pub struct NewRectification {
    pub unit_id: UnitId,
    pub year: i32,
    pub reason: String,
    pub deadline: NaiveDate,
    pub status: RectificationStatus,
    pub issued_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Body of `POST /api/v1/units/{id}/rectifications`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectificationInput {
    /// The evaluation year the notice follows.
    pub year: i32,
    /// What the unit must put right: 1 to 2,000 characters.
    pub reason: String,
    /// The day by which the unit reports back (YYYY-MM-DD), after today.
    pub deadline: NaiveDate,
}

/// Body of `POST /api/v1/rectifications/{id}/{step}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectificationStepInput {
    /// The unit's report (required for `report`), or a note; at most 2,000 characters.
    #[serde(default)]
    pub text: String,
    /// `extend`: the new deadline, after the current one.
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
}

/// A rectification notice as the unit and the platform see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rectification {
    pub id: crate::types::RectificationId,
    pub unit_id: UnitId,
    pub year: i32,
    pub reason: String,
    pub deadline: NaiveDate,
    pub status: RectificationStatus,
    pub status_label: &'static str,
    pub report: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    pub extensions: i32,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<RectificationRow> for Rectification {
    fn from(r: RectificationRow) -> Self {
        Rectification {
            id: r.id,
            unit_id: r.unit_id,
            year: r.year,
            reason: r.reason,
            deadline: r.deadline,
            status: r.status,
            status_label: r.status.label_zh(),
            report: r.report,
            reported_at: r.reported_at.map(|t| t.and_utc()),
            extensions: r.extensions,
            created_at: r.created_at.and_utc(),
            closed_at: r.closed_at.map(|t| t.and_utc()),
        }
    }
}

/// One unit's line on the platform's evaluation list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitRound {
    pub unit_id: UnitId,
    pub unit_name: String,
    #[serde(flatten)]
    pub rated: Satisfaction,
    pub complaints: ComplaintFigures,
    /// Why the unit is flagged 限期整改 this year; empty when it is not.
    pub rectify: Vec<String>,
    /// The year's rectification notices, newest first.
    pub notices: Vec<Rectification>,
}
