//! The machine-hour log: who records a service and who may read it. Corrections are in
//! `reductions`, the figures in `stats`, the yearly evaluation in `evaluation`.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};

use super::model::*;
use super::store::{self, Delta};
use crate::auth::permissions::{visibility, Visibility};
use crate::auth::{authorize, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::mail::{
    self,
    templates::{page_url, Notice},
};
use crate::navigation::service::{instrument_to_run, no_such_instrument};
use crate::navigation::store as catalogue;
use crate::types::{PageRequest, Paged, ServiceRecordId, UnitId, PLATFORM_ZONE};
use crate::users::store as people;
use crate::validate;
use crate::validate::instant;

/// Writes to the records made by this process, counted after each commit: a cached overview
/// computed before the last write is not served again.
pub(super) static WRITES: AtomicU64 = AtomicU64::new(0);

pub fn note_write() {
    WRITES.fetch_add(1, Ordering::SeqCst);
}

/// Writes a service record and adds it to the rollups, inside the caller's transaction.
pub fn record(conn: &mut DbConnection, row: &NewServiceRecord) -> AppResult<ServiceRecordId> {
    let inst = catalogue::find_instrument(conn, row.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    let id = store::insert(conn, row)?;
    invite_to_rate(conn, id, row)?;
    store::add_to_rollups(
        conn,
        &Delta {
            instrument_id: row.instrument_id,
            unit_id: inst.unit_id,
            month: month_of(row.served_on),
            service_type: row.service_type,
            service_way: row.service_way,
            direction: row.national.direction,
            internal: row.internal,
            organisation_id: row.client_organisation_id,
            services: 1,
            minutes: i64::from(row.minutes),
            samples: i64::from(row.sample_count),
            fee_fen: row.fee_fen,
        },
    )?;
    crate::cache::changed(conn, crate::cache::Topic::Usage)?;
    Ok(id)
}

/// Asks the client of a new service record to rate it (the form is `evaluation`'s), inside
/// the transaction that writes the record. Services of clients without an account ask nobody.
fn invite_to_rate(
    conn: &mut DbConnection,
    record: ServiceRecordId,
    row: &NewServiceRecord,
) -> AppResult<()> {
    let Some(client) = row.client_user_id else {
        return Ok(());
    };
    let Some(user) = people::find_user(conn, client)? else {
        return Ok(());
    };
    let name = catalogue::find_instrument(conn, row.instrument_id)?
        .map(|i| i.name_zh)
        .unwrap_or_default();
    mail::enqueue(
        conn,
        &Notice {
            kind: "rating_invited",
            to: &user.email,
            name: &user.name,
            subject: &format!("请评价本次服务：{name}"),
            paragraphs: vec![
                format!(
                    "您于 {} 使用了 {name}。请为这次服务评价，您的意见会帮助仪器所在单位改进服务；评价只能在服务后的一段时间内提交。",
                    row.served_on.format("%Y年%-m月%-d日"),
                ),
            ],
            link: Some((
                "评价这次服务",
                &page_url(&format!("/me/services/{}/rate", record.0)),
            )),
            footer: "",
            related: Some(("service_record", record.0)),
        }
        .render()?,
        row.created_at,
    )?;
    Ok(())
}

/// The instruments whose queues the person works (`None`: all of them, for the platform); a
/// researcher has none and is refused.
pub fn staff_scope(conn: &mut DbConnection, who: &Principal) -> AppResult<Option<Vec<i64>>> {
    Ok(match visibility(who, false) {
        Visibility::All => None,
        Visibility::Unit(unit) => Some(
            store::unit_instruments(conn, unit)?
                .into_iter()
                .map(|i| i.0)
                .collect(),
        ),
        Visibility::Instruments(ids) => Some(ids.iter().map(|i| i.0).collect()),
        Visibility::Own => return Err(AppError::forbidden("仅限仪器管理人员 (staff only)")),
    })
}

/// The local (Asia/Shanghai) date of an instant: the day a service counts on.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&PLATFORM_ZONE).date_naive()
}

pub(super) fn amount(field: &str, value: i64, max: i64) -> AppResult<i32> {
    if !(0..=max).contains(&value) {
        return Err(AppError::invalid(
            field,
            format!("必须在 0 到 {max} 之间 (0..={max})"),
        ));
    }
    Ok(value as i32)
}

/// A service logged by the instrument's staff outside a booking.
pub fn log_service(
    conn: &mut DbConnection,
    who: &Principal,
    input: ServiceInput,
    now: DateTime<Utc>,
) -> AppResult<ServiceRecord> {
    let inst = instrument_to_run(conn, who, input.instrument_id, no_such_instrument)?;
    let service_type = ServiceType::from_code(&input.service_type).ok_or_else(|| {
        AppError::invalid("service_type", format!("one of {}", ServiceType::codes()))
    })?;
    let service_way = ServiceWay::from_code(&input.service_way).ok_or_else(|| {
        AppError::invalid("service_way", format!("one of {}", ServiceWay::codes()))
    })?;
    let org = people::find_organisation(conn, input.client_organisation_id)?.ok_or_else(|| {
        AppError::invalid(
            "client_organisation_id",
            "没有这个单位 (no such organisation)",
        )
    })?;
    let client = match input.client_user_id {
        Some(user) => {
            let found = people::find_user(conn, user)?.ok_or_else(|| {
                AppError::invalid("client_user_id", "没有这个用户 (no such user)")
            })?;
            if found.organisation_id.is_some_and(|o| o != org.id) {
                return Err(AppError::invalid(
                    "client_user_id",
                    "该用户不属于所选单位 (the client belongs to another organisation)",
                ));
            }
            Some(found)
        }
        None => None,
    };
    let national = national_fields(&input, client.as_ref())?;
    let idle = amount("idle_minutes", input.idle_minutes, 24 * 60 * 366)?;
    let (starts, ends, served_on, minutes) = match (&input.starts_at, &input.ends_at) {
        (Some(s), Some(e)) => {
            let (s, e) = (instant("starts_at", s)?, instant("ends_at", e)?);
            if e <= s {
                return Err(AppError::invalid(
                    "ends_at",
                    "结束须晚于开始 (ends after it starts)",
                ));
            }
            let served = (e - s).num_minutes();
            if i64::from(idle) > served {
                return Err(AppError::invalid(
                    "idle_minutes",
                    "空转时间不能超过服务时长 (idle time exceeds the time served)",
                ));
            }
            (
                Some(naive(s)),
                Some(naive(e)),
                local_day(s),
                served - i64::from(idle),
            )
        }
        (None, None) => {
            let day = input.served_on.ok_or_else(|| {
                AppError::invalid(
                    "served_on",
                    "请填写服务日期或起止时间 (a date, or start and end)",
                )
            })?;
            let minutes = input.minutes.ok_or_else(|| {
                AppError::invalid("minutes", "请填写有效机时 (effective minutes)")
            })?;
            (None, None, day, minutes)
        }
        (None, Some(_)) => return Err(AppError::invalid("starts_at", "required with ends_at")),
        (Some(_), None) => return Err(AppError::invalid("ends_at", "required with starts_at")),
    };
    if served_on > local_day(now) {
        return Err(AppError::invalid(
            "served_on",
            "服务尚未发生 (the service lies in the future)",
        ));
    }
    // A service counts in the years its instrument was listed.
    if served_on < inst.listed_on {
        return Err(AppError::invalid(
            "served_on",
            format!(
                "早于仪器的入网日期 {} (before the instrument joined the platform)",
                inst.listed_on
            ),
        ));
    }
    let minutes = amount("minutes", minutes, 24 * 60 * 366)?;
    let row = NewServiceRecord {
        reservation_id: None,
        instrument_id: inst.id,
        client_user_id: input.client_user_id,
        client_organisation_id: Some(org.id),
        internal: input.internal.unwrap_or(org.unit_id == Some(inst.unit_id)),
        service_type,
        service_way,
        starts_at: starts,
        ends_at: ends,
        minutes,
        sample_count: amount("sample_count", input.sample_count, 1_000_000)?,
        fee_fen: i64::from(amount("fee_fen", input.fee_fen, i64::from(i32::MAX))?),
        project: validate::line("project", &input.project, 0, 200)?,
        funding_source: ProjectFunding::checked("funding_source", &input.funding_source)?,
        note: validate::text("note", &input.note, 0, 500)?,
        created_at: naive(now),
        served_on,
        idle_minutes: idle,
        logged_by: Some(who.id),
        national,
    };
    let id = db::write_tx(conn, |c| record(c, &row))?;
    note_write();
    let found = store::find(conn, id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    Ok(ServiceRecord::from(found))
}

/// The national record's fields of a logged service, checked: the applicant defaults to the
/// client's account.
fn national_fields(
    input: &ServiceInput,
    client: Option<&crate::users::model::UserRow>,
) -> AppResult<NationalFields> {
    let or_client = |given: &str, from: fn(&crate::users::model::UserRow) -> &str| {
        if given.trim().is_empty() {
            client.map(|c| from(c).to_owned()).unwrap_or_default()
        } else {
            given.to_owned()
        }
    };
    Ok(NationalFields {
        content: validate::line("content", &input.content, 0, 200)?,
        direction: Direction::checked("direction", input.direction.as_deref())?,
        applicant_name: validate::line(
            "applicant_name",
            &or_client(&input.applicant_name, |c| &c.name),
            0,
            50,
        )?,
        applicant_phone: validate::phone(
            "applicant_phone",
            &or_client(&input.applicant_phone, |c| &c.phone),
        )?,
        applicant_email: validate::optional_email(
            "applicant_email",
            &or_client(&input.applicant_email, |c| &c.email),
        )?,
    })
}

/// The client of a record, the staff of its instrument, platform admins.
pub(super) fn may_read(
    conn: &mut DbConnection,
    who: &Principal,
    row: &ServiceRecordRow,
) -> AppResult<UnitId> {
    let inst = catalogue::find_instrument(conn, row.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    if row.client_user_id != Some(who.id) {
        authorize(who, Action::ReadUnitQueue { unit: inst.unit_id })?;
    }
    Ok(inst.unit_id)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RecordWithHistory {
    #[serde(flatten)]
    pub record: ServiceRecord,
    pub reductions: Vec<Reduction>,
}

pub fn get(
    conn: &mut DbConnection,
    who: &Principal,
    id: ServiceRecordId,
) -> AppResult<RecordWithHistory> {
    let row = store::find(conn, id)?.ok_or(AppError::NotFound {
        what: "service record",
    })?;
    may_read(conn, who, &row)?;
    let reductions = store::reductions_of(conn, id)?
        .into_iter()
        .map(Reduction::from)
        .collect();
    Ok(RecordWithHistory {
        record: ServiceRecord::from(row),
        reductions,
    })
}

/// Mine (as a client), or for staff their unit's (managers: their instruments'); admins all.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    mut f: store::Filter,
    mine: bool,
    page: PageRequest,
) -> AppResult<Paged<ServiceRecord>> {
    match visibility(who, mine) {
        Visibility::Own => f.client = Some(who.id),
        Visibility::All => {}
        Visibility::Unit(unit) => f.unit = Some(unit),
        Visibility::Instruments(ids) => f.instruments = Some(ids.clone()),
    }
    let (rows, total) = store::list(conn, &f, page)?;
    Ok(Paged::new(
        rows.into_iter().map(ServiceRecord::from).collect(),
        total,
        page,
    ))
}
