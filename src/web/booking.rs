//! Booking pages: the booking form of an instrument (with its free times this week), "my
//! reservations", the manager's queue (approve, reject with a reason, check in and out) and a
//! unit's week grid. They call the reservations service, which checks every rule.

use super::usage::{direction_field, funding_field};
use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc};

use super::forms::{get, opt, see_other, Cell, Field, Form, FormPage, Line, RowAction, TablePage};
use super::pages::Pager;
use super::session::Ctx;
use super::PageResult;
use super::WebError;
use crate::error::AppError;
use crate::params::path_id;
use crate::reservations::availability;
use crate::reservations::model::{
    Asked, BookingRequest, Reservation, ReservationKind, ReservationStatus, ResultDelivery, Step,
};
use crate::reservations::service::{self, Actor, Listed, StepCommand};
use crate::reservations::store::Filter;
use crate::types::{
    day_time_zh, day_zh, local_date_time, span_zh, yuan_2, InstrumentId, ReservationId,
    PLATFORM_ZONE,
};
use crate::{db, state::AppState, words};

/// One per form: a double click or a resent form books once (the service's idempotency key).
fn nonce_field(values: &HashMap<String, String>) -> Field {
    Field::new(
        "nonce",
        "",
        "hidden",
        values
            .get("nonce")
            .cloned()
            .unwrap_or_else(crate::auth::tokens::random),
    )
}

/// Books what a form asked for, with the purpose and project it gave; once per form, however
/// often it is posted (its nonce is the idempotency key).
async fn submit(
    state: &AppState,
    who: &crate::auth::Principal,
    id: InstrumentId,
    asked: Asked,
    form: &Form,
) -> Result<Reservation, AppError> {
    let input = BookingRequest {
        instrument_id: id,
        asked,
        purpose: get(form, "purpose").to_owned(),
        project: get(form, "project").to_owned(),
        funding_source: get(form, "funding_source").to_owned(),
        direction: opt(form, "direction"),
        voucher_id: opt(form, "voucher_id")
            .map(|v| {
                v.parse()
                    .map_err(|_| AppError::invalid("voucher_id", "请选择创新券"))
            })
            .transpose()?,
    };
    let key = opt(form, "nonce").map(|n| format!("web-{n}"));
    Ok(service::create(state, who, input, key).await?.0)
}

/// Local date + time in the platform zone.
fn local_instant(field: &str, date: &str, time: &str) -> Result<DateTime<Utc>, AppError> {
    let d: NaiveDate = date
        .parse()
        .map_err(|_| AppError::invalid("date", "请选择日期"))?;
    let t = NaiveTime::parse_from_str(time, "%H:%M")
        .map_err(|_| AppError::invalid(field.to_owned(), "请选择时间 (HH:MM)"))?;
    let local = d
        .and_time(t)
        .and_local_timezone(PLATFORM_ZONE)
        .single()
        .ok_or_else(|| AppError::invalid(field.to_owned(), "无效时间"))?;
    Ok(local.with_timezone(&Utc))
}

async fn booking_form(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    id: InstrumentId,
    values: &HashMap<String, String>,
) -> Result<FormPage, WebError> {
    let now = state.clock.now();
    let st = state.clone();
    let (inst, avail) = db::run(&state.pool, move |c| {
        let inst = crate::navigation::service::get_instrument(c, &st.catalogue.categories, id)?;
        let a = availability::availability(
            c,
            &st.booking_rules,
            id,
            now,
            now + Duration::days(7),
            now,
        )?;
        Ok((inst, a))
    })
    .await?;
    let tomorrow = (now.with_timezone(&PLATFORM_ZONE) + Duration::days(1)).date_naive();
    let g = |k: &str, d: &str| values.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let mut page = FormPage::new(
        ctx,
        format!("预约：{}", inst.name_zh),
        format!("/instruments/{id}/book"),
        vec![
            Field::new("date", "日期", "date", g("date", &tomorrow.to_string())).required(),
            Field::new("start", "开始时间", "time", g("start", "09:00")).required(),
            Field::new("end", "结束时间", "time", g("end", "10:00")).required(),
            Field::new("staff_assist", "上机方式", "select", g("staff_assist", "0")).options(vec![
                ("0".to_owned(), "自行操作（须有上机资格）".to_owned()),
                ("1".to_owned(), "需要技术人员操作或指导".to_owned()),
                (
                    "remote".to_owned(),
                    "远程上机（远程共享，须有上机资格）".to_owned(),
                ),
            ]),
            Field::new("purpose", words::BOOKING_PURPOSE, "text", g("purpose", "")).max(200),
            direction_field(g("direction", "research")),
            Field::new("project", words::PROJECT, "text", g("project", "")).max(200),
            funding_field(g("funding_source", "")),
            nonce_field(values),
        ],
        "提交预约",
    );
    if let Some(f) =
        super::vouchers::voucher_field(state, ctx.require()?, g("voucher_id", "")).await?
    {
        page.fields.insert(page.fields.len() - 1, f);
    }
    page.crumbs = vec![(format!("/instruments/{id}"), inst.name_zh.clone())];
    let mut intro = vec![format!(
        "时间按北京时间；以 {} 分钟为一格，每次 {}–{} 分钟。",
        avail.slot_minutes, avail.min_minutes, avail.max_minutes
    )];
    if avail.free.is_empty() {
        intro.push("未来 7 天没有可预约的时段。".to_owned());
    } else {
        intro.push("未来 7 天可预约：".to_owned());
        intro.extend(avail.free.iter().take(20).map(|f| {
            format!(
                "{} – {}",
                local_date_time(f.starts_at),
                f.ends_at.with_timezone(&PLATFORM_ZONE).format("%H:%M")
            )
        }));
    }
    page.intro = intro;
    Ok(page)
}

