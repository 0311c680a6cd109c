//! Account pages: register, verify, sign in and out, reset a password, the profile.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use askama::Template;

use super::forms::{
    get, opt, see_other, Cell, CsrfChecked, Field, Form, FormPage, MessagePage, RowAction,
    TablePage,
};
use super::session::{cleared_cookies, session_cookies, Ctx, REFRESH};
use super::PageResult;
use super::{html, WebError};
use crate::error::AppError;
use crate::navigation::model::UnitKind;
use crate::types::PageRequest;
use crate::users::handlers::client_address;
use crate::users::model::{NewOrganisationInput, Registration};
use crate::users::service::{self as accounts, ProfilePatch};
use crate::users::{signin, staff};
use crate::{db, state::AppState};

fn kind_options() -> Vec<(String, String)> {
    UnitKind::ALL
        .iter()
        .map(|k| (k.code().to_owned(), k.label_zh().to_owned()))
        .collect()
}

async fn organisation_options(state: &AppState) -> Result<Vec<(String, String)>, WebError> {
    let page = PageRequest {
        page: 1,
        per_page: 100,
    };
    let mut options = vec![(String::new(), "— 选择单位，或在下面填写新单位 —".to_owned())];
    let mut n = 1;
    loop {
        let p = PageRequest { page: n, ..page };
        let list = db::run(&state.pool, move |c| {
            accounts::list_organisations(c, None, None, p)
        })
        .await?;
        let done = list.items.len() < 100;
        options.extend(list.items.into_iter().map(|o| (o.id.to_string(), o.name)));
        if done || n >= 20 {
            return Ok(options);
        }
        n += 1;
    }
}

async fn register_form(
    state: &AppState,
    ctx: &Ctx,
    form: Option<&HashMap<String, String>>,
) -> Result<FormPage, WebError> {
    let v = |k: &str| form.map(|f| get(f, k).to_owned()).unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        "注册账户",
        "/register",
        vec![
            Field::new("email", "邮箱 E-mail", "email", v("email"))
                .required()
                .max(254),
            Field::new("password", "密码（至少 10 位）", "password", "")
                .required()
                .max(128),
            Field::new("name", "姓名", "text", v("name"))
                .required()
                .max(50),
            Field::new("phone", "电话", "text", v("phone")).max(30),
            Field::new(
                "organisation_id",
                "所在单位",
                "select",
                v("organisation_id"),
            )
            .options(organisation_options(state).await?),
            Field::new(
                "new_organisation_name",
                "或：新单位名称",
                "text",
                v("new_organisation_name"),
            )
            .max(100),
            Field::new(
                "new_organisation_kind",
                "新单位类型",
                "select",
                v("new_organisation_kind"),
            )
            .options(kind_options()),
            Field::new(
                "new_organisation_credit_code",
                "新单位统一社会信用代码（选填）",
                "text",
                v("new_organisation_credit_code"),
            )
            .max(18),
        ],
        "注册",
    );
    page.intro = vec!["注册后可浏览全部仪器；验证邮箱后即可预约机时、申请上机资格。".to_owned()];
    page.links = vec![("/login".to_owned(), "已有账户？登录".to_owned())];
    Ok(page)
}

#[tracing::instrument(name = "web.account.register_page", skip_all)]
pub async fn register_page(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    register_form(&state, &ctx, None).await?.render()
}

