//! 资源导航 — resource navigation: sub-platforms, host units, the category tree and the
//! instrument catalogue (read side; editing comes with user management).

pub mod editing;
pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.get("/sub-platforms", h::list_sub_platforms)
        .post("/sub-platforms", h::create_sub_platform)
        .get("/sub-platforms/{id}", h::get_sub_platform)
        .patch("/sub-platforms/{id}", h::update_sub_platform)
        .get("/units", h::list_units)
        .post("/units", h::create_unit)
        .get("/units/{id}", h::get_unit)
        .patch("/units/{id}", h::update_unit)
        .post("/units/{id}/instruments", h::create_instrument)
        .patch("/instruments/{id}", h::update_instrument)
        .post("/instruments/{id}/retire", h::retire_instrument)
        .get("/categories", handlers::category_tree)
        .get("/instruments", handlers::list_instruments)
        .get("/instruments/{id}", handlers::get_instrument);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::list_sub_platforms,
    handlers::create_sub_platform,
    handlers::get_sub_platform,
    handlers::update_sub_platform,
    handlers::list_units,
    handlers::create_unit,
    handlers::get_unit,
    handlers::update_unit,
    handlers::create_instrument,
    handlers::update_instrument,
    handlers::retire_instrument,
    handlers::category_tree,
    handlers::list_instruments,
    handlers::get_instrument
))]
pub struct Api;
