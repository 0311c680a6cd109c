//! 机时 — machine-hour records, corrections (核减机时), statistics, the yearly evaluation and
//! its exports.

pub mod evaluation;
pub mod export;
pub mod handlers;
pub mod model;
pub mod nrii;
pub mod rectifications;
pub mod reductions;
pub mod service;
pub mod stats;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.get("/stats", h::stats)
        .post("/service-records", h::log)
        .get("/service-records", h::list)
        .get("/service-records/{id}", h::get)
        .post("/service-records/{id}/reductions", h::request_reduction)
        .get("/hour-reductions", h::pending_reductions)
        .post("/hour-reductions/{id}/decision", h::decide_reduction)
        .get("/units/{id}/evaluation", h::evaluation)
        .get("/units/{id}/evaluation.{format}", h::export)
        .get("/units/{id}/nrii.{format}", h::unit_nrii)
        .get("/nrii.{format}", h::platform_nrii)
        .put("/units/{id}/declarations", h::declare)
        .get("/evaluation", h::round)
        .get("/evaluation.{format}", h::round_export)
        .post("/units/{id}/rectifications", h::rectify)
        .get("/rectifications/{id}", h::rectification)
        .post("/rectifications/{id}/{step}", h::rectification_step);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::stats,
    handlers::log,
    handlers::list,
    handlers::get,
    handlers::request_reduction,
    handlers::pending_reductions,
    handlers::decide_reduction,
    handlers::evaluation,
    handlers::export,
    handlers::unit_nrii,
    handlers::platform_nrii,
    handlers::declare,
    handlers::round,
    handlers::round_export,
    handlers::rectify,
    handlers::rectification,
    handlers::rectification_step
))]
pub struct Api;
