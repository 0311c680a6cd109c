//! 数据报送: a year's records in the shapes of the national reporting interface (NRII) —
//! instrument records, service records and each unit's yearly summary — checked against the
//! national rules first. A record that breaks a rule is held back and listed with the field
//! named, so that a unit corrects it instead of sending bad data.

use chrono::{Duration, NaiveDateTime};
use rust_xlsxwriter::{Workbook, XlsxError};
use serde::Serialize;

use super::evaluation::{self, year_bounds};
use super::export::{sheet, Cell, Report, Table};
use super::model::{Level, ProjectFunding, ServiceWay};
use super::store;
use crate::config::EvaluationSettings;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::navigation::model::InstrumentRow;
use crate::types::{InstrumentId, ServiceRecordId, UnitId, PLATFORM_ZONE};

/// The national interface reports instruments of at least 50万 (a province may count lower
/// ones as large for its own round; those are held back here).
pub const NATIONAL_LARGE_YUAN: i64 = 500_000;

/// 仪器记录: one large instrument listed in the year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NriiInstrument {
    pub instrument_id: InstrumentId,
    /// 单位内部编号 (the asset number).
    pub inner_id: String,
    pub name_zh: String,
    pub name_en: String,
    pub owner_unit: String,
    /// 6-digit national category.
    pub category_code: String,
    pub origin_country: String,
    pub manufacturer: String,
    pub model: String,
    /// 原值, 万元 with two decimals.
    pub value_wan: String,
    /// 启用日期, YYYY-MM-DD.
    pub start_date: Option<String>,
    /// 入网日期.
    pub listed_on: String,
    pub city: String,
    pub address: String,
    pub specs: String,
    pub functions: String,
    pub service_content: String,
    pub fees: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    /// 年运行机时 (effective hours of the year), one decimal.
    pub run_hours: f64,
    /// 年对外服务机时, one decimal.
    pub service_hours: f64,
}

/// 服务记录: one service of the year on a reported instrument.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NriiService {
    pub record_id: ServiceRecordId,
    pub instrument_id: InstrumentId,
    /// The instrument's 单位内部编号 (unique within its unit).
    pub inner_id: String,
    pub owner_unit: String,
    /// "YYYY-MM-DD HH", Beijing time.
    pub start: String,
    pub end: String,
    /// Hours with one decimal, or samples for a sample order.
    pub amount: String,
    /// `hours` or `samples`.
    pub amount_unit: &'static str,
    /// 元 with two decimals.
    pub fee_yuan: String,
    pub service_way: ServiceWay,
    pub direction: super::model::Direction,
    pub content: String,
    pub project: String,
    pub funding_source: Option<ProjectFunding>,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub applicant_email: String,
    pub applicant_unit: String,
    /// The client's overall rating, if given.
    pub satisfaction: Option<Level>,
    /// Served outside the host unit's legal entity.
    pub external: bool,
}

/// 年度汇总: one unit's year, over its large instruments (what the report sends).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NriiSummary {
    pub unit_id: UnitId,
    pub unit_name: String,
    pub year: i32,
    /// Large instruments listed in the year, and their value in 万元; the figures below are
    /// theirs.
    pub instruments: i64,
    pub value_wan: String,
    pub machine_hours: f64,
    pub external_hours: f64,
    pub services: i64,
    pub external_services: i64,
    pub client_units: i64,
    pub external_client_units: i64,
    pub income_yuan: String,
    pub narrative: String,
}

/// A rule a record breaks: which record, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NriiProblem {
    /// `instrument` or `service`.
    pub record: &'static str,
    pub id: i64,
    pub field: &'static str,
    pub message: String,
}

/// `GET …/nrii.json`: what would be sent, and what is held back.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NriiExport {
    pub year: i32,
    pub unit_id: Option<UnitId>,
    pub instruments: Vec<NriiInstrument>,
    pub services: Vec<NriiService>,
    pub summaries: Vec<NriiSummary>,
    /// Every rule broken; the records concerned are not in the lists above.
    pub problems: Vec<NriiProblem>,
}

