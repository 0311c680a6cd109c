//! 创新券 pages: the programmes and the public notice for everyone; the company's application
//! form and its vouchers; one quota and one use with the steps the reader may take; the
//! provider's and the issuer's queues; the issuer's programme form.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::explain::explain;
use super::forms::{get, opt, see_other, Cell, Field, Form, FormPage, Line, TablePage};
use super::session::Ctx;
use super::{html_with_status, PageResult, WebError};
use crate::auth::{allowed, Action, Principal};
use crate::error::AppError;
use crate::params::{path_id, query_params};
use crate::types::{hundredths, local_date, local_date_time, yuan_2, VoucherId, VoucherUseId};
use crate::vouchers::model::*;
use crate::vouchers::service;
use crate::{db, state::AppState};

query_params! {
    /// Which programme the application form is for.
    pub struct ApplyParams {
        /// the programme's id
        programme: int(1, i64::MAX),
    }
}

query_params! {
    /// A queue's tab.
    pub struct TabParams {
        /// which list
        tab: text(20),
    }
}

fn yuan(fen: i64) -> String {
    format!("{} 元", yuan_2(fen))
}

/// Yuan with at most two decimals as fen; `field` is named when it is not.
fn fen_of(field: &str, text: &str) -> Result<i64, AppError> {
    hundredths(text.trim())
        .ok_or_else(|| AppError::invalid(field, "请填写金额（元，最多两位小数）"))
}

/// Whether the reader acts for an issuer (its officers) or may (platform admins).
fn issues(who: &Principal) -> bool {
    who.voucher_issuer.is_some() || allowed(who, Action::ManageUsers)
}

/// 创新券: the programmes, with their money and a way to apply to the open ones.
#[tracing::instrument(name = "web.vouchers.programmes", skip_all)]
pub async fn programmes(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let now = state.clock.now();
    let list = db::run(&state.pool, move |c| service::programmes(c, None, now)).await?;
    let mut t = TablePage::new(
        &ctx,
        "创新券",
        vec![
            "项目",
            "发券机构",
            "补贴",
            "上限",
            "申领时间",
            "剩余预算",
            "",
        ],
    );
    t.intro = vec![
        "政府买服务，企业用服务：科技型企业申领创新券，用于支付平台上仪器的检测、测试服务费用；服务完成后由服务单位申请兑付。".to_owned(),
    ];
    t.links = vec![("/vouchers/notice".to_owned(), "兑付公示".to_owned())];
    if let Some(who) = &ctx.user {
        t.links
            .push(("/me/vouchers".to_owned(), "我的创新券".to_owned()));
        if issues(who) {
            t.links
                .push(("/issuer/vouchers".to_owned(), "创新券审核".to_owned()));
            t.links
                .push(("/issuer/programmes/new".to_owned(), "开设项目".to_owned()));
        }
    }
    t.rows = list
        .into_iter()
        .map(|p| {
            vec![
                Cell::Lines(vec![
                    Line::text(p.name.clone()),
                    Line::muted(if p.sme_only {
                        "限中小微企业"
                    } else {
                        "企业"
                    }),
                ]),
                Cell::Text(p.issuer_name.clone()),
                Cell::Text(if p.full_below_fen > 0 {
                    format!(
                        "{}%（{} 以下全额）",
                        p.share_percent,
                        yuan(p.full_below_fen)
                    )
                } else {
                    format!("{}%", p.share_percent)
                }),
                Cell::Lines(vec![
                    Line::text(format!("每次 {}", yuan(p.cap_per_application_fen))),
                    Line::muted(format!("每家每年 {}", yuan(p.cap_per_company_year_fen))),
                ]),
                Cell::Lines(vec![
                    Line::text(format!("{} 至 {}", p.apply_from, p.apply_until)),
                    Line::muted(format!("使用至 {}，兑付至 {}", p.use_until, p.redeem_until)),
                ]),
                Cell::Text(yuan(p.figures.remaining_fen)),
                if p.open {
                    Cell::Button(format!("/vouchers/apply?programme={}", p.id), "申领")
                } else {
                    Cell::Text("未在申领期".to_owned())
                },
            ]
        })
        .collect();
    t.render()
}

