//! 资源导航 — resource navigation: sub-platforms, host units, the category tree and the
//! instrument catalogue (read side; editing comes with user management).

pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/sub-platforms",
        web::get().to(handlers::list_sub_platforms),
    )
    .route(
        "/sub-platforms/{id}",
        web::get().to(handlers::get_sub_platform),
    )
    .route("/units", web::get().to(handlers::list_units))
    .route("/units/{id}", web::get().to(handlers::get_unit))
    .route("/categories", web::get().to(handlers::category_tree))
    .route("/instruments", web::get().to(handlers::list_instruments))
    .route("/instruments/{id}", web::get().to(handlers::get_instrument))
    .route("/stats", web::get().to(handlers::stats));
}
