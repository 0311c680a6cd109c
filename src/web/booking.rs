//! Booking pages: the booking form of an instrument (with its free times this week), "my
//! reservations", the manager's queue (approve, reject with a reason, check in and out) and a
//! unit's week grid. They call the reservations service, which checks every rule.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use super::forms::{get, opt, see_other, Cell, Field, Form, FormPage, RowAction, TablePage};
use super::pages::Pager;
use super::session::Ctx;
use super::PageResult;
use super::WebError;
use crate::error::AppError;
use crate::params::path_id;
use crate::reservations::availability;
use crate::reservations::handlers::WeekParams;
use crate::reservations::model::{Asked, BookingRequest, Reservation, ReservationStatus, Step};
use crate::reservations::service::{self, Actor, StepCommand};
use crate::reservations::store::Filter;
use crate::types::{local_date_time, InstrumentId, ReservationId, PLATFORM_ZONE};
use crate::{db, state::AppState};

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
            Field::new("purpose", "用途", "text", g("purpose", "")).max(200),
            Field::new("project", "所服务的项目", "text", g("project", "")).max(200),
            // One per form: a double click or a resent form books once.
            Field::new(
                "nonce",
                "",
                "hidden",
                values
                    .get("nonce")
                    .cloned()
                    .unwrap_or_else(crate::auth::tokens::random),
            ),
        ],
        "提交预约",
    );
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
    ctx.require()?;
    let id: InstrumentId = path_id(&id)?;
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
        let input = BookingRequest {
            instrument_id: id,
            asked: Asked::MachineTime {
                starts_at: local_instant("start", get(&form, "date"), get(&form, "start"))?,
                ends_at: local_instant("end", get(&form, "date"), get(&form, "end"))?,
            },
            purpose: get(&form, "purpose").to_owned(),
            project: get(&form, "project").to_owned(),
            funding_source: String::new(),
        };
        let key = opt(&form, "nonce").map(|n| format!("web-{n}"));
        service::create(&state, &who, input, key).await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/reservations")),
        Err(e) => booking_form(&state, &ctx, id, &form).await?.failed(e),
    }
}

