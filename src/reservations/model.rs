//! Reservations as stored and shown, and their life: the states and the transitions between
//! them live here and nowhere else.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{reservation_history, reservations};
use crate::error::{AppError, AppResult};
use crate::types::{code_enum, InstrumentId, ReservationId, UnitId, UserId};
use crate::usage::model::{Direction, ProjectFunding};
use crate::users::model::PriceTier;
use crate::validate::instant;

code_enum! {
    /// Which ways of using an instrument its managers offer.
    pub enum BookingModes {
        MachineTime = "machine_time" / "机时预约",
        SampleOrder = "sample_order" / "送样检测",
        Both = "both" / "机时预约和送样检测",
    }
}

code_enum! {
    /// How a sample order's results reach the client.
    pub enum ResultDelivery {
        Electronic = "electronic" / "电子版（邮件发送）",
        Post = "post" / "纸质报告邮寄",
        Pickup = "pickup" / "到实验室自取",
    }
}

code_enum! {
    pub enum ReservationKind {
        MachineTime = "machine_time" / "机时预约",
        SampleOrder = "sample_order" / "送样检测",
    }
}

code_enum! {
    pub enum ReservationStatus {
        Pending = "pending" / "待审核",
        Approved = "approved" / "已批准",
        Rejected = "rejected" / "未批准",
        Expired = "expired" / "已过期",
        Cancelled = "cancelled" / "已取消",
        InUse = "in_use" / "使用中",
        NoShow = "no_show" / "爽约",
        Completed = "completed" / "已完成",
        Submitted = "submitted" / "已提交",
        Accepted = "accepted" / "已受理",
        InTest = "in_test" / "检测中",
        Reported = "reported" / "已出报告",
    }
}

impl ReservationStatus {
    /// Finished without a service: nothing will be recorded or paid for.
    pub fn ended_without_service(self) -> bool {
        matches!(
            self,
            ReservationStatus::Rejected
                | ReservationStatus::Expired
                | ReservationStatus::Cancelled
                | ReservationStatus::NoShow
        )
    }

    /// Holding the instrument's time: what double booking is about.
    pub const ACTIVE: [ReservationStatus; 3] = [
        ReservationStatus::Pending,
        ReservationStatus::Approved,
        ReservationStatus::InUse,
    ];

    /// Not yet finished either way: what counts against one person's open requests for an
    /// instrument (machine time and sample orders alike).
    pub const OPEN: [ReservationStatus; 6] = [
        ReservationStatus::Pending,
        ReservationStatus::Approved,
        ReservationStatus::InUse,
        ReservationStatus::Submitted,
        ReservationStatus::Accepted,
        ReservationStatus::InTest,
    ];
}

code_enum! {
    /// What someone (or a job) does to a reservation.
    pub enum Step {
        Approve = "approve" / "批准",
        Reject = "reject" / "不批准",
        Cancel = "cancel" / "取消",
        CheckIn = "check-in" / "上机签到",
        CheckOut = "check-out" / "下机",
        Expire = "expire" / "过期",
        MarkNoShow = "no-show" / "记为爽约",
        Accept = "accept" / "受理",
        StartTest = "start-test" / "开始检测",
        Report = "report" / "出具报告",
        Complete = "complete" / "完成",
    }
}

