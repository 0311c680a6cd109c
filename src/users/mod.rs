//! 用户管理 — accounts, organisations, sign-in, staff, qualifications (上机资格), violations
//! and bans.

pub mod handlers;
pub mod model;
pub mod qualifications;
pub mod service;
pub mod store;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    cfg.route("/auth/register", web::post().to(h::register))
        .route("/auth/verify-email", web::post().to(h::verify_email))
        .route("/auth/login", web::post().to(h::login))
        .route("/auth/refresh", web::post().to(h::refresh))
        .route("/auth/logout", web::post().to(h::logout))
        .route("/auth/password-reset", web::post().to(h::password_reset))
        .route(
            "/auth/password-reset/confirm",
            web::post().to(h::password_reset_confirm),
        )
        .route("/me", web::get().to(h::me))
        .route("/me", web::patch().to(h::update_me))
        .route("/me/password", web::post().to(h::change_password))
        .route(
            "/me/verification-email",
            web::post().to(h::resend_verification),
        )
        .route("/organisations", web::get().to(h::organisations))
        .route(
            "/organisations/{id}/approve",
            web::post().to(h::approve_organisation),
        )
        .route("/admin/users", web::get().to(h::list_users))
        .route("/admin/users/{id}/disable", web::post().to(h::disable_user))
        .route("/admin/users/{id}/enable", web::post().to(h::enable_user))
        .route("/admin/audit", web::get().to(h::audit_log))
        .route("/units/{id}/staff", web::get().to(h::list_staff))
        .route("/units/{id}/staff", web::post().to(h::add_staff))
        .route(
            "/units/{id}/staff/{user}",
            web::delete().to(h::remove_staff),
        )
        .route("/instruments/{id}/managers", web::put().to(h::set_managers))
        .route("/instruments/{id}/qualifications", web::post().to(h::apply))
        .route("/qualifications", web::get().to(h::list_qualifications))
        .route("/qualifications/{id}/decision", web::post().to(h::decide))
        .route("/users/{id}/violations", web::get().to(h::violations))
        .route(
            "/users/{id}/violations",
            web::post().to(h::record_violation),
        )
        .route("/users/{id}/bans", web::get().to(h::bans))
        .route("/bans", web::post().to(h::create_ban))
        .route("/bans/{id}/lift", web::post().to(h::lift_ban));
}
