//! Search endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::index::Filters;
use super::service::{SearchPage, SearchQuery};
use crate::error::{AppError, AppResult};
use crate::navigation::model::{ShareMode, UnitKind};
use crate::params::query_params;
use crate::state::AppState;
use crate::types::{SubPlatformId, UnitId};

query_params! {
    /// The query of `GET /api/v1/search`.
    pub struct SearchParams {
        /// the words (Chinese, English, abbreviations, makers, models); none: browse with the filters
        q: text(200),
        /// sub-platform id
        sub_platform: id(SubPlatformId),
        /// host unit id
        unit: id(UnitId),
        /// 6-digit category code: a class (AA0000), a middle class (AABB00) or a small class
        category: text(6),
        /// city
        city: text(50),
        /// sharing mode
        share_mode: code(ShareMode),
        /// kind of host unit
        unit_kind: code(UnitKind),
        /// RFC 3339; with `free_to`, only instruments one could book for the whole window
        free_from: instant,
        /// RFC 3339; the end of that window
        free_to: instant,
        /// paging
        page: page,
    }
}

query_params! {
    /// The query of `GET /api/v1/search/suggest`.
    pub struct SuggestParams {
        /// what has been typed so far
        q: text(50),
    }
}

impl SearchParams {
    pub fn into_query(self, state: &AppState) -> AppResult<SearchQuery> {
        let free = match (self.free_from, self.free_to) {
            (Some(from), Some(to)) => {
                crate::reservations::availability::check_window(from, to, "free_to")?;
                Some((from, to))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(AppError::bad_request(
                    "free_to",
                    "free_to is required with free_from",
                ))
            }
            (None, Some(_)) => {
                return Err(AppError::bad_request(
                    "free_from",
                    "free_from is required with free_to",
                ))
            }
        };
        SearchQuery::new(
            &state.catalogue.categories,
            self.q,
            Filters {
                sub_platform: self.sub_platform,
                unit: self.unit,
                category: self.category,
                city: self.city,
                share_mode: self.share_mode,
                unit_kind: self.unit_kind,
                ..Filters::default()
            },
            free,
            self.page,
        )
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    summary = "Search the instruments (信息检索): words in Chinese or English, abbreviations (SEM, 核磁), makers and models, ranked, with facets",
    params(SearchParams),
    responses(
        (status = 200, description = "a page of ranked results with facet counts", body = SearchPage)
    )
)]
#[tracing::instrument(name = "search.search", skip_all)]
pub async fn search(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let query = SearchParams::parse(req.query_string())?.into_query(&state)?;
    let page = super::service::search(&state, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

#[utoipa::path(
    get,
    path = "/api/v1/search/suggest",
    tag = "search",
    summary = "Completions of what has been typed: instrument names, makers, abbreviations",
    params(SuggestParams),
    responses(
        (status = 200, description = "up to 10 completions", body = Vec<String>)
    )
)]
#[tracing::instrument(name = "search.suggest", skip_all)]
pub async fn suggest(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let q = SuggestParams::parse(req.query_string())?
        .q
        .unwrap_or_default();
    let words = super::service::suggest(&state, q).await?;
    Ok(HttpResponse::Ok().json(words))
}
