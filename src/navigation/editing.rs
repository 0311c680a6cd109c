//! Editing the catalogue: platform admins manage sub-platforms and units, unit admins their
//! unit's instruments (create, update, retire — never delete), instrument managers booking
//! settings. Every change is validated against the national reporting limits (`validate.rs`), audited, and
//! clears the cached counts.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::model::*;
use super::service::{get_instrument, get_unit, Catalogue, Categories};
use super::store;
use crate::audit::{self, Target};
use crate::auth::{authorize, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::types::{InstrumentId, SubPlatformId, UnitId};
use crate::validate;

fn required<T>(field: &str, value: Option<T>) -> AppResult<T> {
    value.ok_or_else(|| AppError::invalid(field, "必填 (required)"))
}

use crate::validate::code;

// --- sub-platforms -------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubPlatformInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sort_order: Option<i32>,
}

fn apply_sub_platform(row: &mut SubPlatformRow, input: &SubPlatformInput) -> AppResult<()> {
    if let Some(v) = &input.name {
        row.name = validate::line("name", v, 1, 100)?;
    }
    if let Some(v) = &input.description {
        row.description = validate::text("description", v, 0, 1000)?;
    }
    if let Some(v) = input.sort_order {
        row.sort_order = v;
    }
    Ok(())
}

fn name_taken(err: diesel::result::Error) -> AppError {
    match AppError::from(err) {
        AppError::Conflict {
            code: ErrorCode::AlreadyExists,
            ..
        } => AppError::invalid("name", "名称已被使用 (the name is taken)"),
        other => other,
    }
}

pub fn save_sub_platform(
    conn: &mut DbConnection,
    who: &Principal,
    catalogue: &Catalogue,
    id: Option<SubPlatformId>,
    input: &SubPlatformInput,
    now: DateTime<Utc>,
) -> AppResult<SubPlatformRow> {
    authorize(who, Action::ManageSubPlatforms)?;
    let saved = db::write_tx(conn, |conn| {
        let before = match id {
            Some(id) => Some(
                store::find_sub_platform(conn, id)?.ok_or(AppError::NotFound {
                    what: "sub-platform",
                })?,
            ),
            None => None,
        };
        let mut row = match &before {
            Some(b) => b.clone(),
            None => SubPlatformRow {
                id: SubPlatformId(0),
                name: required("name", input.name.clone())?,
                description: String::new(),
                sort_order: 100,
                created_at: naive(now),
            },
        };
        apply_sub_platform(&mut row, input)?;
        let action = if before.is_some() {
            store::update_sub_platform(conn, &row).map_err(name_taken)?;
            "sub_platform.update"
        } else {
            row.id = store::insert_sub_platform(
                conn,
                &NewSubPlatform {
                    name: row.name.clone(),
                    description: row.description.clone(),
                    sort_order: row.sort_order,
                    created_at: row.created_at,
                },
            )
            .map_err(name_taken)?;
            "sub_platform.create"
        };
        audit::record(
            conn,
            Some(who.id),
            action,
            Target("sub_platform", Some(row.id.0)),
            before.as_ref(),
            Some(&row),
            naive(now),
        )?;
        crate::cache::changed(conn, crate::cache::Topic::Catalogue)?;
        Ok::<_, AppError>(row)
    })?;
    // Lists and counts show the change at once here (other instances at their next poll).
    catalogue.invalidate();
    Ok(saved)
}

// --- units ---------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitInput {
    pub sub_platform_id: Option<SubPlatformId>,
    pub name: Option<String>,
    pub short_name: Option<String>,
    pub kind: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
}

fn apply_unit(conn: &mut DbConnection, row: &mut UnitRow, i: &UnitInput) -> AppResult<()> {
    if let Some(v) = i.sub_platform_id {
        store::find_sub_platform(conn, v)?.ok_or_else(|| {
            AppError::invalid("sub_platform_id", "没有这个子平台 (no such sub-platform)")
        })?;
        row.sub_platform_id = v;
    }
    if let Some(v) = &i.name {
        row.name = validate::line("name", v, 1, 100)?;
    }
    if let Some(v) = &i.short_name {
        row.short_name = validate::line("short_name", v, 1, 30)?;
    }
    if let Some(v) = &i.kind {
        row.kind = code("kind", v, UnitKind::from_code, UnitKind::codes())?;
    }
    if let Some(v) = &i.city {
        row.city = validate::line("city", v, 1, 20)?;
    }
    if let Some(v) = &i.address {
        row.address = validate::line("address", v, 0, 200)?;
    }
    if let Some(v) = &i.contact_name {
        row.contact_name = validate::line("contact_name", v, 0, 50)?;
    }
    if let Some(v) = &i.contact_phone {
        row.contact_phone = validate::phone("contact_phone", v)?;
    }
    if let Some(v) = &i.contact_email {
        row.contact_email = validate::optional_email("contact_email", v)?;
    }
    if let Some(v) = &i.website {
        row.website = url("website", v, 200)?;
    }
    if let Some(v) = &i.description {
        row.description = validate::text("description", v, 0, 1000)?;
    }
    Ok(())
}

