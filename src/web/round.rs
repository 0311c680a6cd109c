//! The yearly round's pages: the platform's evaluation list with the 限期整改 flag, the
//! rectification notice (issue, report back, close or extend) and the holiday table that
//! answer deadlines count by.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use chrono::{Datelike, NaiveDate};

use super::forms::{
    get, opt, see_other, Cell, CsrfChecked, Field, Form, FormPage, Line, RowAction, TablePage,
};
use super::session::Ctx;
use super::PageResult;
use crate::auth::{authorize, Action};
use crate::error::AppError;
use crate::evaluation::calendar::{self, DayKind, HolidayInput};
use crate::params::{path_id, query_params};
use crate::types::{local_date, RectificationId, UnitId};
use crate::usage::model::{
    RectificationInput, RectificationRow, RectificationStep, RectificationStepInput,
};
use crate::usage::service::local_day;
use crate::usage::{evaluation, rectifications};
use crate::{db, state::AppState};

query_params! {
    /// The year a round page shows (default this year).
    pub struct RoundParams {
        /// the year
        year: int(2000, 2100),
    }
}

fn year_of(req: &HttpRequest, state: &AppState) -> Result<i32, AppError> {
    Ok(RoundParams::parse_known(req.query_string())?
        .year
        .map_or(local_day(state.clock.now()).year(), |y| y as i32))
}

fn year_links(base: &str, year: i32) -> Vec<(String, String)> {
    vec![
        (
            format!("{base}?year={}", year - 1),
            format!("‹ {} 年", year - 1),
        ),
        (
            format!("{base}?year={}", year + 1),
            format!("{} 年 ›", year + 1),
        ),
    ]
}

/// The platform's evaluation list: each unit's satisfaction and complaints, flagged units
/// first with why, and their rectification notices.
#[tracing::instrument(name = "web.round.list", skip_all)]
pub async fn round(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    authorize(&who, Action::JudgeComplaints)?;
    let year = year_of(&req, &state)?;
    let settings = state.evaluation;
    let list = db::run(&state.pool, move |c| evaluation::round(c, year, &settings)).await?;
    let mut t = TablePage::new(
        &ctx,
        format!("{year} 年度评价考核"),
        vec![
            "单位",
            "满意度",
            "投诉（受理 / 成立 / 逾期答复）",
            "限期整改",
            "整改通知",
        ],
    );
    t.intro = vec![format!(
        "满意度低于 {:.0}%（至少 {} 条评价）或投诉成立 {} 件以上的单位标为限期整改，排在前面。",
        settings.rectify_below * 100.0,
        settings.rectify_min_ratings,
        settings.rectify_upheld
    )];
    t.links = year_links("/admin/evaluation", year);
    t.links
        .push(("/admin/holidays".to_owned(), "节假日".to_owned()));
    t.rows = list
        .into_iter()
        .map(|u| {
            let flag = if u.rectify.is_empty() {
                Cell::Text("—".to_owned())
            } else {
                Cell::Lines(
                    std::iter::once(Line::alert("限期整改"))
                        .chain(u.rectify.iter().map(|r| Line::muted(r.clone())))
                        .collect(),
                )
            };
            let mut notices: Vec<Line> = u
                .notices
                .iter()
                .map(|n| {
                    Line::link(
                        format!("/rectifications/{}", n.id),
                        format!("{}（期限 {}）", n.status_label, n.deadline),
                    )
                })
                .collect();
            notices.push(Line::link(
                format!("/admin/units/{}/rectifications/new?year={year}", u.unit_id),
                "下达整改通知",
            ));
            vec![
                Cell::Link(
                    format!("/units/{}/evaluation?year={year}", u.unit_id),
                    u.unit_name,
                ),
                Cell::Text(match u.rated.satisfaction {
                    Some(s) => format!("{:.1}%（{} 条）", s * 100.0, u.rated.ratings),
                    None => "暂无评价".to_owned(),
                }),
                Cell::Text(format!(
                    "{} / {} / {}",
                    u.complaints.received, u.complaints.upheld, u.complaints.late
                )),
                flag,
                Cell::Lines(notices),
            ]
        })
        .collect();
    t.render()
}

/// The round as a file, behind the page's buttons.
#[tracing::instrument(name = "web.round.export", skip_all)]
pub async fn export(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    format: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    authorize(&who, Action::JudgeComplaints)?;
    let year = year_of(&req, &state)?;
    let settings = state.evaluation;
    let format = format.into_inner();
    let report = db::run(&state.pool, move |c| {
        let list = evaluation::round(c, year, &settings)?;
        crate::usage::export::round_report(&list, year, &format)
    })
    .await?;
    Ok(report.response())
}

