//! Complaint pages: the filing form, 我的投诉, the unit's and the platform's queues, and one
//! complaint with its history and the steps the reader may take.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Duration, Utc};

use super::explain::explain;
use super::forms::{get, see_other, Cell, Field, Form, FormPage, Line, TablePage};
use super::session::Ctx;
use super::{html_with_status, PageResult, WebError};
use crate::auth::{allowed, Action};
use crate::error::AppError;
use crate::evaluation::complaints::model::*;
use crate::evaluation::complaints::service;
use crate::params::{path_id, query_params};
use crate::types::{local_date_time, ComplaintId};
use crate::{db, state::AppState};

query_params! {
    /// What the filing form is about.
    pub struct NewComplaintParams {
        /// service_record, reservation, instrument or unit
        subject: text(20),
        /// its id
        subject_id: int(1, i64::MAX),
    }
}

query_params! {
    /// The queue's tab.
    pub struct QueueParams {
        /// `all` for every complaint, else the open ones
        tab: text(10),
    }
}

fn categories() -> Vec<(String, String)> {
    Category::ALL
        .iter()
        .map(|c| (c.code().to_owned(), c.label_zh().to_owned()))
        .collect()
}

fn complaint_form(ctx: &Ctx, v: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let subject = Subject::from_code(&g("subject")).map_or("", Subject::label_zh);
    let mut page = FormPage::new(
        ctx,
        "投诉",
        "/complaints/new".to_owned(),
        vec![
            Field::new("subject", "", "hidden", g("subject")),
            Field::new("subject_id", "", "hidden", g("subject_id")),
            Field::new("category", "投诉类型", "select", g("category"))
                .options(categories())
                .required(),
            Field::new(
                "description",
                "投诉内容（经过、时间、涉及人员）",
                "textarea",
                g("description"),
            )
            .required()
            .max(2000),
            Field::new("request", "诉求（希望如何处理）", "textarea", g("request")).max(500),
        ],
        "提交投诉",
    );
    page.intro = vec![
        format!("投诉对象：{subject} #{}", g("subject_id")),
        "投诉只有您、被投诉单位的管理员和平台管理员可以看到。平台受理后，单位须在规定的工作日内答复；对答复不满意可申请平台裁定。"
            .to_owned(),
    ];
    page.links = vec![("/me/complaints".to_owned(), "我的投诉".to_owned())];
    page
}

/// The filing form, for the thing named in the query.
#[tracing::instrument(name = "web.complaints.new_page", skip_all)]
pub async fn new_page(ctx: Ctx, req: HttpRequest) -> PageResult {
    ctx.require()?;
    let q = NewComplaintParams::parse_known(req.query_string())?;
    let mut v = HashMap::new();
    v.insert("subject".to_owned(), q.subject.unwrap_or_default());
    v.insert(
        "subject_id".to_owned(),
        q.subject_id.map(|i| i.to_string()).unwrap_or_default(),
    );
    v.insert("category".to_owned(), Category::Refused.code().to_owned());
    complaint_form(&ctx, &v).render()
}

/// Files the complaint and shows it.
#[tracing::instrument(name = "web.complaints.file", skip_all)]
pub async fn file(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let values = form.0;
    let input = ComplaintInput {
        subject: get(&values, "subject").to_owned(),
        subject_id: get(&values, "subject_id").parse().unwrap_or(0),
        category: get(&values, "category").to_owned(),
        description: get(&values, "description").to_owned(),
        request: get(&values, "request").to_owned(),
    };
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| Ok(service::file(c, &who, input, now))).await?;
    match r {
        Ok(c) => Ok(see_other(&format!("/complaints/{}?filed=1", c.id))),
        Err(e) => complaint_form(&ctx, &values).failed(e),
    }
}

/// "剩 2 天" / "已逾期": how close the unit's deadline is, red within a day or past.
fn deadline_line(c: &Complaint, now: DateTime<Utc>) -> Line {
    match (c.status, c.answer_due_at) {
        (ComplaintStatus::Accepted, Some(due)) => {
            let text = format!("{} 前", local_date_time(due));
            if c.overdue || due <= now {
                Line::alert(format!("{text}（已逾期）"))
            } else if due - now <= Duration::days(1) {
                Line::alert(format!("{text}（不足 1 天）"))
            } else {
                Line::text(text)
            }
        }
        _ if c.late => Line::muted("逾期答复"),
        _ => Line::muted("—"),
    }
}

fn rows(list: Vec<Complaint>, now: DateTime<Utc>, with_person: bool) -> Vec<Vec<Cell>> {
    list.into_iter()
        .map(|c| {
            let mut row = vec![
                Cell::Link(format!("/complaints/{}", c.id), format!("#{}", c.id)),
                Cell::Lines(vec![
                    Line::text(c.subject_label.clone()),
                    Line::muted(c.unit_name.clone()),
                ]),
                Cell::Text(c.category_label.to_owned()),
                Cell::Text(c.status_label.to_owned()),
                Cell::Lines(vec![deadline_line(&c, now)]),
                Cell::Text(local_date_time(c.created_at)),
            ];
            if with_person {
                row.insert(1, Cell::Text(c.complainant.clone()));
            }
            row
        })
        .collect()
}