fn when(r: &Reservation) -> String {
    match (r.starts_at, r.ends_at) {
        (Some(s), Some(e)) => format!(
            "{} – {}",
            local_date_time(s),
            e.with_timezone(&PLATFORM_ZONE).format("%H:%M")
        ),
        _ => format!("送样 {} 个", r.sample_count.unwrap_or(0)),
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

async fn names(
    state: &AppState,
    ids: Vec<InstrumentId>,
) -> Result<HashMap<InstrumentId, String>, WebError> {
    Ok(db::run(&state.pool, move |c| {
        Ok(crate::navigation::store::instrument_names(c, &ids)?)
    })
    .await?
    .into_iter()
    .collect())
}

#[tracing::instrument(name = "web.booking.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let list = db::run(&state.pool, move |c| {
        service::list(c, &who, Filter::default(), true, page)
    })
    .await?;
    let names = names(&state, list.items.iter().map(|r| r.instrument_id).collect()).await?;
    let mut t = TablePage::new(
        &ctx,
        "我的预约",
        vec!["仪器", "时间", "状态", "预计费用（元）", "说明", ""],
    );
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .iter()
        .map(|r| {
            let cancellable = matches!(
                r.status,
                ReservationStatus::Pending
                    | ReservationStatus::Approved
                    | ReservationStatus::Submitted
            );
            vec![
                Cell::Link(
                    format!("/instruments/{}", r.instrument_id),
                    names.get(&r.instrument_id).cloned().unwrap_or_default(),
                ),
                Cell::Text(when(r)),
                Cell::Text(r.status_label.to_owned()),
                Cell::Text(format!("{:.2}", r.fee_estimate_fen as f64 / 100.0)),
                Cell::Text(r.reason.clone().unwrap_or_default()),
                if cancellable {
                    Cell::Actions(vec![step_action(r.id, Step::Cancel, "取消", None)])
                } else {
                    Cell::Text(String::new())
                },
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.booking.queue", skip_all)]
pub async fn queue(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let from = state.clock.now() - Duration::hours(12);
    let f = Filter {
        from: Some(crate::clock::naive(from)),
        ..Default::default()
    };
    let list = db::run(&state.pool, move |c| service::list(c, &who, f, false, page)).await?;
    let names = names(&state, list.items.iter().map(|r| r.instrument_id).collect()).await?;
    let mut t = TablePage::new(
        &ctx,
        "预约审核与上机",
        vec!["#", "仪器", "时间", "状态", "预约人", ""],
    );
    t.intro = vec!["待审核、已批准和使用中的预约（从 12 小时前起）。".to_owned()];
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                ReservationStatus::Pending | ReservationStatus::Approved | ReservationStatus::InUse
            )
        })
        .map(|r| {
            let actions = match r.status {
                ReservationStatus::Pending => vec![
                    step_action(r.id, Step::Approve, "批准", None),
                    RowAction {
                        action: format!("/manage/reservations/{}/move", r.id),
                        label: "调整时间后批准",
                        fields: vec![("_get".to_owned(), String::new())],
                    },
                    step_action(
                        r.id,
                        Step::Reject,
                        "不批准",
                        Some("原因（必填，将发给预约人）"),
                    ),
                ],
                ReservationStatus::Approved => vec![
                    step_action(r.id, Step::CheckIn, "签到上机", None),
                    step_action(r.id, Step::Cancel, "取消", None),
                ],
                ReservationStatus::InUse => vec![RowAction {
                    fields: vec![("idle_minutes".to_owned(), "空闲分钟".to_owned())],
                    ..step_action(r.id, Step::CheckOut, "下机", None)
                }],
                _ => Vec::new(),
            };
            vec![
                Cell::Text(r.id.to_string()),
                Cell::Link(
                    format!("/instruments/{}", r.instrument_id),
                    names.get(&r.instrument_id).cloned().unwrap_or_default(),
                ),
                Cell::Text(when(r)),
                Cell::Text(r.status_label.to_owned()),
                Cell::Text(format!("用户 #{}", r.user_id)),
                Cell::Actions(actions),
            ]
        })
        .collect();
    t.render()
}

/// A step from a button: back to where the person came from.
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
    let idle_minutes = opt(&form, "idle_minutes")
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| AppError::invalid("idle_minutes", "请填写整数分钟 (whole minutes)"))
        })
        .transpose()?;
    let input = StepCommand {
        reason: opt(&form, "reason"),
        idle_minutes,
        ..Default::default()
    };
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        service::take_step(c, Actor::Person(&who), id, step, &input, now)
    })
    .await?;
    let back = req
        .headers()
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| p.starts_with("/reservations") || p.starts_with("/manage/reservations"))
        .unwrap_or_else(|| "/reservations".to_owned());
    Ok(see_other(&back))
}

