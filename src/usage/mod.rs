//! 机时 — machine-hour records, corrections (核减机时), statistics, the yearly evaluation and
//! its exports.

pub mod export;
pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    cfg.route("/stats", web::get().to(h::stats))
        .route("/service-records", web::post().to(h::log))
        .route("/service-records", web::get().to(h::list))
        .route("/service-records/{id}", web::get().to(h::get))
        .route(
            "/service-records/{id}/reductions",
            web::post().to(h::request_reduction),
        )
        .route("/hour-reductions", web::get().to(h::pending_reductions))
        .route(
            "/hour-reductions/{id}/decision",
            web::post().to(h::decide_reduction),
        )
        .route("/units/{id}/evaluation", web::get().to(h::evaluation))
        .route("/units/{id}/evaluation.{format}", web::get().to(h::export))
        .route("/units/{id}/declarations", web::put().to(h::declare));
}
