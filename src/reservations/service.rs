//! Booking and the life of a reservation. Every write is one transaction that locks the
//! instrument, checks, writes the row, its history and its e-mails (README, "No double
//! booking"); on PostgreSQL an exclusion constraint stands behind the check.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use super::model::BookingModes;
use super::model::*;
use super::rules::Rules;
use super::store;
use crate::audit::{self, Target};
use crate::auth::permissions::{visibility, Visibility};
use crate::auth::{authorize, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use std::collections::HashMap;

use super::rules::RulesCache;
use crate::navigation::model::{InstrumentBrief, InstrumentRow, RunStatus, ShareMode};
use crate::navigation::service::{instrument_to_run, no_such_instrument, run_action};
use crate::navigation::store as catalogue;
use crate::types::{day_time_zh, duration_zh, span_zh, UserId};
use crate::types::{
    local_date_time, InstrumentId, PageRequest, Paged, ReservationId, PLATFORM_ZONE,
};
use crate::usage::model::{
    Direction, NationalFields, NewServiceRecord, ProjectFunding, ServiceType, ServiceWay,
};
use crate::usage::service as usage;
use crate::users::model::{Contact, PriceTier};

use crate::users::{qualifications as quals, store as people};
use crate::validate;
use crate::validate::instant;

fn conflict(row: &store::BusyRow, now: DateTime<Utc>) -> AppError {
    let (s, e) = (
        row.starts_at.map(|t| t.and_utc()),
        row.ends_at.map(|t| t.and_utc()),
    );
    AppError::conflict(
        ErrorCode::ReservationConflict,
        match (s, e) {
            (Some(s), Some(e)) => format!(
                "与已有预约 {} 冲突，请换一个时间 (the slot clashes with {} – {})",
                span_zh(s, e, now),
                s.to_rfc3339(),
                e.to_rfc3339()
            ),
            _ => "该时段已被预约 (the slot clashes with another booking)".to_owned(),
        },
    )
}

/// The PostgreSQL exclusion constraint's violation, as the same 409 the check gives.
fn exclusion(err: diesel::result::Error) -> AppError {
    if let diesel::result::Error::DatabaseError(_, info) = &err {
        if info.constraint_name() == Some("reservations_no_overlap")
            || info.message().contains("reservations_no_overlap")
        {
            return AppError::conflict(
                ErrorCode::ReservationConflict,
                "该时段已被预约 (the slot was just taken)",
            );
        }
    }
    err.into()
}

/// The rules of an instrument already read (its row exists).
fn rules_for(conn: &mut DbConnection, instrument: InstrumentId) -> AppResult<Rules> {
    Rules::new(crate::reservations::settings::settings_of(
        conn, instrument,
    )?)
}

/// Checks a machine-time slot against the rules, blackouts and other bookings.
fn check_machine_time(
    conn: &mut DbConnection,
    rules: &Rules,
    inst: &InstrumentRow,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    now: DateTime<Utc>,
    except: Option<ReservationId>,
) -> AppResult<()> {
    rules.check_slot(starts, ends, now)?;
    let busy = store::busy(
        conn,
        &[inst.id],
        naive(starts),
        naive(ends),
        rules.buffer(),
        except,
    )?;
    // A maintenance window is named before a clash with another booking.
    if let Some(b) = busy.iter().find(|b| b.blackout) {
        let (s, e) = (
            b.starts_at.unwrap_or_default(),
            b.ends_at.unwrap_or_default(),
        );
        return Err(AppError::conflict(
            ErrorCode::Blackout,
            format!(
                "{} 停机：{reason}，请换一个时间 (unavailable: {reason})",
                span_zh(s.and_utc(), e.and_utc(), now),
                reason = b.note
            ),
        ));
    }
    match busy.iter().min_by_key(|b| b.starts_at) {
        Some(row) => Err(conflict(row, now)),
        None => Ok(()),
    }
}

/// Creates a reservation for `who`. With an idempotency key, a repeat of the same request
/// returns the first result (`false`: nothing new was made).
pub async fn create(
    state: &crate::state::AppState,
    who: &Principal,
    req: BookingRequest,
    key: Option<String>,
) -> AppResult<(Reservation, bool)> {
    let result = book(state, who, req, key).await;
    match &result {
        Ok((_, true)) => crate::metrics::booking_created(),
        Ok((_, false)) => {}
        Err(e) => crate::metrics::booking_refused(e.code()),
    }
    result
}

/// `create`'s work; `create` counts its outcome for the metrics.
async fn book(
    state: &crate::state::AppState,
    who: &Principal,
    req: BookingRequest,
    key: Option<String>,
) -> AppResult<(Reservation, bool)> {
    may_book(who)?;
    if let Some(k) = &key {
        validate::line("Idempotency-Key", k, 1, 100)?;
    }
    let fingerprint = req.fingerprint();
    let texts = BookingTexts::check(&req)?;
    let now = state.clock.now();
    let who = who.clone();
    let public_url = state.auth.public_url.clone();
    db::run(&state.pool, move |conn| {
        // A retry of a request that succeeded returns its result whatever has changed since.
        if let Some(k) = &key {
            if let Some(first) = store::find_by_key(conn, who.id, k)? {
                return replay(first, &fingerprint);
            }
        }
        // What needs no lock is read before taking it: the write lock is held only for the
        // checks against other bookings and the inserts.
        let (inst, rules) =
            instrument_with_rules(conn, req.instrument_id)?.ok_or_else(no_such_instrument)?;
        check_bookable(&inst)?;
        let tier = who.price_tier(inst.unit_id);
        check_listing(&inst, &rules, tier)?;
        check_offered(rules.settings.modes, req.kind())?;
        // Operating it yourself may need a qualification; staff operating it do not.
        let operates = matches!(
            req.asked,
            Asked::MachineTime {
                staff_assist: false,
                ..
            }
        );
        check_may_book(conn, &who, &inst, &rules, operates, now)?;
        let planned = plan(&req, &rules, tier, now)?;
        let new = NewReservation {
            instrument_id: inst.id,
            user_id: who.id,
            kind: req.kind(),
            status: planned.status,
            starts_at: planned.starts_at,
            ends_at: planned.ends_at,
            sample_count: planned.sample_count,
            sample_description: planned.sample_description,
            wanted_by: planned.wanted_by,
            purpose: texts.purpose,
            project: texts.project,
            funding_source: texts.funding_source,
            direction: texts.direction,
            price_tier: tier,
            fee_estimate_fen: planned.fee_fen,
            idempotency_key: key.clone(),
            idempotency_fingerprint: key.as_ref().map(|_| fingerprint.clone()),
            created_at: naive(now),
            updated_at: naive(now),
            staff_assist: matches!(
                req.asked,
                Asked::MachineTime {
                    staff_assist: true,
                    ..
                }
            ),
            result_delivery: match req.asked {
                Asked::SampleOrder {
                    result_delivery, ..
                } => Some(result_delivery),
                Asked::MachineTime { .. } => None,
            },
            remote: matches!(req.asked, Asked::MachineTime { remote: true, .. }),
            unit_id: Some(inst.unit_id),
        };
        // The e-mails are written out before the lock too; only their reservation id is missing.
        let notices = notices_new(conn, &new, &inst, &who, &public_url)?;
        let voucher = req
            .voucher_id
            .map(|v| {
                let booked = crate::vouchers::service::Booked {
                    user: who.id,
                    instrument: inst.id,
                    unit: inst.unit_id,
                    status: new.status,
                    starts_at: new.starts_at,
                    wanted_by: new.wanted_by,
                    fee_fen: new.fee_estimate_fen,
                };
                crate::vouchers::service::plan_use(conn, &who, v, &booked, "voucher_id", now)
            })
            .transpose()?;
        db::write_tx(conn, |conn| {
            if !store::lock_instrument(conn, inst.id)? {
                return Err(no_such_instrument());
            }
            // Looked up again under the lock: a retry racing the first attempt sees its result.
            if let Some(k) = &key {
                if let Some(first) = store::find_by_key(conn, who.id, k)? {
                    return replay(first, &fingerprint);
                }
            }
            check_active_limit(conn, &who, &inst, &rules)?;
            if let Some((s, e)) = req.times() {
                check_machine_time(conn, &rules, &inst, s, e, now, None)?;
            }
            let status = new.status;
            let row = store::insert(conn, new).map_err(exclusion)?;
            store::insert_history(
                conn,
                &NewHistory {
                    reservation_id: row.id,
                    from_status: None,
                    to_status: status,
                    actor_id: Some(who.id),
                    note: String::new(),
                    at: naive(now),
                },
            )?;
            for mut message in notices {
                message.related = Some(("reservation", row.id.0));
                mail::enqueue(conn, &message, naive(now))?;
            }
            if let Some(planned) = &voucher {
                crate::vouchers::service::attach(conn, &who, planned, row.id, now)?;
            }
            Ok((Reservation::from(row), true))
        })
    })
    .await
}

/// Only a verified account books; checked before the request is read, so that an unverified
/// person learns that first.
pub fn may_book(who: &Principal) -> AppResult<()> {
    authorize(who, Action::Apply).map_err(|_| AppError::Forbidden {
        code: ErrorCode::EmailUnverified,
        message: "请先验证邮箱再预约 (verify your e-mail address before booking)".to_owned(),
    })
}

/// What an instrument's page offers a viewer: the ways to use it, the price at their tier
/// (other academic for a visitor), and why booking is refused if it is (not shared, retired,
/// the viewer banned). Asked of the same checks a booking passes, so a page never draws a
/// button that would be refused.
pub struct Offer {
    /// Why nothing can be booked: the listing (not shared, retired, out of service, internal
    /// only), or the viewer (unverified, banned).
    pub refused: Option<AppError>,
    /// Why the viewer cannot operate it themselves (a qualification is required): machine
    /// time with the staff operating or guiding is still open.
    pub machine_time_refused: Option<AppError>,
    pub machine_time: bool,
    pub sample_order: bool,
    pub tier: PriceTier,
    pub hour_fen: i64,
    pub sample_fen: i64,
    pub min_fee_fen: i64,
    modes: BookingModes,
}

impl Offer {
    /// Ok when a booking of `kind` would pass what the page can know before it is filled
    /// in; else why not (the listing, the viewer, or the way of use not offered).
    pub fn open_for(&mut self, kind: ReservationKind) -> AppResult<()> {
        if let Some(why) = self.refused.take() {
            return Err(why);
        }
        check_offered(self.modes, kind)
    }
}

pub fn offer(
    conn: &mut DbConnection,
    who: Option<&Principal>,
    id: InstrumentId,
    now: DateTime<Utc>,
) -> AppResult<Offer> {
    let (inst, rules) =
        instrument_with_rules(conn, id)?.ok_or(AppError::NotFound { what: "instrument" })?;
    let tier = match who {
        Some(p) => p.price_tier(inst.unit_id),
        None => PriceTier::Academic,
    };
    let modes = rules.settings.modes;
    // The checks `create` makes, in its order. A visitor is told what the listing says to
    // everyone (internal sharing is said once they sign in: it depends on who they are).
    let refused = (|| match who {
        Some(p) => {
            may_book(p)?;
            check_bookable(&inst)?;
            check_listing(&inst, &rules, tier)?;
            check_may_book(conn, p, &inst, &rules, false, now)
        }
        None => {
            check_bookable(&inst)?;
            check_listing(&inst, &rules, PriceTier::OwnUnit)
        }
    })()
    .err();
    let machine_time = check_offered(modes, ReservationKind::MachineTime).is_ok();
    let machine_time_refused = match who {
        Some(p) if refused.is_none() && machine_time => {
            check_may_book(conn, p, &inst, &rules, true, now).err()
        }
        _ => None,
    };
    let (hour_fen, sample_fen) = rules.rates(tier);
    Ok(Offer {
        machine_time,
        sample_order: check_offered(modes, ReservationKind::SampleOrder).is_ok(),
        refused,
        machine_time_refused,
        tier,
        hour_fen,
        sample_fen,
        min_fee_fen: rules.settings.min_fee_fen,
        modes,
    })
}

/// A booking's free-text fields, checked.
struct BookingTexts {
    purpose: String,
    project: String,
    funding_source: String,
    direction: Direction,
}

impl BookingTexts {
    fn check(req: &BookingRequest) -> AppResult<BookingTexts> {
        Ok(BookingTexts {
            purpose: validate::line("purpose", &req.purpose, 0, 200)?,
            project: validate::line("project", &req.project, 0, 200)?,
            funding_source: ProjectFunding::checked("funding_source", &req.funding_source)?,
            direction: Direction::checked("direction", req.direction.as_deref())?,
        })
    }
}

/// The instrument `id` and its booking rules, in one read.
fn instrument_with_rules(
    conn: &mut DbConnection,
    id: InstrumentId,
) -> AppResult<Option<(InstrumentRow, Rules)>> {
    store::instrument_and_settings(conn, id)?
        .map(|(inst, settings)| {
            let rules = Rules::new(settings.unwrap_or_else(|| BookingSettingsRow::defaults(id)))?;
            Ok((inst, rules))
        })
        .transpose()
}

/// Retired and not-shared instruments take no bookings.
fn check_bookable(inst: &InstrumentRow) -> AppResult<()> {
    if inst.retired_at.is_some() || inst.share_mode == ShareMode::NotShared {
        return Err(AppError::rule(
            ErrorCode::NotBookable,
            "instrument_id",
            if inst.retired_at.is_some() {
                "该仪器已退役，不再接受预约 (retired)"
            } else {
                "该仪器不共享，不接受预约 (not open for booking)"
            },
        ));
    }
    Ok(())
}

/// What the listing says about booking it: an instrument awaiting repair or scrapping takes no
/// bookings, nor one that fails often unless its unit allows it; one shared internally takes
/// bookings from its own legal entity only (the own-unit price tier).
fn check_listing(inst: &InstrumentRow, rules: &Rules, tier: PriceTier) -> AppResult<()> {
    let out = match inst.run_status {
        RunStatus::AwaitingRepair | RunStatus::AwaitingScrap => true,
        RunStatus::FrequentFault => !rules.settings.book_when_faulty,
        _ => false,
    };
    if out {
        return Err(AppError::rule(
            ErrorCode::OutOfService,
            "instrument_id",
            format!(
                "该仪器目前{}，暂停预约 (out of service: {})",
                inst.run_status.label_zh(),
                inst.run_status.code()
            ),
        ));
    }
    if inst.share_mode == ShareMode::Internal && tier != PriceTier::OwnUnit {
        return Err(AppError::Forbidden {
            code: ErrorCode::InternalOnly,
            message:
                "该仪器只在本单位内部共享，仅接受本单位人员的预约 (shared within its own unit only)"
                    .to_owned(),
        });
    }
    Ok(())
}

/// Whether the instrument's managers offer this way of using it.
fn check_offered(modes: BookingModes, kind: ReservationKind) -> AppResult<()> {
    let offered = match modes {
        BookingModes::Both => true,
        BookingModes::MachineTime => kind == ReservationKind::MachineTime,
        BookingModes::SampleOrder => kind == ReservationKind::SampleOrder,
    };
    if offered {
        return Ok(());
    }
    Err(AppError::rule(
        ErrorCode::ModeNotOffered,
        "kind",
        format!("该仪器只提供{} (only {})", modes.label_zh(), modes.code()),
    ))
}

/// A ban stops every booking; operating the instrument yourself may need a qualification.
fn check_may_book(
    conn: &mut DbConnection,
    who: &Principal,
    inst: &InstrumentRow,
    rules: &Rules,
    operates: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(ban) = quals::active_ban(conn, who.id, inst, now)? {
        return Err(AppError::Forbidden {
            code: ErrorCode::Banned,
            message: format!(
                "您的预约权限暂停至 {}（{}）(banned until {})",
                local_date_time(ban.ends_at),
                ban.reason,
                ban.ends_at.to_rfc3339()
            ),
        });
    }
    if operates
        && rules.settings.qualification_required
        && quals::qualification_level(conn, who.id, inst.id, now)?.is_none()
    {
        return Err(AppError::Forbidden {
            code: ErrorCode::QualificationRequired,
            message: "自行上机须先获得该仪器的上机资格，也可选择“需要技术人员操作或指导” (a qualification is required to operate it yourself)"
                .to_owned(),
        });
    }
    Ok(())
}

/// What a new reservation will be: its first status, times or samples, and fee.
struct Planned {
    status: ReservationStatus,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    sample_count: Option<i32>,
    sample_description: String,
    wanted_by: Option<NaiveDate>,
    fee_fen: i64,
}

fn plan(
    req: &BookingRequest,
    rules: &Rules,
    tier: crate::users::model::PriceTier,
    now: DateTime<Utc>,
) -> AppResult<Planned> {
    match &req.asked {
        Asked::MachineTime {
            starts_at, ends_at, ..
        } => Ok(Planned {
            status: if rules.settings.approval_required {
                ReservationStatus::Pending
            } else {
                ReservationStatus::Approved
            },
            starts_at: Some(naive(*starts_at)),
            ends_at: Some(naive(*ends_at)),
            sample_count: None,
            sample_description: String::new(),
            wanted_by: None,
            fee_fen: rules.fee(tier, (*ends_at - *starts_at).num_minutes(), 0),
        }),
        Asked::SampleOrder {
            sample_count,
            sample_description,
            wanted_by,
            ..
        } => {
            let n =
                sample_count.ok_or_else(|| AppError::invalid("sample_count", "必填 (required)"))?;
            if !(1..=rules.settings.max_samples).contains(&n) {
                return Err(AppError::rule(
                    ErrorCode::TooManySamples,
                    "sample_count",
                    format!(
                        "每次 1 到 {} 个样品 (1 to {} samples)",
                        rules.settings.max_samples, rules.settings.max_samples
                    ),
                ));
            }
            let description = validate::text("sample_description", sample_description, 1, 500)?;
            let today = now.with_timezone(&PLATFORM_ZONE).date_naive();
            if wanted_by.is_some_and(|d| d < today) {
                return Err(AppError::rule(
                    ErrorCode::InvalidInterval,
                    "wanted_by",
                    "期望日期不能早于今天 (cannot be in the past)",
                ));
            }
            Ok(Planned {
                status: ReservationStatus::Submitted,
                starts_at: None,
                ends_at: None,
                sample_count: Some(n),
                sample_description: description,
                wanted_by: *wanted_by,
                fee_fen: rules.fee(tier, 0, n as i64),
            })
        }
    }
}

/// At most `max_active_per_user` open bookings per person and instrument (checked under
/// the instrument's lock, so two tabs cannot both pass it).
fn check_active_limit(
    conn: &mut DbConnection,
    who: &Principal,
    inst: &InstrumentRow,
    rules: &Rules,
) -> AppResult<()> {
    if store::count_active_of(conn, who.id, inst.id)? >= rules.settings.max_active_per_user as i64 {
        return Err(AppError::conflict(
            ErrorCode::TooManyActive,
            format!(
                "您在该仪器上已有 {} 个未完成的预约 (at most {} active bookings)",
                rules.settings.max_active_per_user, rules.settings.max_active_per_user
            ),
        ));
    }
    Ok(())
}

/// The first answer to a request repeated with its Idempotency-Key; the key reused for a
/// different request is refused, since answering with the first booking would hide that the
/// second was never made.
fn replay(
    (row, asked): (ReservationRow, Option<String>),
    fingerprint: &str,
) -> AppResult<(Reservation, bool)> {
    if asked.as_deref().is_some_and(|a| a != fingerprint) {
        return Err(AppError::rule(
            ErrorCode::IdempotencyKeyReused,
            "Idempotency-Key",
            "这个 Idempotency-Key 已用于另一个请求 (the key was used for a different request)",
        ));
    }
    Ok((Reservation::from(row), false))
}

/// "仪器，time – time" or "仪器，送样 N 个", from a reservation's times and sample count.
fn describe(
    (starts, ends, samples): (Option<NaiveDateTime>, Option<NaiveDateTime>, Option<i32>),
    inst: &InstrumentRow,
) -> String {
    match (starts, ends) {
        (Some(s), Some(e)) => format!(
            "{}，{} – {}",
            inst.name_zh,
            local_date_time(s.and_utc()),
            local_date_time(e.and_utc())
        ),
        _ => format!("{}，送样 {} 个", inst.name_zh, samples.unwrap_or(0)),
    }
}

/// The e-mails of a new booking: the booker's confirmation where it needed no approval, else
/// a request to each of the instrument's staff.
fn notices_new(
    conn: &mut DbConnection,
    row: &NewReservation,
    inst: &InstrumentRow,
    who: &Principal,
    public_url: &str,
) -> AppResult<Vec<mail::model::Message>> {
    let what = describe((row.starts_at, row.ends_at, row.sample_count), inst);
    if row.status == ReservationStatus::Approved {
        let link = format!("{public_url}/reservations");
        return Ok(vec![Notice {
            kind: "reservation_approved",
            to: &who.email,
            name: &who.name,
            subject: &format!("预约成功：{}", inst.name_zh),
            paragraphs: vec![
                format!("您的预约已确认：{what}。"),
                format!("预计费用：{:.2} 元。", row.fee_estimate_fen as f64 / 100.0),
            ],
            link: Some(("我的预约", &link)),
            footer: "",
            related: None,
        }
        .render()?]);
    }
    let queue = format!("{public_url}/manage/reservations");
    people::staff_to_notify(conn, inst.unit_id, inst.id)?
        .into_iter()
        .map(|(email, name)| {
            Notice {
                kind: "reservation_requested",
                to: &email,
                name: &name,
                subject: &format!("新的预约申请：{}", inst.name_zh),
                paragraphs: vec![format!("{}（{}）申请：{what}。", who.name, who.email)],
                link: Some(("去审核 Review", &queue)),
                footer: "您收到此邮件，是因为您负责这台仪器或是本单位管理员。",
                related: None,
            }
            .render()
        })
        .collect()
}

/// What a step may carry: a reason (reject, cancel), a new time (approve with a move), a
/// planned date (accepting a sample order).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    pub reason: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub planned_on: Option<NaiveDate>,
    /// Check-out: idle minutes to leave out of the effective hours (有效机时).
    pub idle_minutes: Option<i64>,
    /// Check-out: the service type of the record (default testing).
    pub service_type: Option<String>,
    /// Completing a sample order: the machine time the staff spent on its samples, in
    /// minutes (required, 0 to 10,080): the record's 有效机时.
    pub machine_minutes: Option<i64>,
}

