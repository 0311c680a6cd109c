//! Account, organisation, staff, qualification and ban endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::model::{
    Ban, Invitation, Organisation, OrganisationStatus, Qualification, QualificationStatus,
    Registration, Tokens, User, Violation,
};
use super::qualifications::{
    self as quals, Application, BanInput, LiftInput, QualificationDecision, ViolationInput,
};
use super::service::{self, ProfilePatch};
use super::signin;
use super::staff::{self, StaffInput};
use super::store::UserFilter;
use crate::audit::Entry;
use crate::auth::{authorize, Action, Auth, Role};
use crate::db;
use crate::error::{AppResult, Problem};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, query_params};
use crate::state::AppState;
use crate::types::{BanId, InstrumentId, OrganisationId, Paged, QualificationId, UnitId, UserId};

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

query_params! {
    /// The query of `GET /api/v1/organisations`.
    pub struct OrganisationListParams {
        /// words in the name
        q: text(100),
        /// status
        status: code(OrganisationStatus),
        /// paging
        page: page,
    }
}

query_params! {
    /// The query of `GET /api/v1/admin/users`.
    pub struct UserListParams {
        /// words in the name (or e-mail)
        q: text(100),
        /// role
        role: code(Role),
        /// host unit id
        unit: id(UnitId),
        /// paging
        page: page,
    }
}

query_params! {
    /// The query of `GET /api/v1/qualifications`.
    pub struct QualificationListParams {
        /// only one's own
        mine: flag,
        /// status
        status: code(QualificationStatus),
        /// paging
        page: page,
    }
}