/// The one table of transitions: from a state, by a step, to a state.
pub fn next(
    kind: ReservationKind,
    from: ReservationStatus,
    step: Step,
) -> Option<ReservationStatus> {
    use ReservationKind::*;
    use ReservationStatus as S;
    use Step::*;
    Some(match (kind, from, step) {
        (MachineTime, S::Pending, Approve) => S::Approved,
        (MachineTime, S::Pending, Reject) => S::Rejected,
        (MachineTime, S::Pending, Expire) => S::Expired,
        (MachineTime, S::Pending | S::Approved, Cancel) => S::Cancelled,
        (MachineTime, S::Approved, CheckIn) => S::InUse,
        (MachineTime, S::Approved, MarkNoShow) => S::NoShow,
        (MachineTime, S::InUse, CheckOut) => S::Completed,
        (SampleOrder, S::Submitted, Accept) => S::Accepted,
        (SampleOrder, S::Submitted, Reject) => S::Rejected,
        (SampleOrder, S::Submitted, Cancel) => S::Cancelled,
        (SampleOrder, S::Accepted, StartTest) => S::InTest,
        (SampleOrder, S::InTest, Report) => S::Reported,
        (SampleOrder, S::Reported, Complete) => S::Completed,
        _ => return None,
    })
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = reservations)]
pub struct ReservationRow {
    pub id: ReservationId,
    pub instrument_id: InstrumentId,
    pub user_id: UserId,
    pub kind: ReservationKind,
    pub status: ReservationStatus,
    #[serde(default, with = "crate::types::utc::option")]
    pub starts_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::types::utc::option")]
    pub ends_at: Option<NaiveDateTime>,
    pub sample_count: Option<i32>,
    pub sample_description: String,
    pub wanted_by: Option<NaiveDate>,
    pub planned_on: Option<NaiveDate>,
    pub purpose: String,
    pub project: String,
    pub funding_source: String,
    pub price_tier: PriceTier,
    pub fee_estimate_fen: i64,
    pub reason: Option<String>,
    #[serde(default, with = "crate::types::utc::option")]
    pub checked_in_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::types::utc::option")]
    pub checked_out_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::types::utc::option")]
    pub reminded_at: Option<NaiveDateTime>,
    pub idempotency_key: Option<String>,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::types::utc")]
    pub updated_at: NaiveDateTime,
    /// The booker asked the staff to operate the instrument or guide the session (技术共享).
    pub staff_assist: bool,
    /// Sample orders: how the results reach the client.
    pub result_delivery: Option<ResultDelivery>,
    /// A remote session (远程共享).
    pub remote: bool,
    /// 服务方向 of the work, for the national service record.
    pub direction: Direction,
}

#[derive(Debug, Clone, Insertable)]
// None is NULL (these columns default to NULL): one SQL text whatever is set, so the
// statement stays prepared instead of being rebuilt per insert.
#[diesel(table_name = reservations, treat_none_as_default_value = false)]
pub struct NewReservation {
    pub instrument_id: InstrumentId,
    pub user_id: UserId,
    pub kind: ReservationKind,
    pub status: ReservationStatus,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub sample_count: Option<i32>,
    pub sample_description: String,
    pub wanted_by: Option<NaiveDate>,
    pub purpose: String,
    pub project: String,
    pub funding_source: String,
    pub price_tier: PriceTier,
    pub fee_estimate_fen: i64,
    pub idempotency_key: Option<String>,
    /// What the request with that key asked for ([`ReservationInput::fingerprint`]).
    pub idempotency_fingerprint: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub staff_assist: bool,
    pub result_delivery: Option<ResultDelivery>,
    pub remote: bool,
    pub direction: Direction,
    /// The instrument's unit, for the unit's week grid (its index); left empty, the database
    /// fills it in.
    pub unit_id: Option<UnitId>,
}

impl NewReservation {
    /// The row as stored under `id`: the columns it does not set start empty.
    pub fn stored(self, id: ReservationId) -> ReservationRow {
        let NewReservation {
            instrument_id,
            user_id,
            kind,
            status,
            starts_at,
            ends_at,
            sample_count,
            sample_description,
            wanted_by,
            purpose,
            project,
            funding_source,
            price_tier,
            fee_estimate_fen,
            idempotency_key,
            idempotency_fingerprint: _,
            created_at,
            updated_at,
            staff_assist,
            result_delivery,
            remote,
            direction,
            unit_id: _,
        } = self;
        ReservationRow {
            id,
            instrument_id,
            user_id,
            kind,
            status,
            starts_at,
            ends_at,
            sample_count,
            sample_description,
            wanted_by,
            planned_on: None,
            purpose,
            project,
            funding_source,
            price_tier,
            fee_estimate_fen,
            reason: None,
            checked_in_at: None,
            checked_out_at: None,
            reminded_at: None,
            idempotency_key,
            created_at,
            updated_at,
            staff_assist,
            result_delivery,
            remote,
            direction,
        }
    }
}