/// A step's details, parsed: the API's body and the web forms both build one.
#[derive(Debug, Default)]
pub struct StepCommand {
    pub reason: Option<String>,
    /// Approve with a move to this slot.
    pub moved_to: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub planned_on: Option<NaiveDate>,
    pub idle_minutes: Option<i64>,
    pub service_type: Option<ServiceType>,
    pub machine_minutes: Option<i64>,
}

impl StepCommand {
    /// Reads `step`'s body; a service type is read only where a step records a service.
    pub fn from_input(input: StepInput, step: Step) -> AppResult<StepCommand> {
        let moved_to = match (&input.starts_at, &input.ends_at) {
            (Some(s), Some(e)) => Some((instant("starts_at", s)?, instant("ends_at", e)?)),
            (None, None) => None,
            _ => {
                return Err(AppError::invalid(
                    "ends_at",
                    "移动时间须同时给出 starts_at 和 ends_at",
                ))
            }
        };
        let service_type = match &input.service_type {
            Some(t) if matches!(step, Step::CheckOut | Step::Complete) => {
                Some(ServiceType::from_code(t).ok_or_else(|| {
                    AppError::invalid("service_type", format!("one of {}", ServiceType::codes()))
                })?)
            }
            _ => None,
        };
        Ok(StepCommand {
            reason: input.reason,
            moved_to,
            planned_on: input.planned_on,
            idle_minutes: input.idle_minutes,
            service_type,
            machine_minutes: input.machine_minutes,
        })
    }
}

