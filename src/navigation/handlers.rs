//! Navigation endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::service::{self, InstrumentQuery, UnitFilter};
use crate::db;
use crate::error::AppResult;
use crate::http::input::Json;
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

// --- editing ---------------------------------------------------------------------------------

use super::editing::{self, BookingSettingsInput, InstrumentInput, SubPlatformInput, UnitInput};
use crate::auth::Auth;
use crate::types::{InstrumentId, SubPlatformId, UnitId};

#[tracing::instrument(name = "catalogue.sub_platform_save", skip_all)]
pub async fn save_sub_platform(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: Option<web::Path<String>>,
    body: Json<SubPlatformInput>,
) -> AppResult<HttpResponse> {
    let id = id.map(|p| path_id(&p).map(SubPlatformId)).transpose()?;
    let now = state.clock.now();
    let row = db::run(&state.pool, move |conn| {
        editing::save_sub_platform(conn, &who, id, &body, now)
    })
    .await?;
    state.catalogue.invalidate();
    Ok(if id.is_some() {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    }
    .json(row))
}

#[tracing::instrument(name = "catalogue.unit_save", skip_all)]
pub async fn save_unit(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: Option<web::Path<String>>,
    body: Json<UnitInput>,
) -> AppResult<HttpResponse> {
    let id = id.map(|p| path_id(&p).map(UnitId)).transpose()?;
    let now = state.clock.now();
    let unit = db::run(&state.pool, move |conn| {
        editing::save_unit(conn, &who, id, &body, now)
    })
    .await?;
    state.catalogue.invalidate();
    Ok(if id.is_some() {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    }
    .json(unit))
}

#[tracing::instrument(name = "catalogue.instrument_create", skip_all)]
pub async fn create_instrument(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<InstrumentInput>,
) -> AppResult<HttpResponse> {
    let unit = UnitId(path_id(&id)?);
    let now = state.clock.now();
    let st = state.clone();
    let inst = db::run(&state.pool, move |conn| {
        editing::create_instrument(conn, &who, &st.catalogue.categories, unit, &body, now)
    })
    .await?;
    state.catalogue.invalidate();
    Ok(HttpResponse::Created().json(inst))
}

#[tracing::instrument(name = "catalogue.instrument_update", skip_all)]
pub async fn update_instrument(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<InstrumentInput>,
) -> AppResult<HttpResponse> {
    let id = InstrumentId(path_id(&id)?);
    let now = state.clock.now();
    let st = state.clone();
    let inst = db::run(&state.pool, move |conn| {
        editing::update_instrument(conn, &who, &st.catalogue.categories, id, &body, now)
    })
    .await?;
    state.catalogue.invalidate();
    Ok(HttpResponse::Ok().json(inst))
}

#[tracing::instrument(name = "catalogue.instrument_retire", skip_all)]
pub async fn retire_instrument(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = InstrumentId(path_id(&id)?);
    let now = state.clock.now();
    let st = state.clone();
    let inst = db::run(&state.pool, move |conn| {
        editing::retire_instrument(conn, &who, &st.catalogue.categories, id, now)
    })
    .await?;
    state.catalogue.invalidate();
    Ok(HttpResponse::Ok().json(inst))
}

#[tracing::instrument(name = "catalogue.booking_settings", skip_all)]
pub async fn booking_settings(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = InstrumentId(path_id(&id)?);
    let row = db::run(&state.pool, move |conn| editing::booking_settings(conn, id)).await?;
    Ok(HttpResponse::Ok().json(row))
}

#[tracing::instrument(name = "catalogue.booking_settings_save", skip_all)]
pub async fn save_booking_settings(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<BookingSettingsInput>,
) -> AppResult<HttpResponse> {
    let id = InstrumentId(path_id(&id)?);
    let now = state.clock.now();
    let row = db::run(&state.pool, move |conn| {
        editing::save_booking_settings(conn, &who, id, &body, now)
    })
    .await?;
    state.booking_rules.forget(id.0);
    Ok(HttpResponse::Ok().json(row))
}
