//! Pages for unit staff: their start page, a unit's instruments and the instrument editor.
//! Each calls the same service as the API, which checks the permission. A unit's staff and
//! the qualification queue are in `staff`, the platform admin's pages in `admin`.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};

use super::forms::{opt, see_other, Cell, Field, Form, FormPage, TablePage};
use super::pages::Pager;
use super::session::Ctx;
use super::PageResult;
use super::WebError;
use crate::auth::{authorize, Action, Role};
use crate::error::AppError;
use crate::navigation::editing::{self, InstrumentInput};
use crate::navigation::model::*;
use crate::navigation::service::{self as catalogue, InstrumentQuery};
use crate::params::path_id;
use crate::types::{InstrumentId, UnitId};
use crate::words;
use crate::{db, state::AppState};

pub(super) fn options<T: Copy>(
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
        Field::new("name_zh", words::NAME_ZH, "text", s(&i.name_zh))
            .required()
            .max(100),
        Field::new("name_en", words::NAME_EN, "text", s(&i.name_en)).max(200),
        Field::new("asset_no", words::ASSET_NO, "text", s(&i.asset_no))
            .hint("本单位内唯一")
            .required()
            .max(50),
        Field::new(
            "category_code",
            words::CATEGORY,
            "text",
            s(&i.category_code),
        )
        .hint("国家分类代码，6 位")
        .required()
        .max(6),
        Field::new("model", words::MODEL, "text", s(&i.model)).max(100),
        Field::new(
            "manufacturer",
            words::MANUFACTURER,
            "text",
            s(&i.manufacturer),
        )
        .max(100),
        Field::new(
            "origin_country",
            words::ORIGIN_COUNTRY,
            "text",
            s(&i.origin_country),
        )
        .max(50),
        Field::new(
            "in_service_on",
            words::IN_SERVICE_ON,
            "date",
            i.in_service_on.map(|d| d.to_string()).unwrap_or_default(),
        ),
        Field::new(
            "listed_on",
            words::LISTED_ON,
            "date",
            i.listed_on.map(|d| d.to_string()).unwrap_or_default(),
        ),
        Field::new(
            "original_value_wan",
            words::ORIGINAL_VALUE,
            "text",
            i.original_value_yuan
                .map(|v| crate::types::Yuan(v).wan_yuan())
                .unwrap_or_default(),
        )
        .hint("两位小数")
        .required(),
        Field::new("specs", words::SPECS, "textarea", s(&i.specs))
            .hint("≤500 字")
            .max(500),
        Field::new("functions", words::FUNCTIONS, "textarea", s(&i.functions))
            .hint("≤300 字")
            .max(300),
        Field::new(
            "service_content",
            words::SERVICE_CONTENT,
            "textarea",
            s(&i.service_content),
        )
        .hint("≤200 字")
        .max(200),
        Field::new(
            "sharing_rules",
            words::SHARING_RULES,
            "textarea",
            s(&i.sharing_rules),
        )
        .max(500),
        Field::new(
            "fee_reference",
            words::FEE_REFERENCE,
            "textarea",
            s(&i.fee_reference),
        )
        .max(500),
        Field::new("city", words::CITY, "text", s(&i.city)).max(20),
        Field::new("address", words::ADDRESS, "text", s(&i.address)).max(200),
        Field::new("department", words::DEPARTMENT, "text", s(&i.department)).max(100),
        Field::new(
            "contact_name",
            words::CONTACT_NAME,
            "text",
            s(&i.contact_name),
        )
        .max(50),
        Field::new(
            "contact_phone",
            words::CONTACT_PHONE,
            "text",
            s(&i.contact_phone),
        )
        .max(30),
        Field::new(
            "contact_email",
            words::CONTACT_EMAIL,
            "email",
            s(&i.contact_email),
        )
        .max(100),
        Field::new("share_mode", words::SHARE_MODE, "select", s(&i.share_mode)).options(options(
            ShareMode::ALL,
            ShareMode::code,
            ShareMode::label_zh,
        )),
        Field::new("run_status", words::RUN_STATUS, "select", s(&i.run_status)).options(options(
            RunStatus::ALL,
            RunStatus::code,
            RunStatus::label_zh,
        )),
        Field::new(
            "funding_source",
            words::FUNDING_SOURCE,
            "select",
            s(&i.funding_source),
        )
        .options(options(
            FundingSource::ALL,
            FundingSource::code,
            FundingSource::label_zh,
        )),
        Field::new(
            "acquisition",
            words::ACQUISITION,
            "select",
            s(&i.acquisition),
        )
        .options(options(
            Acquisition::ALL,
            Acquisition::code,
            Acquisition::label_zh,
        )),
        Field::new("purpose", words::PURPOSE, "select", s(&i.purpose)).options(options(
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
        listed_on: Some(r.listed_on),
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
    // 原值 is typed as people read it, in 万元 with two decimals, and kept exactly in yuan.
    let value = match opt(f, "original_value_wan") {
        Some(v) => Some(
            crate::types::Yuan::from_wan_yuan(&v)
                .ok_or_else(|| {
                    AppError::invalid(
                        "original_value_wan",
                        "请填写万元数，最多两位小数，如 235.50 (万元, two decimals)",
                    )
                })?
                .0,
        ),
        None => None,
    };
    let day = |field: &str| match opt(f, field) {
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid(field, "日期格式为 YYYY-MM-DD")),
        None => Ok(None),
    };
    let date = day("in_service_on")?;
    let listed_on = day("listed_on")?;
    Ok(InstrumentInput {
        category_code: t("category_code"),
        name_zh: t("name_zh"),
        name_en: t("name_en"),
        asset_no: t("asset_no"),
        model: t("model"),
        manufacturer: t("manufacturer"),
        origin_country: t("origin_country"),
        in_service_on: date,
        listed_on,
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

/// Staff's start page: a unit admin's unit, a manager's queue, the platform admin's desk.
#[tracing::instrument(name = "web.manage.home", skip_all)]
pub async fn home(ctx: Ctx) -> PageResult {
    let who = ctx.require()?;
    match (who.role, who.unit) {
        (Role::PlatformAdmin, _) => Ok(see_other("/admin")),
        (Role::UnitAdmin, Some(unit)) => {
            Ok(see_other(&format!("/manage/units/{unit}/instruments")))
        }
        (Role::InstrumentManager, Some(_)) => Ok(see_other("/manage/reservations")),
        _ => Err(WebError(AppError::forbidden(
            "仅限单位人员 (unit staff only)",
        ))),
    }
}

/// The links of a unit's management pages that `who` may follow (the permission table's
/// answer, so no link leads to a 403).
pub(super) fn staff_links(who: &crate::auth::Principal, unit: UnitId) -> Vec<(String, String)> {
    let admin = crate::auth::allowed(who, Action::ManageInstruments { unit });
    let mut links = vec![(
        format!("/manage/units/{unit}/instruments"),
        "仪器".to_owned(),
    )];
    if admin {
        links.push((
            format!("/manage/units/{unit}/instruments/new"),
            "新增仪器".to_owned(),
        ));
    }
    if crate::auth::allowed(who, Action::ManageStaff { unit }) {
        links.push((format!("/manage/units/{unit}/staff"), "人员".to_owned()));
    }
    links.extend([
        ("/manage/reservations".to_owned(), "预约审核".to_owned()),
        (
            "/manage/qualifications".to_owned(),
            "上机资格审核".to_owned(),
        ),
        ("/manage/services".to_owned(), "服务记录（机时）".to_owned()),
        (format!("/units/{unit}/week"), "仪器周视图".to_owned()),
        (format!("/units/{unit}/evaluation"), "年度评价".to_owned()),
    ]);
    links
}

#[tracing::instrument(name = "web.manage.unit_instruments", skip_all)]
pub async fn unit_instruments(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let unit: UnitId = path_id(&id)?;
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let st = state.clone();
    let viewer = who.clone();
    let (u, list) = db::run(&state.pool, move |c| {
        let u = catalogue::get_unit(c, unit)?;
        authorize(&who, Action::ReadUnitQueue { unit })
            .or_else(|_| authorize(&who, Action::ManageInstruments { unit }))?;
        let q = InstrumentQuery {
            filter: InstrumentFilter {
                unit: Some(unit),
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
    t.links = staff_links(&viewer, unit);
    let may_edit = crate::auth::allowed(&viewer, Action::ManageInstruments { unit });
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|i| {
            vec![
                Cell::Link(format!("/instruments/{}", i.id), i.name_zh),
                Cell::Text(i.model),
                Cell::Text(i.run_status.label_zh().to_owned()),
                if may_edit {
                    Cell::Link(
                        format!("/manage/instruments/{}/edit", i.id),
                        "编辑".to_owned(),
                    )
                } else {
                    Cell::Text(String::new())
                },
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
    let id: InstrumentId = path_id(&id)?;
    let st = state.clone();
    let inst = db::run(&state.pool, move |c| {
        let i = catalogue::get_instrument(c, &st.catalogue.categories, id)?;
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
    let id: InstrumentId = path_id(&id)?;
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
    let unit: UnitId = path_id(&id)?;
    let u = db::run(&state.pool, move |c| {
        let u = catalogue::get_unit(c, unit)?;
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
    let unit: UnitId = path_id(&id)?;
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
