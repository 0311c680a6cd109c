//! 用户管理 — accounts, organisations, sign-in, staff, qualifications (上机资格), violations
//! and bans.

pub mod handlers;
pub mod model;
pub mod qualifications;
pub mod service;
pub mod signin;
pub mod staff;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.post("/auth/register", h::register)
        .post("/auth/verify-email", h::verify_email)
        .post("/auth/login", h::login)
        .post("/auth/refresh", h::refresh)
        .post("/auth/logout", h::logout)
        .post("/auth/password-reset", h::password_reset)
        .post("/auth/password-reset/confirm", h::password_reset_confirm)
        .get("/me", h::me)
        .patch("/me", h::update_me)
        .post("/me/password", h::change_password)
        .post("/me/verification-email", h::resend_verification)
        .get("/me/invitations", h::my_invitations)
        .post("/me/invitations/{id}/accept", h::accept_invitation)
        .post("/me/invitations/{id}/decline", h::decline_invitation)
        .get("/organisations", h::organisations)
        .post("/organisations/{id}/approve", h::approve_organisation)
        .get("/admin/users", h::list_users)
        .post("/admin/users/{id}/disable", h::disable_user)
        .post("/admin/users/{id}/enable", h::enable_user)
        .get("/admin/audit", h::audit_log)
        .get("/units/{id}/staff", h::list_staff)
        .post("/units/{id}/staff", h::add_staff)
        .delete("/units/{id}/staff/{user}", h::remove_staff)
        .put("/instruments/{id}/managers", h::set_managers)
        .post("/instruments/{id}/qualifications", h::apply)
        .get("/qualifications", h::list_qualifications)
        .post("/qualifications/{id}/decision", h::decide)
        .get("/users/{id}/violations", h::violations)
        .post("/users/{id}/violations", h::record_violation)
        .get("/users/{id}/bans", h::bans)
        .post("/bans", h::create_ban)
        .post("/bans/{id}/lift", h::lift_ban);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::register,
    handlers::verify_email,
    handlers::login,
    handlers::refresh,
    handlers::logout,
    handlers::password_reset,
    handlers::password_reset_confirm,
    handlers::me,
    handlers::update_me,
    handlers::change_password,
    handlers::resend_verification,
    handlers::my_invitations,
    handlers::accept_invitation,
    handlers::decline_invitation,
    handlers::organisations,
    handlers::approve_organisation,
    handlers::list_users,
    handlers::disable_user,
    handlers::enable_user,
    handlers::audit_log,
    handlers::list_staff,
    handlers::add_staff,
    handlers::remove_staff,
    handlers::set_managers,
    handlers::apply,
    handlers::list_qualifications,
    handlers::decide,
    handlers::violations,
    handlers::record_violation,
    handlers::bans,
    handlers::create_ban,
    handlers::lift_ban
))]
pub struct Api;