#[tracing::instrument(name = "web.booking.form", skip_all)]
pub async fn book_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: InstrumentId = path_id(&id)?;
    // A link shared or kept from before leads here too: a form that would be refused is not
    // drawn, its reason is shown instead.
    let now = state.clock.now();
    let mut offer = db::run(&state.pool, move |c| service::offer(c, Some(&who), id, now)).await?;
    offer.open_for(ReservationKind::MachineTime)?;
    // A slot picked on the instrument's week fills the form in.
    let mut values: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    values.retain(|k, _| ["date", "start", "end"].contains(&k.as_str()));
    booking_form(&state, &ctx, id, &values).await?.render()
}

#[tracing::instrument(name = "web.booking.book", skip_all)]
pub async fn book(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: InstrumentId = path_id(&id)?;
    let result = async {
        let asked = Asked::MachineTime {
            starts_at: local_instant("start", get(&form, "date"), get(&form, "start"))?,
            ends_at: local_instant("end", get(&form, "date"), get(&form, "end"))?,
            staff_assist: get(&form, "staff_assist") == "1",
            remote: get(&form, "staff_assist") == "remote",
        };
        submit(&state, &who, id, asked, &form).await
    }
    .await;
    match result {
        Ok(r) => Ok(see_other(&format!("/reservations?booked={}", r.id))),
        Err(e) => booking_form(&state, &ctx, id, &form).await?.failed(e),
    }
}

/// The sample-order form (送样): how many samples, what they are, by when, for what; with the
/// price at the person's tier.
async fn sample_form(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    id: InstrumentId,
    values: &HashMap<String, String>,
) -> Result<FormPage, WebError> {
    let who = ctx.require()?.clone();
    let now = state.clock.now();
    let st = state.clone();
    let (inst, offer, max_samples) = db::run(&state.pool, move |c| {
        let inst = crate::navigation::service::get_instrument(c, &st.catalogue.categories, id)?;
        let offer = service::offer(c, Some(&who), id, now)?;
        let max = crate::reservations::settings::settings_of(c, id)?.max_samples;
        Ok((inst, offer, max))
    })
    .await?;
    let mut offer = offer;
    offer.open_for(ReservationKind::SampleOrder)?;
    let g = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        format!("送样：{}", inst.name_zh),
        format!("/instruments/{id}/samples"),
        vec![
            Field::new("sample_count", "样品数量", "number", g("sample_count")).required(),
            Field::new(
                "sample_description",
                "样品说明（名称、状态、测试要求）",
                "textarea",
                g("sample_description"),
            )
            .required()
            .max(500),
            Field::new("wanted_by", "希望完成日期", "date", g("wanted_by")),
            Field::new(
                "result_delivery",
                "结果交付方式",
                "select",
                values
                    .get("result_delivery")
                    .cloned()
                    .unwrap_or_else(|| ResultDelivery::Electronic.code().to_owned()),
            )
            .options(
                ResultDelivery::ALL
                    .iter()
                    .map(|d| (d.code().to_owned(), d.label_zh().to_owned()))
                    .collect(),
            ),
            Field::new("purpose", words::BOOKING_PURPOSE, "text", g("purpose")).max(200),
            direction_field(g("direction")),
            Field::new("project", words::PROJECT, "text", g("project")).max(200),
            funding_field(g("funding_source")),
            nonce_field(values),
        ],
        "提交送样申请",
    );
    if let Some(f) = super::vouchers::voucher_field(state, ctx.require()?, g("voucher_id")).await? {
        page.fields.insert(page.fields.len() - 1, f);
    }
    page.crumbs = vec![(format!("/instruments/{id}"), inst.name_zh.clone())];
    page.intro = vec![
        format!(
            "每次最多 {max_samples} 个样品。{}",
            if offer.sample_fen > 0 {
                format!(
                    "{}价格：{} 元/样{}。",
                    offer.tier.label_zh(),
                    yuan_2(offer.sample_fen),
                    if offer.min_fee_fen > 0 {
                        format!("，最低收费 {} 元", yuan_2(offer.min_fee_fen))
                    } else {
                        String::new()
                    }
                )
            } else {
                "收费以审核确认为准。".to_owned()
            }
        ),
        "提交后由仪器负责人受理并确定检测日期，结果会通过邮件通知您；样品请按负责人的要求送达。"
            .to_owned(),
    ];
    Ok(page)
}

#[tracing::instrument(name = "web.booking.sample_page", skip_all)]
pub async fn sample_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
) -> PageResult {
    let id: InstrumentId = path_id(&id)?;
    sample_form(&state, &ctx, id, &HashMap::new())
        .await?
        .render()
}