fn issue_form(ctx: &Ctx, unit: UnitId, v: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        "下达限期整改通知",
        format!("/admin/units/{unit}/rectifications/new"),
        vec![
            Field::new("year", "评价年度", "number", g("year")).required(),
            Field::new("reason", "整改要求", "textarea", g("reason"))
                .required()
                .max(2000),
            Field::new("deadline", "整改期限", "date", g("deadline")).required(),
        ],
        "下达通知",
    );
    page.intro = vec![
        "通知会邮件发送给该单位的管理员；单位报告整改情况后，平台可结束整改或延期。".to_owned(),
    ];
    page.links = vec![(
        "/admin/evaluation".to_owned(),
        "返回年度评价考核".to_owned(),
    )];
    page
}

#[tracing::instrument(name = "web.round.issue_page", skip_all)]
pub async fn issue_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    authorize(ctx.require()?, Action::JudgeComplaints)?;
    let unit = path_id(&id)?;
    let mut v = HashMap::new();
    v.insert("year".to_owned(), year_of(&req, &state)?.to_string());
    issue_form(&ctx, unit, &v).render()
}

#[tracing::instrument(name = "web.round.issue", skip_all)]
pub async fn issue(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit: UnitId = path_id(&id)?;
    let v = form.0;
    let input = (|| -> Result<RectificationInput, AppError> {
        Ok(RectificationInput {
            year: get(&v, "year")
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("year", "请填写年度 (a year)"))?,
            reason: get(&v, "reason").to_owned(),
            deadline: date(&v, "deadline")?
                .ok_or_else(|| AppError::invalid("deadline", "请选择整改期限 (a date)"))?,
        })
    })();
    let now = state.clock.now();
    let r = match input {
        Ok(input) => {
            db::run(&state.pool, move |c| {
                Ok(rectifications::issue(c, &who, unit, input, now))
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(n) => Ok(see_other(&format!("/rectifications/{}", n.id))),
        Err(e) => issue_form(&ctx, unit, &v).failed(e),
    }
}

fn date(v: &HashMap<String, String>, key: &str) -> Result<Option<NaiveDate>, AppError> {
    opt(v, key)
        .map(|d| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| AppError::invalid(key, "日期格式为 YYYY-MM-DD (a date)"))
        })
        .transpose()
}

fn notice_form(
    ctx: &Ctx,
    row: &RectificationRow,
    steps: &[RectificationStep],
    unit: &str,
    v: &HashMap<String, String>,
) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut intro = vec![
        format!(
            "{unit} · {} 年度 · 下达于 {}",
            row.year,
            local_date(row.created_at.and_utc())
        ),
        format!("整改要求：{}", row.reason),
        format!(
            "整改期限：{}{} · 状态：{}",
            row.deadline.format("%Y年%-m月%-d日"),
            if row.extensions > 0 {
                format!("（已延期 {} 次）", row.extensions)
            } else {
                String::new()
            },
            row.status.label_zh()
        ),
    ];
    if let Some(r) = &row.report {
        intro.push(format!("单位整改报告：{r}"));
    }
    let fields = if steps.is_empty() {
        Vec::new()
    } else {
        vec![
            Field::new("step", "办理", "select", g("step"))
                .options(
                    steps
                        .iter()
                        .map(|s| (s.code().to_owned(), s.label_zh().to_owned()))
                        .collect(),
                )
                .required(),
            Field::new("text", "整改报告 / 说明", "textarea", g("text")).max(2000),
            Field::new(
                "deadline",
                "新的整改期限（延期时填写）",
                "date",
                g("deadline"),
            ),
        ]
    };
    let mut page = FormPage::new(
        ctx,
        "限期整改通知",
        format!("/rectifications/{}", row.id),
        fields,
        "提交",
    );
    page.intro = intro;
    page.links = vec![(
        format!("/units/{}/evaluation?year={}", row.unit_id, row.year),
        "查看该单位年度评价".to_owned(),
    )];
    page
}

#[tracing::instrument(name = "web.round.notice", skip_all)]
pub async fn notice(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    let who = ctx.require()?.clone();
    let id: RectificationId = path_id(&id)?;
    let (row, steps, unit) = db::run(&state.pool, move |c| {
        let row = rectifications::get(c, &who, id)?;
        let steps = rectifications::steps_for(&who, &row);
        let unit = crate::navigation::store::find_unit(c, row.unit_id)?
            .map(|u| u.name)
            .unwrap_or_default();
        Ok((row, steps, unit))
    })
    .await?;
    notice_form(&ctx, &row, &steps, &unit, &HashMap::new()).render()
}

