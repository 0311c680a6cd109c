//! A unit's year as the national service-record report: CSV (the records) and XLSX (summary,
//! per-instrument table and records), with Chinese headers.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::{evaluation, store};
use crate::config::PlatformSettings;
use crate::db::DbConnection;

use super::model::{hours, Evaluation};
use super::store::ReportRow;
use crate::error::{AppError, AppResult};
use crate::types::{UnitId, PLATFORM_ZONE};
use crate::words;

/// A cell of a report table.
pub enum Cell {
    Text(String),
    Num(f64),
    /// A number written with this many decimals: hours with one, money with two.
    Fixed(f64, usize),
}

/// Money in 元 with its 角 and 分.
pub(crate) fn money(fen: i64) -> Cell {
    Cell::Fixed(fen as f64 / 100.0, 2)
}

/// 原值 in 万元 with two decimals, as every page shows it.
fn wan_yuan(yuan: i64) -> Cell {
    Cell::Fixed(yuan as f64 / 10_000.0, 2)
}

/// Hours with one decimal, as every page shows them.
fn hours_cell(h: f64) -> Cell {
    Cell::Fixed(h, 1)
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<f64> for Cell {
    fn from(n: f64) -> Self {
        Cell::Num(n)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Num(n as f64)
    }
}

pub struct Table {
    pub headers: &'static [&'static str],
    pub rows: Vec<Vec<Cell>>,
}