/// An http(s) address, or empty.
fn url(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = validate::line(field, value, 0, max)?;
    if !v.is_empty() && !v.starts_with("https://") && !v.starts_with("http://") {
        return Err(AppError::invalid(
            field,
            "以 http:// 或 https:// 开头 (an http(s) address)",
        ));
    }
    Ok(v)
}

pub fn save_unit(
    conn: &mut DbConnection,
    who: &Principal,
    catalogue: &Catalogue,
    id: Option<UnitId>,
    input: &UnitInput,
    now: DateTime<Utc>,
) -> AppResult<Unit> {
    authorize(who, Action::ManageUnits)?;
    let saved = db::write_tx(conn, |conn| {
        let before = match id {
            Some(id) => {
                Some(store::find_unit(conn, id)?.ok_or(AppError::NotFound { what: "unit" })?)
            }
            None => None,
        };
        let mut row = match &before {
            Some(b) => b.clone(),
            None => UnitRow {
                id: UnitId(0),
                sub_platform_id: required("sub_platform_id", input.sub_platform_id)?,
                name: required("name", input.name.clone())?,
                short_name: required("short_name", input.short_name.clone())?,
                kind: code(
                    "kind",
                    &required("kind", input.kind.clone())?,
                    UnitKind::from_code,
                    UnitKind::codes(),
                )?,
                city: required("city", input.city.clone())?,
                address: String::new(),
                contact_name: String::new(),
                contact_phone: String::new(),
                contact_email: String::new(),
                website: String::new(),
                description: String::new(),
                created_at: naive(now),
            },
        };
        apply_unit(conn, &mut row, input)?;
        let action = if before.is_some() {
            store::update_unit(conn, &row).map_err(name_taken)?;
            store::sync_unit_organisation(conn, row.id, &row.name, row.kind).map_err(name_taken)?;
            "unit.update"
        } else {
            row.id = store::insert_unit(conn, &NewUnit::from(&row)).map_err(name_taken)?;
            store::ensure_unit_organisations(conn).map_err(name_taken)?;
            "unit.create"
        };
        store::log_change(conn, None, Some(row.id), naive(now))?;
        audit::record(
            conn,
            Some(who.id),
            action,
            Target("unit", Some(row.id.0)),
            before.as_ref(),
            Some(&row),
            naive(now),
        )?;
        crate::cache::changed(conn, crate::cache::Topic::Catalogue)?;
        get_unit(conn, row.id)
    })?;
    // Lists and counts show the change at once here (other instances at their next poll).
    catalogue.invalidate();
    Ok(saved)
}

// --- instruments ---------------------------------------------------------------------------

/// Every editable field of an instrument; absent fields keep their value (PATCH) or take
/// the default (create, where some are required).
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentInput {
    pub category_code: Option<String>,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub asset_no: Option<String>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub origin_country: Option<String>,
    pub in_service_on: Option<NaiveDate>,
    pub original_value_yuan: Option<i64>,
    pub specs: Option<String>,
    pub functions: Option<String>,
    pub service_content: Option<String>,
    pub sharing_rules: Option<String>,
    pub fee_reference: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub department: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub photo_url: Option<String>,
    pub share_mode: Option<String>,
    pub run_status: Option<String>,
    pub funding_source: Option<String>,
    pub acquisition: Option<String>,
    pub purpose: Option<String>,
    pub disciplines: Option<Vec<String>>,
    /// 入网日期 (YYYY-MM-DD); a new instrument joins today unless told otherwise.
    pub listed_on: Option<NaiveDate>,
}

/// Largest original value accepted: 100 亿元 (no research instrument costs more).
const MAX_VALUE_YUAN: i64 = 10_000_000_000;