/// 兑付公示: approved redemptions while their notice runs.
#[tracing::instrument(name = "web.vouchers.notice", skip_all)]
pub async fn notice(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let now = state.clock.now();
    let list = db::run(&state.pool, move |c| service::notice(c, now)).await?;
    let mut t = TablePage::new(
        &ctx,
        "创新券兑付公示",
        vec![
            "项目",
            "券号",
            "企业",
            "服务单位",
            "仪器",
            "服务费用",
            "创新券兑付",
            "公示至",
        ],
    );
    t.crumbs = vec![("/vouchers".to_owned(), "创新券".to_owned())];
    t.intro = vec![
        "以下兑付已经发券机构审核通过，公示期满后拨付。对公示内容有异议的，请在公示期内向发券机构反映。"
            .to_owned(),
    ];
    t.rows = list
        .into_iter()
        .map(|n| {
            vec![
                Cell::Text(n.programme_name),
                Cell::Text(n.voucher_number),
                Cell::Text(n.company),
                Cell::Text(n.unit_name),
                Cell::Text(n.instrument_name),
                Cell::Text(yuan(n.claim_fee_fen)),
                Cell::Text(yuan(n.claim_fen)),
                Cell::Lines(vec![
                    Line::text(local_date_time(n.notice_until)),
                    Line::muted(n.status_label),
                ]),
            ]
        })
        .collect();
    t.render()
}

fn apply_form(ctx: &Ctx, p: &Programme, v: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        format!("申领创新券：{}", p.name),
        "/vouchers/apply",
        vec![
            Field::new("programme_id", "", "hidden", p.id.to_string()),
            Field::new(
                "requested_fen",
                "申领额度（元）",
                "text",
                g("requested_fen"),
            )
            .required()
            .hint("最多两位小数"),
            Field::new(
                "need",
                "服务需求（检测什么、为什么）",
                "textarea",
                g("need"),
            )
            .required()
            .max(2000),
            Field::new("sme_declared", "企业规模", "select", g("sme_declared")).options(vec![
                ("1".to_owned(), "本企业是中小微企业".to_owned()),
                ("0".to_owned(), "不是中小微企业".to_owned()),
            ]),
        ],
        "提交申请",
    );
    page.crumbs = vec![("/vouchers".to_owned(), "创新券".to_owned())];
    page.intro = vec![
        format!(
            "{}发放。每次申领不超过 {}，每家企业每年不超过 {}；创新券支付服务费用的 {}%{}。",
            p.issuer_name,
            yuan(p.cap_per_application_fen),
            yuan(p.cap_per_company_year_fen),
            p.share_percent,
            if p.full_below_fen > 0 {
                format!("，{} 以下的服务全额支付", yuan(p.full_below_fen))
            } else {
                String::new()
            }
        ),
        "须以企业身份申领：账户所属单位应为经平台认可、登记了统一社会信用代码的企业。".to_owned(),
    ];
    page
}

#[tracing::instrument(name = "web.vouchers.apply_page", skip_all)]
pub async fn apply_page(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    ctx.require()?;
    let id = ApplyParams::parse_known(req.query_string())?
        .programme
        .ok_or_else(|| AppError::bad_request("programme", "请从创新券项目列表进入"))?;
    let now = state.clock.now();
    let p = db::run(&state.pool, move |c| service::programme(c, id.into(), now)).await?;
    let mut v = HashMap::new();
    v.insert("sme_declared".to_owned(), "1".to_owned());
    apply_form(&ctx, &p, &v).render()
}

