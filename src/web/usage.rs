//! Machine-hour pages: the platform statistics with server-rendered SVG charts, a unit's yearly
//! evaluation with its exports, the staff's service log (list, form, hour-reduction queue) and
//! a client's own records with the hour-reduction request.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use askama::Template;
use chrono::{Datelike, NaiveDate};

use super::forms::{get, opt, see_other, Cell, Field, Form, FormPage, Line, RowAction, TablePage};
use super::pages::Pager;
use super::session::Ctx;
use super::PageResult;
use super::{html, WebError};
use crate::auth::Role;
use crate::error::AppError;
use crate::navigation::model::InstrumentBrief;
use crate::params::{path_id, query_params};
use crate::types::{hours_1, yuan_2, InstrumentId, ServiceRecordId, UserId};
use crate::usage::model::{
    DecisionInput, Direction, ProjectFunding, ReductionInput, ServiceInput, ServiceType,
    ServiceWay, Splits, UsageStats,
};
use crate::usage::service::{self, local_day};
use crate::usage::{evaluation, export, reductions, store};
use crate::{db, state::AppState, words};

query_params! {
    /// A page, after a service was logged (`saved=1`).
    pub struct SavedParams {
        /// 1 right after saving
        saved: text(10),
        /// paging
        page: page,
    }
}

query_params! {
    /// The year a page shows (default this year).
    pub struct YearPageParams {
        /// the year, e.g. 2026
        year: int(2000, 2100),
    }
}

query_params! {
    /// A period of days.
    pub struct PeriodParams {
        /// first day, YYYY-MM-DD
        from: date,
        /// last day, YYYY-MM-DD
        to: date,
    }
}

query_params! {
    /// A page, after a reduction was asked for (`asked=1`).
    pub struct AskedParams {
        /// 1 right after asking
        asked: text(10),
        /// 1 right after rating
        rated: text(10),
        /// paging
        page: page,
    }
}

/// One bar of a chart, with its geometry worked out here so the template only places it.
pub struct Bar {
    pub label: String,
    pub value: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub label_x: f64,
    pub label_y: f64,
    pub value_x: f64,
    pub value_y: f64,
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub width: f64,
    pub height: f64,
    pub horizontal: bool,
    pub bars: Vec<Bar>,
}

fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_owned();
    }
    let mut s: String = label.chars().take(max - 1).collect();
    s.push('…');
    s
}

fn hours_text(h: f64) -> String {
    if h >= 10.0 {
        format!("{h:.0}")
    } else {
        format!("{h:.1}")
    }
}

/// Bars left to right, one per item (months): labels below, values above.
fn columns(id: &'static str, title: &'static str, items: Vec<(String, f64)>) -> Chart {
    let (width, plot, top, bottom) = (720.0, 200.0, 20.0, 40.0);
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1.0);
    let slot = (width - 20.0) / items.len().max(1) as f64;
    let every = (items.len() / 12).max(1);
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, v))| {
            let h = v / max * plot;
            let x = 10.0 + i as f64 * slot + slot * 0.15;
            let w = slot * 0.7;
            Bar {
                label: if i % every == 0 { label } else { String::new() },
                value: if every == 1 {
                    hours_text(v)
                } else {
                    String::new()
                },
                x,
                y: top + plot - h,
                w,
                h,
                label_x: x + w / 2.0,
                label_y: top + plot + 16.0,
                value_x: x + w / 2.0,
                value_y: top + plot - h - 4.0,
            }
        })
        .collect();
    Chart {
        id,
        title,
        width,
        height: top + plot + bottom,
        horizontal: false,
        bars,
    }
}