#[tracing::instrument(name = "web.account.register", skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    form: Form,
) -> PageResult {
    let registration = Registration {
        email: get(&form, "email").to_owned(),
        password: get(&form, "password").to_owned(),
        name: get(&form, "name").to_owned(),
        phone: get(&form, "phone").to_owned(),
        organisation_id: match opt(&form, "organisation_id") {
            Some(id) => Some(
                id.parse()
                    .map_err(|_| AppError::bad_request("organisation_id", "not an id"))?,
            ),
            None => None,
        },
        new_organisation: opt(&form, "new_organisation_name").map(|name| NewOrganisationInput {
            name,
            kind: get(&form, "new_organisation_kind").to_owned(),
            credit_code: opt(&form, "new_organisation_credit_code"),
        }),
    };
    let result = match accounts::validate_registration(&registration) {
        Ok(valid) => accounts::register(&state, valid, &client_address(&req)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => MessagePage {
            title: "请查收验证邮件".to_owned(),
            paragraphs: vec![
                format!(
                    "验证邮件已发送到 {}。请点击邮件中的链接完成验证。",
                    registration.email.trim()
                ),
                "没有收到？请检查垃圾邮件，或稍后登录后在「我的账户」重新发送。".to_owned(),
            ],
            links: vec![("/login".to_owned(), "去登录".to_owned())],
        }
        .render(),
        Err(e) => register_form(&state, &ctx, Some(&form)).await?.failed(e),
    }
}

/// The link in the e-mail opens a page with a button; the POST verifies. (Mail scanners that
/// follow links must not use up the single-use token.)
#[tracing::instrument(name = "web.account.verify_page", skip_all)]
pub async fn verify_page(ctx: Ctx, req: HttpRequest) -> PageResult {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let mut page = FormPage::new(
        &ctx,
        "验证邮箱",
        "/verify-email",
        vec![Field::new("token", "", "hidden", get(&query, "token"))],
        "确认验证邮箱",
    );
    page.intro = vec!["点击下面的按钮，完成邮箱验证。".to_owned()];
    page.render()
}

#[tracing::instrument(name = "web.account.verify", skip_all)]
pub async fn verify(state: web::Data<AppState>, form: Form) -> PageResult {
    let token = get(&form, "token").to_owned();
    let now = state.clock.now();
    match db::run(&state.pool, move |c| accounts::verify_email(c, &token, now)).await {
        Ok(user) => MessagePage {
            title: "邮箱已验证".to_owned(),
            paragraphs: vec![format!(
                "{}，您的邮箱 {} 已验证，现在可以预约仪器了。",
                user.name, user.email
            )],
            links: vec![("/login".to_owned(), "登录".to_owned())],
        }
        .render(),
        Err(e @ AppError::Invalid { .. }) => Err(WebError(e)),
        Err(e) => Err(WebError(e)),
    }
}

fn login_form(ctx: &Ctx, email: &str, next: &str) -> FormPage {
    let mut page = FormPage::new(
        ctx,
        "登录",
        "/login",
        vec![
            Field::new("email", "邮箱 E-mail", "email", email)
                .required()
                .max(254),
            Field::new("password", "密码", "password", "")
                .required()
                .max(128),
            Field::new("next", "", "hidden", next),
        ],
        "登录",
    );
    page.links = vec![
        ("/register".to_owned(), "没有账户？注册".to_owned()),
        ("/password-reset".to_owned(), "忘记密码".to_owned()),
    ];
    page
}

/// Where to go after signing in. `next` is resolved the way a browser resolves a `Location`
/// (the WHATWG URL parser, which drops tabs and newlines and reads a backslash as `/`), kept only
/// when it stays on this site, and sent re-serialised: what the browser is told is what was
/// checked, and no control character reaches the header.
fn safe_next(next: &str) -> String {
    const HOME: &str = "/me";
    let Ok(base) = url::Url::parse("http://yiqi.invalid/") else {
        return HOME.to_owned();
    };
    match base.join(next) {
        Ok(u)
            if next.starts_with('/')
                && u.origin() == base.origin()
                && !u.path().starts_with("//") =>
        {
            match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            }
        }
        _ => HOME.to_owned(),
    }
}

#[tracing::instrument(name = "web.account.login_page", skip_all)]
pub async fn login_page(ctx: Ctx, req: HttpRequest) -> PageResult {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    login_form(&ctx, "", get(&query, "next")).render()
}

#[tracing::instrument(name = "web.account.login", skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    form: Form,
) -> PageResult {
    let (email, password) = (get(&form, "email"), get(&form, "password"));
    match signin::login(&state, email, password, &client_address(&req)).await {
        Ok(tokens) => {
            let mut res = see_other(&safe_next(get(&form, "next")));
            for c in session_cookies(&state, &tokens) {
                res.add_cookie(&c).map_err(AppError::internal)?;
            }
            Ok(res)
        }
        Err(e) => login_form(&ctx, email, get(&form, "next")).failed(e),
    }
}

