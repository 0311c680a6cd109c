//! Navigation endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::service::{self, InstrumentQuery, UnitFilter};
use crate::db;
use crate::error::AppResult;
use crate::params::{path_id, QueryParams};
use crate::types::{PageRequest, Paged};
use crate::AppState;

#[tracing::instrument(name = "navigation.sub_platforms", skip_all)]
pub async fn list_sub_platforms(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let page = QueryParams::parse(req.query_string(), &["page", "per_page"])?.page()?;
    let counts = state.catalogue.counts(&state.pool).await?;
    Ok(HttpResponse::Ok().json(page_of(&counts.sub_platforms, page)))
}

/// Pages a list that is already in memory (the 13 sub-platforms).
fn page_of<T: Clone>(all: &[T], page: PageRequest) -> Paged<T> {
    let items = all
        .iter()
        .skip(page.offset() as usize)
        .take(page.per_page as usize)
        .cloned()
        .collect();
    Paged::new(items, all.len() as i64, page)
}

#[tracing::instrument(name = "navigation.sub_platform", skip_all, fields(id = %id))]
pub async fn get_sub_platform(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    Ok(HttpResponse::Ok().json(state.catalogue.sub_platform(&state.pool, id).await?))
}

#[tracing::instrument(name = "navigation.units", skip_all)]
pub async fn list_units(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let params = QueryParams::parse(req.query_string(), UnitFilter::PARAMS)?;
    let filter = UnitFilter::from_params(&params)?;
    let page = params.page()?;
    let units = db::run(&state.pool, move |conn| {
        service::list_units(conn, &filter, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(units))
}

#[tracing::instrument(name = "navigation.unit", skip_all, fields(id = %id))]
pub async fn get_unit(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let unit = db::run(&state.pool, move |conn| service::get_unit(conn, id)).await?;
    Ok(HttpResponse::Ok().json(unit))
}

#[tracing::instrument(name = "navigation.categories", skip_all)]
pub async fn category_tree(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    QueryParams::parse(req.query_string(), &[])?;
    let counts = state.catalogue.counts(&state.pool).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(counts.category_tree_json.clone()))
}

#[tracing::instrument(name = "navigation.instruments", skip_all)]
pub async fn list_instruments(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params = QueryParams::parse(req.query_string(), InstrumentQuery::PARAMS)?;
    let query = InstrumentQuery::from_params(&params, &state.catalogue.categories)?;
    let state2 = state.clone();
    let list = db::run(&state.pool, move |conn| {
        service::list_instruments(conn, &state2.catalogue, &query)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[tracing::instrument(name = "navigation.instrument", skip_all, fields(id = %id))]
pub async fn get_instrument(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let state2 = state.clone();
    let instrument = db::run(&state.pool, move |conn| {
        service::get_instrument(conn, &state2.catalogue.categories, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(instrument))
}

#[tracing::instrument(name = "navigation.stats", skip_all)]
pub async fn stats(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(&state.catalogue.counts(&state.pool).await?.stats))
}
