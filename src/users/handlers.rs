//! Account, organisation, staff, qualification and ban endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::model::{OrganisationStatus, QualificationStatus, Registration};
use super::qualifications::{
    self as quals, Application, BanInput, Decision, LiftInput, ViolationInput,
};
use super::service::{self, ProfilePatch, StaffInput};
use super::store::UserFilter;
use crate::auth::{authorize, Action, Auth, Role};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, QueryParams};
use crate::types::{BanId, InstrumentId, OrganisationId, QualificationId, UnitId, UserId};
use crate::AppState;

/// The address sign-in failures are counted against: the peer, or behind a trusted reverse
/// proxy the client it names.
pub fn client_address(req: &HttpRequest) -> String {
    let trust = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.auth.settings.trust_forwarded_for);
    if trust {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return ip.to_owned();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[tracing::instrument(name = "auth.register", skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<Registration>,
) -> AppResult<HttpResponse> {
    let valid = service::validate_registration(&body)?;
    service::register(&state, valid, &client_address(&req)).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "verification_sent",
        "message": "验证邮件已发送，请查收邮箱并点击链接完成注册 (check your mailbox for the verification link)",
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub token: String,
}

#[tracing::instrument(name = "auth.verify_email", skip_all)]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: Json<TokenBody>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        service::verify_email(conn, &body.token, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[tracing::instrument(name = "auth.login", skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginBody>,
) -> AppResult<HttpResponse> {
    let tokens = service::login(&state, &body.email, &body.password, &client_address(&req)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[tracing::instrument(name = "auth.refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshBody>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let ctx = state.auth.clone();
    let tokens = db::run(&state.pool, move |conn| {
        service::refresh(conn, &ctx, &body.refresh_token, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[tracing::instrument(name = "auth.logout", skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshBody>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        service::logout(conn, &body.refresh_token, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

#[tracing::instrument(name = "auth.password_reset", skip_all)]
pub async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<ResetRequest>,
) -> AppResult<HttpResponse> {
    service::request_password_reset(&state, &body.email, &client_address(&req))?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "reset_sent_if_registered",
        "message": "如果该邮箱已注册，重置链接已发送 (if the address has an account, a link was sent)",
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    pub password: String,
}

#[tracing::instrument(name = "auth.password_reset_confirm", skip_all)]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: Json<ResetConfirm>,
) -> AppResult<HttpResponse> {
    service::confirm_password_reset(&state, &body.token, &body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(name = "me.get", skip_all)]
pub async fn me(state: web::Data<AppState>, Auth(who): Auth) -> AppResult<HttpResponse> {
    let user = db::run(&state.pool, move |conn| service::load_user(conn, who.id)).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[tracing::instrument(name = "me.update", skip_all)]
pub async fn update_me(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<ProfilePatch>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        service::update_profile(conn, &who, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[tracing::instrument(name = "me.password", skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<PasswordChange>,
) -> AppResult<HttpResponse> {
    let tokens =
        service::change_password(&state, &who, &body.current_password, &body.new_password).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[tracing::instrument(name = "me.resend_verification", skip_all)]
pub async fn resend_verification(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let ctx = state.auth.clone();
    let address = client_address(&req);
    db::run(&state.pool, move |conn| {
        service::resend_verification(conn, &ctx, &who, &address, now)
    })
    .await?;
    Ok(HttpResponse::Accepted().finish())
}

#[tracing::instrument(name = "organisations.list", skip_all)]
pub async fn organisations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params = QueryParams::parse(req.query_string(), &["q", "status", "page", "per_page"])?;
    let q = params.text("q", 100)?;
    let status = params.code(
        "status",
        OrganisationStatus::from_code,
        &OrganisationStatus::codes(),
    )?;
    let page = params.page()?;
    let list = db::run(&state.pool, move |conn| {
        service::list_organisations(conn, q.as_deref(), status, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[tracing::instrument(name = "organisations.approve", skip_all)]
pub async fn approve_organisation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = OrganisationId(path_id(&id)?);
    authorize(&who, Action::ManageUsers)?;
    let now = state.clock.now();
    let org = db::run(&state.pool, move |conn| {
        service::approve_organisation(conn, &who, id, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(org))
}

#[tracing::instrument(name = "admin.users", skip_all)]
pub async fn list_users(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ManageUsers)?;
    let params = QueryParams::parse(
        req.query_string(),
        &["q", "role", "unit", "page", "per_page"],
    )?;
    let filter = UserFilter {
        q: params.text("q", 100)?,
        role: params
            .code("role", Role::from_code, &Role::codes())?
            .map(|r| r.code().to_owned()),
        unit: params.id("unit")?,
    };
    let page = params.page()?;
    let list = db::run(&state.pool, move |conn| {
        service::list_users(conn, &filter, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn set_disabled(
    state: web::Data<AppState>,
    who: crate::auth::Principal,
    id: &str,
    disabled: bool,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ManageUsers)?;
    let id = UserId(path_id(id)?);
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        service::set_disabled(conn, &who, id, disabled, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[tracing::instrument(name = "admin.user_disable", skip_all)]
pub async fn disable_user(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_disabled(state, who, &id, true).await
}

#[tracing::instrument(name = "admin.user_enable", skip_all)]
pub async fn enable_user(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_disabled(state, who, &id, false).await
}

#[tracing::instrument(name = "units.staff", skip_all)]
pub async fn list_staff(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let unit = UnitId(path_id(&id)?);
    let page = QueryParams::parse(req.query_string(), &["page", "per_page"])?.page()?;
    let list = db::run(&state.pool, move |conn| {
        crate::navigation::service::get_unit(conn, unit.0)?;
        authorize(&who, Action::ManageStaff { unit })?;
        service::list_users(
            conn,
            &UserFilter {
                unit: Some(unit.0),
                ..Default::default()
            },
            page,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[tracing::instrument(name = "units.staff_add", skip_all)]
pub async fn add_staff(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<StaffInput>,
) -> AppResult<HttpResponse> {
    let unit = UnitId(path_id(&id)?);
    let now = state.clock.now();
    let public_url = state.auth.public_url.clone();
    let added = db::run(&state.pool, move |conn| {
        crate::navigation::service::get_unit(conn, unit.0)?;
        authorize(&who, Action::ManageStaff { unit })?;
        service::add_staff(conn, &who, unit, &body, &public_url, now)
    })
    .await?;
    Ok(match added {
        service::StaffAdded::Invited(invitation) => HttpResponse::Accepted().json(invitation),
        service::StaffAdded::RoleChanged(user) => HttpResponse::Ok().json(user),
    })
}

#[tracing::instrument(name = "me.invitations", skip_all)]
pub async fn my_invitations(
    state: web::Data<AppState>,
    Auth(who): Auth,
) -> AppResult<HttpResponse> {
    let list = db::run(&state.pool, move |conn| service::my_invitations(conn, &who)).await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn answer_invitation(
    state: web::Data<AppState>,
    who: crate::auth::Principal,
    id: &str,
    accept: bool,
) -> AppResult<HttpResponse> {
    let id = path_id(id)?;
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        service::answer_invitation(conn, &who, id, accept, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[tracing::instrument(name = "me.invitation_accept", skip_all)]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    answer_invitation(state, who, &id, true).await
}

#[tracing::instrument(name = "me.invitation_decline", skip_all)]
pub async fn decline_invitation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    answer_invitation(state, who, &id, false).await
}

#[tracing::instrument(name = "units.staff_remove", skip_all)]
pub async fn remove_staff(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let unit = UnitId(path_id(&path.0)?);
    let user = UserId(path_id(&path.1)?);
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        crate::navigation::service::get_unit(conn, unit.0)?;
        authorize(&who, Action::ManageStaff { unit })?;
        service::remove_staff(conn, &who, unit, user, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagersBody {
    pub user_ids: Vec<i64>,
}

#[tracing::instrument(name = "instruments.managers", skip_all)]
pub async fn set_managers(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ManagersBody>,
) -> AppResult<HttpResponse> {
    let id = InstrumentId(path_id(&id)?);
    let now = state.clock.now();
    let ids = db::run(&state.pool, move |conn| {
        let inst = crate::navigation::editing::instrument_unit(conn, id)?;
        let unit = UnitId(inst.unit_id);
        authorize(&who, Action::ManageStaff { unit })?;
        service::set_instrument_managers(conn, &who, id, unit, &body.user_ids, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "user_ids": ids })))
}

#[tracing::instrument(name = "qualifications.apply", skip_all)]
pub async fn apply(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: OptionalJson<Application>,
) -> AppResult<HttpResponse> {
    let id = InstrumentId(path_id(&id)?);
    let now = state.clock.now();
    let ctx = state.auth.clone();
    // The body is optional (`{"note": …}`), but one that is sent must be valid.
    let OptionalJson(input) = body;
    let q = db::run(&state.pool, move |conn| {
        quals::apply(conn, &who, id, &input, &ctx.public_url, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(q))
}

#[tracing::instrument(name = "qualifications.list", skip_all)]
pub async fn list_qualifications(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params = QueryParams::parse(req.query_string(), &["mine", "status", "page", "per_page"])?;
    let mine = match params.text("mine", 5)?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::bad_request("mine", "true or false")),
    };
    let status = params.code(
        "status",
        QualificationStatus::from_code,
        &QualificationStatus::codes(),
    )?;
    let page = params.page()?;
    let list = db::run(&state.pool, move |conn| {
        quals::list(conn, &who, mine, status, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[tracing::instrument(name = "qualifications.decide", skip_all)]
pub async fn decide(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<Decision>,
) -> AppResult<HttpResponse> {
    let id = QualificationId(path_id(&id)?);
    let now = state.clock.now();
    let q = db::run(&state.pool, move |conn| {
        quals::decide(conn, &who, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(q))
}

#[tracing::instrument(name = "violations.record", skip_all)]
pub async fn record_violation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ViolationInput>,
) -> AppResult<HttpResponse> {
    let user = UserId(path_id(&id)?);
    let now = state.clock.now();
    let v = db::run(&state.pool, move |conn| {
        quals::record_violation(conn, &who, user, &body, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(v))
}

#[tracing::instrument(name = "violations.list", skip_all)]
pub async fn violations(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let user = UserId(path_id(&id)?);
    let list = db::run(&state.pool, move |conn| {
        quals::violations_of(conn, &who, user)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": list })))
}

#[tracing::instrument(name = "bans.list", skip_all)]
pub async fn bans(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let user = UserId(path_id(&id)?);
    let now = state.clock.now();
    let list = db::run(&state.pool, move |conn| {
        quals::bans_of(conn, &who, user, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": list })))
}

#[tracing::instrument(name = "bans.create", skip_all)]
pub async fn create_ban(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<BanInput>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let ban = db::run(&state.pool, move |conn| {
        quals::create_ban(conn, &who, &body, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(ban))
}

#[tracing::instrument(name = "bans.lift", skip_all)]
pub async fn lift_ban(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<LiftInput>,
) -> AppResult<HttpResponse> {
    let id = BanId(path_id(&id)?);
    let now = state.clock.now();
    let ban = db::run(&state.pool, move |conn| {
        quals::lift_ban(conn, &who, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ban))
}

#[tracing::instrument(name = "admin.audit", skip_all)]
pub async fn audit_log(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ReadAudit)?;
    let params = QueryParams::parse(req.query_string(), crate::audit::Filter::PARAMS)?;
    let filter = crate::audit::Filter {
        actor: params.id("actor")?,
        target_type: params.text("target_type", 50)?,
        target_id: params.id("target_id")?,
        action: params.text("action", 60)?,
    };
    let page = params.page()?;
    let list = db::run(&state.pool, move |conn| {
        crate::audit::list(conn, &filter, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}
