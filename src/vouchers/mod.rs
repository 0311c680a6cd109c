//! 创新券 (innovation vouchers) — the government pays part of a small company's fee for a
//! service from an approved provider: programmes, quotas, their use on bookings, redemption
//! with its files, the public notice and the issuer's report.

pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.get("/voucher-programmes", h::programmes)
        .post("/voucher-programmes", h::open_programme)
        .get("/voucher-programmes/{id}", h::programme)
        .get("/voucher-programmes/{id}/report.{format}", h::report)
        .put("/organisations/{id}/voucher-officers", h::appoint_officer)
        .post("/vouchers", h::apply)
        .get("/vouchers", h::list)
        .get("/vouchers/{id}", h::get)
        .post("/vouchers/{id}/{step}", h::step)
        .post("/voucher-uses", h::request_use)
        .get("/voucher-uses", h::uses)
        .get("/voucher-uses/{id}", h::use_of)
        // Before the steps: `files` is not a step.
        .post("/voucher-uses/{id}/files", h::add_file)
        .get("/voucher-uses/{id}/files/{file}", h::file)
        .post("/voucher-uses/{id}/{step}", h::use_step)
        .get("/voucher-notice", h::notice);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::programmes,
    handlers::open_programme,
    handlers::programme,
    handlers::report,
    handlers::appoint_officer,
    handlers::apply,
    handlers::list,
    handlers::get,
    handlers::step,
    handlers::request_use,
    handlers::uses,
    handlers::use_of,
    handlers::add_file,
    handlers::file,
    handlers::use_step,
    handlers::notice
))]
pub struct Api;