fn time(t: Option<chrono::NaiveDateTime>) -> String {
    t.map(|t| {
        t.and_utc()
            .with_timezone(&PLATFORM_ZONE)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

/// 服务记录: one row per service, in the shape of the national report.
pub fn records_table(rows: Vec<ReportRow>) -> Table {
    Table {
        headers: &[
            "序号",
            words::NAME_ZH,
            words::ASSET_NO,
            "服务日期",
            "开始时间",
            "结束时间",
            words::SERVICE_TYPE,
            words::SERVICE_WAY,
            "服务对象单位",
            "服务对象",
            "对内/对外",
            words::MACHINE_HOURS,
            words::SAMPLE_COUNT,
            words::INCOME,
            words::PROJECT,
            words::PROJECT_FUNDING,
            words::SERVICE_CONTENT_DONE,
            words::DIRECTION,
            words::APPLICANT,
            "备注",
        ],
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(i, (r, name, asset, org, client))| {
                vec![
                    Cell::from(i as i64 + 1),
                    name.into(),
                    asset.into(),
                    r.served_on.to_string().into(),
                    time(r.starts_at).into(),
                    time(r.ends_at).into(),
                    r.service_type.label_zh().into(),
                    r.service_way.label_zh().into(),
                    org.unwrap_or_default().into(),
                    client.unwrap_or_default().into(),
                    if r.internal { "对内" } else { "对外" }.into(),
                    hours_cell(hours(i64::from(r.minutes))),
                    i64::from(r.sample_count).into(),
                    money(r.fee_fen),
                    r.project.into(),
                    super::model::ProjectFunding::stored(&r.funding_source)
                        .map_or("", |f| f.label_zh())
                        .into(),
                    r.national.content.into(),
                    r.national.direction.label_zh().into(),
                    // The applicant's phone and e-mail stay in the national report, which is
                    // for the unit's admins; this file is for all its staff.
                    r.national.applicant_name.into(),
                    r.note.into(),
                ]
            })
            .collect(),
    }
}

/// 仪器: the per-instrument table of the evaluation.
pub fn instruments_table(e: &Evaluation) -> Table {
    Table {
        headers: &[
            words::NAME_ZH,
            words::ASSET_NO,
            words::ORIGINAL_VALUE,
            words::LARGE_INSTRUMENT,
            words::LISTED_ON,
            words::RUN_STATUS,
            words::MACHINE_HOURS,
            words::EXTERNAL_HOURS,
            words::SERVICES,
            words::CLIENT_UNITS,
            words::INCOME,
            "饱和度（1200小时）",
            words::SATISFACTION,
            words::RATINGS,
        ],
        rows: e
            .per_instrument
            .iter()
            .map(|i| {
                vec![
                    i.name.clone().into(),
                    i.asset_no.clone().into(),
                    wan_yuan(i.original_value_yuan.0),
                    if i.large { "是" } else { "否" }.into(),
                    i.listed_on.format("%Y-%m-%d").to_string().into(),
                    i.run_status.label_zh().into(),
                    hours_cell(i.figures.machine_hours),
                    hours_cell(i.figures.external_hours),
                    i.figures.services.into(),
                    i.client_units.into(),
                    money(i.figures.income_fen),
                    i.utilisation.into(),
                    satisfaction(i.satisfaction),
                    i.ratings.into(),
                ]
            })
            .collect(),
    }
}

/// A share with three decimals, or "暂无评价" without ratings.
fn satisfaction(s: Option<f64>) -> Cell {
    match s {
        Some(v) => Cell::Num(v),
        None => Cell::Text("暂无评价 (no ratings)".to_owned()),
    }
}

fn ratio(r: &super::model::Ratio) -> Cell {
    match r.value {
        Some(v) => Cell::Num(v),
        None => Cell::Text("未申报 (not declared)".to_owned()),
    }
}

/// 汇总: the unit's figures for the year, one per row, under the platform that reports them.
pub fn summary_table(e: &Evaluation, platform: &PlatformSettings) -> Table {
    let r = &e.ratios;
    Table {
        headers: &["指标", "数值"],
        rows: vec![
            vec!["平台".into(), platform.name.clone().into()],
            vec!["主办单位".into(), platform.operator.clone().into()],
            vec!["单位".into(), e.unit_name.clone().into()],
            vec!["年度".into(), i64::from(e.year).into()],
            vec!["入网仪器（台/套）".into(), e.instruments.into()],
            vec![
                format!("其中大型仪器（原值 ≥ {} 元）", e.large_value_yuan).into(),
                e.large_instruments.into(),
            ],
            vec![
                words::MACHINE_HOURS.into(),
                hours_cell(e.figures.machine_hours),
            ],
            vec![
                words::EXTERNAL_HOURS.into(),
                hours_cell(e.figures.external_hours),
            ],
            vec![words::INCOME.into(), money(e.figures.income_fen)],
            vec!["其中创新券兑付（元）".into(), money(e.voucher_fen)],
            vec![words::CLIENT_UNITS.into(), e.clients.client_units.into()],
            vec![
                words::EXTERNAL_CLIENT_UNITS.into(),
                e.clients.external_client_units.into(),
            ],
            vec![
                words::INTERNAL_CLIENT_UNITS.into(),
                e.clients.internal_client_units.into(),
            ],
            vec![words::SERVICES.into(), e.figures.services.into()],
            vec!["对外服务（次）".into(), e.figures.external_services.into()],
            vec!["平均饱和度（1200小时）".into(), e.utilisation.into()],
            vec![words::SATISFACTION.into(), satisfaction(e.satisfaction)],
            vec![words::RATINGS.into(), e.ratings.into()],
            vec!["受理投诉（件）".into(), e.complaints.received.into()],
            vec!["投诉成立（含部分成立）".into(), e.complaints.upheld.into()],
            vec!["逾期答复（件）".into(), e.complaints.late.into()],
            vec![
                "限期整改".into(),
                if e.rectify.is_empty() {
                    "否".into()
                } else {
                    format!("是：{}", e.rectify.join("；")).into()
                },
            ],
        ]
        .into_iter()
        .chain(e.splits.by_service_way.iter().map(|w| {
            vec![
                format!("{}（小时）", w.label).into(),
                hours_cell(w.figures.machine_hours),
            ]
        }))
        .chain(e.splits.by_direction.iter().map(|d| {
            vec![
                format!("服务方向：{}（小时）", d.label).into(),
                hours_cell(d.figures.machine_hours),
            ]
        }))
        .chain([
            vec![
                "入网率（入网/应入网）".into(),
                ratio(&r.registered_of_eligible),
            ],
            vec![
                "运行正常率（运行正常/入网）".into(),
                ratio(&r.running_of_registered),
            ],
            vec!["共享率（共享/应入网）".into(), ratio(&r.shared_of_eligible)],
            vec![
                "对外共享率（对外共享/应入网）".into(),
                ratio(&r.shared_externally_of_eligible),
            ],
        ])
        .collect(),
    }
}

/// The year's rectification notices: what was ordered, by when, and what the unit reported.
fn notices_table(e: &Evaluation) -> Table {
    Table {
        headers: &[
            "下达日期",
            "整改要求",
            "整改期限",
            "延期次数",
            "状态",
            "整改报告",
        ],
        rows: e
            .notices
            .iter()
            .map(|n| {
                vec![
                    crate::types::local_date(n.created_at).into(),
                    n.reason.clone().into(),
                    n.deadline.format("%Y-%m-%d").to_string().into(),
                    i64::from(n.extensions).into(),
                    n.status_label.to_owned().into(),
                    n.report.clone().unwrap_or_default().into(),
                ]
            })
            .collect(),
    }
}

/// A text cell as CSV: quoted when needed, and with a leading apostrophe when a spreadsheet
/// would take it for a formula (text typed by users reaches this file).
fn csv_field(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Num(n) => out.push_str(&n.to_string()),
        Cell::Fixed(n, decimals) => out.push_str(&format!("{n:.decimals$}")),
        Cell::Text(s) => {
            let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{s}")
            } else {
                s.clone()
            };
            if guarded.contains([',', '"', '\n', '\r']) {
                out.push('"');
                out.push_str(&guarded.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&guarded);
            }
        }
    }
}

