//! A unit's staff (invite, remove) and the qualification queue.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};

use super::forms::{get, opt, see_other, Cell, CsrfChecked, Form, RowAction, TablePage};
use super::manage::staff_links;
use super::pages::Pager;
use super::session::Ctx;
use super::PageResult;
use super::WebError;
use crate::auth::{authorize, Action};
use crate::error::AppError;
use crate::navigation::service::{self as catalogue};
use crate::params::path_id;
use crate::types::{local_date_time, PageRequest, QualificationId, UnitId, UserId};
use crate::users::model::QualificationStatus;
use crate::users::qualifications::{self as quals, QualificationDecision};
use crate::users::service as accounts;
use crate::users::staff as unit_staff;
use crate::users::store::UserFilter;
use crate::{db, state::AppState};

#[tracing::instrument(name = "web.manage.staff_page", skip_all)]
pub async fn staff_page(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    staff(state, ctx, path_id(&id)?, None).await
}

async fn staff(
    state: web::Data<AppState>,
    ctx: Ctx,
    unit: UnitId,
    notice: Option<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let (u, list) = db::run(&state.pool, move |c| {
        let u = catalogue::get_unit(c, unit)?;
        authorize(&who, Action::ManageStaff { unit })?;
        let f = UserFilter {
            unit: Some(unit),
            ..Default::default()
        };
        Ok((
            u,
            accounts::list_users(
                c,
                &f,
                PageRequest {
                    page: 1,
                    per_page: 100,
                },
            )?,
        ))
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        format!("{} · 人员", u.name),
        vec!["姓名", "邮箱", "角色", ""],
    );
    t.links = staff_links(ctx.require()?, unit);
    t.notice = notice;
    t.intro = vec!["添加人员：对方须先注册账户。".to_owned()];
    t.rows = list
        .items
        .into_iter()
        .map(|p| {
            vec![
                Cell::Text(p.name),
                Cell::Text(p.email),
                Cell::Text(p.role.label_zh().to_owned()),
                Cell::Actions(vec![RowAction {
                    action: format!("/manage/units/{unit}/staff/{}/remove", p.id),
                    label: "移出本单位",
                    fields: vec![],
                }]),
            ]
        })
        .collect();
    t.rows.push(vec![
        Cell::Text("添加：".to_owned()),
        Cell::Actions(vec![
            RowAction {
                action: format!("/manage/units/{unit}/staff?role=instrument_manager"),
                label: "设为仪器负责人",
                fields: vec![("reason".to_owned(), "对方的注册邮箱".to_owned())],
            },
            RowAction {
                action: format!("/manage/units/{unit}/staff?role=unit_admin"),
                label: "设为单位管理员",
                fields: vec![("reason".to_owned(), "对方的注册邮箱".to_owned())],
            },
        ]),
        Cell::Text(String::new()),
        Cell::Text(String::new()),
    ]);
    t.render()
}

#[tracing::instrument(name = "web.manage.add_staff", skip_all)]
pub async fn add_staff(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit: UnitId = path_id(&id)?;
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let input = unit_staff::StaffInput {
        email: get(&form, "reason").to_owned(),
        role: get(&query, "role").to_owned(),
    };
    let now = state.clock.now();
    let public_url = state.auth.public_url.clone();
    let result = db::run(&state.pool, move |c| {
        authorize(&who, Action::ManageStaff { unit })?;
        unit_staff::add_staff(c, &who, unit, &input, &public_url, now)
    })
    .await;
    let notice = match result {
        Ok(unit_staff::StaffAdded::RoleChanged(u)) => {
            format!("已将 {} 设为{}", u.name, u.role.label_zh())
        }
        Ok(unit_staff::StaffAdded::Invited(i)) => format!(
            "已向对方发送邀请（{}）：对方在「我的账户 → 单位邀请」中接受后即成为本单位人员",
            i.role.label_zh()
        ),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => format!("未能添加：{e}"),
        Err(e) => return Err(WebError(e)),
    };
    staff(state, ctx, unit, Some(notice)).await
}

#[tracing::instrument(name = "web.manage.remove_staff", skip_all)]
pub async fn remove_staff(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _: CsrfChecked,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit: UnitId = path_id(&path.0)?;
    let user: UserId = path_id(&path.1)?;
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        authorize(&who, Action::ManageStaff { unit })?;
        unit_staff::remove_staff(c, &who, unit, user, now)
    })
    .await?;
    Ok(see_other(&format!("/manage/units/{unit}/staff")))
}

#[tracing::instrument(name = "web.manage.qualification_queue", skip_all)]
pub async fn qualification_queue(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> PageResult {
    let who = ctx.require()?.clone();
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let w = who.clone();
    let list = db::run(&state.pool, move |c| {
        quals::list(c, &w, false, Some(QualificationStatus::Applied), page)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "上机资格审核",
        vec!["申请人", "仪器", "申请说明", "申请时间", "审核"],
    );
    if let Some(unit) = who.unit {
        t.links = staff_links(ctx.require()?, unit);
    }
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|q| {
            vec![
                Cell::Text(format!("{}（{}）", q.user.name, q.user.email)),
                Cell::Link(
                    format!("/instruments/{}", q.instrument.id),
                    q.instrument.name,
                ),
                Cell::Text(q.note),
                Cell::Text(local_date_time(q.created_at)),
                Cell::Actions(vec![
                    RowAction {
                        action: format!(
                            "/manage/qualifications/{}?decision=approve&level=supervised",
                            q.id
                        ),
                        label: "批准（陪同）",
                        fields: vec![],
                    },
                    RowAction {
                        action: format!(
                            "/manage/qualifications/{}?decision=approve&level=independent",
                            q.id
                        ),
                        label: "批准（独立）",
                        fields: vec![],
                    },
                    RowAction {
                        action: format!("/manage/qualifications/{}?decision=refuse", q.id),
                        label: "不批准",
                        fields: vec![("reason".to_owned(), "原因（必填）".to_owned())],
                    },
                ]),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.decide_qualification", skip_all)]
pub async fn decide_qualification(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: QualificationId = path_id(&id)?;
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let decision = QualificationDecision {
        decision: get(&query, "decision").to_owned(),
        level: opt(&query, "level"),
        expires_at: None,
        reason: opt(&form, "reason"),
    };
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        quals::decide(c, &who, id, &decision, now)
    })
    .await?;
    Ok(see_other("/manage/qualifications"))
}