/// Who is taking a step: a person, or a job of the service.
pub enum Actor<'a> {
    Person(&'a Principal),
    System,
}

/// Takes `step` on reservation `id`: checks the transition and the permission, writes the
/// row and its history, e-mails the booker, and audits staff decisions.
pub fn take_step(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    id: ReservationId,
    step: Step,
    cmd: &StepCommand,
    now: DateTime<Utc>,
) -> AppResult<Reservation> {
    let taken = db::write_tx(conn, |conn| {
        let (row, inst) = locked(conn, id)?;
        let is_staff = standing(&actor, &inst, &row, step)?;
        let from = row.status;
        let to = transition(&row, step)?;
        let rules = rules_for(conn, inst.id)?;
        let (new, note) = apply_step(conn, &rules, &inst, &row, step, to, cmd, is_staff, now)?;
        if store::set_status(conn, &new, from, naive(now)).map_err(exclusion)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "预约已被他人处理 (already changed)",
            ));
        }
        store::insert_history(
            conn,
            &NewHistory {
                reservation_id: row.id,
                from_status: Some(from),
                to_status: to,
                actor_id: match &actor {
                    Actor::Person(p) => Some(p.id),
                    Actor::System => None,
                },
                note: note.clone(),
                at: naive(now),
            },
        )?;
        if to == ReservationStatus::Completed {
            write_service_record(conn, &rules, &new, cmd, now)?;
        }
        if to.ended_without_service() {
            // A voucher asked for this booking is given back with it.
            crate::vouchers::service::booking_ended(conn, row.id, now)?;
        }
        tell_booker(conn, &new, &inst, step, &note, now)?;
        // Staff deciding on someone else's booking is audited; a booker's own step is not.
        if let Actor::Person(p) = &actor {
            if is_staff && p.id != row.user_id {
                audit::record(
                    conn,
                    Some(p.id),
                    &format!("reservation.{}", step.code()),
                    Target("reservation", Some(row.id.0)),
                    Some(&Reservation::from(row.clone())),
                    Some(&Reservation::from(new.clone())),
                    naive(now),
                )?;
            }
        }
        let saved = store::find(conn, id)?.ok_or(AppError::NotFound {
            what: "reservation",
        })?;
        Ok(Reservation::from(saved))
    })?;
    if taken.status == ReservationStatus::Completed {
        usage::note_write();
    }
    Ok(taken)
}