/// 我的投诉: the reader's complaints, newest first.
#[tracing::instrument(name = "web.complaints.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let who = ctx.require()?.clone();
    let list = db::run(&state.pool, move |c| service::list(c, &who, true, false)).await?;
    let mut t = TablePage::new(
        &ctx,
        "我的投诉",
        vec![
            "编号",
            "投诉对象",
            "类型",
            "状态",
            "单位答复期限",
            "提交时间",
        ],
    );
    t.intro = vec![
        "要投诉一次服务，请在“我的服务记录”或“我的预约”中点“投诉”；也可在仪器页面投诉仪器或其单位。"
            .to_owned(),
    ];
    t.rows = rows(list, state.clock.now(), false);
    t.render()
}

/// The complaints the reader handles: their unit's (unit admins) or all (platform admins).
#[tracing::instrument(name = "web.complaints.queue", skip_all)]
pub async fn queue(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    let all = QueueParams::parse_known(req.query_string())?.tab.as_deref() == Some("all");
    let platform = allowed(&who, Action::JudgeComplaints);
    let list = db::run(&state.pool, move |c| service::list(c, &who, false, !all)).await?;
    let mut t = TablePage::new(
        &ctx,
        if platform {
            "投诉处理（平台）"
        } else {
            "投诉处理（本单位）"
        },
        vec![
            "编号",
            "投诉人",
            "投诉对象",
            "类型",
            "状态",
            "单位答复期限",
            "提交时间",
        ],
    );
    let n = list.len() as i64;
    t.tabs = vec![
        (
            "/manage/complaints".to_owned(),
            "待办结",
            if all { 0 } else { n },
            !all,
        ),
        (
            "/manage/complaints?tab=all".to_owned(),
            "全部",
            if all { n } else { 0 },
            all,
        ),
    ];
    t.intro = vec![if platform {
        "平台受理或不予受理新投诉，对申请裁定的投诉作出裁定。答复期限不足 1 天或已逾期的标红。"
    } else {
        "平台受理后，本单位须在答复期限内答复；投诉成立的，须报告整改情况。答复期限不足 1 天或已逾期的标红。"
    }
    .to_owned()];
    t.rows = rows(list, state.clock.now(), true);
    t.render()
}

/// One step's form on the complaint page.
struct StepForm {
    step: &'static str,
    label: &'static str,
    text: Option<&'static str>,
    danger: bool,
}

#[derive(Template)]
#[template(path = "complaint.html")]
struct ComplaintTemplate {
    c: Complaint,
    back: (String, String),
    created: String,
    due: Option<String>,
    due_alert: bool,
    forms: Vec<StepForm>,
    /// (when, what, who, note)
    history: Vec<(String, String, String, String)>,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
}

fn complaint_page(
    ctx: &Ctx,
    c: Complaint,
    now: DateTime<Utc>,
    error: Option<AppError>,
    notice: Option<&str>,
) -> PageResult {
    let status = error.as_ref().map_or(actix_web::http::StatusCode::OK, |e| {
        actix_web::ResponseError::status_code(e)
    });
    let mine = ctx.user.as_ref().is_some_and(|u| u.id == c.complainant_id);
    let back = if mine {
        ("/me/complaints", "我的投诉")
    } else {
        ("/manage/complaints", "投诉处理")
    };
    let due_line = deadline_line(&c, now);
    let forms = c
        .steps
        .iter()
        .map(|s| StepForm {
            step: s.code(),
            label: s.label_zh(),
            text: s.needs_text(),
            danger: matches!(
                s,
                ComplaintStep::SendBack | ComplaintStep::Withdraw | ComplaintStep::Reject
            ),
        })
        .collect();
    let history = c
        .history
        .iter()
        .map(|h| {
            (
                local_date_time(h.at),
                h.step_label.clone(),
                h.by.clone(),
                h.note.clone(),
            )
        })
        .collect();
    let page = ComplaintTemplate {
        back: (back.0.to_owned(), back.1.to_owned()),
        created: local_date_time(c.created_at),
        due: c.answer_due_at.map(|_| due_line.text.clone()),
        due_alert: due_line.alert,
        forms,
        history,
        csrf: ctx.csrf.clone(),
        error: error.map(|e| explain(&e).text),
        notice: notice.map(str::to_owned),
        c,
    };
    html_with_status(&page, status)
}

/// One complaint: what it says, where it stands, its history and the reader's steps.
#[tracing::instrument(name = "web.complaints.show", skip_all)]
pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: ComplaintId = path_id(&id)?;
    let filed = req.query_string().contains("filed=1");
    let c = db::run(&state.pool, move |c| service::get(c, &who, id)).await?;
    complaint_page(
        &ctx,
        c,
        state.clock.now(),
        None,
        filed.then_some("投诉已提交，平台受理后会邮件通知您。"),
    )
}

/// A step from the complaint page; refused, the page again with why.
#[tracing::instrument(name = "web.complaints.step", skip_all)]
pub async fn step(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: ComplaintId = path_id(&path.0)?;
    let step = ComplaintStep::from_code(&path.1)
        .filter(|s| !matches!(s, ComplaintStep::Submit | ComplaintStep::MarkOverdue))
        .ok_or(AppError::NotFound { what: "step" })?;
    let input = ComplaintStepInput {
        text: get(&form, "text").to_owned(),
    };
    let (settings, now) = (state.evaluation, state.clock.now());
    let (result, current) = db::run(&state.pool, move |c| {
        let r = service::step(c, &who, id, step, &input, &settings, now);
        let current = service::get(c, &who, id)?;
        Ok((r, current))
    })
    .await?;
    match result {
        Ok(_) => Ok(see_other(&format!("/complaints/{id}"))),
        Err(e @ AppError::NotFound { .. }) => Err(WebError(e)),
        Err(e) => complaint_page(&ctx, current, now, Some(e), None),
    }
}
