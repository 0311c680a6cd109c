//! 信息发布 — news, notices, policies, training announcements and success stories of the
//! platform, its sub-platforms and its units.

pub mod feeds;
pub mod files;
pub mod handlers;
pub mod model;
pub mod render;
pub mod service;
pub mod store;
pub mod subscriptions;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.get("/articles", h::list)
        .post("/articles", h::create)
        .get("/articles/{id}", h::get)
        .patch("/articles/{id}", h::edit)
        .post("/articles/{id}/attachments", h::attach)
        .get("/articles/{id}/attachments/{file}", h::download)
        .delete("/articles/{id}/attachments/{file}", h::detach)
        .post("/articles/{id}/signups", h::sign_up)
        .delete("/articles/{id}/signups", h::cancel_signup)
        .post("/articles/{id}/{step}", h::step)
        .get("/subscriptions", subscriptions::handlers::mine)
        .post("/subscriptions", subscriptions::handlers::subscribe)
        .delete("/subscriptions/{id}", subscriptions::handlers::remove);
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
    handlers::cancel_signup,
    handlers::attach,
    handlers::download,
    handlers::detach,
    subscriptions::handlers::mine,
    subscriptions::handlers::subscribe,
    subscriptions::handlers::remove
))]
pub struct Api;