#[tracing::instrument(name = "web.account.logout", skip_all)]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest, _: CsrfChecked) -> PageResult {
    if let Some(token) = req.cookie(REFRESH).map(|c| c.value().to_owned()) {
        let now = state.clock.now();
        db::run(&state.pool, move |c| signin::logout(c, &token, now)).await?;
    }
    let mut res = see_other("/");
    for c in cleared_cookies(&state) {
        res.add_cookie(&c).map_err(AppError::internal)?;
    }
    Ok(res)
}

#[tracing::instrument(name = "web.account.reset_page", skip_all)]
pub async fn reset_page(ctx: Ctx) -> PageResult {
    FormPage::new(
        &ctx,
        "重置密码",
        "/password-reset",
        vec![Field::new("email", "注册邮箱", "email", "")
            .required()
            .max(254)],
        "发送重置链接",
    )
    .render()
}

#[tracing::instrument(name = "web.account.reset", skip_all)]
pub async fn reset(state: web::Data<AppState>, req: HttpRequest, form: Form) -> PageResult {
    signin::request_password_reset(&state, get(&form, "email"), &client_address(&req)).await?;
    MessagePage {
        title: "请查收邮件".to_owned(),
        paragraphs: vec![
            "如果该邮箱已注册，我们已发送重置密码的链接，请在一小时内使用。".to_owned(),
        ],
        links: vec![("/login".to_owned(), "返回登录".to_owned())],
    }
    .render()
}

fn reset_confirm_form(ctx: &Ctx, token: &str) -> FormPage {
    FormPage::new(
        ctx,
        "设置新密码",
        "/password-reset/confirm",
        vec![
            Field::new("token", "", "hidden", token),
            Field::new("password", "新密码（至少 10 位）", "password", "")
                .required()
                .max(128),
        ],
        "保存新密码",
    )
}

#[tracing::instrument(name = "web.account.reset_confirm_page", skip_all)]
pub async fn reset_confirm_page(ctx: Ctx, req: HttpRequest) -> PageResult {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    reset_confirm_form(&ctx, get(&query, "token")).render()
}

#[tracing::instrument(name = "web.account.reset_confirm", skip_all)]
pub async fn reset_confirm(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    match signin::confirm_password_reset(&state, get(&form, "token"), get(&form, "password")).await
    {
        Ok(()) => MessagePage {
            title: "密码已更新".to_owned(),
            paragraphs: vec!["新密码已生效，所有设备上的旧登录已失效。".to_owned()],
            links: vec![("/login".to_owned(), "用新密码登录".to_owned())],
        }
        .render(),
        Err(e) => reset_confirm_form(&ctx, get(&form, "token")).failed(e),
    }
}

async fn profile_form(state: &AppState, ctx: &Ctx) -> Result<FormPage, WebError> {
    let who = ctx.require()?.clone();
    let user = db::run(&state.pool, move |c| accounts::load_user(c, who.id)).await?;
    let mut page = FormPage::new(
        ctx,
        "我的账户",
        "/me",
        vec![
            Field::new("name", "姓名", "text", user.name.clone())
                .required()
                .max(50),
            Field::new("phone", "电话", "text", user.phone.clone()).max(30),
        ],
        "保存",
    );
    page.intro = vec![
        format!(
            "邮箱：{}（{}）",
            user.email,
            if user.email_verified {
                "已验证"
            } else {
                "未验证，验证后才能预约"
            }
        ),
        format!("角色：{}", user.role.label_zh()),
        format!(
            "单位：{}",
            user.organisation.as_ref().map_or("—", |o| o.name.as_str())
        ),
    ];
    page.links = vec![
        ("/me/password".to_owned(), "修改密码".to_owned()),
        ("/me/subscriptions".to_owned(), "我的订阅".to_owned()),
    ];
    let who = ctx.require()?.clone();
    let invitations = db::run(&state.pool, move |c| staff::my_invitations(c, &who)).await?;
    if !invitations.is_empty() {
        page.links.push((
            "/me/invitations".to_owned(),
            format!("单位邀请（{}）", invitations.len()),
        ));
    }
    if !user.email_verified {
        page.resend = true;
    }
    Ok(page)
}

#[tracing::instrument(name = "web.account.profile_page", skip_all)]
pub async fn profile_page(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    profile_form(&state, &ctx).await?.render()
}