query_params! {
    /// The query of `GET /api/v1/admin/audit`.
    pub struct AuditParams {
        /// user id of who acted
        actor: id(UserId),
        /// e.g. instrument, user, ban
        target_type: text(50),
        /// id of the target
        target_id: id(i64),
        /// e.g. instrument.update
        action: text(60),
        /// paging
        page: page,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    summary = "Register; a verification link is e-mailed",
    request_body = Registration,
    responses(
        (status = 202, description = "the same answer whether or not the address has an account"),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many sign-ups for this address or from this client", body = Problem, content_type = "application/problem+json")
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email",
    tag = "auth",
    summary = "Verify the e-mail address with the link's token",
    request_body = TokenBody,
    responses(
        (status = 200, description = "verified", body = User),
        (status = 422, description = "invalid, used or expired", body = Problem, content_type = "application/problem+json")
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Sign in",
    request_body = LoginBody,
    responses(
        (status = 200, description = "signed in", body = Tokens),
        (status = 401, description = "wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "account disabled", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many failures; see Retry-After", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "auth.login", skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginBody>,
) -> AppResult<HttpResponse> {
    let tokens = signin::login(&state, &body.email, &body.password, &client_address(&req)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    summary = "Rotate a refresh token",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "a new pair", body = Tokens),
        (status = 401, description = "invalid, expired, or reused (the sign-in is revoked)", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "auth.refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshBody>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let ctx = state.auth.clone();
    let tokens = db::run(&state.pool, move |conn| {
        signin::refresh(conn, &ctx, &body.refresh_token, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "End the sign-in of a refresh token",
    request_body = RefreshBody,
    responses(
        (status = 204, description = "signed out")
    )
)]
#[tracing::instrument(name = "auth.logout", skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshBody>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        signin::logout(conn, &body.refresh_token, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset",
    tag = "auth",
    summary = "E-mail a reset link",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "sent if the address has an account"),
        (status = 429, description = "too many links asked for this address or from this client (the same answer for every address)", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "auth.password_reset", skip_all)]
pub async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<ResetRequest>,
) -> AppResult<HttpResponse> {
    signin::request_password_reset(&state, &body.email, &client_address(&req)).await?;
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

#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/confirm",
    tag = "auth",
    summary = "Set a new password with the link's token",
    request_body = ResetConfirm,
    responses(
        (status = 204, description = "changed; every sign-in ended"),
        (status = 422, description = "bad token or password", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "auth.password_reset_confirm", skip_all)]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: Json<ResetConfirm>,
) -> AppResult<HttpResponse> {
    signin::confirm_password_reset(&state, &body.token, &body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    summary = "The signed-in account",
    responses(
        (status = 200, description = "the account", body = User),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "me.get", skip_all)]
pub async fn me(state: web::Data<AppState>, Auth(who): Auth) -> AppResult<HttpResponse> {
    let user = db::run(&state.pool, move |conn| service::load_user(conn, who.id)).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(
    patch,
    path = "/api/v1/me",
    tag = "auth",
    summary = "Edit the profile",
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "saved", body = User),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    tag = "auth",
    summary = "Change the password (other sign-ins end)",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "new tokens for this session", body = Tokens),
        (status = 422, description = "wrong current password or a weak new one", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "me.password", skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<PasswordChange>,
) -> AppResult<HttpResponse> {
    let tokens =
        signin::change_password(&state, &who, &body.current_password, &body.new_password).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[utoipa::path(
    post,
    path = "/api/v1/me/verification-email",
    tag = "auth",
    summary = "Send the verification link again",
    responses(
        (status = 202, description = "sent"),
        (status = 409, description = "already verified", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many links asked for this address or from this client", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/organisations",
    tag = "users",
    summary = "Organisations to register with",
    params(OrganisationListParams),
    responses(
        (status = 200, description = "a page", body = Paged<Organisation>)
    )
)]
#[tracing::instrument(name = "organisations.list", skip_all)]
pub async fn organisations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let OrganisationListParams { q, status, page } =
        OrganisationListParams::parse(req.query_string())?;
    let list = db::run(&state.pool, move |conn| {
        service::list_organisations(conn, q.as_deref(), status, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    post,
    path = "/api/v1/organisations/{id}/approve",
    tag = "users",
    summary = "Accept a proposed organisation (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "accepted", body = Organisation)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "organisations.approve", skip_all)]
pub async fn approve_organisation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id: OrganisationId = path_id(&id)?;
    authorize(&who, Action::ManageUsers)?;
    let now = state.clock.now();
    let org = db::run(&state.pool, move |conn| {
        service::approve_organisation(conn, &who, id, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(org))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "users",
    summary = "Accounts (platform admin)",
    params(UserListParams),
    responses(
        (status = 200, description = "a page", body = Paged<User>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "admin.users", skip_all)]
pub async fn list_users(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ManageUsers)?;
    let params = UserListParams::parse(req.query_string())?;
    let filter = UserFilter {
        q: params.q,
        role: params.role.map(|r| r.code().to_owned()),
        unit: params.unit,
    };
    let page = params.page;
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
    let id: UserId = path_id(id)?;
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        service::set_disabled(conn, &who, id, disabled, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/disable",
    tag = "users",
    summary = "Disable an account (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "disabled; its sign-ins end", body = User)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "admin.user_disable", skip_all)]
pub async fn disable_user(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_disabled(state, who, &id, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/enable",
    tag = "users",
    summary = "Enable an account (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "enabled", body = User)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "admin.user_enable", skip_all)]
pub async fn enable_user(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_disabled(state, who, &id, false).await
}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/staff",
    tag = "users",
    summary = "The unit's staff (its admin)",
    params(
        ("id" = i64, Path, description = "the id"),
        crate::params::PageParams
    ),
    responses(
        (status = 200, description = "a page", body = Paged<User>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "units.staff", skip_all)]
pub async fn list_staff(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let unit: UnitId = path_id(&id)?;
    let page = crate::params::PageParams::parse(req.query_string())?.page;
    let list = db::run(&state.pool, move |conn| {
        crate::navigation::service::get_unit(conn, unit)?;
        authorize(&who, Action::ManageStaff { unit })?;
        service::list_users(
            conn,
            &UserFilter {
                unit: Some(unit),
                ..Default::default()
            },
            page,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    post,
    path = "/api/v1/units/{id}/staff",
    tag = "users",
    summary = "Invite an account to the unit's staff (its admin); the person joins by accepting. Someone already of the unit's staff gets the new role at once",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = StaffInput,
    responses(
        (status = 202, description = "invited (or already invited): an e-mail asks the person to accept", body = Invitation),
        (status = 200, description = "already staff of this unit: the role changed", body = User),
        (status = 409, description = "`staff_of_other_unit`, `platform_admin`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "units.staff_add", skip_all)]
pub async fn add_staff(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<StaffInput>,
) -> AppResult<HttpResponse> {
    let unit: UnitId = path_id(&id)?;
    let now = state.clock.now();
    let public_url = state.auth.public_url.clone();
    let added = db::run(&state.pool, move |conn| {
        crate::navigation::service::get_unit(conn, unit)?;
        authorize(&who, Action::ManageStaff { unit })?;
        staff::add_staff(conn, &who, unit, &body, &public_url, now)
    })
    .await?;
    Ok(match added {
        staff::StaffAdded::Invited(invitation) => HttpResponse::Accepted().json(invitation),
        staff::StaffAdded::RoleChanged(user) => HttpResponse::Ok().json(user),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/me/invitations",
    tag = "users",
    summary = "My open invitations to a unit's staff",
    responses(
        (status = 200, description = "the open invitations", body = Vec<Invitation>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "me.invitations", skip_all)]
pub async fn my_invitations(
    state: web::Data<AppState>,
    Auth(who): Auth,
) -> AppResult<HttpResponse> {
    let list = db::run(&state.pool, move |conn| staff::my_invitations(conn, &who)).await?;
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
        staff::answer_invitation(conn, &who, id, accept, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(
    post,
    path = "/api/v1/me/invitations/{id}/accept",
    tag = "users",
    summary = "Accept an invitation: become staff of the unit (the organisation one had is given back on leaving)",
    params(
        ("id" = i64, Path, description = "the invitation")
    ),
    responses(
        (status = 200, description = "joined", body = User),
        (status = 404, description = "no such invitation addressed to me", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_answered`, `staff_of_other_unit`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "me.invitation_accept", skip_all)]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    answer_invitation(state, who, &id, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/me/invitations/{id}/decline",
    tag = "users",
    summary = "Decline an invitation: nothing changes",
    params(
        ("id" = i64, Path, description = "the invitation")
    ),
    responses(
        (status = 200, description = "declined", body = User),
        (status = 404, description = "no such invitation addressed to me", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_answered`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "me.invitation_decline", skip_all)]
pub async fn decline_invitation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    answer_invitation(state, who, &id, false).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/units/{id}/staff/{user}",
    tag = "users",
    summary = "Remove someone from the unit's staff",
    params(
        ("id" = i64, Path, description = "the id"),
        ("user" = i64, Path, description = "the user id")
    ),
    responses(
        (status = 200, description = "removed", body = User)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "units.staff_remove", skip_all)]
pub async fn remove_staff(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let unit: UnitId = path_id(&path.0)?;
    let user: UserId = path_id(&path.1)?;
    let now = state.clock.now();
    let user = db::run(&state.pool, move |conn| {
        crate::navigation::service::get_unit(conn, unit)?;
        authorize(&who, Action::ManageStaff { unit })?;
        staff::remove_staff(conn, &who, unit, user, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagersBody {
    pub user_ids: Vec<UserId>,
}

#[utoipa::path(
    put,
    path = "/api/v1/instruments/{id}/managers",
    tag = "users",
    summary = "Name the instrument's managers (the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = ManagersBody,
    responses(
        (status = 200, description = "`{\"user_ids\": [...]}`"),
        (status = 422, description = "not staff of the unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "instruments.managers", skip_all)]
pub async fn set_managers(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ManagersBody>,
) -> AppResult<HttpResponse> {
    let id: InstrumentId = path_id(&id)?;
    let now = state.clock.now();
    let ids = db::run(&state.pool, move |conn| {
        let inst = crate::navigation::editing::instrument_unit(conn, id)?;
        let unit = inst.unit_id;
        authorize(&who, Action::ManageStaff { unit })?;
        staff::set_instrument_managers(conn, &who, id, unit, &body.user_ids, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "user_ids": ids })))
}

#[utoipa::path(
    post,
    path = "/api/v1/instruments/{id}/qualifications",
    tag = "users",
    summary = "Apply for the qualification to operate it (verified accounts)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = Application,
    responses(
        (status = 201, description = "applied", body = Qualification),
        (status = 409, description = "an application or qualification is open", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "qualifications.apply", skip_all)]
pub async fn apply(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: OptionalJson<Application>,
) -> AppResult<HttpResponse> {
    let id: InstrumentId = path_id(&id)?;
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

#[utoipa::path(
    get,
    path = "/api/v1/qualifications",
    tag = "users",
    summary = "Qualifications: one's own, or the queue of what one runs",
    params(QualificationListParams),
    responses(
        (status = 200, description = "a page", body = Paged<Qualification>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "qualifications.list", skip_all)]
pub async fn list_qualifications(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let QualificationListParams { mine, status, page } =
        QualificationListParams::parse(req.query_string())?;
    let list = db::run(&state.pool, move |conn| {
        quals::list(conn, &who, mine, status, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    post,
    path = "/api/v1/qualifications/{id}/decision",
    tag = "users",
    summary = "Approve or refuse an application",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = QualificationDecision,
    responses(
        (status = 200, description = "decided; the applicant is e-mailed", body = Qualification),
        (status = 409, description = "already decided", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "qualifications.decide", skip_all)]
pub async fn decide(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<QualificationDecision>,
) -> AppResult<HttpResponse> {
    let id: QualificationId = path_id(&id)?;
    let now = state.clock.now();
    let q = db::run(&state.pool, move |conn| {
        quals::decide(conn, &who, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(q))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/violations",
    tag = "users",
    summary = "Record a violation (the instrument's staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = ViolationInput,
    responses(
        (status = 201, description = "recorded", body = Violation)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "violations.record", skip_all)]
pub async fn record_violation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ViolationInput>,
) -> AppResult<HttpResponse> {
    let user: UserId = path_id(&id)?;
    let now = state.clock.now();
    let v = db::run(&state.pool, move |conn| {
        quals::record_violation(conn, &who, user, &body, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/violations",
    tag = "users",
    summary = "A person's violations (the person, staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "`{\"items\": [Violation]}`")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "violations.list", skip_all)]
pub async fn violations(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let user: UserId = path_id(&id)?;
    let list = db::run(&state.pool, move |conn| {
        quals::violations_of(conn, &who, user)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": list })))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/bans",
    tag = "users",
    summary = "A person's bans with their history",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "`{\"items\": [Ban]}`")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "bans.list", skip_all)]
pub async fn bans(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let user: UserId = path_id(&id)?;
    let now = state.clock.now();
    let list = db::run(&state.pool, move |conn| {
        quals::bans_of(conn, &who, user, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": list })))
}

#[utoipa::path(
    post,
    path = "/api/v1/bans",
    tag = "users",
    summary = "Ban a person from all instruments, a unit's or one",
    request_body = BanInput,
    responses(
        (status = 201, description = "in force; the person is e-mailed", body = Ban)
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/bans/{id}/lift",
    tag = "users",
    summary = "Lift a ban early",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = LiftInput,
    responses(
        (status = 200, description = "lifted, with who and why", body = Ban),
        (status = 409, description = "already lifted or ended", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "bans.lift", skip_all)]
pub async fn lift_ban(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<LiftInput>,
) -> AppResult<HttpResponse> {
    let id: BanId = path_id(&id)?;
    let now = state.clock.now();
    let ban = db::run(&state.pool, move |conn| {
        quals::lift_ban(conn, &who, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ban))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "users",
    summary = "The audit log, newest first (platform admin)",
    params(AuditParams),
    responses(
        (status = 200, description = "a page", body = Paged<Entry>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "admin.audit", skip_all)]
pub async fn audit_log(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ReadAudit)?;
    let params = AuditParams::parse(req.query_string())?;
    let filter = crate::audit::Filter {
        actor: params.actor,
        target_type: params.target_type,
        target_id: params.target_id,
        action: params.action,
    };
    let page = params.page;
    let list = db::run(&state.pool, move |conn| {
        crate::audit::list(conn, &filter, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}