#[derive(Debug, Insertable)]
// None is NULL (these columns default to NULL): one SQL text whatever is set, so the
// statement stays prepared instead of being rebuilt per insert.
#[diesel(table_name = reservation_history, treat_none_as_default_value = false)]
pub struct NewHistory {
    pub reservation_id: ReservationId,
    pub from_status: Option<ReservationStatus>,
    pub to_status: ReservationStatus,
    pub actor_id: Option<UserId>,
    pub note: String,
    pub at: NaiveDateTime,
}

/// A reservation as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reservation {
    pub id: ReservationId,
    pub instrument_id: InstrumentId,
    pub user_id: UserId,
    pub kind: ReservationKind,
    pub status: ReservationStatus,
    pub status_label: &'static str,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub sample_count: Option<i32>,
    pub sample_description: String,
    pub wanted_by: Option<NaiveDate>,
    pub planned_on: Option<NaiveDate>,
    pub purpose: String,
    pub project: String,
    /// The project's funding source (the national list), null without a project.
    pub funding_source: Option<ProjectFunding>,
    pub direction: Direction,
    pub price_tier: PriceTier,
    /// The fee for the booker's tier, in fen (分).
    pub fee_estimate_fen: i64,
    pub reason: Option<String>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub checked_out_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The booker asked the staff to operate the instrument or guide the session (技术共享).
    pub staff_assist: bool,
    /// A remote session (远程共享).
    pub remote: bool,
    /// Sample orders: how the results reach the client.
    pub result_delivery: Option<ResultDelivery>,
}

impl From<ReservationRow> for Reservation {
    fn from(r: ReservationRow) -> Self {
        let status = r.status;
        Reservation {
            id: r.id,
            instrument_id: r.instrument_id,
            user_id: r.user_id,
            kind: r.kind,
            status,
            status_label: status.label_zh(),
            starts_at: r.starts_at.map(|t| t.and_utc()),
            ends_at: r.ends_at.map(|t| t.and_utc()),
            sample_count: r.sample_count,
            sample_description: r.sample_description,
            wanted_by: r.wanted_by,
            planned_on: r.planned_on,
            purpose: r.purpose,
            project: r.project,
            funding_source: ProjectFunding::stored(&r.funding_source),
            direction: r.direction,
            price_tier: r.price_tier,
            fee_estimate_fen: r.fee_estimate_fen,
            reason: r.reason,
            checked_in_at: r.checked_in_at.map(|t| t.and_utc()),
            checked_out_at: r.checked_out_at.map(|t| t.and_utc()),
            created_at: r.created_at.and_utc(),
            staff_assist: r.staff_assist,
            remote: r.remote,
            result_delivery: r.result_delivery,
        }
    }
}

/// Body of `POST /api/v1/reservations`. Times are read as text first: a time without an
/// offset is refused (400) rather than guessed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationInput {
    pub instrument_id: InstrumentId,
    pub kind: String,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub sample_count: Option<i32>,
    #[serde(default)]
    pub sample_description: String,
    pub wanted_by: Option<NaiveDate>,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub project: String,
    /// The project's funding source, a code of the national list (`nsfc`, `key_rd`, …,
    /// `other`); empty without a project.
    #[serde(default)]
    pub funding_source: String,
    /// 服务方向: `research` (default), `development`, `teaching` or `other`.
    pub direction: Option<String>,
    /// Machine time: ask the staff to operate the instrument or guide the session (技术共享).
    #[serde(default)]
    pub staff_assist: bool,
    /// Machine time: a remote session (远程共享); not with `staff_assist`.
    #[serde(default)]
    pub remote: bool,
    /// Sample orders: `electronic` (the default), `post` or `pickup`.
    pub result_delivery: Option<String>,
    /// Pay part of the fee with this innovation voucher (创新券) of the booker's company: the
    /// booking and the voucher's use are written together, or neither.
    pub voucher_id: Option<crate::types::VoucherId>,
}

