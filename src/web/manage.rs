//! Pages for unit staff (instrument editor, staff, qualification queue) and for platform
//! admins (units, sub-platforms, users, audit log, mail queue). Each calls the same service
//! as the API, which checks the permission.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::{
    get, opt, see_other, Cell, CsrfChecked, Field, Form, FormPage, RowAction, TablePage,
};
use super::pages::Pager;
use super::session::Ctx;
use super::WebError;
use crate::auth::{authorize, Action, Role};
use crate::error::AppError;
use crate::mail::model::OutboxStatus;
use crate::navigation::editing::{self, InstrumentInput};
use crate::navigation::model::*;
use crate::navigation::service::{self as catalogue, InstrumentQuery};
use crate::params::{path_id, QueryParams};
use crate::types::{local_date_time, InstrumentId, PageRequest, QualificationId, UnitId, UserId};
use crate::users::model::QualificationStatus;
use crate::users::qualifications::{self as quals, Decision};
use crate::users::service as accounts;
use crate::users::store::UserFilter;
use crate::{db, state::AppState};

type PageResult = Result<HttpResponse, WebError>;

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|&v| (code(v).to_owned(), label(v).to_owned()))
        .collect()
}

/// The editor's fields, filled from `i` (an instrument, or what was typed).
fn instrument_fields(i: &InstrumentInput) -> Vec<Field> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        Field::new("name_zh", "仪器名称", "text", s(&i.name_zh))
            .required()
            .max(100),
        Field::new("name_en", "英文名称", "text", s(&i.name_en)).max(200),
        Field::new(
            "asset_no",
            "资产编号（本单位内唯一）",
            "text",
            s(&i.asset_no),
        )
        .required()
        .max(50),
        Field::new(
            "category_code",
            "分类代码（6 位）",
            "text",
            s(&i.category_code),
        )
        .required()
        .max(6),
        Field::new("model", "规格型号", "text", s(&i.model)).max(100),
        Field::new("manufacturer", "生产制造商", "text", s(&i.manufacturer)).max(100),
        Field::new("origin_country", "产地国别", "text", s(&i.origin_country)).max(50),
        Field::new(
            "in_service_on",
            "启用日期",
            "date",
            i.in_service_on.map(|d| d.to_string()).unwrap_or_default(),
        ),
        Field::new(
            "original_value_yuan",
            "原值（元）",
            "number",
            i.original_value_yuan
                .map(|v| v.to_string())
                .unwrap_or_default(),
        )
        .required(),
        Field::new("specs", "主要技术指标（≤500 字）", "textarea", s(&i.specs)).max(500),
        Field::new(
            "functions",
            "主要功能（≤300 字）",
            "textarea",
            s(&i.functions),
        )
        .max(300),
        Field::new(
            "service_content",
            "服务内容（≤200 字）",
            "textarea",
            s(&i.service_content),
        )
        .max(200),
        Field::new(
            "sharing_rules",
            "开放共享规定",
            "textarea",
            s(&i.sharing_rules),
        )
        .max(500),
        Field::new("fee_reference", "收费标准", "textarea", s(&i.fee_reference)).max(500),
        Field::new("city", "所在城市", "text", s(&i.city)).max(20),
        Field::new("address", "安放地址", "text", s(&i.address)).max(200),
        Field::new("department", "所在部门", "text", s(&i.department)).max(100),
        Field::new("contact_name", "联系人", "text", s(&i.contact_name)).max(50),
        Field::new("contact_phone", "联系电话", "text", s(&i.contact_phone)).max(30),
        Field::new("contact_email", "联系邮箱", "email", s(&i.contact_email)).max(100),
        Field::new("share_mode", "共享方式", "select", s(&i.share_mode)).options(options(
            ShareMode::ALL,
            ShareMode::code,
            ShareMode::label_zh,
        )),
        Field::new("run_status", "运行状态", "select", s(&i.run_status)).options(options(
            RunStatus::ALL,
            RunStatus::code,
            RunStatus::label_zh,
        )),
        Field::new("funding_source", "资金来源", "select", s(&i.funding_source)).options(options(
            FundingSource::ALL,
            FundingSource::code,
            FundingSource::label_zh,
        )),
        Field::new("acquisition", "取得方式", "select", s(&i.acquisition)).options(options(
            Acquisition::ALL,
            Acquisition::code,
            Acquisition::label_zh,
        )),
        Field::new("purpose", "用途", "select", s(&i.purpose)).options(options(
            Purpose::ALL,
            Purpose::code,
            Purpose::label_zh,
        )),
    ]
}