fn apply_instrument(
    row: &mut InstrumentRow,
    i: &InstrumentInput,
    categories: &Categories,
    today: NaiveDate,
) -> AppResult<()> {
    if let Some(v) = &i.category_code {
        let v = v.trim();
        if v.len() != 6 || categories.get(v).is_none() {
            return Err(AppError::invalid(
                "category_code",
                format!(
                    "{v} 不是国家仪器分类中的 6 位代码 (not a code of the national classification)"
                ),
            ));
        }
        row.category_code = v.to_owned();
    }
    macro_rules! set_line {
        ($($f:ident: $min:expr, $max:expr;)+) => {$(
            if let Some(v) = &i.$f {
                row.$f = validate::line(stringify!($f), v, $min, $max)?;
            }
        )+};
    }
    macro_rules! set_text {
        ($($f:ident: $max:expr;)+) => {$(
            if let Some(v) = &i.$f {
                row.$f = validate::text(stringify!($f), v, 0, $max)?;
            }
        )+};
    }
    set_line! {
        name_zh: 1, 100;
        name_en: 0, 200;
        asset_no: 1, 50;
        model: 0, 100;
        manufacturer: 0, 100;
        origin_country: 0, 50;
        city: 1, 20;
        address: 0, 200;
        department: 0, 100;
        contact_name: 0, 50;
    }
    set_text! {
        specs: 500;
        functions: 300;
        service_content: 200;
        sharing_rules: 500;
        fee_reference: 500;
    }
    if let Some(v) = i.in_service_on {
        if v > today {
            return Err(AppError::invalid(
                "in_service_on",
                "启用日期不能晚于今天 (cannot be in the future)",
            ));
        }
        row.in_service_on = Some(v);
    }
    if let Some(v) = i.listed_on {
        if v > today {
            return Err(AppError::invalid(
                "listed_on",
                "入网日期不能晚于今天 (cannot be in the future)",
            ));
        }
        row.listed_on = v;
    }
    if let Some(v) = i.original_value_yuan {
        if !(0..=MAX_VALUE_YUAN).contains(&v) {
            return Err(AppError::invalid(
                "original_value_yuan",
                "原值（元）应在 0 到 100 亿之间 (0 ≤ value ≤ 10,000,000,000 yuan)",
            ));
        }
        row.original_value_yuan = v;
    }
    if let Some(v) = &i.contact_phone {
        row.contact_phone = validate::phone("contact_phone", v)?;
    }
    if let Some(v) = &i.contact_email {
        row.contact_email = validate::optional_email("contact_email", v)?;
    }
    if let Some(v) = &i.photo_url {
        row.photo_url = url("photo_url", v, 300)?;
    }
    if let Some(v) = &i.share_mode {
        row.share_mode = code("share_mode", v, ShareMode::from_code, ShareMode::codes())?;
    }
    if let Some(v) = &i.run_status {
        row.run_status = code("run_status", v, RunStatus::from_code, RunStatus::codes())?;
    }
    if let Some(v) = &i.funding_source {
        row.funding_source = code(
            "funding_source",
            v,
            FundingSource::from_code,
            FundingSource::codes(),
        )?;
    }
    if let Some(v) = &i.acquisition {
        row.acquisition = code(
            "acquisition",
            v,
            Acquisition::from_code,
            Acquisition::codes(),
        )?;
    }
    if let Some(v) = &i.purpose {
        row.purpose = code("purpose", v, Purpose::from_code, Purpose::codes())?;
    }
    if let Some(list) = &i.disciplines {
        if list.len() > 4 {
            return Err(AppError::invalid(
                "disciplines",
                "最多 4 个学科 (at most four)",
            ));
        }
        let clean = list
            .iter()
            .map(|d| validate::line("disciplines", d, 1, 50))
            .collect::<AppResult<Vec<_>>>()?;
        row.disciplines = serde_json::to_string(&clean).map_err(AppError::internal)?;
    }
    Ok(())
}

fn asset_no_unique(
    conn: &mut DbConnection,
    row: &InstrumentRow,
    except: Option<InstrumentId>,
) -> AppResult<()> {
    if store::asset_no_taken(conn, row.unit_id, &row.asset_no, except)? {
        return Err(AppError::invalid(
            "asset_no",
            format!(
                "本单位已有资产编号为 {} 的仪器 (asset number in use in this unit)",
                row.asset_no
            ),
        ));
    }
    Ok(())
}

/// An instrument joined the platform no later than its first service: a later 入网日期 would
/// drop served records out of their year.
fn listed_before_served(conn: &mut DbConnection, row: &InstrumentRow) -> AppResult<()> {
    match store::first_served(conn, row.id)? {
        Some(first) if row.listed_on > first => Err(AppError::invalid(
            "listed_on",
            format!("入网日期不能晚于第一条服务记录（{first}） (after its first service)"),
        )),
        _ => Ok(()),
    }
}

fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&crate::types::PLATFORM_ZONE).date_naive()
}

