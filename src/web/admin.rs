//! The platform admin's pages: units, sub-platforms, users, audit log, mail queue, and the
//! unit and sub-platform forms.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};

use super::forms::{
    get, opt, see_other, Cell, CsrfChecked, Field, Form, FormPage, RowAction, TablePage,
};
use super::manage::options;
use super::pages::Pager;
use super::session::Ctx;
use super::PageResult;
use super::WebError;
use crate::auth::{authorize, Action};
use crate::error::AppError;
use crate::mail::model::OutboxStatus;
use crate::navigation::editing::{self};
use crate::navigation::model::*;
use crate::navigation::service::{self as catalogue};
use crate::params::{path_id, query_params};
use crate::types::{local_date_time, SubPlatformId, UnitId, UserId};
use crate::users::service as accounts;
use crate::users::store::UserFilter;
use crate::{db, state::AppState};

query_params! {
    /// Words to look for, and a page.
    pub struct SearchParams {
        /// words in the name or e-mail
        q: text(100),
        /// paging
        page: page,
    }
}

fn admin_links() -> Vec<(String, String)> {
    [
        ("/admin", "待处理"),
        ("/admin/units", "单位"),
        ("/admin/sub-platforms", "子平台"),
        ("/admin/users", "用户"),
        ("/admin/audit", "审计日志"),
        ("/admin/mail", "邮件队列"),
        ("/admin/evaluation", "年度评价考核"),
        ("/admin/holidays", "节假日"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

fn admin(ctx: &Ctx, action: Action) -> Result<crate::auth::Principal, WebError> {
    let who = ctx.require()?.clone();
    authorize(&who, action)?;
    Ok(who)
}

#[tracing::instrument(name = "web.manage.admin_home", skip_all)]
pub async fn admin_home(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let who = admin(&ctx, Action::ManageUnits)?;
    use crate::reservations::model::ReservationStatus as S;
    let one = crate::types::PageRequest {
        page: 1,
        per_page: 1,
    };
    let waiting = db::run(&state.pool, move |c| {
        let count = |c: &mut crate::db::DbConnection, statuses: Vec<S>| {
            crate::reservations::service::count_visible(
                c,
                &who,
                crate::reservations::store::Filter {
                    statuses: Some(statuses),
                    ..Default::default()
                },
            )
        };
        let bookings = count(c, vec![S::Pending])?;
        let samples = count(c, vec![S::Submitted])?;
        let qualifications = crate::users::qualifications::list(
            c,
            &who,
            false,
            Some(crate::users::model::QualificationStatus::Applied),
            one,
        )?
        .total;
        let dead =
            crate::mail::store::list(c, Some(crate::mail::model::OutboxStatus::Dead), one)?.1;
        Ok([bookings, samples, qualifications, dead])
    })
    .await?;
    let mut t = TablePage::new(&ctx, "平台管理", vec!["待处理事项", "数量", ""]);
    t.links = admin_links();
    t.intro = vec![
        "以下事项在等待决定；各单位的预约和上机资格由单位负责审核，平台可代为处理。".to_owned(),
    ];
    let items = [
        ("待审核的机时预约", "/manage/reservations?tab=pending"),
        ("待受理的送样", "/manage/reservations?tab=pending"),
        ("待审核的上机资格申请", "/manage/qualifications"),
        ("发送失败的邮件", "/admin/mail?status=dead"),
    ];
    t.rows = items
        .iter()
        .zip(waiting)
        .map(|((label, href), n)| {
            vec![
                Cell::Text((*label).to_owned()),
                Cell::Text(n.to_string()),
                Cell::Link((*href).to_owned(), "查看".to_owned()),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_units", skip_all)]
pub async fn admin_units(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    admin(&ctx, Action::ManageUnits)?;
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let list = db::run(&state.pool, move |c| {
        catalogue::list_units(c, &UnitFilter::default(), page)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "单位",
        vec!["名称", "子平台", "类型", "城市", "仪器", "人员", ""],
    );
    t.links = admin_links();
    t.links
        .push(("/admin/units/new".to_owned(), "＋ 新增单位".to_owned()));
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|u| {
            vec![
                Cell::Link(format!("/units/{}", u.id), u.name),
                Cell::Text(u.sub_platform.name),
                Cell::Text(u.kind.label_zh().to_owned()),
                Cell::Text(u.city),
                Cell::Text(u.instrument_count.to_string()),
                Cell::Link(format!("/manage/units/{}/staff", u.id), "人员".to_owned()),
                Cell::Link(format!("/admin/units/{}/edit", u.id), "编辑".to_owned()),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_sub_platforms", skip_all)]
pub async fn admin_sub_platforms(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    admin(&ctx, Action::ManageSubPlatforms)?;
    let counts = state.catalogue.counts(&state.pool).await?;
    let mut t = TablePage::new(&ctx, "子平台", vec!["名称", "单位", "仪器", ""]);
    t.links = admin_links();
    t.links.push((
        "/admin/sub-platforms/new".to_owned(),
        "＋ 新增子平台".to_owned(),
    ));
    t.rows = counts
        .sub_platforms
        .iter()
        .map(|s| {
            vec![
                Cell::Link(format!("/sub-platforms/{}", s.id), s.name.clone()),
                Cell::Text(s.unit_count.to_string()),
                Cell::Text(s.instrument_count.to_string()),
                Cell::Link(
                    format!("/admin/sub-platforms/{}/edit", s.id),
                    "编辑".to_owned(),
                ),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_users", skip_all)]
pub async fn admin_users(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    admin(&ctx, Action::ManageUsers)?;
    let params = SearchParams::parse_known(req.query_string())?;
    let f = UserFilter {
        q: params.q,
        ..Default::default()
    };
    let page = params.page;
    let list = db::run(&state.pool, move |c| accounts::list_users(c, &f, page)).await?;
    let mut t = TablePage::new(
        &ctx,
        "用户",
        vec!["姓名", "邮箱", "角色", "单位", "状态", ""],
    );
    t.links = admin_links();
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|u| {
            let (label, verb) = if u.disabled {
                ("启用", "enable")
            } else {
                ("停用", "disable")
            };
            vec![
                Cell::Text(u.name),
                Cell::Text(u.email),
                Cell::Text(u.role.label_zh().to_owned()),
                Cell::Text(u.organisation.map(|o| o.name).unwrap_or_default()),
                Cell::Text(
                    if u.disabled {
                        "已停用"
                    } else if u.email_verified {
                        "正常"
                    } else {
                        "未验证"
                    }
                    .to_owned(),
                ),
                Cell::Actions(vec![RowAction {
                    action: format!("/admin/users/{}/{verb}", u.id),
                    label,
                    fields: vec![],
                }]),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_user_toggle", skip_all)]
pub async fn admin_user_toggle(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _: CsrfChecked,
) -> PageResult {
    let who = admin(&ctx, Action::ManageUsers)?;
    let user: UserId = path_id(&path.0)?;
    let disabled = match path.1.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(WebError(AppError::NotFound { what: "page" })),
    };
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        accounts::set_disabled(c, &who, user, disabled, now)
    })
    .await?;
    Ok(see_other("/admin/users"))
}

#[tracing::instrument(name = "web.manage.admin_audit", skip_all)]
pub async fn admin_audit(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    admin(&ctx, Action::ReadAudit)?;
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let (list, people) = db::run(&state.pool, move |c| {
        let list = crate::audit::list(c, &Default::default(), page)?;
        // Whose booking or account an entry is about, named in its sentence.
        let mut ids: Vec<crate::types::UserId> = list
            .items
            .iter()
            .filter_map(|e| e.after.as_ref()?.get("user_id")?.as_i64())
            .map(crate::types::UserId)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let people = crate::users::store::contacts(c, &ids)?;
        Ok((list, people))
    })
    .await?;
    let names: std::collections::HashMap<i64, String> =
        people.into_iter().map(|p| (p.id.0, p.name)).collect();
    let mut t = TablePage::new(&ctx, "审计日志", vec!["时间", "经过"]);
    t.links = admin_links();
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|e| {
            let whose = e
                .after
                .as_ref()
                .and_then(|a| a.get("user_id")?.as_i64())
                .and_then(|id| names.get(&id))
                .map(String::as_str);
            vec![
                Cell::Text(local_date_time(e.at)),
                Cell::Text(crate::audit::sentence(&e, whose)),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_mail", skip_all)]
pub async fn admin_mail(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    admin(&ctx, Action::ManageMail)?;
    let crate::mail::handlers::MailListParams { status, page } =
        crate::mail::handlers::MailListParams::parse_known(req.query_string())?;
    let (rows, total) = db::run(&state.pool, move |c| {
        Ok(crate::mail::store::list(c, status, page)?)
    })
    .await?;
    let list = crate::types::Paged::new(rows, total, page);
    let mut t = TablePage::new(
        &ctx,
        "邮件队列",
        vec!["时间", "收件人", "主题", "状态", "尝试", "错误", ""],
    );
    t.links = admin_links();
    t.links
        .push(("/admin/mail?status=dead".to_owned(), "只看失败".to_owned()));
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|m| {
            let dead = m.status == OutboxStatus::Dead;
            vec![
                Cell::Text(local_date_time(m.created_at.and_utc())),
                Cell::Text(m.recipients().join(", ")),
                Cell::Text(m.subject.clone()),
                Cell::Text(m.status.label_zh().to_owned()),
                Cell::Text(m.attempts.to_string()),
                Cell::Text(m.last_error.clone().unwrap_or_default()),
                if dead {
                    Cell::Actions(vec![RowAction {
                        action: format!("/admin/mail/{}/retry", m.id),
                        label: "重新发送",
                        fields: vec![],
                    }])
                } else {
                    Cell::Text(String::new())
                },
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_mail_retry", skip_all)]
pub async fn admin_mail_retry(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    _: CsrfChecked,
) -> PageResult {
    let who = admin(&ctx, Action::ManageMail)?;
    let id = path_id(&id)?;
    let now = state.clock.now_naive();
    db::run(&state.pool, move |c| {
        crate::mail::service::retry(c, &who, id, now)
    })
    .await?;
    Ok(see_other("/admin/mail?status=dead"))
}

// --- platform admin: unit and sub-platform forms ------------------------------------------

fn unit_fields(v: &HashMap<String, String>, sub_platforms: Vec<(String, String)>) -> Vec<Field> {
    let g = |k: &str| get(v, k).to_owned();
    vec![
        Field::new(
            "sub_platform_id",
            "所属子平台",
            "select",
            g("sub_platform_id"),
        )
        .options(sub_platforms),
        Field::new("name", "单位名称", "text", g("name"))
            .required()
            .max(100),
        Field::new("short_name", "简称", "text", g("short_name"))
            .required()
            .max(30),
        Field::new("kind", "单位类型", "select", g("kind")).options(options(
            UnitKind::ALL,
            UnitKind::code,
            UnitKind::label_zh,
        )),
        Field::new("city", "城市", "text", g("city"))
            .required()
            .max(20),
        Field::new("address", "地址", "text", g("address")).max(200),
        Field::new("contact_name", "联系人", "text", g("contact_name")).max(50),
        Field::new("contact_phone", "联系电话", "text", g("contact_phone")).max(30),
        Field::new("contact_email", "联系邮箱", "email", g("contact_email")).max(100),
        Field::new("website", "网址", "text", g("website")).max(200),
        Field::new("description", "简介", "textarea", g("description")).max(1000),
    ]
}

async fn sub_platform_options(state: &AppState) -> Result<Vec<(String, String)>, WebError> {
    let counts = state.catalogue.counts(&state.pool).await?;
    Ok(counts
        .sub_platforms
        .iter()
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect())
}

/// `/admin/units/new` or `/admin/units/{id}/edit`.
#[tracing::instrument(name = "web.manage.unit_form", skip_all)]
pub async fn unit_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: Option<web::Path<String>>,
) -> PageResult {
    admin(&ctx, Action::ManageUnits)?;
    let id = id.map(|p| path_id(&p)).transpose()?;
    let mut values = HashMap::new();
    if let Some(id) = id {
        let u = db::run(&state.pool, move |c| catalogue::get_unit(c, id)).await?;
        for (k, v) in [
            ("sub_platform_id", u.sub_platform.id.to_string()),
            ("name", u.name),
            ("short_name", u.short_name),
            ("kind", u.kind.code().to_owned()),
            ("city", u.city),
            ("address", u.address),
            ("contact_name", u.contact_name),
            ("contact_phone", u.contact_phone),
            ("contact_email", u.contact_email),
            ("website", u.website),
            ("description", u.description),
        ] {
            values.insert(k.to_owned(), v);
        }
    }
    unit_page(&state, &ctx, id, &values).await?.render()
}

async fn unit_page(
    state: &AppState,
    ctx: &Ctx,
    id: Option<UnitId>,
    values: &HashMap<String, String>,
) -> Result<FormPage, WebError> {
    let (title, action) = match id {
        Some(id) => ("编辑单位".to_owned(), format!("/admin/units/{id}/edit")),
        None => ("新增单位".to_owned(), "/admin/units/new".to_owned()),
    };
    let mut page = FormPage::new(
        ctx,
        title,
        action,
        unit_fields(values, sub_platform_options(state).await?),
        "保存",
    );
    page.crumbs = vec![("/admin/units".to_owned(), "单位".to_owned())];
    Ok(page)
}

#[tracing::instrument(name = "web.manage.save_unit", skip_all)]
pub async fn save_unit(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: Option<web::Path<String>>,
    form: Form,
) -> PageResult {
    let who = admin(&ctx, Action::ManageUnits)?;
    let id = id.map(|p| path_id(&p)).transpose()?;
    let sub_platform_id = match opt(&form, "sub_platform_id").map(|v| v.parse::<SubPlatformId>()) {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return unit_page(&state, &ctx, id, &form)
                .await?
                .with_error(AppError::invalid("sub_platform_id", "请选择子平台"))?
                .render()
        }
        None => None,
    };
    let input = editing::UnitInput {
        sub_platform_id,
        name: form.get("name").cloned(),
        short_name: form.get("short_name").cloned(),
        kind: form.get("kind").cloned(),
        city: form.get("city").cloned(),
        address: form.get("address").cloned(),
        contact_name: form.get("contact_name").cloned(),
        contact_phone: form.get("contact_phone").cloned(),
        contact_email: form.get("contact_email").cloned(),
        website: form.get("website").cloned(),
        description: form.get("description").cloned(),
    };
    let now = state.clock.now();
    let catalogue = state.catalogue.clone();
    let result = db::run(&state.pool, move |c| {
        editing::save_unit(c, &who, &catalogue, id, &input, now)
    })
    .await;
    match result {
        Ok(unit) => Ok(see_other(&format!("/units/{}", unit.id))),
        Err(e) => unit_page(&state, &ctx, id, &form).await?.failed(e),
    }
}

fn sub_platform_page(
    ctx: &Ctx,
    id: Option<SubPlatformId>,
    v: &HashMap<String, String>,
) -> FormPage {
    let (title, action) = match id {
        Some(id) => (
            "编辑子平台".to_owned(),
            format!("/admin/sub-platforms/{id}/edit"),
        ),
        None => (
            "新增子平台".to_owned(),
            "/admin/sub-platforms/new".to_owned(),
        ),
    };
    let mut page = FormPage::new(
        ctx,
        title,
        action,
        vec![
            Field::new("name", "名称", "text", get(v, "name"))
                .required()
                .max(100),
            Field::new("sort_order", "排序", "number", get(v, "sort_order")),
            Field::new("description", "简介", "textarea", get(v, "description")).max(1000),
        ],
        "保存",
    );
    page.crumbs = vec![("/admin/sub-platforms".to_owned(), "子平台".to_owned())];
    page
}

#[tracing::instrument(name = "web.manage.sub_platform_form", skip_all)]
pub async fn sub_platform_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: Option<web::Path<String>>,
) -> PageResult {
    admin(&ctx, Action::ManageSubPlatforms)?;
    let id = id.map(|p| path_id(&p)).transpose()?;
    let mut values = HashMap::new();
    if let Some(id) = id {
        let s = db::run(&state.pool, move |c| {
            crate::navigation::store::find_sub_platform(c, id)?.ok_or(AppError::NotFound {
                what: "sub-platform",
            })
        })
        .await?;
        values.insert("name".to_owned(), s.name);
        values.insert("sort_order".to_owned(), s.sort_order.to_string());
        values.insert("description".to_owned(), s.description);
    }
    sub_platform_page(&ctx, id, &values).render()
}

#[tracing::instrument(name = "web.manage.save_sub_platform", skip_all)]
pub async fn save_sub_platform(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: Option<web::Path<String>>,
    form: Form,
) -> PageResult {
    let who = admin(&ctx, Action::ManageSubPlatforms)?;
    let id = id.map(|p| path_id(&p)).transpose()?;
    let sort_order = match opt(&form, "sort_order").map(|v| v.trim().parse::<i32>()) {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return sub_platform_page(&ctx, id, &form)
                .failed(AppError::invalid("sort_order", "请填写整数"))
        }
        None => None,
    };
    let input = editing::SubPlatformInput {
        name: form.get("name").cloned(),
        description: form.get("description").cloned(),
        sort_order,
    };
    let now = state.clock.now();
    let catalogue = state.catalogue.clone();
    let result = db::run(&state.pool, move |c| {
        editing::save_sub_platform(c, &who, &catalogue, id, &input, now)
    })
    .await;
    match result {
        Ok(_) => Ok(see_other("/admin/sub-platforms")),
        Err(e) => sub_platform_page(&ctx, id, &form).failed(e),
    }
}
