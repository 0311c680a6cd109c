//! 资源导航 — resource navigation: sub-platforms, host units, the category tree and the
//! instrument catalogue (read side; editing comes with user management).

pub mod editing;
pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    cfg.route("/sub-platforms", web::get().to(h::list_sub_platforms))
        .route("/sub-platforms", web::post().to(h::save_sub_platform))
        .route("/sub-platforms/{id}", web::get().to(h::get_sub_platform))
        .route("/sub-platforms/{id}", web::patch().to(h::save_sub_platform))
        .route("/units", web::get().to(h::list_units))
        .route("/units", web::post().to(h::save_unit))
        .route("/units/{id}", web::get().to(h::get_unit))
        .route("/units/{id}", web::patch().to(h::save_unit))
        .route(
            "/units/{id}/instruments",
            web::post().to(h::create_instrument),
        )
        .route("/instruments/{id}", web::patch().to(h::update_instrument))
        .route(
            "/instruments/{id}/retire",
            web::post().to(h::retire_instrument),
        )
        .route(
            "/instruments/{id}/booking-settings",
            web::get().to(h::booking_settings),
        )
        .route(
            "/instruments/{id}/booking-settings",
            web::put().to(h::save_booking_settings),
        )
        .route("/categories", web::get().to(handlers::category_tree))
        .route("/instruments", web::get().to(handlers::list_instruments))
        .route("/instruments/{id}", web::get().to(handlers::get_instrument));
}