#[tracing::instrument(name = "web.booking.unit_week", skip_all)]
pub async fn unit_week(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let unit = path_id(&id)?;
    let monday = match WeekParams::parse_known(req.query_string())?.week {
        Some(w) => availability::parse_week(&w)?,
        None => {
            let today = state.clock.now().with_timezone(&PLATFORM_ZONE).date_naive();
            today - Duration::days(today.weekday().num_days_from_monday() as i64)
        }
    };
    let week = db::run(&state.pool, move |c| {
        availability::unit_week(c, unit, monday)
    })
    .await?;
    let days: Vec<NaiveDate> = (0..7).map(|d| monday + Duration::days(d)).collect();
    let mut t = TablePage::new(
        &ctx,
        format!("本单位仪器周视图 {}", week.week),
        vec!["仪器", "一", "二", "三", "四", "五", "六", "日"],
    );
    let prev = (monday - Duration::days(7)).iso_week();
    let next = (monday + Duration::days(7)).iso_week();
    t.links = vec![
        (
            format!(
                "/units/{unit}/week?week={}-W{:02}",
                prev.year(),
                prev.week()
            ),
            "‹ 上一周".to_owned(),
        ),
        (
            format!(
                "/units/{unit}/week?week={}-W{:02}",
                next.year(),
                next.week()
            ),
            "下一周 ›".to_owned(),
        ),
    ];
    t.rows = week
        .instruments
        .iter()
        .map(|i| {
            let mut row = vec![Cell::Link(format!("/instruments/{}", i.id), i.name.clone())];
            for d in &days {
                let cells: Vec<String> = i
                    .busy
                    .iter()
                    .filter(|b| b.starts_at.with_timezone(&PLATFORM_ZONE).date_naive() == *d)
                    .map(|b| {
                        format!(
                            "{}–{}",
                            b.starts_at.with_timezone(&PLATFORM_ZONE).format("%H:%M"),
                            b.ends_at.with_timezone(&PLATFORM_ZONE).format("%H:%M")
                        )
                    })
                    .collect();
                row.push(Cell::Text(cells.join(" ")));
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

struct DayColumn {
    label: String,
    busy: Vec<String>,
    /// (label, link to the booking form with the slot filled in)
    free: Vec<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "_instrument_week.html")]
struct WeekFragment {
    id: InstrumentId,
    week: String,
    prev: String,
    next: String,
    days: Vec<DayColumn>,
}

fn iso(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// An instrument's week on its page (loaded by htmx): busy times without names, and the free
/// times as links to the booking form.
#[tracing::instrument(name = "web.booking.week", skip_all)]
pub async fn instrument_week(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let id: InstrumentId = path_id(&id)?;
    let week = WeekParams::parse_known(req.query_string())?.week;
    let now = state.clock.now();
    let today = now.with_timezone(&PLATFORM_ZONE).date_naive();
    let monday = match week {
        Some(w) => availability::parse_week(&w)?,
        None => today - Duration::days(today.weekday().num_days_from_monday() as i64),
    };
    let from = crate::reservations::rules::local(monday, 0)
        .ok_or_else(|| AppError::bad_request("week", "no such week"))?;
    let to = from + Duration::days(7);
    let st = state.clone();
    let a = db::run(&state.pool, move |c| {
        availability::availability(c, &st.booking_rules, id, from, to, now)
    })
    .await?;
    let hm = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&PLATFORM_ZONE).format("%H:%M").to_string()
    };
    let names = ["一", "二", "三", "四", "五", "六", "日"];
    let days = (0..7)
        .map(|n| {
            let d = monday + Duration::days(n);
            let on = |t: chrono::DateTime<chrono::Utc>| {
                t.with_timezone(&PLATFORM_ZONE).date_naive() == d
            };
            DayColumn {
                label: format!("周{} {}", names[n as usize], d.format("%m-%d")),
                busy: a
                    .busy
                    .iter()
                    .filter(|b| on(b.starts_at))
                    .map(|b| format!("{}–{}", hm(b.starts_at), hm(b.ends_at)))
                    .collect(),
                free: a
                    .free
                    .iter()
                    .filter(|f| on(f.starts_at))
                    .map(|f| {
                        let end =
                            (f.starts_at + Duration::minutes(a.min_minutes as i64)).min(f.ends_at);
                        (
                            format!("{}–{}", hm(f.starts_at), hm(f.ends_at)),
                            format!(
                                "/instruments/{id}/book?date={d}&start={}&end={}",
                                hm(f.starts_at),
                                hm(end)
                            ),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    super::html(&WeekFragment {
        id,
        week: iso(monday),
        prev: iso(monday - Duration::days(7)),
        next: iso(monday + Duration::days(7)),
        days,
    })
}
