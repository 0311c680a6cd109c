//! Catalogue rows (as stored) and the shapes the API and pages show.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{instruments, sub_platforms, units};
use crate::types::{code_enum, InstrumentId, SubPlatformId, UnitId, Yuan};

code_enum! {
    /// What kind of organisation a host unit is.
    pub enum UnitKind {
        University = "university" / "高等院校",
        Institute = "institute" / "科研院所",
        Enterprise = "enterprise" / "企业",
        Hospital = "hospital" / "医疗机构",
        TestingBody = "testing_body" / "检验检测机构",
        Other = "other" / "其他",
    }
}

code_enum! {
    /// 共享模式: who may use the instrument.
    pub enum ShareMode {
        External = "external" / "外部共享",
        Internal = "internal" / "内部共享",
        NotShared = "none" / "不共享",
    }
}

code_enum! {
    /// 运行状态 as the national spec lists them.
    pub enum RunStatus {
        Normal = "normal" / "正常",
        Standby = "standby" / "待机",
        OccasionalFault = "occasional_fault" / "偶有故障",
        FrequentFault = "frequent_fault" / "故障频繁",
        AwaitingRepair = "awaiting_repair" / "待修",
        AwaitingScrap = "awaiting_scrap" / "待报废",
    }
}

code_enum! {
    /// 资金来源.
    pub enum FundingSource {
        Central = "central" / "中央财政",
        Local = "local" / "地方财政",
        Own = "own" / "单位自有",
        Other = "other" / "其他",
    }
}

code_enum! {
    /// 取得方式.
    pub enum Acquisition {
        Purchase = "purchase" / "购置",
        SelfDeveloped = "self_developed" / "研制",
        Donation = "donation" / "赠送",
        Other = "other" / "其他",
    }
}

code_enum! {
    /// 通用 / 专用: decides the Ministry of Education hour quota (1,400 h or 800 h).
    pub enum Purpose {
        General = "general" / "通用",
        Dedicated = "dedicated" / "专用",
    }
}

#[derive(
    Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = sub_platforms)]
pub struct SubPlatformRow {
    pub id: SubPlatformId,
    pub name: String,
    pub description: String,
    pub sort_order: i32,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = units)]
pub struct UnitRow {
    pub id: UnitId,
    pub sub_platform_id: SubPlatformId,
    pub name: String,
    pub short_name: String,
    pub kind: UnitKind,
    pub city: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub website: String,
    pub description: String,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
}

/// Every stored instrument column but the two the database derives from the category.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = instruments, treat_none_as_null = true)]
pub struct InstrumentRow {
    pub id: InstrumentId,
    pub unit_id: UnitId,
    pub category_code: String,
    pub name_zh: String,
    pub name_en: String,
    pub asset_no: String,
    pub model: String,
    pub manufacturer: String,
    pub origin_country: String,
    pub in_service_on: Option<NaiveDate>,
    pub original_value_yuan: i64,
    pub specs: String,
    pub functions: String,
    pub service_content: String,
    pub sharing_rules: String,
    pub fee_reference: String,
    pub city: String,
    pub address: String,
    pub department: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub photo_url: String,
    pub share_mode: ShareMode,
    pub run_status: RunStatus,
    pub funding_source: FundingSource,
    pub acquisition: Acquisition,
    pub purpose: Purpose,
    pub disciplines: String,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::types::utc")]
    pub updated_at: NaiveDateTime,
    /// Retired instruments leave the catalogue but keep their history.
    #[serde(default, with = "crate::types::utc::option")]
    pub retired_at: Option<NaiveDateTime>,
    /// 入网日期: the day it joined the platform; a year counts it only from then.
    pub listed_on: NaiveDate,
}