/// The reservation and its instrument, read under the instrument's lock (so two managers
/// deciding at once are serialised).
fn locked(
    conn: &mut DbConnection,
    id: ReservationId,
) -> AppResult<(ReservationRow, InstrumentRow)> {
    let missing = || AppError::NotFound {
        what: "reservation",
    };
    let row = store::find(conn, id)?.ok_or_else(missing)?;
    store::lock_instrument(conn, row.instrument_id)?;
    let row = store::find(conn, id)?.ok_or_else(missing)?;
    let inst = catalogue::find_instrument(conn, row.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    Ok((row, inst))
}

/// Whether the actor acts as the instrument's staff (`true`) or as the booker cancelling
/// their own booking (`false`); anyone else is refused.
fn standing(
    actor: &Actor<'_>,
    inst: &InstrumentRow,
    row: &ReservationRow,
    step: Step,
) -> AppResult<bool> {
    let is_staff = match actor {
        Actor::System => true,
        Actor::Person(p) => {
            let staff = crate::auth::permissions::allowed(p, run_action(inst));
            let own_cancel = step == Step::Cancel && p.id == row.user_id;
            if !staff && !own_cancel {
                if p.id != row.user_id {
                    // Another person's booking: not found, as far as they are concerned.
                    return Err(AppError::NotFound {
                        what: "reservation",
                    });
                }
                return Err(AppError::forbidden(
                    "只有仪器负责人可以执行此操作 (for the instrument's staff)",
                ));
            }
            staff
        }
    };
    if matches!(step, Step::Expire | Step::MarkNoShow) && !matches!(actor, Actor::System) {
        return Err(AppError::forbidden(
            "由系统自动执行 (done by the service itself)",
        ));
    }
    Ok(is_staff)
}

/// The status `step` leads to from the reservation's, or 409 naming the current one.
fn transition(row: &ReservationRow, step: Step) -> AppResult<ReservationStatus> {
    let from = row.status;
    next(row.kind, from, step).ok_or_else(|| {
        AppError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "预约当前为「{}」，不能{}（可能已被他人处理，请刷新） (cannot {} a reservation that is {})",
                from.label_zh(),
                step.label_zh(),
                step.code(),
                from.code()
            ),
        )
    })
}