/// One row per item, longest first as given: label left, bar, value right.
fn rows(id: &'static str, title: &'static str, items: Vec<(String, f64)>) -> Chart {
    let (width, label_w, row_h) = (720.0, 230.0, 26.0);
    let plot = width - label_w - 80.0;
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1.0);
    let bars: Vec<Bar> = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, v))| {
            let y = 6.0 + i as f64 * row_h;
            let w = v / max * plot;
            Bar {
                label: short(&label, 16),
                value: hours_text(v),
                x: label_w,
                y,
                w,
                h: row_h - 8.0,
                label_x: label_w - 8.0,
                label_y: y + 14.0,
                value_x: label_w + w + 6.0,
                value_y: y + 14.0,
            }
        })
        .collect();
    Chart {
        id,
        title,
        width,
        height: 12.0 + bars.len() as f64 * row_h,
        horizontal: true,
        bars,
    }
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    stats: std::sync::Arc<UsageStats>,
    from: NaiveDate,
    to: NaiveDate,
    charts: Vec<Chart>,
    years: Vec<i32>,
}

impl StatsPage {
    /// Fen as 万元 with two decimals.
    fn wan_yuan(&self) -> String {
        format!("{:.2}", self.stats.income_fen as f64 / 1_000_000.0)
    }
}

/// 统计: what a provincial officer shows in a meeting. Public, like the published figures.
#[tracing::instrument(name = "web.usage.stats", skip_all)]
pub async fn stats(state: web::Data<AppState>, req: HttpRequest) -> PageResult {
    let p = PeriodParams::parse_known(req.query_string())?;
    let today = local_day(state.clock.now());
    let from = p
        .from
        .unwrap_or(NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today));
    let to = p.to.unwrap_or(today);
    let stats = state
        .usage_stats
        .get(&state.pool, &state.catalogue, Some(from), Some(to), 10)
        .await?;
    let mut sub_platforms: Vec<(String, f64)> = stats
        .by_sub_platform
        .iter()
        .map(|s| (s.name.clone(), s.figures.machine_hours))
        .collect();
    sub_platforms.sort_by(|a, b| b.1.total_cmp(&a.1));
    let charts = vec![
        columns(
            "chart-months",
            "按月机时（小时）",
            stats
                .by_month
                .iter()
                .map(|m| (m.month.clone(), m.figures.machine_hours))
                .collect(),
        ),
        rows("chart-sub-platforms", "各子平台机时（小时）", sub_platforms),
        rows(
            "chart-types",
            "按服务类型（小时）",
            stats
                .by_service_type
                .iter()
                .map(|t| (t.label.to_owned(), t.figures.machine_hours))
                .collect(),
        ),
        rows("chart-ways", "按服务方式（小时）", way_bars(&stats.splits)),
        rows(
            "chart-directions",
            "按服务方向（小时）",
            direction_bars(&stats.splits),
        ),
        rows(
            "chart-instruments",
            "使用最多的仪器（小时）",
            stats
                .by_instrument
                .iter()
                .map(|i| {
                    (
                        format!("{}·{}", i.name, i.unit_name),
                        i.figures.machine_hours,
                    )
                })
                .collect(),
        ),
    ];
    html(&StatsPage {
        stats,
        from,
        to,
        charts,
        years: (2018..=today.year()).rev().collect(),
    })
}

fn way_bars(s: &Splits) -> Vec<(String, f64)> {
    s.by_service_way
        .iter()
        .map(|w| (w.label.to_owned(), w.figures.machine_hours))
        .collect()
}

fn direction_bars(s: &Splits) -> Vec<(String, f64)> {
    s.by_direction
        .iter()
        .map(|d| (d.label.to_owned(), d.figures.machine_hours))
        .collect()
}

fn year_param(req: &HttpRequest, today: NaiveDate) -> Result<i32, AppError> {
    Ok(YearPageParams::parse_known(req.query_string())?
        .year
        .map_or(today.year(), |y| y as i32))
}

fn percent(v: Option<f64>) -> String {
    v.map_or("未申报应入网仪器数".to_owned(), |v| {
        format!("{:.1}%", v * 100.0)
    })
}