/// What a booking asks for.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Asked {
    MachineTime {
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        /// Staff operate the instrument or guide the session (技术共享).
        staff_assist: bool,
        /// Operated from afar (远程共享).
        remote: bool,
    },
    SampleOrder {
        sample_count: Option<i32>,
        sample_description: String,
        wanted_by: Option<NaiveDate>,
        result_delivery: ResultDelivery,
    },
}

/// A booking request, parsed: the API's JSON body and the web form both build one, and the
/// service takes nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct BookingRequest {
    pub instrument_id: InstrumentId,
    pub asked: Asked,
    pub purpose: String,
    pub project: String,
    pub funding_source: String,
    pub direction: Option<String>,
    /// Pay part of it with this innovation voucher of the booker's company (创新券).
    pub voucher_id: Option<crate::types::VoucherId>,
}

impl BookingRequest {
    /// Reads the API's body. A time without an offset is refused (400) rather than guessed.
    pub fn from_input(input: ReservationInput) -> AppResult<BookingRequest> {
        let kind = ReservationKind::from_code(&input.kind).ok_or_else(|| {
            AppError::invalid("kind", format!("one of {}", ReservationKind::codes()))
        })?;
        let asked = match kind {
            ReservationKind::MachineTime => {
                let required = |field: &str, value: Option<String>| {
                    value.ok_or_else(|| AppError::invalid(field.to_owned(), "必填 (required)"))
                };
                let starts = required("starts_at", input.starts_at)?;
                let ends = required("ends_at", input.ends_at)?;
                if input.staff_assist && input.remote {
                    return Err(AppError::invalid(
                        "remote",
                        "远程上机和技术人员操作只能选一种 (remote or staff-assisted, not both)",
                    ));
                }
                Asked::MachineTime {
                    starts_at: instant("starts_at", &starts)?,
                    ends_at: instant("ends_at", &ends)?,
                    staff_assist: input.staff_assist,
                    remote: input.remote,
                }
            }
            ReservationKind::SampleOrder => Asked::SampleOrder {
                sample_count: input.sample_count,
                sample_description: input.sample_description,
                wanted_by: input.wanted_by,
                result_delivery: match input.result_delivery.as_deref() {
                    None | Some("") => ResultDelivery::Electronic,
                    Some(code) => ResultDelivery::from_code(code).ok_or_else(|| {
                        AppError::invalid(
                            "result_delivery",
                            format!("请选择结果交付方式 (one of {})", ResultDelivery::codes()),
                        )
                    })?,
                },
            },
        };
        Ok(BookingRequest {
            instrument_id: input.instrument_id,
            asked,
            purpose: input.purpose,
            project: input.project,
            funding_source: input.funding_source,
            direction: input.direction,
            voucher_id: input.voucher_id,
        })
    }

    pub fn kind(&self) -> ReservationKind {
        match self.asked {
            Asked::MachineTime { .. } => ReservationKind::MachineTime,
            Asked::SampleOrder { .. } => ReservationKind::SampleOrder,
        }
    }

    /// The slot asked for, for machine time.
    pub fn times(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self.asked {
            Asked::MachineTime {
                starts_at, ends_at, ..
            } => Some((starts_at, ends_at)),
            Asked::SampleOrder { .. } => None,
        }
    }

