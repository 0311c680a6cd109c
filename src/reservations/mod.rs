//! 预约申请 — machine-time bookings and sample orders, approval by the host unit.

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
        .route("/reservations/{id}/{step}", web::post().to(h::step));
}