#[tracing::instrument(name = "web.booking.send_samples", skip_all)]
pub async fn send_samples(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: InstrumentId = path_id(&id)?;
    let result = async {
        let count = opt(&form, "sample_count")
            .map(|v| {
                v.trim()
                    .parse::<i32>()
                    .map_err(|_| AppError::invalid("sample_count", "请填写样品数量（整数）"))
            })
            .transpose()?;
        let wanted_by = opt(&form, "wanted_by")
            .map(|v| {
                v.trim()
                    .parse::<NaiveDate>()
                    .map_err(|_| AppError::invalid("wanted_by", "请选择日期"))
            })
            .transpose()?;
        let asked = Asked::SampleOrder {
            sample_count: count,
            sample_description: get(&form, "sample_description").to_owned(),
            wanted_by,
            result_delivery: ResultDelivery::from_code(get(&form, "result_delivery"))
                .ok_or_else(|| AppError::invalid("result_delivery", "请选择结果交付方式"))?,
        };
        submit(&state, &who, id, asked, &form).await
    }
    .await;
    match result {
        Ok(r) => Ok(see_other(&format!("/reservations?booked={}", r.id))),
        Err(e) => sample_form(&state, &ctx, id, &form).await?.failed(e),
    }
}

fn when(r: &Reservation, now: DateTime<Utc>) -> String {
    match (r.starts_at, r.ends_at) {
        (Some(s), Some(e)) => span_zh(s, e, now),
        _ => format!("送样 {} 个", r.sample_count.unwrap_or(0)),
    }
}

/// What a fee estimate tells the booker: the amount at their tier, or that the unit sets it.
fn fee_text(fen: i64) -> String {
    if fen == 0 {
        "以审核确认为准".to_owned()
    } else {
        format!("{} 元", yuan_2(fen))
    }
}

/// What a status means for the booker now.
fn status_note(r: &Reservation) -> String {
    use ReservationStatus as S;
    match r.status {
        S::Pending => "等待仪器负责人审核，结果会发到您的邮箱".to_owned(),
        S::Approved => "已批准，请按时到场签到上机".to_owned(),
        S::Rejected => format!("未批准：{}", r.reason.clone().unwrap_or_default()),
        S::Expired => "无人审核，已自动过期".to_owned(),
        S::Cancelled => "已取消".to_owned(),
        S::InUse => "正在使用".to_owned(),
        S::NoShow => "未按时签到，记为爽约".to_owned(),
        S::Completed => "已完成，机时见「我的服务记录」".to_owned(),
        S::Submitted => "送样申请已提交，等待受理".to_owned(),
        S::Accepted => match r.planned_on {
            Some(d) => format!("已受理，计划 {d} 检测"),
            None => "已受理".to_owned(),
        },
        S::InTest => "检测中".to_owned(),
        S::Reported => "已出报告".to_owned(),
    }
}

fn step_action(
    id: ReservationId,
    step: Step,
    label: &'static str,
    reason: Option<&str>,
) -> RowAction {
    RowAction {
        action: format!("/reservations/{id}/{}", step.code()),
        label,
        fields: reason
            .map(|r| vec![("reason".to_owned(), r.to_owned())])
            .unwrap_or_default(),
    }
}

/// The instrument of a listed reservation: name, unit, place, whom to call.
fn instrument_cell(l: &Listed) -> Cell {
    let Some(i) = &l.instrument else {
        return Cell::Text(String::new());
    };
    let mut lines = vec![
        Line::link(format!("/instruments/{}", i.id), i.name.clone()),
        Line::muted(format!("{} · 编号 {}", i.unit_name, i.asset_no)),
        Line::muted(format!("{} {}", i.city, i.address)),
    ];
    if !i.contact_phone.is_empty() {
        lines.push(Line::tel(&i.contact_phone));
    }
    Cell::Lines(lines)
}

crate::params::query_params! {
    /// My reservations: paging, and the reservation just booked or cancelled.
    pub struct MineParams {
        /// paging
        page: page,
        /// the reservation just made (a confirmation above the list)
        booked: id(ReservationId),
        /// the reservation just cancelled
        cancelled: id(ReservationId),
    }
}

/// My reservations, with why a step on one of them was refused (`refused`).
async fn mine_page(
    state: &AppState,
    ctx: &Ctx,
    (path, query): (&str, &str),
    refused: Option<(ReservationId, AppError)>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let p = MineParams::parse_known(query)?;
    let now = state.clock.now();
    let cache = state.booking_rules.clone();
    let w = who.clone();
    let list = db::run(&state.pool, move |c| {
        service::list_for_page(c, &w, &cache, Filter::default(), true, p.page, now)
    })
    .await?;
    let mut t = TablePage::new(
        ctx,
        "我的预约",
        vec!["预约", "仪器", "状态", "预计费用", ""],
    );
    if let Some(id) = p.booked {
        let w = who.clone();
        if let Ok(r) = db::run(&state.pool, move |c| service::get(c, &w, id)).await {
            t.notice = Some(match r.status {
                ReservationStatus::Pending | ReservationStatus::Submitted => format!(
                    "预约 #{id} 已提交，正在等待仪器负责人审核；审核结果会发到您的邮箱 {}。",
                    who.email
                ),
                _ => format!("预约 #{id} 已成功，确认邮件已发到 {}。", who.email),
            });
        }
    } else if let Some(id) = p.cancelled {
        t.notice = Some(format!("预约 #{id} 已取消。"));
    }
    t.intro = vec!["时间均为北京时间。开始前的取消期限以内，可在此取消。".to_owned()];
    t.pager = Some(Pager::at(path, query, &list));
    t.back = Some(address(path, query));
    t.rows = list
        .items
        .iter()
        .map(|l| {
            let r = &l.r;
            vec![
                Cell::Lines(vec![
                    Line::text(format!("#{}", r.id)),
                    Line::text(when(r, now)),
                    Line::muted(r.kind.label_zh()),
                ]),
                instrument_cell(l),
                Cell::Lines(vec![
                    Line::text(r.status_label),
                    Line::muted(status_note(r)),
                ]),
                Cell::Text(fee_text(r.fee_estimate_fen)),
                if l.steps.contains(&Step::Cancel) {
                    Cell::Button(format!("/reservations/{}/confirm-cancel", r.id), "取消…")
                } else {
                    Cell::Button(
                        format!("/complaints/new?subject=reservation&subject_id={}", r.id),
                        "投诉",
                    )
                },
            ]
        })
        .collect();
    finish(t, &list.items, refused)
}