fn input_from_instrument(r: &Instrument) -> InstrumentInput {
    InstrumentInput {
        category_code: r.category_path.last().map(|c| c.code.clone()),
        name_zh: Some(r.name_zh.clone()),
        name_en: Some(r.name_en.clone()),
        asset_no: Some(r.asset_no.clone()),
        model: Some(r.model.clone()),
        manufacturer: Some(r.manufacturer.clone()),
        origin_country: Some(r.origin_country.clone()),
        in_service_on: r.in_service_on,
        original_value_yuan: Some(r.original_value_yuan.0),
        specs: Some(r.specs.clone()),
        functions: Some(r.functions.clone()),
        service_content: Some(r.service_content.clone()),
        sharing_rules: Some(r.sharing_rules.clone()),
        fee_reference: Some(r.fee_reference.clone()),
        city: Some(r.city.clone()),
        address: Some(r.address.clone()),
        department: Some(r.department.clone()),
        contact_name: Some(r.contact.name.clone()),
        contact_phone: Some(r.contact.phone.clone()),
        contact_email: Some(r.contact.email.clone()),
        photo_url: None,
        share_mode: Some(r.share_mode.code().to_owned()),
        run_status: Some(r.run_status.code().to_owned()),
        funding_source: Some(r.funding_source.code().to_owned()),
        acquisition: Some(r.acquisition.code().to_owned()),
        purpose: Some(r.purpose.code().to_owned()),
        disciplines: None,
    }
}

/// What the editor's form posted. A number that does not parse is named, not dropped.
fn input_from_form(f: &HashMap<String, String>) -> Result<InstrumentInput, AppError> {
    let t = |k: &str| f.get(k).cloned();
    let value = match opt(f, "original_value_yuan") {
        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            AppError::invalid(
                "original_value_yuan",
                "请填写整数（元）(a whole number of yuan)",
            )
        })?),
        None => None,
    };
    let date = match opt(f, "in_service_on") {
        Some(v) => Some(
            v.parse()
                .map_err(|_| AppError::invalid("in_service_on", "日期格式为 YYYY-MM-DD"))?,
        ),
        None => None,
    };
    Ok(InstrumentInput {
        category_code: t("category_code"),
        name_zh: t("name_zh"),
        name_en: t("name_en"),
        asset_no: t("asset_no"),
        model: t("model"),
        manufacturer: t("manufacturer"),
        origin_country: t("origin_country"),
        in_service_on: date,
        original_value_yuan: value,
        specs: t("specs"),
        functions: t("functions"),
        service_content: t("service_content"),
        sharing_rules: t("sharing_rules"),
        fee_reference: t("fee_reference"),
        city: opt(f, "city"),
        address: t("address"),
        department: t("department"),
        contact_name: t("contact_name"),
        contact_phone: t("contact_phone"),
        contact_email: t("contact_email"),
        photo_url: None,
        share_mode: t("share_mode"),
        run_status: t("run_status"),
        funding_source: t("funding_source"),
        acquisition: t("acquisition"),
        purpose: t("purpose"),
        disciplines: None,
    })
}

