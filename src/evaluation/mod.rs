//! 投诉评价 — what clients say of the services they received: ratings now, complaints next.

pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.get("/service-records/{id}/rating", h::mine)
        .post("/service-records/{id}/rating", h::rate)
        .put("/service-records/{id}/rating", h::edit)
        .post("/ratings/{id}/reply", h::reply)
        .get("/ratings", h::for_staff)
        .get("/instruments/{id}/ratings", h::summary);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::mine,
    handlers::rate,
    handlers::edit,
    handlers::reply,
    handlers::for_staff,
    handlers::summary
))]
pub struct Api;
