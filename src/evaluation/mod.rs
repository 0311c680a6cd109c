//! 投诉评价 — what clients say of the services they received: ratings, complaints with the
//! deadlines a unit must meet, and the yearly round that orders units to rectify.

pub mod calendar;
pub mod complaints;
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
    use complaints::handlers as c;
    r.post("/complaints", c::file)
        .get("/complaints", c::list)
        .get("/complaints/{id}", c::get)
        .post("/complaints/{id}/{step}", c::step)
        .get("/holidays", c::holidays)
        .put("/holidays/{day}", c::put_holiday)
        .delete("/holidays/{day}", c::delete_holiday);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::mine,
    handlers::rate,
    handlers::edit,
    handlers::reply,
    handlers::for_staff,
    handlers::summary,
    complaints::handlers::file,
    complaints::handlers::list,
    complaints::handlers::get,
    complaints::handlers::step,
    complaints::handlers::holidays,
    complaints::handlers::put_holiday,
    complaints::handlers::delete_holiday
))]
pub struct Api;