/// Puts why a step was refused under its row (and answers with its status), else the list.
fn finish(
    mut t: TablePage,
    items: &[Listed],
    refused: Option<(ReservationId, AppError)>,
) -> PageResult {
    let Some((id, err)) = refused else {
        return t.render();
    };
    let status = actix_web::ResponseError::status_code(&err);
    let text = super::explain::explain(&err).text;
    match items.iter().position(|l| l.r.id == id) {
        Some(i) => t.row_error = Some((i, format!("#{id}：{text}"))),
        None => t.notice = None,
    }
    if t.row_error.is_none() {
        t.intro.insert(0, format!("预约 #{id}：{text}"));
    }
    t.render_with_status(status)
}

#[tracing::instrument(name = "web.booking.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    mine_page(&state, &ctx, (req.path(), req.query_string()), None).await
}

fn address(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// One of the two lists a step is taken from (the person's own, or the queue): where a step
/// goes back to. Anything else is not followed.
fn is_list(p: &str) -> bool {
    p == "/manage/reservations"
        || p.starts_with("/manage/reservations?")
        || p == "/reservations"
        || p.starts_with("/reservations?")
}

crate::params::query_params! {
    /// The approval queue: which tab, and paging.
    pub struct QueueParams {
        /// pending | today | in_use
        tab: text(10),
        /// paging
        page: page,
    }
}

/// The queue's tabs: what waits for a decision, what starts today, what is running.
const TABS: [(&str, &str); 3] = [
    ("pending", "待审核"),
    ("today", "今日"),
    ("in_use", "使用中"),
];

fn tab_filter(tab: &str, now: DateTime<Utc>) -> Filter {
    use ReservationStatus as S;
    let f = match tab {
        "today" => {
            let today = now.with_timezone(&PLATFORM_ZONE).date_naive();
            let from = crate::reservations::rules::local(today, 0).unwrap_or(now);
            Filter {
                statuses: Some(vec![S::Pending, S::Approved, S::InUse, S::Completed]),
                from: Some(crate::clock::naive(from)),
                to: Some(crate::clock::naive(from + Duration::days(1))),
                ..Default::default()
            }
        }
        "in_use" => Filter {
            statuses: Some(vec![S::InUse, S::Accepted, S::InTest, S::Reported]),
            ..Default::default()
        },
        _ => Filter {
            statuses: Some(vec![S::Pending, S::Submitted]),
            ..Default::default()
        },
    };
    // The most urgent first.
    Filter {
        by_start: true,
        ..f
    }
}

/// The buttons of the steps a manager may take, in the queue: deciding first (approve,
/// approve at another time, refuse with a reason); a pending request is refused, not
/// cancelled.
fn queue_actions(l: &Listed) -> Vec<RowAction> {
    let id = l.r.id;
    let pending = matches!(
        l.r.status,
        ReservationStatus::Pending | ReservationStatus::Submitted
    );
    let mut actions = Vec::new();
    for step in &l.steps {
        match step {
            Step::Approve => {
                actions.push(step_action(id, *step, "批准", None));
                actions.push(RowAction {
                    action: format!("/manage/reservations/{id}/move"),
                    label: "调整时间后批准",
                    fields: vec![("_get".to_owned(), String::new())],
                });
            }
            Step::CheckIn => actions.push(step_action(id, *step, "签到上机", None)),
            // A sample order: accepted with the day it will be tested, then through the lab.
            Step::Accept => actions.push(RowAction {
                fields: vec![("planned_on".to_owned(), "计划检测日期".to_owned())],
                ..step_action(id, *step, "受理", None)
            }),
            Step::StartTest => actions.push(step_action(id, *step, "开始检测", None)),
            Step::Report => actions.push(step_action(id, *step, "出具报告", None)),
            Step::Complete => actions.push(RowAction {
                fields: vec![("machine_minutes".to_owned(), "机时（分钟）".to_owned())],
                ..step_action(id, *step, "完成", None)
            }),
            Step::CheckOut => actions.push(RowAction {
                fields: vec![("idle_minutes".to_owned(), "空闲分钟".to_owned())],
                ..step_action(id, *step, "下机", None)
            }),
            Step::Cancel if !pending => actions.push(step_action(id, *step, "取消", None)),
            _ => {}
        }
    }
    // The refusal last, with its reason box.
    if l.steps.contains(&Step::Reject) {
        actions.push(step_action(
            id,
            Step::Reject,
            "不批准",
            Some("不批准的原因（必填，将发给预约人）"),
        ));
    }
    actions
}

async fn queue_page(
    state: &AppState,
    ctx: &Ctx,
    (path, query): (&str, &str),
    refused: Option<(ReservationId, AppError)>,
) -> PageResult {
    let who = ctx.require()?.clone();
    if !who.role.is_staff() && who.role != crate::auth::Role::PlatformAdmin {
        return Err(WebError(AppError::forbidden(
            "预约审核仅限仪器负责人和单位管理员 (for unit staff)",
        )));
    }
    let p = QueueParams::parse_known(query)?;
    let now = state.clock.now();
    let tab = p
        .tab
        .filter(|t| TABS.iter().any(|(code, _)| code == t))
        .unwrap_or_else(|| "pending".to_owned());
    let cache = state.booking_rules.clone();
    let w = who.clone();
    let chosen = tab.clone();
    let (list, counts) = db::run(&state.pool, move |c| {
        let list =
            service::list_for_page(c, &w, &cache, tab_filter(&chosen, now), false, p.page, now)?;
        // The chosen tab's count is the list's total, already read.
        let counts = TABS
            .iter()
            .map(|(code, _)| {
                if *code == chosen {
                    Ok(list.total)
                } else {
                    service::count_visible(c, &w, tab_filter(code, now))
                }
            })
            .collect::<Result<Vec<i64>, _>>()?;
        Ok((list, counts))
    })
    .await?;
    let mut t = TablePage::new(
        ctx,
        "预约审核与上机",
        vec![
            "预约",
            "仪器",
            "预约人",
            "用途 · 项目 · 费用",
            "状态",
            "操作",
        ],
    );
    t.tabs = TABS
        .iter()
        .zip(counts)
        .map(|((code, label), n)| {
            (
                format!("/manage/reservations?tab={code}"),
                *label,
                n,
                *code == tab,
            )
        })
        .collect();
    t.intro = vec!["时间均为北京时间。不批准须写明原因，原因会通过邮件发给预约人。".to_owned()];
    t.pager = Some(Pager::at(path, query, &list));
    t.back = Some(address(path, query));
    t.rows = list
        .items
        .iter()
        .map(|l| {
            let r = &l.r;
            let booker = match &l.booker {
                Some(b) => {
                    let mut lines = vec![
                        Line::text(b.name.clone()),
                        Line::muted(format!(
                            "{} · {}",
                            if b.organisation.is_empty() {
                                "未填单位"
                            } else {
                                &b.organisation
                            },
                            if l.internal {
                                "校内（本单位）"
                            } else {
                                "校外"
                            }
                        )),
                    ];
                    if !b.phone.is_empty() {
                        lines.push(Line::tel(&b.phone));
                    }
                    lines.push(Line::mail(&b.email));
                    Cell::Lines(lines)
                }
                None => Cell::Text(String::new()),
            };
            let dash = |s: &str| {
                if s.is_empty() {
                    "—".to_owned()
                } else {
                    s.to_owned()
                }
            };
            vec![
                Cell::Lines(vec![
                    Line::text(format!("#{}", r.id)),
                    Line::text(when(r, now)),
                    Line::muted(format!(
                        "{} · 提交于 {}",
                        r.kind.label_zh(),
                        day_time_zh(r.created_at, now)
                    )),
                ]),
                instrument_cell(l),
                booker,
                Cell::Lines(
                    [
                        Line::text(format!("用途：{}", dash(&r.purpose))),
                        Line::text(format!("项目：{}", dash(&r.project))),
                        Line::muted(format!("预计费用：{}", fee_text(r.fee_estimate_fen))),
                    ]
                    .into_iter()
                    .chain(r.staff_assist.then(|| Line::text("需要技术人员操作或指导")))
                    .chain(r.remote.then(|| Line::text("远程上机")))
                    .chain(r.result_delivery.map(|d| {
                        Line::text(format!(
                            "样品：{}；结果{}",
                            r.sample_description,
                            d.label_zh()
                        ))
                    }))
                    .collect(),
                ),
                Cell::Text(r.status_label.to_owned()),
                Cell::Actions(queue_actions(l)),
            ]
        })
        .collect();
    finish(t, &list.items, refused)
}

#[tracing::instrument(name = "web.booking.queue", skip_all)]
pub async fn queue(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    queue_page(&state, &ctx, (req.path(), req.query_string()), None).await
}

/// The path (and query) of the list a step was taken from, if it was one of the lists.
fn came_from(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| is_list(p))
}