/// A unit's yearly evaluation: the figures, the four ratios and the per-instrument table.
#[tracing::instrument(name = "web.usage.evaluation", skip_all)]
pub async fn evaluation(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit = path_id(&id)?;
    let year = year_param(&req, local_day(state.clock.now()))?;
    let round = state.evaluation;
    let reports = crate::usage::nrii::may_report(&who, unit).is_ok();
    let e = db::run(&state.pool, move |c| {
        evaluation::may_evaluate(&who, unit)?;
        evaluation::evaluation(c, unit, year, &round)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        format!("{} {} 年度开放共享评价", e.unit_name, year),
        vec![
            "仪器",
            words::ASSET_NO,
            words::MACHINE_HOURS,
            words::EXTERNAL_HOURS,
            words::SERVICES,
            words::CLIENT_UNITS,
            words::INCOME,
            "饱和度",
        ],
    );
    let r = &e.ratios;
    t.intro = vec![
        format!(
            "有效机时 {:.1} 小时 · 对外服务机时 {:.1} 小时 · 服务收入 {:.2} 元（其中创新券兑付 {:.2} 元） · 服务 {} 次（对外 {} 次） · 服务对象单位 {} 家（外单位 {} 家，本单位 {} 家）",
            e.figures.machine_hours,
            e.figures.external_hours,
            e.figures.income_fen as f64 / 100.0,
            e.voucher_fen as f64 / 100.0,
            e.figures.services,
            e.figures.external_services,
            e.clients.client_units,
            e.clients.external_client_units,
            e.clients.internal_client_units,
        ),
        format!(
            "入网仪器 {} 台（套），其中大型仪器（原值 ≥ {:.0} 万元）{} 台 · 平均饱和度 {:.1}%（以 {} 小时/年计） · 满意度：{}",
            e.instruments,
            e.large_value_yuan as f64 / 10_000.0,
            e.large_instruments,
            e.utilisation * 100.0,
            e.saturation_hours,
            match e.satisfaction {
                Some(s) => format!("{:.1}%（{} 条评价）", s * 100.0, e.ratings),
                None => "暂无评价".to_owned(),
            }
        ),
        format!(
            "入网率 {} · 运行正常率 {} · 共享率 {} · 对外共享率 {}",
            percent(r.registered_of_eligible.value),
            percent(r.running_of_registered.value),
            percent(r.shared_of_eligible.value),
            percent(r.shared_externally_of_eligible.value)
        ),
        format!(
            "受理投诉 {} 件 · 投诉成立 {} 件 · 逾期答复 {} 件{}",
            e.complaints.received,
            e.complaints.upheld,
            e.complaints.late,
            if e.rectify.is_empty() {
                String::new()
            } else {
                format!(" · 限期整改：{}", e.rectify.join("；"))
            }
        ),
    ];
    t.charts = vec![
        rows("chart-ways", "按服务方式（小时）", way_bars(&e.splits)),
        rows(
            "chart-directions",
            "按服务方向（小时）",
            direction_bars(&e.splits),
        ),
    ];
    t.links = vec![
        (
            format!("/units/{unit}/evaluation.xlsx?year={year}"),
            "导出 Excel".to_owned(),
        ),
        (
            format!("/units/{unit}/evaluation.csv?year={year}"),
            "导出服务记录 CSV".to_owned(),
        ),
        (
            format!("/units/{unit}/evaluation?year={}", year - 1),
            format!("‹ {} 年", year - 1),
        ),
        (
            format!("/units/{unit}/evaluation?year={}", year + 1),
            format!("{} 年 ›", year + 1),
        ),
    ];
    if reports {
        t.links.extend([
            (
                format!("/units/{unit}/nrii.xlsx?year={year}"),
                "国家数据报送（Excel）".to_owned(),
            ),
            (
                format!("/units/{unit}/nrii.json?year={year}"),
                "国家数据报送（JSON）".to_owned(),
            ),
        ]);
    }
    // The year's rectification notices: the unit reports back from there.
    t.links.extend(e.notices.iter().map(|n| {
        (
            format!("/rectifications/{}", n.id),
            format!("整改通知（{}，期限 {}）", n.status_label, n.deadline),
        )
    }));
    let mut list = e.per_instrument;
    list.sort_by_key(|i| std::cmp::Reverse(i.figures.minutes));
    t.rows = list
        .into_iter()
        .map(|i| {
            vec![
                Cell::Link(format!("/instruments/{}", i.instrument_id), i.name),
                Cell::Text(i.asset_no),
                Cell::Text(format!("{:.1}", i.figures.machine_hours)),
                Cell::Text(format!("{:.1}", i.figures.external_hours)),
                Cell::Text(i.figures.services.to_string()),
                Cell::Text(i.client_units.to_string()),
                Cell::Text(format!("{:.2}", i.figures.income_fen as f64 / 100.0)),
                Cell::Text(format!("{:.1}%", i.utilisation * 100.0)),
            ]
        })
        .collect();
    t.render()
}

/// The exports behind the page's buttons (the session's cookie instead of a bearer token).
#[tracing::instrument(name = "web.usage.export", skip_all)]
pub async fn export(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit = path_id(&path.0)?;
    let format = path.1.clone();
    let year = year_param(&req, local_day(state.clock.now()))?;
    let (platform, round) = (state.platform.clone(), state.evaluation);
    let report = db::run(&state.pool, move |c| {
        evaluation::may_evaluate(&who, unit)?;
        export::year_report(c, &platform, &round, unit, year, &format)
    })
    .await?;
    Ok(report.response())
}

/// 国家数据报送 behind the evaluation page's buttons.
#[tracing::instrument(name = "web.usage.nrii_export", skip_all)]
pub async fn nrii_export(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit = path_id(&path.0)?;
    let format = path.1.clone();
    let year = year_param(&req, local_day(state.clock.now()))?;
    let round = state.evaluation;
    let report = db::run(&state.pool, move |c| {
        crate::usage::nrii::unit_report(c, &who, unit, year, &round, &format)
    })
    .await?;
    Ok(report.response())
}

/// The staff's service log: their records, newest first, with the form and the queue.
#[tracing::instrument(name = "web.usage.services", skip_all)]
pub async fn services(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    if !who.role.is_staff() && who.role != Role::PlatformAdmin {
        return Err(WebError(AppError::forbidden(
            "仅限仪器管理人员 (staff only)",
        )));
    }
    let q = SavedParams::parse_known(req.query_string())?;
    let (page, saved) = (q.page, q.saved.as_deref() == Some("1"));
    let unit = who.unit;
    let (list, (instruments, people)) = db::run(&state.pool, move |c| {
        let list = service::list(c, &who, store::Filter::default(), false, page)?;
        let named = names_of(c, &list.items)?;
        Ok((list, named))
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "服务记录（机时）",
        vec![
            "日期",
            "仪器",
            "客户",
            words::SERVICE_TYPE,
            words::SERVICE_WAY,
            words::MACHINE_HOURS,
            "对内/对外",
            "费用（元）",
            "来源",
        ],
    );
    if saved {
        t.notice = Some("服务记录已登记。".to_owned());
    }
    t.links = vec![
        ("/manage/services/new".to_owned(), "登记服务".to_owned()),
        (
            "/manage/hour-reductions".to_owned(),
            "核减机时申请".to_owned(),
        ),
    ];
    if let Some(u) = unit {
        t.links.push((
            format!("/units/{u}/evaluation"),
            "本单位年度评价".to_owned(),
        ));
    }
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|r| {
            vec![
                Cell::Text(r.served_on.to_string()),
                instrument_cell(&instruments, r.instrument_id),
                match r.client_user_id.and_then(|u| people.get(&u)) {
                    Some(p) => Cell::Lines(vec![
                        Line::text(p.name.clone()),
                        Line::muted(p.organisation.clone()),
                    ]),
                    None => Cell::Text("—".to_owned()),
                },
                Cell::Text(r.service_type.label_zh().to_owned()),
                Cell::Text(r.service_way.label_zh().to_owned()),
                Cell::Text(format!("{} 小时", hours_1(i64::from(r.minutes)))),
                Cell::Text(if r.internal { "对内" } else { "对外" }.to_owned()),
                Cell::Text(yuan_2(r.fee_fen)),
                Cell::Text(
                    if r.reservation_id.is_some() {
                        "预约"
                    } else {
                        "登记"
                    }
                    .to_owned(),
                ),
            ]
        })
        .collect();
    t.render()
}

fn service_form(
    ctx: &Ctx,
    instruments: Vec<(String, String)>,
    organisations: Vec<(String, String)>,
    v: &HashMap<String, String>,
    today: NaiveDate,
) -> FormPage {
    let g = |k: &str, d: &str| v.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let mut page = FormPage::new(
        ctx,
        "登记服务",
        "/manage/services/new",
        vec![
            Field::new("instrument_id", "仪器", "select", g("instrument_id", ""))
                .options(instruments)
                .required(),
            Field::new(
                "service_type",
                words::SERVICE_TYPE,
                "select",
                g("service_type", "testing"),
            )
            .options(
                ServiceType::ALL
                    .iter()
                    .map(|t| (t.code().to_owned(), t.label_zh().to_owned()))
                    .collect(),
            )
            .required(),
            Field::new(
                "service_way",
                words::SERVICE_WAY,
                "select",
                g("service_way", "technical"),
            )
            .options(
                ServiceWay::ALL
                    .iter()
                    .map(|w| (w.code().to_owned(), w.label_zh().to_owned()))
                    .collect(),
            )
            .required(),
            Field::new(
                "client_organisation_id",
                "服务对象单位",
                "select",
                g("client_organisation_id", ""),
            )
            .options(organisations)
            .required(),
            Field::new(
                "served_on",
                "服务日期",
                "date",
                g("served_on", &today.to_string()),
            )
            .required(),
            Field::new("hours", words::MACHINE_HOURS, "text", g("hours", ""))
                .hint("可含一位小数")
                .required(),
            Field::new(
                "sample_count",
                words::SAMPLE_COUNT,
                "number",
                g("sample_count", "0"),
            ),
            Field::new("fee_yuan", words::INCOME, "text", g("fee_yuan", "0")),
            Field::new(
                "content",
                words::SERVICE_CONTENT_DONE,
                "text",
                g("content", ""),
            )
            .hint("国家数据报送必填，200 字以内")
            .max(200)
            .required(),
            direction_field(g("direction", "research")),
            Field::new("project", words::PROJECT, "text", g("project", "")).max(200),
            funding_field(g("funding_source", "")),
            Field::new(
                "applicant_name",
                words::APPLICANT,
                "text",
                g("applicant_name", ""),
            )
            .hint("不填则取服务对象账户的姓名、电话和邮箱")
            .max(50),
            Field::new(
                "applicant_phone",
                "申请人电话",
                "tel",
                g("applicant_phone", ""),
            )
            .max(30),
            Field::new(
                "applicant_email",
                "申请人邮箱",
                "email",
                g("applicant_email", ""),
            )
            .max(254),
            Field::new("note", "备注", "textarea", g("note", "")).max(500),
        ],
        "登记",
    );
    page.intro = vec![
        "预约上机的机时在下机时自动记录；这里登记预约之外的服务：培训、咨询、教学、批量送样等。"
            .to_owned(),
    ];
    page.links = vec![("/manage/services".to_owned(), "返回服务记录".to_owned())];
    page
}

/// 服务方向: one of the national four.
pub fn direction_field(value: String) -> Field {
    Field::new("direction", words::DIRECTION, "select", value).options(
        Direction::ALL
            .iter()
            .map(|d| (d.code().to_owned(), d.label_zh().to_owned()))
            .collect(),
    )
}

/// 经费来源: the national list, or none without a project.
pub fn funding_field(value: String) -> Field {
    let mut options = vec![(String::new(), "（无项目）".to_owned())];
    options.extend(
        ProjectFunding::ALL
            .iter()
            .map(|f| (f.code().to_owned(), f.label_zh().to_owned())),
    );
    Field::new("funding_source", words::PROJECT_FUNDING, "select", value).options(options)
}

/// What the form offers: the instruments the person runs and the active organisations.
async fn form_choices(
    state: &web::Data<AppState>,
    ctx: &Ctx,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), WebError> {
    let who = ctx.require()?.clone();
    let unit = who.unit.ok_or_else(|| {
        WebError(AppError::forbidden(
            "仅限单位的仪器管理人员 (unit staff only)",
        ))
    })?;
    let choices = db::run(&state.pool, move |c| {
        let instruments = store::unit_instruments(c, unit)?
            .into_iter()
            .filter(|i| who.role == Role::UnitAdmin || who.managed.contains(&InstrumentId(i.0)))
            .map(|i| (i.0.to_string(), format!("{}（{}）", i.1, i.2)))
            .collect();
        let orgs = crate::users::store::active_organisation_names(c)?
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect();
        Ok((instruments, orgs))
    })
    .await?;
    Ok(choices)
}

#[tracing::instrument(name = "web.usage.service_form", skip_all)]
pub async fn service_page(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let (instruments, orgs) = form_choices(&state, &ctx).await?;
    let today = local_day(state.clock.now());
    service_form(&ctx, instruments, orgs, &HashMap::new(), today).render()
}

/// "1.5" hours → 90 minutes; "3,200.50" yuan → 320050 fen.
fn decimal(field: &str, raw: &str, scale: f64) -> Result<i64, AppError> {
    let n: f64 = raw
        .trim()
        .replace(',', "")
        .parse()
        .map_err(|_| AppError::invalid(field.to_owned(), "请填写数字 (a number)"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(AppError::invalid(
            field.to_owned(),
            "不能为负 (not negative)",
        ));
    }
    Ok((n * scale).round() as i64)
}

#[tracing::instrument(name = "web.usage.log_service", skip_all)]
pub async fn log_service(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let values = form.0;
    let parsed = (|| -> Result<ServiceInput, AppError> {
        fn id<Id: std::str::FromStr>(
            values: &HashMap<String, String>,
            k: &str,
        ) -> Result<Id, AppError> {
            get(values, k)
                .parse()
                .map_err(|_| AppError::invalid(k.to_owned(), "请选择 (choose one)"))
        }
        Ok(ServiceInput {
            instrument_id: id(&values, "instrument_id")?,
            service_type: get(&values, "service_type").to_owned(),
            service_way: get(&values, "service_way").to_owned(),
            client_organisation_id: id(&values, "client_organisation_id")?,
            served_on: Some(
                get(&values, "served_on")
                    .parse()
                    .map_err(|_| AppError::invalid("served_on", "请选择日期"))?,
            ),
            minutes: Some(decimal("hours", get(&values, "hours"), 60.0)?),
            sample_count: match get(&values, "sample_count").trim() {
                "" => 0,
                n => n.parse().map_err(|_| {
                    AppError::invalid("sample_count", "请填写整数 (a whole number)")
                })?,
            },
            fee_fen: decimal("fee_yuan", get(&values, "fee_yuan"), 100.0)?,
            project: opt(&values, "project").unwrap_or_default(),
            funding_source: opt(&values, "funding_source").unwrap_or_default(),
            note: opt(&values, "note").unwrap_or_default(),
            content: opt(&values, "content").unwrap_or_default(),
            direction: opt(&values, "direction"),
            applicant_name: opt(&values, "applicant_name").unwrap_or_default(),
            applicant_phone: opt(&values, "applicant_phone").unwrap_or_default(),
            applicant_email: opt(&values, "applicant_email").unwrap_or_default(),
            ..Default::default()
        })
    })();
    let now = state.clock.now();
    let result = match parsed {
        Ok(input) => {
            db::run(&state.pool, move |c| {
                service::log_service(c, &who, input, now)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other("/manage/services?saved=1")),
        Err(err) => {
            let (instruments, orgs) = form_choices(&state, &ctx).await?;
            let today = local_day(now);
            let err = match err {
                // The form asks for hours and yuan; name those fields.
                AppError::Invalid { field, message } if field == "minutes" => AppError::Invalid {
                    field: "hours".to_owned(),
                    message,
                },
                AppError::Invalid { field, message } if field == "fee_fen" => AppError::Invalid {
                    field: "fee_yuan".to_owned(),
                    message,
                },
                e => e,
            };
            service_form(&ctx, instruments, orgs, &values, today).failed(err)
        }
    }
}

/// The hour-reduction requests the person may decide.
#[tracing::instrument(name = "web.usage.reductions", skip_all)]
pub async fn reductions(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let who = ctx.require()?.clone();
    let (list, people, records) = db::run(&state.pool, move |c| {
        let list = reductions::pending_reductions(c, &who)?;
        let ids: Vec<UserId> = list.iter().map(|r| r.requested_by).collect();
        let people: HashMap<UserId, crate::users::model::Contact> =
            crate::users::store::contacts(c, &ids)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
        let record_ids: Vec<i64> = list.iter().map(|r| r.service_record_id.0).collect();
        let records: HashMap<i64, (i64, String, chrono::NaiveDate)> =
            store::record_briefs(c, &record_ids)?
                .into_iter()
                .map(|(id, instrument, name, day)| (id, (instrument, name, day)))
                .collect();
        Ok((list, people, records))
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "核减机时申请",
        vec![
            "申请时间",
            "申请人",
            "服务记录",
            "原有效机时（小时）",
            "申请核减为（小时）",
            "理由",
            "处理",
        ],
    );
    t.links = vec![("/manage/services".to_owned(), "服务记录".to_owned())];
    t.rows = list
        .into_iter()
        .map(|r| {
            let action = format!("/manage/hour-reductions/{}", r.id);
            vec![
                Cell::Text(crate::types::local_date_time(r.created_at)),
                match people.get(&r.requested_by) {
                    Some(p) => Cell::Lines(vec![
                        Line::text(p.name.clone()),
                        Line::muted(p.organisation.clone()),
                    ]),
                    None => Cell::Text(String::new()),
                },
                // The service as people remember it: which instrument, which day.
                match records.get(&r.service_record_id.0) {
                    Some((instrument, name, day)) => Cell::Lines(vec![
                        Line::link(format!("/instruments/{instrument}"), name.clone()),
                        Line::muted(day.format("%Y年%-m月%-d日").to_string()),
                    ]),
                    None => Cell::Text(format!("#{}", r.service_record_id)),
                },
                Cell::Text(hours_1(i64::from(r.minutes_before))),
                Cell::Text(hours_1(i64::from(r.minutes_requested))),
                Cell::Text(r.reason),
                Cell::Actions(vec![
                    RowAction {
                        action: action.clone(),
                        label: "同意",
                        fields: vec![("accept".to_owned(), "1".to_owned())],
                    },
                    RowAction {
                        action,
                        label: "不同意",
                        fields: vec![
                            ("accept".to_owned(), "0".to_owned()),
                            ("reason".to_owned(), "不同意的理由".to_owned()),
                        ],
                    },
                ]),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.usage.decide", skip_all)]
pub async fn decide(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    let input = DecisionInput {
        accept: get(&form, "accept") == "1",
        reason: opt(&form, "reason").unwrap_or_default(),
        fee_fen: None,
    };
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        reductions::decide_reduction(c, &who, id, input, now)
    })
    .await?;
    Ok(see_other("/manage/hour-reductions"))
}

type Named = (
    HashMap<InstrumentId, InstrumentBrief>,
    HashMap<UserId, crate::users::model::Contact>,
);

/// The instruments and clients a page of service records names, in one query each.
fn names_of(
    c: &mut crate::db::DbConnection,
    records: &[crate::usage::model::ServiceRecord],
) -> crate::error::AppResult<Named> {
    let ids: Vec<InstrumentId> = records.iter().map(|r| r.instrument_id).collect();
    let users: Vec<UserId> = records.iter().filter_map(|r| r.client_user_id).collect();
    Ok((
        crate::navigation::store::instrument_briefs(c, &ids)?
            .into_iter()
            .map(|b| (b.id, b))
            .collect(),
        crate::users::store::contacts(c, &users)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect(),
    ))
}

/// An instrument by name and unit, linked to its page.
fn instrument_cell(named: &HashMap<InstrumentId, InstrumentBrief>, id: InstrumentId) -> Cell {
    match named.get(&id) {
        Some(b) => Cell::Lines(vec![
            Line::link(format!("/instruments/{id}"), b.name.clone()),
            Line::muted(b.unit_name.clone()),
        ]),
        None => Cell::Link(format!("/instruments/{id}"), format!("#{id}")),
    }
}

/// A client's own service records, each with the way to ask for an hour reduction.
#[tracing::instrument(name = "web.usage.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    let q = AskedParams::parse_known(req.query_string())?;
    let (page, asked) = (q.page, q.asked.as_deref() == Some("1"));
    let rated_now = q.rated.as_deref() == Some("1");
    let (list, (instruments, _), rated) = db::run(&state.pool, move |c| {
        let list = service::list(c, &who, store::Filter::default(), true, page)?;
        let named = names_of(c, &list.items)?;
        let ids: Vec<ServiceRecordId> = list.items.iter().map(|r| r.id).collect();
        let rated = crate::evaluation::service::rated_among(c, &ids)?;
        Ok((list, named, rated))
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "我的服务记录",
        vec![
            "日期",
            "仪器",
            "类型",
            "有效机时（小时）",
            "费用（元）",
            "评价",
            "核减机时",
            "投诉",
        ],
    );
    if asked {
        t.notice = Some("核减申请已提交，仪器负责人处理后会邮件通知您。".to_owned());
    }
    if rated_now {
        t.notice = Some("评价已保存，谢谢您的意见。".to_owned());
    }
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|r| {
            vec![
                Cell::Text(r.served_on.to_string()),
                instrument_cell(&instruments, r.instrument_id),
                Cell::Text(r.service_type.label_zh().to_owned()),
                Cell::Text(hours_1(i64::from(r.minutes))),
                Cell::Text(yuan_2(r.fee_fen)),
                Cell::Button(
                    format!("/me/services/{}/rate", r.id),
                    if rated.contains(&r.id) {
                        "修改评价"
                    } else {
                        "评价"
                    },
                ),
                Cell::Actions(vec![RowAction {
                    action: format!("/me/services/{}/reduce", r.id),
                    label: "申请核减",
                    fields: vec![("_get".to_owned(), "1".to_owned())],
                }]),
                Cell::Button(
                    format!("/complaints/new?subject=service_record&subject_id={}", r.id),
                    "投诉",
                ),
            ]
        })
        .collect();
    t.render()
}

fn reduction_form(ctx: &Ctx, id: ServiceRecordId, v: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        format!("申请核减机时（服务记录 #{id}）"),
        format!("/me/services/{id}/reduce"),
        vec![
            Field::new(
                "hours",
                "核减后的有效机时（小时，可填一位小数）",
                "text",
                g("hours"),
            )
            .required(),
            Field::new("reason", "理由", "textarea", g("reason"))
                .required()
                .max(500),
        ],
        "提交申请",
    );
    page.links = vec![("/me/services".to_owned(), "返回我的服务记录".to_owned())];
    page
}

/// The request form (a row's button posts here with `_get`), and its submission.
#[tracing::instrument(name = "web.usage.reduce", skip_all)]
pub async fn reduce(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    let values = form.0;
    if values.contains_key("_get") {
        return reduction_form(&ctx, id, &HashMap::new()).render();
    }
    // The form asks for hours (one decimal, as every page shows them); the service counts
    // minutes.
    let window = state.usage.reduction_window_days;
    let now = state.clock.now();
    let result = match decimal("hours", get(&values, "hours"), 60.0) {
        Ok(minutes) => {
            let input = ReductionInput {
                minutes,
                reason: get(&values, "reason").to_owned(),
            };
            db::run(&state.pool, move |c| {
                reductions::request_reduction(c, &who, id, input, window, now)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other("/me/services?asked=1")),
        Err(AppError::Invalid { field, message }) if field == "minutes" => {
            let err = AppError::Invalid {
                field: "hours".to_owned(),
                message,
            };
            reduction_form(&ctx, id, &values).failed(err)
        }
        Err(err) => reduction_form(&ctx, id, &values).failed(err),
    }
}