fn wan(yuan: i64) -> String {
    format!("{}.{:02}", yuan / 10_000, (yuan % 10_000) / 100)
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// "YYYY-MM-DD HH" in Beijing time.
fn hour(t: NaiveDateTime) -> String {
    t.and_utc()
        .with_timezone(&PLATFORM_ZONE)
        .format("%Y-%m-%d %H")
        .to_string()
}

/// Collects the problems of one record.
struct Check {
    record: &'static str,
    id: i64,
    found: Vec<NriiProblem>,
}

impl Check {
    fn new(record: &'static str, id: i64) -> Check {
        Check {
            record,
            id,
            found: Vec::new(),
        }
    }

    fn fail(&mut self, field: &'static str, message: impl Into<String>) {
        self.found.push(NriiProblem {
            record: self.record,
            id: self.id,
            field,
            message: message.into(),
        });
    }

    /// Required, at most `max` characters.
    fn text(&mut self, field: &'static str, value: &str, max: usize) {
        let n = value.trim().chars().count();
        if n == 0 {
            self.fail(field, "必填 (required)");
        } else if n > max {
            self.fail(field, format!("最多 {max} 字，现有 {n} 字 (at most {max})"));
        }
    }
}

/// The national rules of an instrument record.
fn check_instrument(i: &InstrumentRow) -> Vec<NriiProblem> {
    let mut c = Check::new("instrument", i.id.0);
    c.text("name_zh", &i.name_zh, 100);
    c.text("asset_no", &i.asset_no, 50);
    if i.category_code.len() != 6 || !i.category_code.bytes().all(|b| b.is_ascii_digit()) {
        c.fail("category_code", "须为 6 位国家分类代码 (six digits)");
    }
    c.text("origin_country", &i.origin_country, 50);
    c.text("manufacturer", &i.manufacturer, 100);
    c.text("model", &i.model, 100);
    if i.original_value_yuan < NATIONAL_LARGE_YUAN {
        c.fail(
            "original_value_yuan",
            format!(
                "原值 {} 万元低于国家报送标准 50 万元 (below the national threshold)",
                wan(i.original_value_yuan)
            ),
        );
    }
    if i.in_service_on.is_none() {
        c.fail("in_service_on", "必填 (required)");
    }
    c.text("specs", &i.specs, 500);
    c.text("functions", &i.functions, 300);
    c.text("service_content", &i.service_content, 200);
    c.text("city", &i.city, 20);
    c.text("address", &i.address, 200);
    c.text("contact_name", &i.contact_name, 50);
    c.text("contact_phone", &i.contact_phone, 30);
    c.text("contact_email", &i.contact_email, 254);
    c.found
}

/// The national rules of a service record (`minutes` and `samples` as stored: the amount
/// shown is rounded).
fn check_service(
    s: &NriiService,
    stored_funding: &str,
    minutes: i32,
    samples: i32,
) -> Vec<NriiProblem> {
    let mut c = Check::new("service", s.record_id.0);
    c.text("content", &s.content, 200);
    c.text("applicant_name", &s.applicant_name, 50);
    if s.applicant_phone.trim().is_empty() && s.applicant_email.trim().is_empty() {
        c.fail(
            "applicant_phone",
            "申请人电话和邮箱至少填一项 (a phone or an e-mail)",
        );
    }
    if s.applicant_unit.trim().is_empty() {
        c.fail("client_organisation_id", "必填：服务对象单位 (required)");
    }
    if minutes <= 0 && samples <= 0 {
        c.fail(
            "minutes",
            "服务量为 0：请填写机时或样品数 (no hours and no samples)",
        );
    }
    if s.project.chars().count() > 200 {
        c.fail("project", "最多 200 字 (at most 200)");
    }
    if !stored_funding.is_empty() && s.funding_source.is_none() {
        c.fail(
            "funding_source",
            format!(
                "“{stored_funding}”不在国家经费来源列表中 (one of {})",
                ProjectFunding::codes()
            ),
        );
    } else if !s.project.trim().is_empty() && s.funding_source.is_none() {
        c.fail(
            "funding_source",
            "填写了项目名称时必填经费来源 (required with a project)",
        );
    }
    c.found
}

/// A record in the national shape, with what its checks need: the stored funding code,
/// minutes, samples and the client organisation.
fn service_of(row: store::NriiRow, owner_unit: &str) -> (NriiService, String, i32, i32) {
    let (r, inner_id, org, level) = row;
    // Records logged by the day carry no times: they start at the day's beginning and
    // last their hours.
    let start = r.starts_at.unwrap_or_else(|| {
        crate::reservations::rules::local(r.served_on, 0)
            .map(crate::clock::naive)
            .unwrap_or_default()
    });
    let end = r
        .ends_at
        .unwrap_or_else(|| start + Duration::minutes(i64::from(r.minutes)));
    let by_samples = r.service_way == ServiceWay::Entrusted && r.sample_count > 0;
    let service = NriiService {
        record_id: r.id,
        instrument_id: r.instrument_id,
        inner_id,
        owner_unit: owner_unit.to_owned(),
        start: hour(start),
        end: hour(end),
        amount: if by_samples {
            r.sample_count.to_string()
        } else {
            format!("{:.1}", super::model::hours(i64::from(r.minutes)))
        },
        amount_unit: if by_samples { "samples" } else { "hours" },
        fee_yuan: yuan(r.fee_fen),
        service_way: r.service_way,
        direction: r.national.direction,
        content: r.national.content,
        project: r.project,
        funding_source: ProjectFunding::stored(&r.funding_source),
        applicant_name: r.national.applicant_name,
        applicant_phone: r.national.applicant_phone,
        applicant_email: r.national.applicant_email,
        applicant_unit: org.unwrap_or_default(),
        satisfaction: level,
        external: !r.internal,
    };
    (service, r.funding_source, r.minutes, r.sample_count)
}

fn narrative(s: &NriiSummary) -> String {
    format!(
        "{} 年，{}在平台共享大型科研仪器 {} 台（套），原值 {} 万元，提供有效机时 {:.1} 小时，其中对外服务机时 {:.1} 小时；服务 {} 次（对外 {} 次），服务对象单位 {} 家（外单位 {} 家），服务收入 {} 元。",
        s.year,
        s.unit_name,
        s.instruments,
        s.value_wan,
        s.machine_hours,
        s.external_hours,
        s.services,
        s.external_services,
        s.client_units,
        s.external_client_units,
        s.income_yuan
    )
}

/// One unit's year, added to `out`.
fn add_unit(
    conn: &mut DbConnection,
    out: &mut NriiExport,
    unit: UnitId,
    round: &EvaluationSettings,
) -> AppResult<()> {
    let year = out.year;
    let (from, to) = year_bounds(year)?;
    let e = evaluation::evaluation(conn, unit, year, round)?;
    let large: Vec<&super::model::InstrumentYear> =
        e.per_instrument.iter().filter(|i| i.large).collect();
    let ids: Vec<i64> = large.iter().map(|i| i.instrument_id.0).collect();
    let years: std::collections::HashMap<i64, &super::model::InstrumentYear> =
        large.iter().map(|i| (i.instrument_id.0, *i)).collect();
    let rows = store::instrument_rows(conn, &ids)?;
    let mut held: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut value = 0;
    for row in rows {
        let Some(year_row) = years.get(&row.id.0) else {
            continue;
        };
        value += row.original_value_yuan;
        let problems = check_instrument(&row);
        if !problems.is_empty() {
            held.insert(row.asset_no.clone());
            out.problems.extend(problems);
            continue;
        }
        out.instruments.push(NriiInstrument {
            instrument_id: row.id,
            inner_id: row.asset_no,
            name_zh: row.name_zh,
            name_en: row.name_en,
            owner_unit: e.unit_name.clone(),
            category_code: row.category_code,
            origin_country: row.origin_country,
            manufacturer: row.manufacturer,
            model: row.model,
            value_wan: wan(row.original_value_yuan),
            start_date: row.in_service_on.map(|d| d.format("%Y-%m-%d").to_string()),
            listed_on: row.listed_on.format("%Y-%m-%d").to_string(),
            city: row.city,
            address: row.address,
            specs: row.specs,
            functions: row.functions,
            service_content: row.service_content,
            fees: row.fee_reference,
            contact_name: row.contact_name,
            contact_phone: row.contact_phone,
            contact_email: row.contact_email,
            run_hours: year_row.figures.machine_hours,
            service_hours: year_row.figures.external_hours,
        });
    }
    // The summary is over what the report covers: the large instruments and their services.
    let mut figures = super::model::Figures::default();
    for i in &large {
        figures.merge(&i.figures);
    }
    let mut clients: Vec<(i64, bool)> = Vec::new();
    for row in store::nrii_records(conn, &ids, from, to)? {
        if let Some(org) = row.0.client_organisation_id {
            clients.push((org.0, row.0.internal));
        }
        let (service, stored_funding, minutes, samples) = service_of(row, &e.unit_name);
        let mut problems = check_service(&service, &stored_funding, minutes, samples);
        if held.contains(&service.inner_id) {
            problems.push(NriiProblem {
                record: "service",
                id: service.record_id.0,
                field: "instrument_id",
                message: format!(
                    "所属仪器 {} 未通过校验，记录随之暂缓报送 (its instrument is held back)",
                    service.inner_id
                ),
            });
        }
        if problems.is_empty() {
            out.services.push(service);
        } else {
            out.problems.extend(problems);
        }
    }
    let clients = super::model::ClientUnits::of(&clients);
    let mut summary = NriiSummary {
        unit_id: unit,
        unit_name: e.unit_name.clone(),
        year,
        instruments: large.len() as i64,
        value_wan: wan(value),
        machine_hours: figures.machine_hours,
        external_hours: figures.external_hours,
        services: figures.services,
        external_services: figures.external_services,
        client_units: clients.client_units,
        external_client_units: clients.external_client_units,
        income_yuan: yuan(figures.income_fen),
        narrative: String::new(),
    };
    summary.narrative = narrative(&summary);
    out.summaries.push(summary);
    Ok(())
}

/// One unit's report as `format`, for its staff and the platform's admins (the API's and the
/// evaluation page's buttons).
pub fn unit_report(
    conn: &mut DbConnection,
    who: &crate::auth::Principal,
    unit: UnitId,
    year: i32,
    round: &EvaluationSettings,
    format: &str,
) -> AppResult<Report> {
    check_format(format)?;
    crate::navigation::store::find_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
    may_report(who, unit)?;
    report(&build(conn, Some(unit), year, round)?, format)
}

/// Whether a whole-platform report is being built by this instance.
#[derive(Default)]
pub struct PlatformReportSlot(std::sync::Arc<std::sync::atomic::AtomicBool>);

/// Holds the slot; dropping it frees the place.
pub struct PlatformReportTurn(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for PlatformReportTurn {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl PlatformReportSlot {
    /// One whole-platform report at a time: at national scale one takes about a minute and
    /// 5 GB (a million services), so a second click is told to come back instead of doubling
    /// that.
    pub fn take(&self) -> AppResult<PlatformReportTurn> {
        use std::sync::atomic::Ordering::SeqCst;
        self.0
            .compare_exchange(false, true, SeqCst, SeqCst)
            .map(|_| PlatformReportTurn(self.0.clone()))
            .map_err(|_| AppError::TooManyRequests {
                retry_after_secs: 60,
            })
    }
}

/// The applicants' phones and e-mails are in a unit's report: its admins and the platform's
/// take it, not every instrument manager of the unit.
pub fn may_report(who: &crate::auth::Principal, unit: UnitId) -> AppResult<()> {
    crate::auth::authorize(who, crate::auth::Action::ManageInstruments { unit })
}

/// `json` or `xlsx`, before any work; another format is a 404.
pub fn check_format(format: &str) -> AppResult<()> {
    match format {
        "json" | "xlsx" => Ok(()),
        _ => Err(AppError::NotFound { what: "page" }),
    }
}

/// The year's national report of one unit, or of every unit (`None`). The caller checks
/// the reader may see it.
pub fn build(
    conn: &mut DbConnection,
    unit: Option<UnitId>,
    year: i32,
    round: &EvaluationSettings,
) -> AppResult<NriiExport> {
    year_bounds(year)?;
    let mut out = NriiExport {
        year,
        unit_id: unit,
        instruments: Vec::new(),
        services: Vec::new(),
        summaries: Vec::new(),
        problems: Vec::new(),
    };
    let units = match unit {
        Some(u) => vec![u],
        None => {
            let mut all: Vec<UnitId> = store::unit_names(conn)?
                .into_iter()
                .map(|(id, _, _)| UnitId(id))
                .collect();
            all.sort();
            all
        }
    };
    for u in units {
        add_unit(conn, &mut out, u, round)?;
    }
    Ok(out)
}

fn label<T>(v: Option<T>, f: fn(T) -> &'static str) -> String {
    v.map(f).unwrap_or_default().to_owned()
}

/// The rows a worksheet holds below its header.
pub const MAX_SHEET_ROWS: usize = 1_048_575;

/// The workbook: 仪器, 服务记录, 年度汇总 and 问题 (the held-back records).
pub fn xlsx(e: &NriiExport) -> AppResult<Vec<u8>> {
    // A whole province's year at national scale has more services than a sheet has rows.
    if e.services.len().max(e.problems.len()) > MAX_SHEET_ROWS {
        return Err(AppError::invalid(
            "unit",
            "记录超过一个工作表的行数上限 1,048,575：请按单位导出，或导出 JSON (too many rows for one sheet: export per unit, or as JSON)",
        ));
    }
    let instruments = Table {
        headers: &[
            "仪器编号",
            "单位内部编号",
            "中文名称",
            "英文名称",
            "所属单位",
            "分类编码",
            "产地国别",
            "生产制造商",
            "规格型号",
            "原值（万元）",
            "启用日期",
            "入网日期",
            "所在城市",
            "安放地址",
            "主要技术指标",
            "主要功能",
            "服务内容",
            "收费标准",
            "联系人",
            "联系电话",
            "电子邮箱",
            "年运行机时",
            "年对外服务机时",
        ],
        rows: e
            .instruments
            .iter()
            .map(|i| {
                vec![
                    i.instrument_id.0.to_string().into(),
                    i.inner_id.clone().into(),
                    i.name_zh.clone().into(),
                    i.name_en.clone().into(),
                    i.owner_unit.clone().into(),
                    i.category_code.clone().into(),
                    i.origin_country.clone().into(),
                    i.manufacturer.clone().into(),
                    i.model.clone().into(),
                    i.value_wan.clone().into(),
                    i.start_date.clone().unwrap_or_default().into(),
                    i.listed_on.clone().into(),
                    i.city.clone().into(),
                    i.address.clone().into(),
                    i.specs.clone().into(),
                    i.functions.clone().into(),
                    i.service_content.clone().into(),
                    i.fees.clone().into(),
                    i.contact_name.clone().into(),
                    i.contact_phone.clone().into(),
                    i.contact_email.clone().into(),
                    Cell::Fixed(i.run_hours, 1),
                    Cell::Fixed(i.service_hours, 1),
                ]
            })
            .collect(),
    };
    let services = Table {
        headers: &[
            "记录编号",
            "仪器编号",
            "仪器内部编号",
            "所属单位",
            "开始时间",
            "结束时间",
            "服务量",
            "计量单位",
            "服务金额（元）",
            "服务方式",
            "服务方向",
            "服务内容",
            "项目名称",
            "经费来源",
            "申请人",
            "申请人电话",
            "申请人邮箱",
            "申请人单位",
            "满意度",
            "对内/对外",
        ],
        rows: e
            .services
            .iter()
            .map(|s| {
                vec![
                    s.record_id.0.to_string().into(),
                    s.instrument_id.0.to_string().into(),
                    s.inner_id.clone().into(),
                    s.owner_unit.clone().into(),
                    s.start.clone().into(),
                    s.end.clone().into(),
                    s.amount.clone().into(),
                    if s.amount_unit == "samples" {
                        "样品"
                    } else {
                        "小时"
                    }
                    .into(),
                    s.fee_yuan.clone().into(),
                    s.service_way.label_zh().into(),
                    s.direction.label_zh().into(),
                    s.content.clone().into(),
                    s.project.clone().into(),
                    label(s.funding_source, ProjectFunding::label_zh).into(),
                    s.applicant_name.clone().into(),
                    s.applicant_phone.clone().into(),
                    s.applicant_email.clone().into(),
                    s.applicant_unit.clone().into(),
                    label(s.satisfaction, Level::label_zh).into(),
                    if s.external { "对外" } else { "对内" }.into(),
                ]
            })
            .collect(),
    };
    let summaries = Table {
        headers: &[
            "单位",
            "年度",
            "大型仪器（台/套）",
            "原值合计（万元）",
            "有效机时",
            "对外服务机时",
            "服务次数",
            "对外服务次数",
            "服务对象单位",
            "其中外单位",
            "服务收入（元）",
            "年度总结",
        ],
        rows: e
            .summaries
            .iter()
            .map(|s| {
                vec![
                    s.unit_name.clone().into(),
                    i64::from(s.year).into(),
                    s.instruments.into(),
                    s.value_wan.clone().into(),
                    Cell::Fixed(s.machine_hours, 1),
                    Cell::Fixed(s.external_hours, 1),
                    s.services.into(),
                    s.external_services.into(),
                    s.client_units.into(),
                    s.external_client_units.into(),
                    s.income_yuan.clone().into(),
                    s.narrative.clone().into(),
                ]
            })
            .collect(),
    };
    let problems = Table {
        headers: &["记录", "编号", "字段", "问题"],
        rows: e
            .problems
            .iter()
            .map(|p| {
                vec![
                    if p.record == "instrument" {
                        "仪器"
                    } else {
                        "服务记录"
                    }
                    .into(),
                    p.id.to_string().into(),
                    p.field.into(),
                    p.message.clone().into(),
                ]
            })
            .collect(),
    };
    let build = || -> Result<Vec<u8>, XlsxError> {
        let mut wb = Workbook::new();
        sheet(wb.add_worksheet(), "仪器", &instruments)?;
        sheet(wb.add_worksheet(), "服务记录", &services)?;
        sheet(wb.add_worksheet(), "年度汇总", &summaries)?;
        sheet(wb.add_worksheet(), "问题", &problems)?;
        wb.save_to_buffer()
    };
    build().map_err(AppError::internal)
}

/// The report as `json` or `xlsx`; any other format is a 404.
pub fn report(e: &NriiExport, format: &str) -> AppResult<Report> {
    let scope = e
        .unit_id
        .map_or_else(|| "all".to_owned(), |u| u.0.to_string());
    match format {
        "json" => Ok(Report {
            body: serde_json::to_vec(e).map_err(AppError::internal)?,
            file_name: format!("nrii-{scope}-{}.json", e.year),
            content_type: "application/json",
        }),
        "xlsx" => Ok(Report {
            body: xlsx(e)?,
            file_name: format!("nrii-{scope}-{}.xlsx", e.year),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }),
        _ => Err(AppError::NotFound { what: "page" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_platform_report_at_a_time() {
        let slot = PlatformReportSlot::default();
        let turn = slot.take().expect("free");
        assert!(matches!(slot.take(), Err(AppError::TooManyRequests { .. })));
        drop(turn);
        assert!(slot.take().is_ok(), "free again once the first is done");
    }

    #[test]
    fn money_is_written_exactly() {
        assert_eq!(wan(2_355_000), "235.50");
        assert_eq!(wan(500_000), "50.00");
        assert_eq!(yuan(12_345), "123.45");
        assert_eq!(yuan(5), "0.05");
    }
}