/// A step from a button: back to the list it was taken from; refused, that list again with
/// why beside the row.
#[tracing::instrument(name = "web.booking.step", skip_all)]
pub async fn step(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&path.0)?;
    let step = Step::from_code(&path.1)
        .filter(|s| !matches!(s, Step::Expire | Step::MarkNoShow))
        .ok_or(AppError::NotFound { what: "page" })?;
    let result = async {
        let idle_minutes = opt(&form, "idle_minutes")
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    AppError::invalid("idle_minutes", "空闲时间请填写整数分钟 (whole minutes)")
                })
            })
            .transpose()?;
        let machine_minutes = opt(&form, "machine_minutes")
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    AppError::invalid("machine_minutes", "机时请填写整数分钟 (whole minutes)")
                })
            })
            .transpose()?;
        let planned_on = opt(&form, "planned_on")
            .map(|v| {
                v.trim()
                    .parse::<NaiveDate>()
                    .map_err(|_| AppError::invalid("planned_on", "请选择计划检测日期 (a date)"))
            })
            .transpose()?;
        let input = StepCommand {
            reason: opt(&form, "reason"),
            idle_minutes,
            machine_minutes,
            planned_on,
            ..Default::default()
        };
        let now = state.clock.now();
        db::run(&state.pool, move |c| {
            service::take_step(c, Actor::Person(&who), id, step, &input, now)
        })
        .await
    }
    .await;
    let back = opt(&form, "back")
        .filter(|p| is_list(p))
        .or_else(|| came_from(&req));
    match result {
        Ok(_) => Ok(see_other(&match back {
            Some(list) => list,
            None if step == Step::Cancel => format!("/reservations?cancelled={id}"),
            None => "/reservations".to_owned(),
        })),
        Err(AppError::NotFound { what }) => Err(WebError(AppError::NotFound { what })),
        Err(e) => {
            // Staff's steps come from the queue; a booker's cancel from their list.
            let list = back.unwrap_or_else(|| {
                if step == Step::Cancel {
                    "/reservations".to_owned()
                } else {
                    "/manage/reservations".to_owned()
                }
            });
            let (path, query) = list.split_once('?').unwrap_or((&list, ""));
            if path.starts_with("/manage/") {
                queue_page(&state, &ctx, (path, query), Some((id, e))).await
            } else {
                mine_page(&state, &ctx, (path, query), Some((id, e))).await
            }
        }
    }
}