#[tracing::instrument(name = "web.round.notice_step", skip_all)]
pub async fn notice_step(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: RectificationId = path_id(&id)?;
    let v = form.0;
    let step = RectificationStep::from_code(get(&v, "step"));
    let deadline = date(&v, "deadline");
    let text = get(&v, "text").to_owned();
    let now = state.clock.now();
    let (result, row, steps, unit) = db::run(&state.pool, move |c| {
        let result = match (step, deadline) {
            (None, _) => Err(AppError::invalid("step", "请选择办理事项")),
            (_, Err(e)) => Err(e),
            (Some(step), Ok(deadline)) => rectifications::step(
                c,
                &who,
                id,
                step,
                RectificationStepInput { text, deadline },
                now,
            ),
        };
        let row = rectifications::get(c, &who, id)?;
        let steps = rectifications::steps_for(&who, &row);
        let unit = crate::navigation::store::find_unit(c, row.unit_id)?
            .map(|u| u.name)
            .unwrap_or_default();
        Ok((result, row, steps, unit))
    })
    .await?;
    match result {
        Ok(_) => Ok(see_other(&format!("/rectifications/{id}"))),
        Err(e) => notice_form(&ctx, &row, &steps, &unit, &v).failed(e),
    }
}

/// The holiday table of a year, each day removable, with the form to add one.
#[tracing::instrument(name = "web.round.holidays", skip_all)]
pub async fn holidays(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    authorize(ctx.require()?, Action::JudgeComplaints)?;
    let year = year_of(&req, &state)?;
    let days = db::run(&state.pool, move |c| Ok(calendar::list_year(c, year)?)).await?;
    let mut t = TablePage::new(
        &ctx,
        format!("{year} 年节假日与调休"),
        vec!["日期", "类型", "名称", ""],
    );
    t.intro = vec![
        "投诉答复期限按北京时间工作日计算：周一至周五上班，下表中的放假日不计，调休上班的周末计入。国务院办公厅公布次年安排后请及时补充。"
            .to_owned(),
    ];
    t.links = year_links("/admin/holidays", year);
    t.links
        .push(("/admin/holidays/new".to_owned(), "添加日期".to_owned()));
    t.rows = days
        .into_iter()
        .map(|h| {
            vec![
                Cell::Text(h.day.format("%Y-%m-%d").to_string()),
                Cell::Text(h.kind.label_zh().to_owned()),
                Cell::Text(h.name),
                Cell::Actions(vec![RowAction {
                    action: format!("/admin/holidays/{}/remove", h.day.format("%Y-%m-%d")),
                    label: "删除",
                    fields: Vec::new(),
                }]),
            ]
        })
        .collect();
    t.render()
}

fn holiday_form(ctx: &Ctx, v: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        "添加节假日或调休",
        "/admin/holidays/new".to_owned(),
        vec![
            Field::new("day", "日期", "date", g("day")).required(),
            Field::new("kind", "类型", "select", g("kind"))
                .options(
                    DayKind::ALL
                        .iter()
                        .map(|k| (k.code().to_owned(), k.label_zh().to_owned()))
                        .collect(),
                )
                .required(),
            Field::new("name", "名称（如 春节）", "text", g("name")).max(20),
        ],
        "保存",
    );
    page.links = vec![("/admin/holidays".to_owned(), "返回节假日".to_owned())];
    page
}

#[tracing::instrument(name = "web.round.holiday_page", skip_all)]
pub async fn holiday_page(ctx: Ctx) -> PageResult {
    authorize(ctx.require()?, Action::JudgeComplaints)?;
    holiday_form(&ctx, &HashMap::new()).render()
}

#[tracing::instrument(name = "web.round.add_holiday", skip_all)]
pub async fn add_holiday(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let v = form.0;
    let day = date(&v, "day").and_then(|d| d.ok_or_else(|| AppError::invalid("day", "请选择日期")));
    let input = HolidayInput {
        kind: get(&v, "kind").to_owned(),
        name: get(&v, "name").to_owned(),
    };
    let now = state.clock.now();
    let r = match day {
        Ok(day) => {
            db::run(&state.pool, move |c| {
                Ok(calendar::set_day(c, &who, day, input, now).map(|h| h.day))
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(day) => Ok(see_other(&format!("/admin/holidays?year={}", day.year()))),
        Err(e) => holiday_form(&ctx, &v).failed(e),
    }
}

#[tracing::instrument(name = "web.round.remove_holiday", skip_all)]
pub async fn remove_holiday(
    state: web::Data<AppState>,
    ctx: Ctx,
    day: web::Path<String>,
    _checked: CsrfChecked,
) -> PageResult {
    let who = ctx.require()?.clone();
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|_| AppError::NotFound { what: "page" })?;
    let now = state.clock.now();
    db::run(&state.pool, move |c| calendar::clear_day(c, &who, day, now)).await?;
    Ok(see_other(&format!("/admin/holidays?year={}", day.year())))
}