/// Staff's start page: their unit's instruments, staff and queue.
#[tracing::instrument(name = "web.manage.home", skip_all)]
pub async fn home(ctx: Ctx) -> PageResult {
    let who = ctx.require()?;
    match (who.role, who.unit) {
        (Role::PlatformAdmin, _) => Ok(see_other("/admin")),
        (_, Some(unit)) => Ok(see_other(&format!("/manage/units/{unit}/instruments"))),
        _ => Err(WebError(AppError::forbidden(
            "仅限单位人员 (unit staff only)",
        ))),
    }
}

fn staff_links(unit: UnitId) -> Vec<(String, String)> {
    vec![
        (
            format!("/manage/units/{unit}/instruments"),
            "仪器".to_owned(),
        ),
        (
            format!("/manage/units/{unit}/instruments/new"),
            "新增仪器".to_owned(),
        ),
        (format!("/manage/units/{unit}/staff"), "人员".to_owned()),
        (
            "/manage/qualifications".to_owned(),
            "上机资格审核".to_owned(),
        ),
        ("/manage/services".to_owned(), "服务记录（机时）".to_owned()),
        (format!("/units/{unit}/evaluation"), "年度评价".to_owned()),
    ]
}

#[tracing::instrument(name = "web.manage.unit_instruments", skip_all)]
pub async fn unit_instruments(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit = UnitId(path_id(&id)?);
    let page = QueryParams::parse(req.query_string(), &["page", "per_page"])?.page()?;
    let st = state.clone();
    let (u, list) = db::run(&state.pool, move |c| {
        let u = catalogue::get_unit(c, unit.0)?;
        authorize(&who, Action::ReadUnitQueue { unit })
            .or_else(|_| authorize(&who, Action::ManageInstruments { unit }))?;
        let q = InstrumentQuery {
            filter: InstrumentFilter {
                unit: Some(unit.0),
                ..Default::default()
            },
            sort: InstrumentSort::Id,
            page,
        };
        Ok((u, catalogue::list_instruments(c, &st.catalogue, &q)?))
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        format!("{} · 仪器", u.name),
        vec!["名称", "型号", "状态", ""],
    );
    t.links = staff_links(unit);
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|i| {
            vec![
                Cell::Link(format!("/instruments/{}", i.id), i.name_zh),
                Cell::Text(i.model),
                Cell::Text(i.run_status.label_zh().to_owned()),
                Cell::Link(
                    format!("/manage/instruments/{}/edit", i.id),
                    "编辑".to_owned(),
                ),
            ]
        })
        .collect();
    t.render()
}

fn editor(ctx: &Ctx, title: String, action: String, input: &InstrumentInput) -> FormPage {
    FormPage::new(ctx, title, action, instrument_fields(input), "保存")
}

#[tracing::instrument(name = "web.manage.edit_instrument_page", skip_all)]
pub async fn edit_instrument_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = InstrumentId(path_id(&id)?);
    let st = state.clone();
    let inst = db::run(&state.pool, move |c| {
        let i = catalogue::get_instrument(c, &st.catalogue.categories, id.0)?;
        authorize(&who, Action::ManageInstruments { unit: i.unit.id })?;
        Ok(i)
    })
    .await?;
    let mut page = editor(
        &ctx,
        format!("编辑：{}", inst.name_zh),
        format!("/manage/instruments/{id}/edit"),
        &input_from_instrument(&inst),
    );
    page.crumbs = vec![(
        format!("/manage/units/{}/instruments", inst.unit.id),
        inst.unit.name.clone(),
    )];
    page.render()
}

#[tracing::instrument(name = "web.manage.edit_instrument", skip_all)]
pub async fn edit_instrument(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let id = InstrumentId(path_id(&id)?);
    let action = format!("/manage/instruments/{id}/edit");
    save_from_form(
        state,
        ctx,
        form,
        "编辑仪器",
        action,
        move |c, who, catalogue, input, now| {
            editing::update_instrument(c, who, catalogue, id, input, now)
        },
    )
    .await
}