#[tracing::instrument(name = "web.vouchers.apply", skip_all)]
pub async fn apply(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let values = form.0;
    let programme: i64 = get(&values, "programme_id").parse().unwrap_or(0);
    let now = state.clock.now();
    let p = db::run(&state.pool, move |c| {
        service::programme(c, programme.into(), now)
    })
    .await?;
    let input = fen_of("requested_fen", get(&values, "requested_fen")).map(|fen| VoucherInput {
        programme_id: p.id,
        requested_fen: fen,
        need: get(&values, "need").to_owned(),
        sme_declared: get(&values, "sme_declared") == "1",
    });
    let result = match input {
        Ok(input) => {
            db::run(&state.pool, move |c| {
                Ok(service::apply(c, &who, input, now))
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => Ok(see_other(&format!("/vouchers/{}?applied=1", v.id))),
        Err(e) => apply_form(&ctx, &p, &values).failed(e),
    }
}

/// 我的创新券: the company's quotas and their uses.
#[tracing::instrument(name = "web.vouchers.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let who = ctx.require()?.clone();
    let list = db::run(&state.pool, move |c| {
        service::vouchers(c, &who, true, None, None)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "我的创新券",
        vec!["券号", "项目", "额度", "可用", "状态", "使用截止"],
    );
    t.crumbs = vec![("/vouchers".to_owned(), "创新券".to_owned())];
    t.intro = vec![
        "额度批准后，预约或送样时在表单中选择创新券，即按比例抵扣服务费用；服务单位确认后生效。"
            .to_owned(),
    ];
    t.rows = list.into_iter().map(voucher_row).collect();
    t.render()
}

fn voucher_row(v: Voucher) -> Vec<Cell> {
    vec![
        Cell::Link(
            format!("/vouchers/{}", v.id),
            v.number
                .clone()
                .unwrap_or_else(|| format!("申请 #{}", v.id)),
        ),
        Cell::Lines(vec![
            Line::text(v.programme_name.clone()),
            Line::muted(v.company.clone()),
        ]),
        Cell::Text(if v.approved_fen > 0 {
            yuan(v.approved_fen)
        } else {
            format!("申请 {}", yuan(v.requested_fen))
        }),
        Cell::Text(yuan(v.available_fen)),
        Cell::Text(v.status_label.to_owned()),
        Cell::Text(v.use_until.to_string()),
    ]
}

/// One step's form on a quota's or a use's page.
struct StepForm {
    code: &'static str,
    action: String,
    label: &'static str,
    /// The reason asked for, if the step needs one.
    text: Option<&'static str>,
    /// The amount asked for (元), with its default.
    amount: Option<(&'static str, String)>,
    danger: bool,
}

#[derive(Template)]
#[template(path = "voucher.html")]
struct VoucherTemplate {
    v: Voucher,
    back: (String, String),
    rows: Vec<[String; 6]>,
    forms: Vec<StepForm>,
    /// (when, what, who, amount, note)
    history: Vec<(String, String, String, String, String)>,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
}

fn voucher_page(
    ctx: &Ctx,
    v: Voucher,
    error: Option<AppError>,
    notice: Option<&str>,
) -> PageResult {
    let status = error.as_ref().map_or(actix_web::http::StatusCode::OK, |e| {
        actix_web::ResponseError::status_code(e)
    });
    let company = ctx
        .user
        .as_ref()
        .is_some_and(|u| u.organisation == Some(v.organisation_id));
    let back = if company {
        ("/me/vouchers", "我的创新券")
    } else {
        ("/issuer/vouchers", "创新券审核")
    };
    let forms = v
        .steps
        .iter()
        .map(|s| StepForm {
            code: s.code(),
            action: format!("/vouchers/{}/{}", v.id, s.code()),
            label: s.label_zh(),
            text: (*s == VoucherStep::Refuse).then_some("不予批准的理由"),
            amount: (*s == VoucherStep::Approve)
                .then(|| ("批准额度（元）", yuan_2(v.requested_fen))),
            danger: matches!(s, VoucherStep::Refuse | VoucherStep::Withdraw),
        })
        .collect();
    let rows = v
        .uses
        .iter()
        .map(|u| {
            [
                format!("/voucher-uses/{}", u.id),
                format!("预约 #{}", u.reservation_id),
                format!("{}（{}）", u.instrument_name, u.unit_name),
                yuan(u.fee_fen),
                yuan(u.voucher_fen),
                u.status_label.to_owned(),
            ]
        })
        .collect();
    let history = v
        .history
        .iter()
        .map(|h| {
            (
                local_date_time(h.at),
                h.step_label.clone(),
                h.by.clone(),
                h.amount_fen.map(yuan).unwrap_or_default(),
                h.note.clone(),
            )
        })
        .collect();
    let page = VoucherTemplate {
        back: (back.0.to_owned(), back.1.to_owned()),
        rows,
        forms,
        history,
        csrf: ctx.csrf.clone(),
        error: error.map(|e| explain(&e).text),
        notice: notice.map(str::to_owned),
        v,
    };
    html_with_status(&page, status)
}

#[tracing::instrument(name = "web.vouchers.show", skip_all)]
pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: VoucherId = path_id(&id)?;
    let now = state.clock.now();
    let v = db::run(&state.pool, move |c| service::voucher(c, &who, id, now)).await?;
    let applied = req.query_string().contains("applied=1");
    voucher_page(
        &ctx,
        v,
        None,
        applied.then_some("申请已提交，发券机构审批后会邮件通知您。"),
    )
}

#[tracing::instrument(name = "web.vouchers.step", skip_all)]
pub async fn step(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: VoucherId = path_id(&path.0)?;
    let step = VoucherStep::from_code(&path.1)
        .filter(|s| {
            matches!(
                s,
                VoucherStep::Approve | VoucherStep::Refuse | VoucherStep::Withdraw
            )
        })
        .ok_or(AppError::NotFound { what: "step" })?;
    let amount = opt(&form, "amount")
        .map(|a| fen_of("amount_fen", &a))
        .transpose();
    let now = state.clock.now();
    let text = get(&form, "text").to_owned();
    let (result, current) = db::run(&state.pool, move |c| {
        let r = amount.and_then(|amount_fen| {
            let input = VoucherStepInput {
                amount_fen,
                text,
                ..VoucherStepInput::default()
            };
            service::voucher_step(c, &who, id, step, &input, now)
        });
        Ok((r, service::voucher(c, &who, id, now)?))
    })
    .await?;
    match result {
        Ok(_) => Ok(see_other(&format!("/vouchers/{id}"))),
        Err(e) => voucher_page(&ctx, current, Some(e), None),
    }
}

#[derive(Template)]
#[template(path = "voucher_use.html")]
struct UseTemplate {
    u: VoucherUse,
    facts: Vec<(&'static str, String)>,
    /// (href, kind, name)
    files: Vec<(String, &'static str, String)>,
    /// Upload forms, one per kind: (kind, label), when the reader may add files now.
    uploads: Vec<(&'static str, &'static str)>,
    max_mb: u32,
    forms: Vec<StepForm>,
    csrf: String,
    error: Option<String>,
}

fn use_page(ctx: &Ctx, u: VoucherUse, max_mb: u32, error: Option<AppError>) -> PageResult {
    let status = error.as_ref().map_or(actix_web::http::StatusCode::OK, |e| {
        actix_web::ResponseError::status_code(e)
    });
    let mut facts = vec![
        ("券号", u.voucher_number.clone()),
        ("企业", u.company.clone()),
        ("服务单位", u.unit_name.clone()),
        ("仪器", u.instrument_name.clone()),
        ("预约", format!("#{}", u.reservation_id)),
        ("预计费用", yuan(u.fee_fen)),
        ("创新券抵扣", yuan(u.voucher_fen)),
        ("企业自付", yuan(u.own_fen)),
    ];
    if let (Some(fee), Some(claim)) = (u.claim_fee_fen, u.claim_fen) {
        facts.push(("实际费用", yuan(fee)));
        facts.push(("申请兑付", yuan(claim)));
    }
    if let Some(t) = u.notice_until {
        facts.push(("公示至", local_date_time(t)));
    }
    if let Some(t) = u.paid_at {
        facts.push(("拨付日期", local_date(t)));
    }
    if !u.reason.is_empty() {
        facts.push(("说明", u.reason.clone()));
    }
    let may_upload = ctx
        .user
        .as_ref()
        .is_some_and(|w| allowed(w, Action::ClaimVouchers { unit: u.unit_id }))
        && matches!(u.status, UseStatus::Confirmed | UseStatus::Returned);
    let uploads = if may_upload {
        FileKind::ALL
            .iter()
            .map(|k| (k.code(), k.label_zh()))
            .collect()
    } else {
        Vec::new()
    };
    let files = u
        .files
        .iter()
        .map(|f| {
            (
                format!("/voucher-uses/{}/files/{}", u.id, f.id),
                f.kind_label,
                f.name.clone(),
            )
        })
        .collect();
    let forms = u
        .steps
        .iter()
        .filter(|s| **s != UseStep::Request)
        .map(|s| StepForm {
            code: s.code(),
            action: format!("/voucher-uses/{}/{}", u.id, s.code()),
            label: s.label_zh(),
            text: s.needs_text(),
            amount: (*s == UseStep::Confirm).then(|| ("确认抵扣金额（元）", yuan_2(u.voucher_fen))),
            danger: matches!(s, UseStep::Decline | UseStep::Refuse | UseStep::Cancel),
        })
        .collect();
    let page = UseTemplate {
        facts,
        files,
        uploads,
        max_mb,
        forms,
        csrf: ctx.csrf.clone(),
        error: error.map(|e| explain(&e).text),
        u,
    };
    html_with_status(&page, status)
}

#[tracing::instrument(name = "web.vouchers.use", skip_all)]
pub async fn show_use(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    let who = ctx.require()?.clone();
    let id: VoucherUseId = path_id(&id)?;
    let u = db::run(&state.pool, move |c| service::use_of(c, &who, id)).await?;
    use_page(&ctx, u, state.vouchers.max_file_mb, None)
}

#[tracing::instrument(name = "web.vouchers.use_step", skip_all)]
pub async fn use_step(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: VoucherUseId = path_id(&path.0)?;
    let step = UseStep::from_code(&path.1)
        .filter(|s| !matches!(s, UseStep::Request | UseStep::Lapse))
        .ok_or(AppError::NotFound { what: "step" })?;
    let amount = opt(&form, "amount")
        .map(|a| fen_of("amount_fen", &a))
        .transpose();
    let text = get(&form, "text").to_owned();
    let (now, days) = (state.clock.now(), state.vouchers.notice_days);
    let (result, current) = db::run(&state.pool, move |c| {
        let r = amount.and_then(|amount_fen| {
            let input = VoucherStepInput {
                amount_fen,
                text,
                ..VoucherStepInput::default()
            };
            service::use_step(c, &who, id, step, &input, days, now)
        });
        Ok((r, service::use_of(c, &who, id)?))
    })
    .await?;
    match result {
        Ok(_) => Ok(see_other(&format!("/voucher-uses/{id}"))),
        Err(e) => use_page(&ctx, current, state.vouchers.max_file_mb, Some(e)),
    }
}

/// A redemption file from the use's page: the form's CSRF token is checked before the file
/// is kept.
#[tracing::instrument(name = "web.vouchers.upload", skip_all)]
pub async fn upload(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: VoucherUseId = path_id(&id)?;
    let session = ctx.csrf.clone();
    // The token travels inside the multipart form: a form of any other kind has none.
    if !crate::publishing::files::is_multipart(req.headers()) {
        Ctx::verify_csrf(&session, "")?;
    }
    let kind = crate::vouchers::handlers::FileParams::parse(req.query_string())?
        .kind
        .ok_or_else(|| AppError::bad_request("kind", format!("one of {}", FileKind::codes())))?;
    let result = crate::vouchers::handlers::receive_file(
        &state,
        who.clone(),
        id,
        kind,
        &req,
        payload,
        move |u| Ctx::verify_csrf(&session, u.field("csrf").unwrap_or_default()).map_err(|e| e.0),
    )
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/voucher-uses/{id}#files"))),
        Err(e @ (AppError::NotFound { .. } | AppError::Forbidden { .. })) => Err(WebError(e)),
        Err(e) => {
            let u = db::run(&state.pool, move |c| service::use_of(c, &who, id)).await?;
            use_page(&ctx, u, state.vouchers.max_file_mb, Some(e))
        }
    }
}

#[tracing::instrument(name = "web.vouchers.file", skip_all)]
pub async fn file(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let (id, file) = (path_id(&path.0)?, path_id(&path.1)?);
    Ok(crate::vouchers::handlers::file_response(&state, who, id, file).await?)
}

fn use_rows(list: Vec<VoucherUse>) -> Vec<Vec<Cell>> {
    list.into_iter()
        .map(|u| {
            vec![
                Cell::Link(format!("/voucher-uses/{}", u.id), format!("#{}", u.id)),
                Cell::Lines(vec![
                    Line::text(u.company.clone()),
                    Line::muted(u.voucher_number.clone()),
                ]),
                Cell::Lines(vec![
                    Line::text(u.instrument_name.clone()),
                    Line::muted(format!("{} · 预约 #{}", u.unit_name, u.reservation_id)),
                ]),
                Cell::Text(yuan(u.fee_fen)),
                Cell::Text(yuan(u.claim_fen.unwrap_or(u.voucher_fen))),
                Cell::Text(u.status_label.to_owned()),
            ]
        })
        .collect()
}

const USE_HEADERS: [&str; 6] = ["编号", "企业", "服务", "费用", "创新券", "状态"];

/// 创新券兑付 for the provider's staff: uses to confirm, to claim, and all.
#[tracing::instrument(name = "web.vouchers.provider", skip_all)]
pub async fn provider_queue(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    let tab = TabParams::parse_known(req.query_string())?.tab;
    let status = match tab.as_deref() {
        Some("claim") => Some(UseStatus::Confirmed),
        Some("all") => None,
        _ => Some(UseStatus::Requested),
    };
    let list = db::run(&state.pool, move |c| service::uses(c, &who, false, status)).await?;
    let mut t = TablePage::new(&ctx, "创新券兑付（服务单位）", USE_HEADERS.to_vec());
    let current =
        |name: &str, default: bool| tab.as_deref() == Some(name) || (default && tab.is_none());
    t.tabs = vec![
        (
            "/manage/vouchers".to_owned(),
            "待确认",
            list.len() as i64,
            current("requested", true),
        ),
        (
            "/manage/vouchers?tab=claim".to_owned(),
            "待申请兑付",
            list.len() as i64,
            current("claim", false),
        ),
        (
            "/manage/vouchers?tab=all".to_owned(),
            "全部",
            list.len() as i64,
            current("all", false),
        ),
    ];
    for tab in t.tabs.iter_mut().filter(|t| !t.3) {
        tab.2 = 0;
    }
    t.intro = vec![
        "企业用创新券预约后，请确认订单和抵扣金额；服务完成后，上传合同、发票和企业自付部分的付款凭证，申请兑付。"
            .to_owned(),
    ];
    t.rows = use_rows(list);
    t.render()
}

/// 创新券审核 for the issuer: applications, claims, payments, and its programmes' reports.
#[tracing::instrument(name = "web.vouchers.issuer", skip_all)]
pub async fn issuer_queue(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    if !issues(&who) {
        return Err(WebError(AppError::forbidden(
            "仅限发券机构经办人和平台管理员 (voucher issuers only)",
        )));
    }
    let tab = TabParams::parse_known(req.query_string())?.tab;
    let now = state.clock.now();
    let issuer = who.voucher_issuer;
    let programmes = db::run(&state.pool, move |c| service::programmes(c, issuer, now)).await?;
    let links = programmes
        .iter()
        .map(|p| {
            (
                format!("/api/v1/voucher-programmes/{}/report.xlsx", p.id),
                format!("{}：导出报表", p.name),
            )
        })
        .chain([("/issuer/programmes/new".to_owned(), "开设项目".to_owned())])
        .collect();
    let mut t = match tab.as_deref() {
        Some(name @ ("claims" | "payments")) => {
            let status = if name == "claims" {
                UseStatus::Claimed
            } else {
                UseStatus::Approved
            };
            let w = who.clone();
            let list = db::run(&state.pool, move |c| {
                service::uses(c, &w, false, Some(status))
            })
            .await?;
            let mut t = TablePage::new(&ctx, "创新券审核", USE_HEADERS.to_vec());
            t.rows = use_rows(list);
            t
        }
        _ => {
            let w = who.clone();
            let list = db::run(&state.pool, move |c| {
                service::vouchers(c, &w, false, None, Some(VoucherStatus::Applied))
            })
            .await?;
            let mut t = TablePage::new(
                &ctx,
                "创新券审核",
                vec!["券号", "项目", "额度", "可用", "状态", "使用截止"],
            );
            t.rows = list.into_iter().map(voucher_row).collect();
            t
        }
    };
    let on = |name: &str| tab.as_deref() == Some(name) || (name == "quotas" && tab.is_none());
    let n = t.rows.len() as i64;
    t.tabs = [
        ("/issuer/vouchers", "待审批额度", "quotas"),
        ("/issuer/vouchers?tab=claims", "待审核兑付", "claims"),
        ("/issuer/vouchers?tab=payments", "公示及待拨付", "payments"),
    ]
    .into_iter()
    .map(|(href, label, name)| {
        (
            href.to_owned(),
            label,
            if on(name) { n } else { 0 },
            on(name),
        )
    })
    .collect();
    t.crumbs = vec![("/vouchers".to_owned(), "创新券".to_owned())];
    t.links = links;
    t.intro =
        vec!["批准额度即从项目预算中划出；兑付审核通过后进入公示，公示期满方可拨付。".to_owned()];
    t.render()
}

fn programme_form(ctx: &Ctx, v: &HashMap<String, String>) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut fields = vec![
        Field::new("name", "项目名称", "text", g("name"))
            .required()
            .max(100),
        Field::new("budget_fen", "总预算（元）", "text", g("budget_fen")).required(),
        Field::new(
            "share_percent",
            "补贴比例（%）",
            "number",
            g("share_percent"),
        )
        .required(),
        Field::new(
            "full_below_fen",
            "全额支付的服务费用上限（元，0 为不适用）",
            "text",
            g("full_below_fen"),
        ),
        Field::new(
            "cap_per_application_fen",
            "每次申领上限（元）",
            "text",
            g("cap_per_application_fen"),
        )
        .required(),
        Field::new(
            "cap_per_company_year_fen",
            "每家企业每年上限（元）",
            "text",
            g("cap_per_company_year_fen"),
        )
        .required(),
        Field::new("sme_only", "申领企业", "select", g("sme_only")).options(vec![
            ("1".to_owned(), "仅限中小微企业".to_owned()),
            ("0".to_owned(), "所有企业".to_owned()),
        ]),
        Field::new("apply_from", "开始申领", "date", g("apply_from")).required(),
        Field::new("apply_until", "截止申领", "date", g("apply_until")).required(),
        Field::new("use_until", "使用截止", "date", g("use_until")).required(),
        Field::new("redeem_until", "兑付截止", "date", g("redeem_until")).required(),
        Field::new("description", "项目说明", "textarea", g("description")).max(2000),
    ];
    if ctx
        .user
        .as_ref()
        .is_some_and(|u| u.voucher_issuer.is_none())
    {
        fields.insert(
            1,
            Field::new("issuer_id", "发券机构编号", "number", g("issuer_id")).required(),
        );
    }
    let mut page = FormPage::new(
        ctx,
        "开设创新券项目",
        "/issuer/programmes/new",
        fields,
        "开设",
    );
    page.crumbs = vec![("/issuer/vouchers".to_owned(), "创新券审核".to_owned())];
    page.intro =
        vec!["服务机构默认为平台上的全部单位；限定单位、子平台或仪器请通过 API 设置。".to_owned()];
    page
}

#[tracing::instrument(name = "web.vouchers.programme_page", skip_all)]
pub async fn programme_page(ctx: Ctx) -> PageResult {
    ctx.require()?;
    let mut v = HashMap::new();
    v.insert("share_percent".to_owned(), "50".to_owned());
    v.insert("sme_only".to_owned(), "1".to_owned());
    programme_form(&ctx, &v).render()
}

#[tracing::instrument(name = "web.vouchers.open_programme", skip_all)]
pub async fn open_programme(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let values = form.0;
    let money = |k: &str| match get(&values, k).trim() {
        "" if k == "full_below_fen" => Ok(0),
        t => fen_of(k, t),
    };
    let input = (|| -> Result<ProgrammeInput, AppError> {
        Ok(ProgrammeInput {
            name: get(&values, "name").to_owned(),
            issuer_id: match who.voucher_issuer {
                Some(i) => i,
                None => get(&values, "issuer_id")
                    .parse::<i64>()
                    .map_err(|_| AppError::invalid("issuer_id", "请填写发券机构编号"))?
                    .into(),
            },
            description: get(&values, "description").to_owned(),
            budget_fen: money("budget_fen")?,
            share_percent: get(&values, "share_percent")
                .parse()
                .map_err(|_| AppError::invalid("share_percent", "补贴比例应为 1–100 (%)"))?,
            full_below_fen: money("full_below_fen")?,
            cap_per_application_fen: money("cap_per_application_fen")?,
            cap_per_company_year_fen: money("cap_per_company_year_fen")?,
            sme_only: get(&values, "sme_only") == "1",
            apply_from: get(&values, "apply_from").to_owned(),
            apply_until: get(&values, "apply_until").to_owned(),
            use_until: get(&values, "use_until").to_owned(),
            redeem_until: get(&values, "redeem_until").to_owned(),
            providers: Vec::new(),
        })
    })();
    let now = state.clock.now();
    let result = match input {
        Ok(input) => {
            db::run(&state.pool, move |c| {
                Ok(service::open_programme(c, &who, input, now))
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other("/vouchers")),
        Err(e) => programme_form(&ctx, &values).failed(e),
    }
}

/// The booking forms' 创新券 choice: the reader's company's vouchers with something left,
/// or nothing when it has none.
pub async fn voucher_field(
    state: &AppState,
    who: &Principal,
    chosen: String,
) -> Result<Option<Field>, WebError> {
    if who.organisation.is_none() {
        return Ok(None);
    }
    let w = who.clone();
    let list = db::run(&state.pool, move |c| {
        service::vouchers(c, &w, true, None, Some(VoucherStatus::Approved))
    })
    .await?;
    let mut options: Vec<(String, String)> = list
        .into_iter()
        .filter(|v| v.available_fen > 0)
        .map(|v| {
            (
                v.id.to_string(),
                format!(
                    "{}（可用 {}）",
                    v.number.unwrap_or_default(),
                    yuan(v.available_fen)
                ),
            )
        })
        .collect();
    if options.is_empty() {
        return Ok(None);
    }
    options.insert(0, (String::new(), "不使用创新券".to_owned()));
    Ok(Some(
        Field::new("voucher_id", "创新券", "select", chosen).options(options),
    ))
}
