//! HTTP mechanics shared by the JSON API and the pages: how untrusted input comes in
//! (`input`), the headers every response carries (`headers`), and the route table's building
//! block (`routes`: one resource per path, HEAD for GET, 405 with `Allow`).

pub mod headers;
pub mod input;
pub mod routes;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::AppError;

/// How an error the HTTP layer raises itself (405, a NUL in the URI) is shown: the pages
/// register their renderer (an HTML page for a person) at assembly; without one it is a
/// problem document. So the HTTP layer never imports the pages.
#[derive(Clone, Copy)]
pub struct ErrorRenderer(pub fn(&HttpRequest, AppError) -> HttpResponse);

/// Renders `err` for `req` with the registered renderer, else as a problem document.
pub fn respond_with_error(req: &HttpRequest, err: AppError) -> HttpResponse {
    match req.app_data::<web::Data<ErrorRenderer>>() {
        Some(render) => (render.0)(req, err),
        None => err.error_response(),
    }
}