pub fn create_instrument(
    conn: &mut DbConnection,
    who: &Principal,
    catalogue: &Catalogue,
    unit: UnitId,
    input: &InstrumentInput,
    now: DateTime<Utc>,
) -> AppResult<Instrument> {
    let saved = db::write_tx(conn, |conn| {
        let u = store::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
        authorize(who, Action::ManageInstruments { unit })?;
        let mut row = InstrumentRow {
            id: InstrumentId(0),
            unit_id: u.id,
            category_code: required("category_code", input.category_code.clone())?,
            name_zh: required("name_zh", input.name_zh.clone())?,
            name_en: String::new(),
            asset_no: required("asset_no", input.asset_no.clone())?,
            model: String::new(),
            manufacturer: String::new(),
            origin_country: String::new(),
            in_service_on: None,
            original_value_yuan: required("original_value_yuan", input.original_value_yuan)?,
            specs: String::new(),
            functions: String::new(),
            service_content: String::new(),
            sharing_rules: String::new(),
            fee_reference: String::new(),
            city: u.city.clone(),
            address: u.address.clone(),
            department: String::new(),
            contact_name: u.contact_name.clone(),
            contact_phone: u.contact_phone.clone(),
            contact_email: u.contact_email.clone(),
            photo_url: String::new(),
            share_mode: ShareMode::External,
            run_status: RunStatus::Normal,
            funding_source: FundingSource::Own,
            acquisition: Acquisition::Purchase,
            purpose: Purpose::General,
            disciplines: "[]".to_owned(),
            created_at: naive(now),
            updated_at: naive(now),
            retired_at: None,
            listed_on: today(now),
        };
        apply_instrument(&mut row, input, &catalogue.categories, today(now))?;
        asset_no_unique(conn, &row, None)?;
        let id = store::insert_instrument(conn, &NewInstrument::from(&row))?;
        row.id = id;
        store::log_change(conn, Some(id), None, naive(now))?;
        audit::record(
            conn,
            Some(who.id),
            "instrument.create",
            Target("instrument", Some(id.0)),
            None::<&()>,
            Some(&row),
            naive(now),
        )?;
        crate::cache::changed(conn, crate::cache::Topic::Catalogue)?;
        get_instrument(conn, &catalogue.categories, id)
    })?;
    // Lists and counts show the change at once here (other instances at their next poll).
    catalogue.invalidate();
    Ok(saved)
}

/// The instrument and the unit it belongs to, for a permission check.
pub fn instrument_unit(conn: &mut DbConnection, id: InstrumentId) -> AppResult<InstrumentRow> {
    store::find_instrument(conn, id)?.ok_or(AppError::NotFound { what: "instrument" })
}

pub fn update_instrument(
    conn: &mut DbConnection,
    who: &Principal,
    catalogue: &Catalogue,
    id: InstrumentId,
    input: &InstrumentInput,
    now: DateTime<Utc>,
) -> AppResult<Instrument> {
    change_instrument(
        conn,
        who,
        catalogue,
        id,
        now,
        "instrument.update",
        |conn, row| {
            apply_instrument(row, input, &catalogue.categories, today(now))?;
            listed_before_served(conn, row)?;
            asset_no_unique(conn, row, Some(row.id))
        },
    )
}

/// Retires an instrument: it leaves the catalogue and takes no bookings; its row and
/// history stay.
pub fn retire_instrument(
    conn: &mut DbConnection,
    who: &Principal,
    catalogue: &Catalogue,
    id: InstrumentId,
    now: DateTime<Utc>,
) -> AppResult<Instrument> {
    change_instrument(
        conn,
        who,
        catalogue,
        id,
        now,
        "instrument.retire",
        |_, row| {
            row.retired_at = Some(naive(now));
            Ok(())
        },
    )
}

/// The one write path of an existing instrument: permission, "retired instruments are
/// frozen", the change, the audit record with before and after.
fn change_instrument(
    conn: &mut DbConnection,
    who: &Principal,
    catalogue: &Catalogue,
    id: InstrumentId,
    now: DateTime<Utc>,
    action: &str,
    change: impl FnOnce(&mut DbConnection, &mut InstrumentRow) -> AppResult<()>,
) -> AppResult<Instrument> {
    let saved = db::write_tx(conn, |conn| {
        let before = instrument_unit(conn, id)?;
        authorize(
            who,
            Action::ManageInstruments {
                unit: before.unit_id,
            },
        )?;
        if before.retired_at.is_some() {
            return Err(AppError::conflict(
                ErrorCode::InstrumentRetired,
                "仪器已退役，不能再修改 (the instrument is retired)",
            ));
        }
        let mut row = before.clone();
        change(conn, &mut row)?;
        row.updated_at = naive(now);
        store::update_instrument(conn, &row)?;
        store::log_change(conn, Some(row.id), None, naive(now))?;
        audit::record(
            conn,
            Some(who.id),
            action,
            Target("instrument", Some(row.id.0)),
            Some(&before),
            Some(&row),
            naive(now),
        )?;
        crate::cache::changed(conn, crate::cache::Topic::Catalogue)?;
        get_instrument(conn, &catalogue.categories, row.id)
    })?;
    // Lists and counts show the change at once here (other instances at their next poll).
    catalogue.invalidate();
    Ok(saved)
}