/// Cancelling asks first: what is cancelled, and what the instrument's rules say.
#[tracing::instrument(name = "web.booking.cancel_page", skip_all)]
pub async fn cancel_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: ReservationId = path_id(&id)?;
    let now = state.clock.now();
    let w = who.clone();
    let (r, names) = db::run(&state.pool, move |c| {
        let r = service::get(c, &w, id)?;
        let names = crate::navigation::store::instrument_briefs(c, &[r.instrument_id])?;
        Ok((r, names))
    })
    .await?;
    let mut page = FormPage::new(
        &ctx,
        format!("取消预约 #{id}"),
        format!("/reservations/{id}/cancel"),
        vec![Field::new("reason", "取消原因（选填）", "textarea", "").max(500)],
        "确认取消",
    );
    page.crumbs = vec![("/reservations".to_owned(), "我的预约".to_owned())];
    let inst = names.first();
    page.intro = vec![
        format!(
            "{}{}",
            inst.map(|i| i.name.clone()).unwrap_or_default(),
            inst.map(|i| format!("（{}）", i.unit_name))
                .unwrap_or_default()
        ),
        format!("{} · {}", when(&r, now), r.status_label),
        "取消后该时段会释放给其他人；确认后不能撤销。".to_owned(),
    ];
    page.links = vec![(
        "/reservations".to_owned(),
        "不取消，返回我的预约".to_owned(),
    )];
    page.render()
}

crate::params::query_params! {
    /// A unit's week grid: which week, a category class, paging.
    pub struct UnitWeekParams {
        /// ISO week, e.g. 2026-W49
        week: text(10),
        /// 6-digit category code (its class or middle class narrows the list)
        category: text(6),
        /// paging
        page: page,
    }
}