/// The reservation after `step` (status `to`), and the note its history keeps.
#[allow(clippy::too_many_arguments)]
fn apply_step(
    conn: &mut DbConnection,
    rules: &Rules,
    inst: &InstrumentRow,
    row: &ReservationRow,
    step: Step,
    to: ReservationStatus,
    cmd: &StepCommand,
    is_staff: bool,
    now: DateTime<Utc>,
) -> AppResult<(ReservationRow, String)> {
    let mut new = row.clone();
    new.status = to;
    let mut note = String::new();
    match step {
        Step::Reject => {
            let reason = validate::text("reason", cmd.reason.as_deref().unwrap_or(""), 1, 500)?;
            new.reason = Some(reason.clone());
            note = reason;
        }
        Step::Cancel => {
            if let Some(r) = &cmd.reason {
                new.reason = Some(validate::text("reason", r, 0, 500)?);
            }
            check_timing(step, &Reservation::from(row.clone()), is_staff, rules, now)?;
        }
        Step::Approve => {
            if let Some((s, e)) = cmd.moved_to {
                check_machine_time(conn, rules, inst, s, e, now, Some(row.id))?;
                new.starts_at = Some(naive(s));
                new.ends_at = Some(naive(e));
                new.fee_estimate_fen = rules.fee(row.price_tier, (e - s).num_minutes(), 0);
                note = format!("时间调整为 {} – {}", local_date_time(s), local_date_time(e));
            }
        }
        Step::CheckIn => {
            check_timing(step, &Reservation::from(row.clone()), is_staff, rules, now)?;
            new.checked_in_at = Some(naive(now));
        }
        Step::CheckOut => {
            new.checked_out_at = Some(naive(now));
        }
        Step::Accept => {
            let planned = cmd.planned_on.ok_or_else(|| {
                AppError::invalid(
                    "planned_on",
                    "受理须给出计划检测日期 (planned_on is required)",
                )
            })?;
            new.planned_on = Some(planned);
            note = format!("计划 {planned} 检测");
        }
        _ => {}
    }
    Ok((new, note))
}