#[tracing::instrument(name = "web.account.profile", skip_all)]
pub async fn profile(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let patch = ProfilePatch {
        name: Some(get(&form, "name").to_owned()),
        phone: Some(get(&form, "phone").to_owned()),
        organisation_id: None,
    };
    let now = state.clock.now();
    match db::run(&state.pool, move |c| {
        accounts::update_profile(c, &who, &patch, now)
    })
    .await
    {
        Ok(_) => {
            let mut page = profile_form(&state, &ctx).await?;
            page.notice = Some("已保存".to_owned());
            page.render()
        }
        Err(e) => profile_form(&state, &ctx).await?.failed(e),
    }
}

fn password_form(ctx: &Ctx) -> FormPage {
    FormPage::new(
        ctx,
        "修改密码",
        "/me/password",
        vec![
            Field::new("current_password", "当前密码", "password", "").required(),
            Field::new("new_password", "新密码（至少 10 位）", "password", "")
                .required()
                .max(128),
        ],
        "修改密码",
    )
}

#[tracing::instrument(name = "web.account.password_page", skip_all)]
pub async fn password_page(ctx: Ctx) -> PageResult {
    ctx.require()?;
    password_form(&ctx).render()
}

#[tracing::instrument(name = "web.account.password", skip_all)]
pub async fn password(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    match signin::change_password(
        &state,
        &who,
        get(&form, "current_password"),
        get(&form, "new_password"),
    )
    .await
    {
        Ok(tokens) => {
            let mut res = see_other("/me");
            for c in session_cookies(&state, &tokens) {
                res.add_cookie(&c).map_err(AppError::internal)?;
            }
            Ok(res)
        }
        Err(e) => password_form(&ctx).failed(e),
    }
}

#[derive(Template)]
#[template(path = "_instrument_actions.html")]
struct InstrumentActions {
    ctx: Ctx,
    id: crate::types::InstrumentId,
    can_edit: bool,
    can_apply: bool,
    /// The viewer runs it: its booking settings are theirs to set.
    can_run: bool,
    qualification: Option<crate::users::model::Qualification>,
}

/// What the signed-in person can do on an instrument's page (loaded by htmx, so the page
/// itself is the same for everyone): their qualification, the apply form, the editor link.
#[tracing::instrument(name = "web.account.instrument_actions", skip_all)]
pub async fn instrument_actions(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
) -> PageResult {
    use crate::auth::{permissions::allowed, Action};
    use crate::users::model::QualificationStatus;
    use crate::users::qualifications as quals;
    let id: crate::types::InstrumentId = crate::params::path_id(&id)?;
    let (inst, qualification) = match ctx.user.clone() {
        Some(who) => {
            db::run(&state.pool, move |c| {
                let inst = crate::navigation::editing::instrument_unit(c, id)?;
                Ok((Some(inst), quals::latest(c, who.id, id)?))
            })
            .await?
        }
        None => (None, None),
    };
    let can_edit = match (&ctx.user, &inst) {
        (Some(u), Some(i)) => {
            i.retired_at.is_none() && allowed(u, Action::ManageInstruments { unit: i.unit_id })
        }
        _ => false,
    };
    let open = qualification.as_ref().is_some_and(|q| {
        matches!(
            q.status,
            QualificationStatus::Applied | QualificationStatus::Approved
        )
    });
    let can_apply = inst.as_ref().is_some_and(|i| i.retired_at.is_none()) && !open;
    let can_run = match (&ctx.user, &inst) {
        (Some(u), Some(i)) => {
            i.retired_at.is_none()
                && allowed(
                    u,
                    Action::RunInstrument {
                        unit: i.unit_id,
                        instrument: id,
                    },
                )
        }
        _ => false,
    };
    html(&InstrumentActions {
        ctx,
        id,
        can_edit,
        can_apply,
        can_run,
        qualification,
    })
}

