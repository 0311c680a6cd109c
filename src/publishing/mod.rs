//! 信息发布 — news, notices, policies, training announcements and success stories of the
//! platform, its sub-platforms and its units.

pub mod feeds;
pub mod handlers;
pub mod model;
pub mod render;
pub mod service;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.get("/articles", h::list)
        .post("/articles", h::create)
        .get("/articles/{id}", h::get)
        .patch("/articles/{id}", h::edit)
        .post("/articles/{id}/signups", h::sign_up)
        .delete("/articles/{id}/signups", h::cancel_signup)
        .post("/articles/{id}/{step}", h::step);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::list,
    handlers::get,
    handlers::create,
    handlers::edit,
    handlers::step,
    handlers::sign_up,
    handlers::cancel_signup
))]
pub struct Api;
