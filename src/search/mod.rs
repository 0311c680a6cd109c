//! 信息检索 — search: an embedded full-text index (tantivy with jieba) over the catalogue,
//! with the field's abbreviations and short forms, kept current from the catalogue's change log.

pub mod dictionary;
pub mod handlers;
pub mod index;
pub mod service;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    r.get("/search", handlers::search)
        .get("/search/suggest", handlers::suggest);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(handlers::search, handlers::suggest))]
pub struct Api;
