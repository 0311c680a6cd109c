//! 预约申请 — machine-time bookings and sample orders, approval by the host unit.

pub mod availability;
pub mod handlers;
pub mod jobs;
pub mod model;
pub mod rules;
pub mod service;
pub mod store;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    cfg.route("/reservations", web::post().to(h::create))
        .route("/reservations", web::get().to(h::list))
        .route("/reservations/{id}", web::get().to(h::get))
        .route("/reservations/{id}/{step}", web::post().to(h::step))
        .route(
            "/instruments/{id}/availability",
            web::get().to(h::availability),
        )
        .route(
            "/instruments/{id}/blackouts",
            web::post().to(h::add_blackout),
        )
        .route(
            "/instruments/{id}/calendar.ics",
            web::get().to(h::instrument_feed),
        )
        .route("/units/{id}/schedule", web::get().to(h::unit_week))
        .route("/me/calendar-token", web::post().to(h::calendar_token))
        .route("/calendar/{token}", web::get().to(h::user_feed));
}