/// A unit's instruments over a week, a page at a time: what is booked (and in what state)
/// each day, for the unit's staff and for anyone planning a visit.
#[tracing::instrument(name = "web.booking.unit_week", skip_all)]
pub async fn unit_week(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let unit = path_id(&id)?;
    let p = UnitWeekParams::parse_known(req.query_string())?;
    let today = state.clock.now().with_timezone(&PLATFORM_ZONE).date_naive();
    let monday = match &p.week {
        Some(w) => availability::parse_week(w)?,
        None => today - Duration::days(today.weekday().num_days_from_monday() as i64),
    };
    let query = crate::navigation::service::InstrumentQuery::from_params(
        crate::navigation::service::InstrumentListParams {
            unit: Some(unit),
            sub_platform: None,
            category: p.category.clone(),
            city: None,
            share_mode: None,
            status: None,
            sort: None,
            page: p.page,
        },
        &state.catalogue.categories,
    )?;
    let st = state.clone();
    let (u, list, week) = db::run(&state.pool, move |c| {
        let u = crate::navigation::service::get_unit(c, unit)?;
        let list = crate::navigation::service::list_instruments(c, &st.catalogue, &query)?;
        let names = list
            .items
            .iter()
            .map(|i| (i.id, i.name_zh.clone()))
            .collect();
        let week = availability::week_of(c, unit, names, monday)?;
        Ok((u, list, week))
    })
    .await?;
    let year = today.year();
    let names = ["一", "二", "三", "四", "五", "六", "日"];
    let days: Vec<NaiveDate> = (0..7).map(|d| monday + Duration::days(d)).collect();
    let headers = days
        .iter()
        .enumerate()
        .map(|(n, d)| format!("周{} {}", names[n], day_zh(*d, year)).into());
    let mut t = TablePage::new(
        &ctx,
        format!(
            "{} · 仪器周视图 {}–{}",
            u.name,
            day_zh(monday, year),
            day_zh(monday + Duration::days(6), year)
        ),
        vec!["仪器"],
    );
    t.headers.extend(headers);
    t.crumbs = vec![(format!("/units/{unit}"), u.name.clone())];
    t.intro = vec![
        "北京时间。每格列出当天已占用的时段及其状态；点仪器名称可查看空闲时间并预约。".to_owned(),
    ];
    let link = |w: NaiveDate| {
        let mut q = vec![("week".to_owned(), iso(w))];
        if let Some(c) = &p.category {
            q.push(("category".to_owned(), c.clone()));
        }
        format!(
            "/units/{unit}/week?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    t.links = vec![
        (link(monday - Duration::days(7)), "‹ 上一周".to_owned()),
        (link(monday + Duration::days(7)), "下一周 ›".to_owned()),
    ];
    let counts = state.catalogue.counts(&state.pool).await?;
    t.links
        .extend(counts.category_tree.iter().take(15).map(|c| {
            let mut q = vec![("category".to_owned(), c.code.clone())];
            q.push(("week".to_owned(), iso(monday)));
            (
                format!(
                    "/units/{unit}/week?{}",
                    serde_urlencoded::to_string(&q).unwrap_or_default()
                ),
                c.name.clone(),
            )
        }));
    t.pager = Some(Pager::new(&req, &list));
    t.rows = week
        .instruments
        .iter()
        .map(|i| {
            let mut row = vec![Cell::Link(format!("/instruments/{}", i.id), i.name.clone())];
            for d in &days {
                let lines: Vec<Line> = i
                    .busy
                    .iter()
                    .filter(|b| b.starts_at.with_timezone(&PLATFORM_ZONE).date_naive() == *d)
                    .map(|b| {
                        // A blackout's note is for staff; the grid is public.
                        let state = if b.what == "blackout" {
                            "停机".to_owned()
                        } else {
                            ReservationStatus::from_code(&b.note)
                                .map(|s| s.label_zh().to_owned())
                                .unwrap_or_else(|| b.note.clone())
                        };
                        Line::text(format!(
                            "{}–{} {state}",
                            b.starts_at.with_timezone(&PLATFORM_ZONE).format("%H:%M"),
                            b.ends_at.with_timezone(&PLATFORM_ZONE).format("%H:%M")
                        ))
                    })
                    .collect();
                row.push(if lines.is_empty() {
                    Cell::Text("空闲".to_owned())
                } else {
                    Cell::Lines(lines)
                });
            }
            row
        })
        .collect();
    t.render()
}

fn move_form(ctx: &Ctx, id: ReservationId, values: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        format!("调整预约 #{id} 的时间并批准"),
        format!("/manage/reservations/{id}/move"),
        vec![
            Field::new("date", "日期", "date", g("date")).required(),
            Field::new("start", "开始时间", "time", g("start")).required(),
            Field::new("end", "结束时间", "time", g("end")).required(),
        ],
        "批准新时间",
    );
    page.crumbs = vec![("/manage/reservations".to_owned(), "预约审核".to_owned())];
    page.intro = vec!["新时间同样要符合预约规则、不与其他预约冲突；预约人会收到邮件。".to_owned()];
    page
}

/// Approving with another time: the form (the queue's button posts here first).
#[tracing::instrument(name = "web.booking.move", skip_all)]
pub async fn move_reservation(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    if form.contains_key("_get") {
        let w = who.clone();
        let r = db::run(&state.pool, move |c| service::get(c, &w, id)).await?;
        let mut values = HashMap::new();
        if let (Some(s), Some(e)) = (r.starts_at, r.ends_at) {
            let (s, e) = (
                s.with_timezone(&PLATFORM_ZONE),
                e.with_timezone(&PLATFORM_ZONE),
            );
            values.insert("date".to_owned(), s.date_naive().to_string());
            values.insert("start".to_owned(), s.format("%H:%M").to_string());
            values.insert("end".to_owned(), e.format("%H:%M").to_string());
        }
        return move_form(&ctx, id, &values).render();
    }
    let result = async {
        let input = StepCommand {
            moved_to: Some((
                local_instant("start", get(&form, "date"), get(&form, "start"))?,
                local_instant("end", get(&form, "date"), get(&form, "end"))?,
            )),
            ..Default::default()
        };
        let now = state.clock.now();
        db::run(&state.pool, move |c| {
            service::take_step(c, Actor::Person(&who), id, Step::Approve, &input, now)
        })
        .await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/manage/reservations")),
        Err(e) => move_form(&ctx, id, &form).failed(e),
    }
}

/// One hour of a day's timeline.
pub struct Cell1h {
    /// free | part | busy | closed
    class: &'static str,
    title: String,
    /// The booking form filled in with this hour (free and partly free hours).
    href: Option<String>,
}

struct DayRow {
    label: String,
    cells: Vec<Cell1h>,
    /// (label, link to the booking form with the slot filled in)
    free: Vec<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "_instrument_week.html")]
struct WeekFragment {
    id: InstrumentId,
    /// "12月1日–12月7日"
    span: String,
    /// Starting today (else a later or earlier week).
    this_week: bool,
    /// The first day of the seven before (none before today) and after.
    prev: Option<String>,
    next: String,
    hours: Vec<u32>,
    days: Vec<DayRow>,
}