/// When a step may be taken, beyond the transition table: the booker cancels only before the
/// instrument's deadline; check-in opens 30 minutes before the start and closes at the end.
/// The step itself asks it, and so does a page before it offers the button.
pub fn check_timing(
    step: Step,
    r: &Reservation,
    is_staff: bool,
    rules: &Rules,
    now: DateTime<Utc>,
) -> AppResult<()> {
    match (step, r.starts_at, r.ends_at) {
        (Step::Cancel, Some(starts), _) if !is_staff => {
            let notice = rules.settings.cancel_deadline_minutes as i64;
            if now > starts - Duration::minutes(notice) {
                return Err(AppError::conflict(
                    ErrorCode::TooLateToCancel,
                    format!(
                        "开始前 {}内不能取消，请联系仪器负责人 (cancel at least {notice} minutes ahead, or ask the manager)",
                        duration_zh(notice)
                    ),
                ));
            }
        }
        (Step::CheckIn, Some(starts), Some(ends))
            if now < starts - Duration::minutes(30) || now >= ends =>
        {
            return Err(AppError::conflict(
                ErrorCode::NotNow,
                format!(
                    "可在 {} 至 {} 之间签到 (check in from 30 minutes before the start until the end)",
                    day_time_zh(starts - Duration::minutes(30), now),
                    day_time_zh(ends, now)
                ),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The steps a person may take on a reservation now: those the transition table allows from
/// its state, that are theirs to take (staff take any; a booker only cancels), and whose
/// time has come ([`check_timing`]). What a page offers as buttons.
pub fn offered_steps(
    r: &Reservation,
    is_staff: bool,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Vec<Step> {
    Step::ALL
        .iter()
        .copied()
        .filter(|s| !matches!(s, Step::Expire | Step::MarkNoShow))
        .filter(|s| is_staff || *s == Step::Cancel)
        .filter(|s| next(r.kind, r.status, *s).is_some())
        .filter(|s| check_timing(*s, r, is_staff, rules, now).is_ok())
        .collect()
}

/// A reservation as a page lists it: the instrument (where, whom to call), the booker (for
/// staff to decide), whether the booker is of the host unit, and the steps the viewer may
/// take on it now.
pub struct Listed {
    pub r: Reservation,
    pub instrument: Option<InstrumentBrief>,
    pub booker: Option<Contact>,
    pub internal: bool,
    pub steps: Vec<Step>,
}

/// [`list`], with what a page shows beside each reservation, read in one query per kind.
pub fn list_for_page(
    conn: &mut DbConnection,
    who: &Principal,
    rules_cache: &RulesCache,
    f: store::Filter,
    mine: bool,
    page: PageRequest,
    now: DateTime<Utc>,
) -> AppResult<Paged<Listed>> {
    let list = list(conn, who, f, mine, page)?;
    let mut ids: Vec<InstrumentId> = list.items.iter().map(|r| r.instrument_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut users: Vec<UserId> = list.items.iter().map(|r| r.user_id).collect();
    users.sort_unstable();
    users.dedup();
    let briefs: HashMap<InstrumentId, InstrumentBrief> = catalogue::instrument_briefs(conn, &ids)?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let people: HashMap<UserId, Contact> = people::contacts(conn, &users)?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let rules = crate::reservations::availability::rules_of(conn, rules_cache, &ids)?;
    let items = list
        .items
        .into_iter()
        .map(|r| {
            let brief = briefs.get(&r.instrument_id).cloned();
            let is_staff = brief.as_ref().is_some_and(|b| {
                crate::auth::permissions::allowed(
                    who,
                    Action::RunInstrument {
                        unit: b.unit_id,
                        instrument: b.id,
                    },
                )
            });
            let steps = match rules.get(&r.instrument_id) {
                Some(rules) if is_staff || r.user_id == who.id => {
                    offered_steps(&r, is_staff, rules, now)
                }
                _ => Vec::new(),
            };
            Listed {
                internal: r.price_tier == PriceTier::OwnUnit,
                booker: people.get(&r.user_id).cloned(),
                instrument: brief,
                steps,
                r,
            }
        })
        .collect();
    Ok(Paged {
        items,
        total: list.total,
        page: list.page,
        per_page: list.per_page,
    })
}

/// How many reservations the viewer sees under `f` (a page's tab).
pub fn count_visible(conn: &mut DbConnection, who: &Principal, f: store::Filter) -> AppResult<i64> {
    Ok(store::count(conn, &visible(who, f, false))?)
}

/// `f` narrowed to what `who` sees ([`visibility`]); `mine` asks for their own.
fn visible(who: &Principal, mut f: store::Filter, mine: bool) -> store::Filter {
    match visibility(who, mine) {
        Visibility::Own => f.user = Some(who.id),
        Visibility::All => {}
        Visibility::Unit(unit) => f.unit_instruments_of = Some(unit),
        Visibility::Instruments(ids) => f.instruments = Some(ids),
    }
    f
}

/// The most machine time one sample order may record: a week around the clock.
const MAX_SAMPLE_MINUTES: i64 = 7 * 24 * 60;

/// Check-out (or completing a sample order) writes the national service record: the actual
/// minutes less the idle time the staff report, the client and their organisation, internal
/// or external, the fee in fen (for the time used, idle included).
fn write_service_record(
    conn: &mut DbConnection,
    rules: &Rules,
    row: &ReservationRow,
    cmd: &StepCommand,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let service_type = cmd.service_type.unwrap_or(ServiceType::Testing);
    let input_idle = cmd.idle_minutes.unwrap_or(0);
    if input_idle < 0 {
        return Err(AppError::invalid("idle_minutes", "不能为负 (not negative)"));
    }
    let user = people::find_user(conn, row.user_id)?;
    let tier = row.price_tier;
    // (start, end, machine minutes, samples, way, minutes billed by the hour)
    let (starts, ends, minutes, samples, way, billed) = match row.kind {
        ReservationKind::MachineTime => {
            let s = row.checked_in_at.or(row.starts_at).unwrap_or(naive(now));
            let e = row.checked_out_at.unwrap_or(naive(now));
            let minutes = (e - s).num_minutes().max(0);
            // Operated from afar: 远程共享; staff who operated or guided it: 技术共享.
            let way = if row.remote {
                ServiceWay::Remote
            } else if row.staff_assist {
                ServiceWay::Technical
            } else {
                ServiceWay::Occupy
            };
            (Some(s), Some(e), minutes, 0, way, minutes)
        }
        // 委托共享: the staff's machine time on the samples counts as hours; the fee is by
        // the sample.
        ReservationKind::SampleOrder => {
            let minutes = cmd.machine_minutes.ok_or_else(|| {
                AppError::invalid(
                    "machine_minutes",
                    "请填写检测这批样品实际占用的机时（分钟） (required)",
                )
            })?;
            if !(0..=MAX_SAMPLE_MINUTES).contains(&minutes) {
                return Err(AppError::invalid(
                    "machine_minutes",
                    format!("0 到 {MAX_SAMPLE_MINUTES} 分钟 (0..={MAX_SAMPLE_MINUTES})"),
                ));
            }
            let samples = row.sample_count.unwrap_or(0) as i64;
            (None, None, minutes, samples, ServiceWay::Entrusted, 0)
        }
    };
    let starts_or_now = starts.unwrap_or(naive(now));
    let idle = input_idle.clamp(0, minutes);
    usage::record(
        conn,
        &NewServiceRecord {
            reservation_id: Some(row.id),
            instrument_id: row.instrument_id,
            client_user_id: Some(row.user_id),
            client_organisation_id: user.as_ref().and_then(|u| u.organisation_id),
            internal: tier.is_internal(),
            service_type,
            service_way: way,
            starts_at: starts,
            ends_at: ends,
            minutes: (minutes - idle) as i32,
            sample_count: samples as i32,
            fee_fen: rules.fee(tier, billed, samples),
            project: row.project.clone(),
            funding_source: row.funding_source.clone(),
            note: String::new(),
            created_at: naive(now),
            served_on: usage::local_day(starts_or_now.and_utc()),
            idle_minutes: idle as i32,
            logged_by: None,
            national: NationalFields {
                // 服务内容: what the booker said the work is, or the samples' description.
                content: if row.purpose.trim().is_empty() {
                    &row.sample_description
                } else {
                    &row.purpose
                }
                .chars()
                .take(200)
                .collect(),
                direction: row.direction,
                applicant_name: user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                applicant_phone: user.as_ref().map(|u| u.phone.clone()).unwrap_or_default(),
                applicant_email: user.as_ref().map(|u| u.email.clone()).unwrap_or_default(),
            },
        },
    )?;
    Ok(())
}

fn tell_booker(
    conn: &mut DbConnection,
    row: &ReservationRow,
    inst: &InstrumentRow,
    step: Step,
    note: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(user) = people::find_user(conn, row.user_id)? else {
        return Ok(());
    };
    let what = describe((row.starts_at, row.ends_at, row.sample_count), inst);
    let (subject, mut paragraphs) = match step {
        Step::Approve => (
            format!("预约已批准：{}", inst.name_zh),
            vec![format!("您的预约已批准：{what}。")],
        ),
        Step::Reject => (
            format!("预约未获批准：{}", inst.name_zh),
            vec![format!("您的预约未获批准：{what}。")],
        ),
        Step::Cancel => (
            format!("预约已取消：{}", inst.name_zh),
            vec![format!("预约已取消：{what}。")],
        ),
        Step::Expire => (
            format!("预约已过期：{}", inst.name_zh),
            vec![format!("直到开始时仍无人审核，预约已失效：{what}。")],
        ),
        Step::MarkNoShow => (
            format!("记为爽约：{}", inst.name_zh),
            vec![format!(
                "您未在宽限时间内签到，预约记为爽约，时段已释放：{what}。"
            )],
        ),
        Step::Accept => (
            format!("送样已受理：{}", inst.name_zh),
            vec![format!("您的送样已受理：{what}。")],
        ),
        Step::Report => (
            format!("检测报告已出具：{}", inst.name_zh),
            vec![format!("您的送样检测已完成并出具报告：{what}。")],
        ),
        // Check-in, check-out, start of a test: the booker is there or needs no mail.
        _ => return Ok(()),
    };
    if !note.is_empty() {
        paragraphs.push(if step == Step::Reject {
            format!("原因：{note}")
        } else {
            format!("说明：{note}")
        });
    }
    mail::enqueue(
        conn,
        &Notice {
            kind: match step {
                Step::Approve => "reservation_approved",
                Step::Reject => "reservation_rejected",
                Step::Cancel => "reservation_cancelled",
                Step::Expire => "reservation_expired",
                Step::MarkNoShow => "reservation_no_show",
                Step::Accept => "sample_accepted",
                _ => "sample_reported",
            },
            to: &user.email,
            name: &user.name,
            subject: &subject,
            paragraphs,
            link: None,
            footer: "",
            related: Some(("reservation", row.id.0)),
        }
        .render()?,
        naive(now),
    )
}

/// One reservation: its booker, the instrument's staff, platform admins.
pub fn get(conn: &mut DbConnection, who: &Principal, id: ReservationId) -> AppResult<Reservation> {
    let row = store::find(conn, id)?.ok_or(AppError::NotFound {
        what: "reservation",
    })?;
    if row.user_id != who.id {
        let inst = catalogue::find_instrument(conn, row.instrument_id)?
            .ok_or(AppError::NotFound { what: "instrument" })?;
        // Whom the list shows it to (the booker, the instrument's staff) may read it; for
        // anyone else it does not exist, so that a 403 cannot tell that it does.
        if !crate::auth::permissions::allowed(who, run_action(&inst)) {
            return Err(AppError::NotFound {
                what: "reservation",
            });
        }
    }
    Ok(Reservation::from(row))
}

/// Mine, or for staff their unit's (managers: their instruments'); platform admins all.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    f: store::Filter,
    mine: bool,
    page: PageRequest,
) -> AppResult<Paged<Reservation>> {
    let (rows, total) = store::list(conn, &visible(who, f, mine), page)?;
    Ok(Paged::new(
        rows.into_iter().map(Reservation::from).collect(),
        total,
        page,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlackoutInput {
    pub starts_at: String,
    pub ends_at: String,
    pub reason: String,
}

/// A maintenance window: nobody can book over it. Bookings already there must be moved or
/// cancelled first (409 names one), so no one loses a slot without being told.
pub fn add_blackout(
    conn: &mut DbConnection,
    who: &Principal,
    id: InstrumentId,
    input: &BlackoutInput,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let starts = instant("starts_at", &input.starts_at)?;
    let ends = instant("ends_at", &input.ends_at)?;
    if ends <= starts {
        return Err(AppError::rule(
            ErrorCode::InvalidInterval,
            "ends_at",
            "结束时间必须晚于开始时间",
        ));
    }
    let reason = validate::line("reason", &input.reason, 1, 200)?;
    db::write_tx(conn, |conn| {
        if !store::lock_instrument(conn, id)? {
            return Err(AppError::NotFound { what: "instrument" });
        }
        instrument_to_run(conn, who, id, || AppError::NotFound { what: "instrument" })?;
        if let Some(row) = store::busy(
            conn,
            &[id],
            naive(starts),
            naive(ends),
            Duration::zero(),
            None,
        )?
        .iter()
        .filter(|b| !b.blackout)
        .min_by_key(|b| b.starts_at)
        {
            return Err(conflict(row, now));
        }
        let bid = store::insert_blackout(
            conn,
            id,
            naive(starts),
            naive(ends),
            &reason,
            who.id,
            naive(now),
        )?;
        audit::record(
            conn,
            Some(who.id),
            "blackout.create",
            Target("instrument", Some(id.0)),
            None::<&()>,
            Some(
                &serde_json::json!({"id": bid, "starts_at": starts, "ends_at": ends, "reason": reason}),
            ),
            naive(now),
        )?;
        Ok(bid)
    })
}