/// CSV with a byte-order mark, which spreadsheet programs need to read UTF-8 Chinese.
pub fn csv(table: &Table) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&table.headers.join(","));
    out.push_str("\r\n");
    for row in &table.rows {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, cell);
        }
        out.push_str("\r\n");
    }
    out
}

pub(crate) fn sheet(ws: &mut Worksheet, name: &str, table: &Table) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    ws.set_name(name)?;
    for (c, h) in table.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
        ws.set_column_width(c as u16, 14)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(s) => ws.write_string(r, c as u16, s)?,
                Cell::Num(n) => ws.write_number(r, c as u16, *n)?,
                Cell::Fixed(n, decimals) => ws.write_number_with_format(
                    r,
                    c as u16,
                    *n,
                    &Format::new().set_num_format(format!("0.{}", "0".repeat(*decimals))),
                )?,
            };
        }
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// The workbook: 汇总, 仪器, 服务记录.
pub fn xlsx(e: &Evaluation, records: &Table, platform: &PlatformSettings) -> AppResult<Vec<u8>> {
    let build = || -> Result<Vec<u8>, XlsxError> {
        let mut wb = Workbook::new();
        sheet(wb.add_worksheet(), "汇总", &summary_table(e, platform))?;
        sheet(wb.add_worksheet(), "仪器", &instruments_table(e))?;
        sheet(wb.add_worksheet(), "服务记录", records)?;
        sheet(wb.add_worksheet(), "整改通知", &notices_table(e))?;
        wb.save_to_buffer()
    };
    build().map_err(AppError::internal)
}

/// A report file ready to send.
pub struct Report {
    pub body: Vec<u8>,
    pub file_name: String,
    pub content_type: &'static str,
}

impl Report {
    pub fn response(self) -> actix_web::HttpResponse {
        actix_web::HttpResponse::Ok()
            .content_type(self.content_type)
            .insert_header((
                "content-disposition",
                format!("attachment; filename=\"{}\"", self.file_name),
            ))
            .body(self.body)
    }
}

/// A unit's year as `csv` (its service records) or `xlsx` (the evaluation workbook); any
/// other format is a 404. The caller checks the reader may see the unit's evaluation.
pub fn year_report(
    conn: &mut DbConnection,
    platform: &PlatformSettings,
    round: &crate::config::EvaluationSettings,
    unit: UnitId,
    year: i32,
    format: &str,
) -> AppResult<Report> {
    if format != "csv" && format != "xlsx" {
        return Err(AppError::NotFound { what: "page" });
    }
    let (from, to) = evaluation::year_bounds(year)?;
    let records = records_table(store::unit_records(conn, unit, from, to)?);
    if format == "csv" {
        return Ok(Report {
            body: csv(&records).into_bytes(),
            file_name: format!("records-{unit}-{year}.csv"),
            content_type: "text/csv; charset=utf-8",
        });
    }
    let e = evaluation::evaluation(conn, unit, year, round)?;
    Ok(Report {
        body: xlsx(&e, &records, platform)?,
        file_name: format!("evaluation-{unit}-{year}.xlsx"),
        content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    })
}

/// The platform's yearly round as `csv` or `xlsx` (one sheet 年度评价考核): per unit its
/// satisfaction, complaints, the 限期整改 flag and its notices. The caller checks the reader
/// is a platform admin.
pub fn round_report(
    list: &[super::model::UnitRound],
    year: i32,
    format: &str,
) -> AppResult<Report> {
    let table = Table {
        headers: &[
            "单位",
            words::SATISFACTION,
            words::RATINGS,
            "受理投诉（件）",
            "投诉成立（含部分成立）",
            "逾期答复（件）",
            "限期整改",
            "整改通知",
        ],
        rows: list
            .iter()
            .map(|u| {
                vec![
                    u.unit_name.clone().into(),
                    satisfaction(u.rated.satisfaction),
                    u.rated.ratings.into(),
                    u.complaints.received.into(),
                    u.complaints.upheld.into(),
                    u.complaints.late.into(),
                    u.rectify.join("；").into(),
                    u.notices
                        .iter()
                        .map(|n| format!("{}（期限 {}）", n.status_label, n.deadline))
                        .collect::<Vec<_>>()
                        .join("；")
                        .into(),
                ]
            })
            .collect(),
    };
    match format {
        "csv" => Ok(Report {
            body: csv(&table).into_bytes(),
            file_name: format!("round-{year}.csv"),
            content_type: "text/csv; charset=utf-8",
        }),
        "xlsx" => {
            let build = || -> Result<Vec<u8>, XlsxError> {
                let mut wb = Workbook::new();
                sheet(wb.add_worksheet(), "年度评价考核", &table)?;
                wb.save_to_buffer()
            };
            Ok(Report {
                body: build().map_err(AppError::internal)?,
                file_name: format!("round-{year}.xlsx"),
                content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            })
        }
        _ => Err(AppError::NotFound { what: "page" }),
    }
}