/// Saves the editor's form with `save`; on success shows the instrument's page, otherwise
/// the form again with what was typed and the field at fault.
async fn save_from_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    form: Form,
    title: &str,
    action: String,
    save: impl FnOnce(
            &mut crate::db::DbConnection,
            &crate::auth::Principal,
            &crate::navigation::service::Catalogue,
            &InstrumentInput,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<Instrument, AppError>
        + Send
        + 'static,
) -> PageResult {
    let who = ctx.require()?.clone();
    let page = || {
        editor(
            &ctx,
            title.to_owned(),
            action.clone(),
            &input_from_form(&form).unwrap_or_default(),
        )
    };
    let input = match input_from_form(&form) {
        Ok(i) => i,
        Err(e) => return page().failed(e),
    };
    let now = state.clock.now();
    let st = state.clone();
    match db::run(&state.pool, move |c| {
        save(c, &who, &st.catalogue, &input, now)
    })
    .await
    {
        Ok(inst) => Ok(see_other(&format!("/instruments/{}", inst.id))),
        Err(e) => page().failed(e),
    }
}

#[tracing::instrument(name = "web.manage.new_instrument_page", skip_all)]
pub async fn new_instrument_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit = UnitId(path_id(&id)?);
    let u = db::run(&state.pool, move |c| {
        let u = catalogue::get_unit(c, unit.0)?;
        authorize(&who, Action::ManageInstruments { unit })?;
        Ok(u)
    })
    .await?;
    let defaults = InstrumentInput {
        city: Some(u.city.clone()),
        share_mode: Some(ShareMode::External.code().to_owned()),
        run_status: Some(RunStatus::Normal.code().to_owned()),
        funding_source: Some(FundingSource::Own.code().to_owned()),
        acquisition: Some(Acquisition::Purchase.code().to_owned()),
        purpose: Some(Purpose::General.code().to_owned()),
        ..Default::default()
    };
    editor(
        &ctx,
        format!("{} · 新增仪器", u.name),
        format!("/manage/units/{unit}/instruments/new"),
        &defaults,
    )
    .render()
}

#[tracing::instrument(name = "web.manage.new_instrument", skip_all)]
pub async fn new_instrument(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let unit = UnitId(path_id(&id)?);
    let action = format!("/manage/units/{unit}/instruments/new");
    save_from_form(
        state,
        ctx,
        form,
        "新增仪器",
        action,
        move |c, who, catalogue, input, now| {
            editing::create_instrument(c, who, catalogue, unit, input, now)
        },
    )
    .await
}

#[tracing::instrument(name = "web.manage.staff_page", skip_all)]
pub async fn staff_page(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    staff(state, ctx, UnitId(path_id(&id)?), None).await
}