#[tracing::instrument(name = "web.account.apply", skip_all)]
pub async fn apply(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: crate::types::InstrumentId = crate::params::path_id(&id)?;
    let input = crate::users::qualifications::Application {
        note: get(&form, "note").to_owned(),
    };
    let now = state.clock.now();
    let auth = state.auth.clone();
    let result = db::run(&state.pool, move |c| {
        crate::users::qualifications::apply(c, &who, id, &input, &auth.public_url, now)
    })
    .await;
    match result {
        // Already applied (a second tab, a double click): the page shows the open one.
        Ok(_) | Err(AppError::Conflict { .. }) => Ok(see_other(&format!("/instruments/{id}"))),
        Err(e) => Err(WebError(e)),
    }
}

#[tracing::instrument(name = "web.account.resend_verification", skip_all)]
pub async fn resend_verification(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    _: CsrfChecked,
) -> PageResult {
    let who = ctx.require()?.clone();
    let now = state.clock.now();
    let auth = state.auth.clone();
    let address = client_address(&req);
    let result = db::run(&state.pool, move |c| {
        accounts::resend_verification(c, &auth, &who, &address, now)
    })
    .await;
    let mut page = profile_form(&state, &ctx).await?;
    match result {
        Ok(()) => page.notice = Some("验证邮件已重新发送".to_owned()),
        Err(e) => page = page.with_error(e)?,
    }
    page.render()
}

/// Invitations to a unit's staff, to accept or decline.
#[tracing::instrument(name = "web.account.invitations", skip_all)]
pub async fn invitations_page(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    invitations(&state, &ctx, None).await
}

async fn invitations(state: &AppState, ctx: &Ctx, notice: Option<String>) -> PageResult {
    let who = ctx.require()?.clone();
    let list = db::run(&state.pool, move |c| staff::my_invitations(c, &who)).await?;
    let mut t = TablePage::new(ctx, "单位邀请", vec!["单位", "角色", "邀请时间", "操作"]);
    t.intro = vec![
        "接受后，您的所属单位将改为邀请您的单位（影响收费标准和机时统计中的校内/校外）；离任时恢复为您原来的单位。".to_owned(),
    ];
    t.notice = notice.or_else(|| list.is_empty().then(|| "没有待处理的邀请".to_owned()));
    t.links = vec![("/me".to_owned(), "返回我的账户".to_owned())];
    t.rows = list
        .into_iter()
        .map(|i| {
            vec![
                Cell::Text(i.unit_name),
                Cell::Text(i.role.label_zh().to_owned()),
                Cell::Text(crate::types::local_date_time(i.created_at)),
                Cell::Actions(vec![
                    RowAction {
                        action: format!("/me/invitations/{}/accept", i.id),
                        label: "接受",
                        fields: Vec::new(),
                    },
                    RowAction {
                        action: format!("/me/invitations/{}/decline", i.id),
                        label: "谢绝",
                        fields: Vec::new(),
                    },
                ]),
            ]
        })
        .collect();
    t.render()
}

#[tracing::instrument(name = "web.account.answer_invitation", skip_all)]
pub async fn answer_invitation(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _: CsrfChecked,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = crate::params::path_id(&path.0)?;
    let accept = match path.1.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(WebError(AppError::NotFound { what: "page" })),
    };
    let now = state.clock.now();
    let result = db::run(&state.pool, move |c| {
        staff::answer_invitation(c, &who, id, accept, now)
    })
    .await;
    let notice = match result {
        Ok(u) if accept => format!("您已成为{}", u.role.label_zh()),
        Ok(_) => "已谢绝邀请".to_owned(),
        Err(e @ AppError::Conflict { .. }) => e.to_string(),
        Err(e) => return Err(WebError(e)),
    };
    invitations(&state, &ctx, Some(notice)).await
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_site() {
        for (next, to) in [
            ("/reservations", "/reservations"),
            (
                "/instruments?category=010000&page=2",
                "/instruments?category=010000&page=2",
            ),
            ("/%09/evil.example", "/%09/evil.example"),
            ("/\t/evil.example", "/me"),
            ("//evil.example", "/me"),
            ("/\\evil.example", "/me"),
            ("/.//evil.example", "/me"),
            ("https://evil.example/", "/me"),
            ("http://yiqi.invalid//evil.example", "/me"),
            ("/a\r\nSet-Cookie: x=1", "/aSet-Cookie:%20x=1"),
            ("javascript:alert(1)", "/me"),
            ("", "/me"),
        ] {
            assert_eq!(safe_next(next), to, "{next:?}");
        }
    }
}