    /// SHA-256 of the request as parsed: two requests with one Idempotency-Key must ask for
    /// the same thing (spacing, field order and the offset a time was written in aside).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&canonical)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_transitions_exist() {
        use ReservationKind::*;
        use ReservationStatus as S;
        assert_eq!(
            next(MachineTime, S::Pending, Step::Approve),
            Some(S::Approved)
        );
        assert_eq!(
            next(MachineTime, S::Approved, Step::CheckIn),
            Some(S::InUse)
        );
        assert_eq!(
            next(MachineTime, S::InUse, Step::CheckOut),
            Some(S::Completed)
        );
        assert_eq!(next(MachineTime, S::Completed, Step::Cancel), None);
        assert_eq!(next(MachineTime, S::InUse, Step::Cancel), None);
        assert_eq!(next(MachineTime, S::Pending, Step::CheckIn), None);
        assert_eq!(next(SampleOrder, S::Submitted, Step::Approve), None);
        assert_eq!(
            next(SampleOrder, S::Accepted, Step::Cancel),
            None,
            "cancelled before acceptance only"
        );
        // Every status is reachable and every end state is final.
        for end in [
            S::Rejected,
            S::Expired,
            S::Cancelled,
            S::NoShow,
            S::Completed,
        ] {
            for step in Step::ALL {
                assert_eq!(next(MachineTime, end, *step), None, "{end} is final");
                assert_eq!(next(SampleOrder, end, *step), None, "{end} is final");
            }
        }
    }
}

/// How an instrument is booked: its managers set it (`PUT …/booking-settings`); an instrument
/// without a row is booked under [`BookingSettingsRow::defaults`].
#[derive(
    Debug,
    Clone,
    Queryable,
    Selectable,
    Insertable,
    AsChangeset,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[diesel(table_name = crate::db::schema::booking_settings, primary_key(instrument_id))]
pub struct BookingSettingsRow {
    #[serde(skip_deserializing)]
    pub instrument_id: InstrumentId,
    pub modes: BookingModes,
    pub approval_required: bool,
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
    pub horizon_days: i32,
    pub notice_minutes: i32,
    #[serde(skip_deserializing, default = "epoch")]
    #[serde(with = "crate::types::utc")]
    pub updated_at: NaiveDateTime,
    /// Kept free after each booking (cleaning, warm-up).
    pub buffer_minutes: i32,
    /// Operating it needs an approved 上机资格.
    pub qualification_required: bool,
    /// Active (pending, approved, in use) bookings one person may hold on this instrument.
    pub max_active_per_user: i32,
    /// Cancelling later than this before the start counts as a violation.
    pub cancel_deadline_minutes: i32,
    /// After the start without a check-in, the booking is a no-show.
    pub no_show_grace_minutes: i32,
    /// JSON `{"1": [[480, 1320]], …}`: opening windows per ISO weekday in the platform zone,
    /// minutes after midnight; empty = every day 08:00–22:00.
    pub opening_hours: String,
    /// JSON array of local dates on which the instrument is closed.
    pub closed_days: String,
    pub max_samples: i32,
    pub own_hour_fen: i64,
    pub academic_hour_fen: i64,
    pub enterprise_hour_fen: i64,
    pub own_sample_fen: i64,
    pub academic_sample_fen: i64,
    pub enterprise_sample_fen: i64,
    pub min_fee_fen: i64,
    /// Taking bookings while it fails often (故障频繁): the unit's call, off unless it says so.
    #[serde(default)]
    pub book_when_faulty: bool,
}

fn epoch() -> NaiveDateTime {
    NaiveDateTime::default()
}

impl BookingSettingsRow {
    /// What an instrument without settings of its own is booked under.
    pub fn defaults(instrument_id: InstrumentId) -> BookingSettingsRow {
        BookingSettingsRow {
            instrument_id,
            modes: BookingModes::Both,
            approval_required: true,
            slot_minutes: 30,
            min_minutes: 30,
            max_minutes: 480,
            horizon_days: 30,
            notice_minutes: 60,
            updated_at: epoch(),
            buffer_minutes: 0,
            qualification_required: false,
            max_active_per_user: 3,
            cancel_deadline_minutes: 1440,
            no_show_grace_minutes: 15,
            opening_hours: String::new(),
            closed_days: "[]".to_owned(),
            max_samples: 20,
            own_hour_fen: 0,
            academic_hour_fen: 0,
            enterprise_hour_fen: 0,
            own_sample_fen: 0,
            academic_sample_fen: 0,
            enterprise_sample_fen: 0,
            min_fee_fen: 0,
            book_when_faulty: false,
        }
    }
}