async fn staff(
    state: web::Data<AppState>,
    ctx: Ctx,
    unit: UnitId,
    notice: Option<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let (u, list) = db::run(&state.pool, move |c| {
        let u = catalogue::get_unit(c, unit.0)?;
        authorize(&who, Action::ManageStaff { unit })?;
        let f = UserFilter {
            unit: Some(unit.0),
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
    t.links = staff_links(unit);
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
    let unit = UnitId(path_id(&id)?);
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let input = crate::users::staff::StaffInput {
        email: get(&form, "reason").to_owned(),
        role: get(&query, "role").to_owned(),
    };
    let now = state.clock.now();
    let public_url = state.auth.public_url.clone();
    let result = db::run(&state.pool, move |c| {
        authorize(&who, Action::ManageStaff { unit })?;
        crate::users::staff::add_staff(c, &who, unit, &input, &public_url, now)
    })
    .await;
    let notice = match result {
        Ok(crate::users::staff::StaffAdded::RoleChanged(u)) => {
            format!("已将 {} 设为{}", u.name, u.role.label_zh())
        }
        Ok(crate::users::staff::StaffAdded::Invited(i)) => format!(
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
    let unit = UnitId(path_id(&path.0)?);
    let user = UserId(path_id(&path.1)?);
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        authorize(&who, Action::ManageStaff { unit })?;
        crate::users::staff::remove_staff(c, &who, unit, user, now)
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
    let page = QueryParams::parse(req.query_string(), &["page", "per_page"])?.page()?;
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
        t.links = staff_links(unit);
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
    let id = QualificationId(path_id(&id)?);
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let decision = Decision {
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

// --- platform admin ----------------------------------------------------------------------

fn admin_links() -> Vec<(String, String)> {
    [
        ("/admin/units", "单位"),
        ("/admin/sub-platforms", "子平台"),
        ("/admin/users", "用户"),
        ("/admin/audit", "审计日志"),
        ("/admin/mail", "邮件队列"),
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
pub async fn admin_home(ctx: Ctx) -> PageResult {
    admin(&ctx, Action::ManageUnits)?;
    Ok(see_other("/admin/units"))
}

#[tracing::instrument(name = "web.manage.admin_units", skip_all)]
pub async fn admin_units(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    admin(&ctx, Action::ManageUnits)?;
    let page = QueryParams::parse(req.query_string(), &["page", "per_page"])?.page()?;
    let list = db::run(&state.pool, move |c| {
        catalogue::list_units(c, &UnitFilter::default(), page)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "单位",
        vec!["名称", "子平台", "类型", "城市", "仪器", ""],
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
    let params = QueryParams::parse(req.query_string(), &["q", "page", "per_page"])?;
    let f = UserFilter {
        q: params.text("q", 100)?,
        ..Default::default()
    };
    let page = params.page()?;
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
    let user = UserId(path_id(&path.0)?);
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
    let page = QueryParams::parse(req.query_string(), &["page", "per_page"])?.page()?;
    let list = db::run(&state.pool, move |c| {
        crate::audit::list(c, &Default::default(), page)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "审计日志",
        vec!["时间", "操作人", "操作", "对象", "修改后"],
    );
    t.links = admin_links();
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|e| {
            vec![
                Cell::Text(local_date_time(e.at)),
                Cell::Text(e.actor.map(|a| a.name).unwrap_or_else(|| "系统".to_owned())),
                Cell::Text(e.action),
                Cell::Text(format!(
                    "{} #{}",
                    e.target_type,
                    e.target_id.map(|i| i.to_string()).unwrap_or_default()
                )),
                Cell::Text(
                    e.after
                        .map(|a| a.to_string().chars().take(160).collect())
                        .unwrap_or_default(),
                ),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.manage.admin_mail", skip_all)]
pub async fn admin_mail(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    admin(&ctx, Action::ManageMail)?;
    let params = QueryParams::parse(req.query_string(), &["status", "page", "per_page"])?;
    let status = params.code("status", OutboxStatus::from_code, &OutboxStatus::codes())?;
    let page = params.page()?;
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
    id: Option<i64>,
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
    let sub_platform_id = match opt(&form, "sub_platform_id").map(|v| v.parse::<i64>()) {
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
        editing::save_unit(c, &who, &catalogue, id.map(UnitId), &input, now)
    })
    .await;
    match result {
        Ok(unit) => Ok(see_other(&format!("/units/{}", unit.id))),
        Err(e) => unit_page(&state, &ctx, id, &form).await?.failed(e),
    }
}

fn sub_platform_page(ctx: &Ctx, id: Option<i64>, v: &HashMap<String, String>) -> FormPage {
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
        editing::save_sub_platform(
            c,
            &who,
            &catalogue,
            id.map(crate::types::SubPlatformId),
            &input,
            now,
        )
    })
    .await;
    match result {
        Ok(_) => Ok(see_other("/admin/sub-platforms")),
        Err(e) => sub_platform_page(&ctx, id, &form).failed(e),
    }
}