fn iso(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

crate::params::query_params! {
    /// The days an instrument's page shows: seven from `from` (default today), or an ISO week.
    pub struct InstrumentWeekParams {
        /// the first day shown, YYYY-MM-DD (default today)
        from: date,
        /// ISO week, e.g. 2026-W49 (its Monday first)
        week: text(10),
    }
}

/// An instrument's next seven days on its page (loaded by htmx): a timeline per day where
/// free, busy and closed hours show at a glance (free ones open the booking form at that
/// hour), and the free times as a list. Busy times carry no names. Seven days from today
/// rather than the calendar week, so that on a Sunday evening the coming week is what shows.
#[tracing::instrument(name = "web.booking.week", skip_all)]
pub async fn instrument_week(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let id: InstrumentId = path_id(&id)?;
    let p = InstrumentWeekParams::parse_known(req.query_string())?;
    let now = state.clock.now();
    let today = now.with_timezone(&PLATFORM_ZONE).date_naive();
    let first_day = match (p.from, &p.week) {
        (Some(d), _) => d,
        (None, Some(w)) => availability::parse_week(w)?,
        (None, None) => today,
    };
    // A year either way is all anyone pages through (and far-off dates overflow).
    if (first_day - today).num_days().abs() > 366 {
        return Err(WebError(AppError::bad_request(
            "from",
            "只能查看前后一年内的时间 (within a year of today)",
        )));
    }
    let from = crate::reservations::rules::local(first_day, 0)
        .ok_or_else(|| AppError::bad_request("from", "no such day"))?;
    let to = from + Duration::days(7);
    let st = state.clone();
    let a = db::run(&state.pool, move |c| {
        availability::availability(c, &st.booking_rules, id, from, to, now)
    })
    .await?;
    let local = |t: DateTime<Utc>| t.with_timezone(&PLATFORM_ZONE);
    let hm = |t: DateTime<Utc>| local(t).format("%H:%M").to_string();
    // The hours shown: the usual day, widened to whatever is open or booked this week.
    let (mut first, mut last) = (8u32, 22u32);
    for (s, e) in a
        .free
        .iter()
        .map(|f| (f.starts_at, f.ends_at))
        .chain(a.busy.iter().map(|b| (b.starts_at, b.ends_at)))
    {
        if local(s).date_naive() == local(e).date_naive() {
            first = first.min(local(s).hour());
            last = last.max(local(e).hour() + u32::from(local(e).minute() > 0));
        }
    }
    // What a tap on an hour asks for: about an hour, on the instrument's grid and within its
    // lengths (a 45-minute grid asks 90 minutes from the first grid mark in the hour).
    let slot = i64::from(a.slot_minutes.max(1));
    let (min, max) = (i64::from(a.min_minutes), i64::from(a.max_minutes));
    let wanted = (60i64.max(min) + slot - 1) / slot * slot;
    let length = Duration::minutes(if wanted > max {
        max / slot * slot
    } else {
        wanted
    });
    // Free intervals start on the grid: the first grid mark at or after `t`.
    let on_grid = |f: &availability::Interval, t: DateTime<Utc>| {
        let late = (t - f.starts_at).num_minutes().max(0);
        f.starts_at + Duration::minutes((late + slot - 1) / slot * slot)
    };
    let names = ["一", "二", "三", "四", "五", "六", "日"];
    let year = today.year();
    let book = |d: NaiveDate, s: DateTime<Utc>, e: DateTime<Utc>| {
        format!(
            "/instruments/{id}/book?date={d}&start={}&end={}",
            hm(s),
            hm(e)
        )
    };
    let days = (0..7)
        .map(|n| {
            let d = first_day + Duration::days(n);
            let label = format!(
                "周{} {}",
                names[d.weekday().num_days_from_monday() as usize],
                day_zh(d, year)
            );
            let cells = (first..last)
                .map(|h| {
                    let (hs, he) = match (
                        crate::reservations::rules::local(d, h * 60),
                        crate::reservations::rules::local(d, (h + 1) * 60),
                    ) {
                        (Some(x), Some(y)) => (x, y),
                        _ => {
                            return Cell1h {
                                class: "closed",
                                title: String::new(),
                                href: None,
                            }
                        }
                    };
                    let when = format!("{label} {:02}:00–{:02}:00", h, h + 1);
                    if a.busy.iter().any(|b| b.starts_at < he && b.ends_at > hs) {
                        return Cell1h {
                            class: "busy",
                            title: format!("{when} 已约"),
                            href: None,
                        };
                    }
                    match a.free.iter().find(|f| f.starts_at < he && f.ends_at > hs) {
                        Some(f) => {
                            let start = on_grid(f, hs);
                            let end = (start + length).min(f.ends_at);
                            let whole = f.starts_at <= hs && f.ends_at >= he;
                            Cell1h {
                                class: if whole { "free" } else { "part" },
                                title: format!(
                                    "{when} {}",
                                    if whole { "可预约" } else { "部分可约" }
                                ),
                                // A grid mark inside this hour with room after it.
                                href: (start < he && end > start).then(|| book(d, start, end)),
                            }
                        }
                        None => Cell1h {
                            class: "closed",
                            title: format!("{when} 不可预约"),
                            href: None,
                        },
                    }
                })
                .collect();
            let free = a
                .free
                .iter()
                .filter(|f| local(f.starts_at).date_naive() == d)
                .map(|f| {
                    let end =
                        (f.starts_at + Duration::minutes(a.min_minutes as i64)).min(f.ends_at);
                    (
                        format!("{} {}–{}", day_zh(d, year), hm(f.starts_at), hm(f.ends_at)),
                        book(d, f.starts_at, end),
                    )
                })
                .collect();
            DayRow { label, cells, free }
        })
        .collect();
    super::html(&WeekFragment {
        id,
        span: format!(
            "{}–{}",
            day_zh(first_day, year),
            day_zh(first_day + Duration::days(6), year)
        ),
        this_week: first_day == today,
        prev: (first_day > today).then(|| (first_day - Duration::days(7)).max(today).to_string()),
        next: (first_day + Duration::days(7)).to_string(),
        hours: (first..last).collect(),
        days,
    })
}