/// The columns a list shows.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = instruments)]
pub struct InstrumentListRow {
    pub id: InstrumentId,
    pub unit_id: UnitId,
    pub category_code: String,
    pub name_zh: String,
    pub name_en: String,
    pub model: String,
    pub manufacturer: String,
    pub city: String,
    pub original_value_yuan: i64,
    pub share_mode: ShareMode,
    pub run_status: RunStatus,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubPlatform {
    pub id: SubPlatformId,
    pub name: String,
    pub description: String,
    pub unit_count: i64,
    pub instrument_count: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UnitRef {
    pub id: UnitId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubPlatformRef {
    pub id: SubPlatformId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unit {
    pub id: UnitId,
    pub sub_platform: SubPlatformRef,
    pub name: String,
    pub short_name: String,
    pub kind: UnitKind,
    pub city: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub website: String,
    pub description: String,
    pub instrument_count: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CategoryRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct InstrumentSummary {
    pub id: InstrumentId,
    pub name_zh: String,
    pub name_en: String,
    pub model: String,
    pub manufacturer: String,
    pub category: CategoryRef,
    pub unit: UnitRef,
    pub city: String,
    pub original_value_yuan: Yuan,
    pub share_mode: ShareMode,
    pub run_status: RunStatus,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Instrument {
    pub id: InstrumentId,
    pub name_zh: String,
    pub name_en: String,
    pub asset_no: String,
    /// From the class down to the instrument's own code.
    pub category_path: Vec<CategoryRef>,
    pub model: String,
    pub manufacturer: String,
    pub origin_country: String,
    pub in_service_on: Option<NaiveDate>,
    /// 入网日期: the day it joined the platform.
    pub listed_on: NaiveDate,
    pub original_value_yuan: Yuan,
    pub specs: String,
    pub functions: String,
    pub service_content: String,
    pub sharing_rules: String,
    pub fee_reference: String,
    pub city: String,
    pub address: String,
    pub department: String,
    pub contact: Contact,
    pub photo_url: String,
    pub share_mode: ShareMode,
    pub run_status: RunStatus,
    pub funding_source: FundingSource,
    pub acquisition: Acquisition,
    pub purpose: Purpose,
    pub disciplines: Vec<String>,
    pub unit: UnitRef,
    pub sub_platform: SubPlatformRef,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A node of the category tree with the number of instruments under it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CategoryNode {
    pub code: String,
    pub name: String,
    pub instrument_count: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlatformStats {
    pub sub_platforms: i64,
    pub units: i64,
    pub instruments: i64,
    /// Sum of original values, in yuan.
    pub original_value_yuan: Yuan,
}

/// A new row without its id, which the database assigns. (The row types above carry ids,
/// which the demo seed sets itself.)
#[derive(Debug, Insertable)]
#[diesel(table_name = sub_platforms)]
pub struct NewSubPlatform {
    pub name: String,
    pub description: String,
    pub sort_order: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = units)]
pub struct NewUnit {
    pub sub_platform_id: SubPlatformId,
    pub name: String,
    pub short_name: String,
    pub kind: UnitKind,
    pub city: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub website: String,
    pub description: String,
    pub created_at: NaiveDateTime,
}

impl From<&UnitRow> for NewUnit {
    fn from(r: &UnitRow) -> Self {
        NewUnit {
            sub_platform_id: r.sub_platform_id,
            name: r.name.clone(),
            short_name: r.short_name.clone(),
            kind: r.kind,
            city: r.city.clone(),
            address: r.address.clone(),
            contact_name: r.contact_name.clone(),
            contact_phone: r.contact_phone.clone(),
            contact_email: r.contact_email.clone(),
            website: r.website.clone(),
            description: r.description.clone(),
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = instruments)]
pub struct NewInstrument {
    pub unit_id: UnitId,
    pub category_code: String,
    pub name_zh: String,
    pub name_en: String,
    pub asset_no: String,
    pub model: String,
    pub manufacturer: String,
    pub origin_country: String,
    pub in_service_on: Option<NaiveDate>,
    pub original_value_yuan: i64,
    pub specs: String,
    pub functions: String,
    pub service_content: String,
    pub sharing_rules: String,
    pub fee_reference: String,
    pub city: String,
    pub address: String,
    pub department: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub photo_url: String,
    pub share_mode: ShareMode,
    pub run_status: RunStatus,
    pub funding_source: FundingSource,
    pub acquisition: Acquisition,
    pub purpose: Purpose,
    pub disciplines: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub listed_on: NaiveDate,
}

impl From<&InstrumentRow> for NewInstrument {
    fn from(r: &InstrumentRow) -> Self {
        NewInstrument {
            unit_id: r.unit_id,
            category_code: r.category_code.clone(),
            name_zh: r.name_zh.clone(),
            name_en: r.name_en.clone(),
            asset_no: r.asset_no.clone(),
            model: r.model.clone(),
            manufacturer: r.manufacturer.clone(),
            origin_country: r.origin_country.clone(),
            in_service_on: r.in_service_on,
            original_value_yuan: r.original_value_yuan,
            specs: r.specs.clone(),
            functions: r.functions.clone(),
            service_content: r.service_content.clone(),
            sharing_rules: r.sharing_rules.clone(),
            fee_reference: r.fee_reference.clone(),
            city: r.city.clone(),
            address: r.address.clone(),
            department: r.department.clone(),
            contact_name: r.contact_name.clone(),
            contact_phone: r.contact_phone.clone(),
            contact_email: r.contact_email.clone(),
            photo_url: r.photo_url.clone(),
            share_mode: r.share_mode,
            run_status: r.run_status,
            funding_source: r.funding_source,
            acquisition: r.acquisition,
            purpose: r.purpose,
            disciplines: r.disciplines.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            listed_on: r.listed_on,
        }
    }
}

// --- list filters, as the store reads them ------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryFilter {
    Class(String),
    Middle(String),
    Exact(String),
}

code_enum! {
    /// The orders an instrument list can be sorted in.
    pub enum InstrumentSort {
        Id = "id" / "默认",
        Name = "name" / "名称",
        ValueDesc = "-original_value" / "原值从高到低",
        ValueAsc = "original_value" / "原值从低到高",
        NewestFirst = "-in_service_on" / "启用日期从新到旧",
        OldestFirst = "in_service_on" / "启用日期从旧到新",
    }
}

#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub sub_platform: Option<SubPlatformId>,
    pub city: Option<String>,
    pub kind: Option<UnitKind>,
}

#[derive(Debug, Clone, Default)]
pub struct InstrumentFilter {
    pub unit: Option<UnitId>,
    pub sub_platform: Option<SubPlatformId>,
    pub category: Option<CategoryFilter>,
    pub city: Option<String>,
    pub share_mode: Option<ShareMode>,
    pub status: Option<RunStatus>,
}

/// An instrument as a list of bookings or services names it: which one, where, whom to call.
#[derive(Debug, Clone)]
pub struct InstrumentBrief {
    pub id: InstrumentId,
    pub name: String,
    pub asset_no: String,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub city: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
}
