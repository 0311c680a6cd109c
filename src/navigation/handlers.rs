//! Navigation endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::editing::{self, InstrumentInput, SubPlatformInput, UnitInput};
use super::model::{
    CategoryNode, Instrument, InstrumentSummary, SubPlatform, SubPlatformRow, Unit,
};
use super::service::{self, InstrumentListParams, InstrumentQuery, UnitListParams};
use crate::auth::{Auth, Principal};
use crate::db;
use crate::error::{AppResult, Problem};
use crate::http::input::Json;
use crate::params::path_id;
use crate::state::AppState;
use crate::types::{InstrumentId, PageRequest, Paged, SubPlatformId, UnitId};

#[utoipa::path(
    get,
    path = "/api/v1/sub-platforms",
    tag = "navigation",
    summary = "Sub-platforms",
    params(crate::params::PageParams),
    responses(
        (status = 200, description = "a page", body = Paged<SubPlatform>)
    )
)]
#[tracing::instrument(name = "navigation.sub_platforms", skip_all)]
pub async fn list_sub_platforms(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let page = crate::params::PageParams::parse(req.query_string())?.page;
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

#[utoipa::path(
    get,
    path = "/api/v1/sub-platforms/{id}",
    tag = "navigation",
    summary = "One sub-platform",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = SubPlatform),
        (status = 404, description = "no such sub-platform", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "navigation.sub_platform", skip_all, fields(id = %id))]
pub async fn get_sub_platform(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    Ok(HttpResponse::Ok().json(state.catalogue.sub_platform(&state.pool, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/units",
    tag = "navigation",
    summary = "Host units",
    params(UnitListParams),
    responses(
        (status = 200, description = "a page", body = Paged<Unit>)
    )
)]
#[tracing::instrument(name = "navigation.units", skip_all)]
pub async fn list_units(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let params = UnitListParams::parse(req.query_string())?;
    let (filter, page) = (params.filter(), params.page);
    let units = db::run(&state.pool, move |conn| {
        service::list_units(conn, &filter, page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(units))
}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}",
    tag = "navigation",
    summary = "One host unit",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = Unit),
        (status = 404, description = "no such unit", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "navigation.unit", skip_all, fields(id = %id))]
pub async fn get_unit(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let unit = db::run(&state.pool, move |conn| service::get_unit(conn, id)).await?;
    Ok(HttpResponse::Ok().json(unit))
}

#[utoipa::path(
    get,
    path = "/api/v1/categories",
    tag = "navigation",
    summary = "The national category tree with instrument counts",
    responses(
        (status = 200, description = "the 15 classes and their children", body = Vec<CategoryNode>)
    )
)]
#[tracing::instrument(name = "navigation.categories", skip_all)]
pub async fn category_tree(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    crate::params::NoParams::parse(req.query_string())?;
    let counts = state.catalogue.counts(&state.pool).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(counts.category_tree_json.clone()))
}

#[utoipa::path(
    get,
    path = "/api/v1/instruments",
    tag = "navigation",
    summary = "Instruments",
    params(InstrumentListParams),
    responses(
        (status = 200, description = "a page", body = Paged<InstrumentSummary>)
    )
)]
#[tracing::instrument(name = "navigation.instruments", skip_all)]
pub async fn list_instruments(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params = InstrumentListParams::parse(req.query_string())?;
    let query = InstrumentQuery::from_params(params, &state.catalogue.categories)?;
    let state2 = state.clone();
    let list = db::run(&state.pool, move |conn| {
        service::list_instruments(conn, &state2.catalogue, &query)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}",
    tag = "navigation",
    summary = "One instrument, every national field",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = Instrument),
        (status = 404, description = "no such instrument", body = Problem, content_type = "application/problem+json")
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/sub-platforms",
    tag = "navigation",
    summary = "Create a sub-platform (platform admin)",
    request_body = SubPlatformInput,
    responses(
        (status = 201, description = "created", body = SubPlatformRow),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.sub_platform_create", skip_all)]
pub async fn create_sub_platform(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<SubPlatformInput>,
) -> AppResult<HttpResponse> {
    let row = save_sub_platform(&state, who, None, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(row))
}

#[utoipa::path(
    patch,
    path = "/api/v1/sub-platforms/{id}",
    tag = "navigation",
    summary = "Edit a sub-platform (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = SubPlatformInput,
    responses(
        (status = 200, description = "saved", body = SubPlatformRow),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.sub_platform_update", skip_all)]
pub async fn update_sub_platform(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<SubPlatformInput>,
) -> AppResult<HttpResponse> {
    let id: SubPlatformId = path_id(&id)?;
    let row = save_sub_platform(&state, who, Some(id), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(row))
}

async fn save_sub_platform(
    state: &AppState,
    who: Principal,
    id: Option<SubPlatformId>,
    input: SubPlatformInput,
) -> AppResult<SubPlatformRow> {
    let now = state.clock.now();
    let catalogue = state.catalogue.clone();
    let row = db::run(&state.pool, move |conn| {
        editing::save_sub_platform(conn, &who, &catalogue, id, &input, now)
    })
    .await?;
    Ok(row)
}

#[utoipa::path(
    post,
    path = "/api/v1/units",
    tag = "navigation",
    summary = "Create a host unit (platform admin)",
    request_body = UnitInput,
    responses(
        (status = 201, description = "created", body = Unit),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.unit_create", skip_all)]
pub async fn create_unit(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<UnitInput>,
) -> AppResult<HttpResponse> {
    let unit = save_unit(&state, who, None, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(unit))
}

#[utoipa::path(
    patch,
    path = "/api/v1/units/{id}",
    tag = "navigation",
    summary = "Edit a host unit (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = UnitInput,
    responses(
        (status = 200, description = "saved", body = Unit),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.unit_update", skip_all)]
pub async fn update_unit(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<UnitInput>,
) -> AppResult<HttpResponse> {
    let id: UnitId = path_id(&id)?;
    let unit = save_unit(&state, who, Some(id), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(unit))
}

async fn save_unit(
    state: &AppState,
    who: Principal,
    id: Option<UnitId>,
    input: UnitInput,
) -> AppResult<Unit> {
    let now = state.clock.now();
    let catalogue = state.catalogue.clone();
    let unit = db::run(&state.pool, move |conn| {
        editing::save_unit(conn, &who, &catalogue, id, &input, now)
    })
    .await?;
    Ok(unit)
}

#[utoipa::path(
    post,
    path = "/api/v1/units/{id}/instruments",
    tag = "navigation",
    summary = "Add an instrument (the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = InstrumentInput,
    responses(
        (status = 201, description = "created", body = Instrument),
        (status = 422, description = "a field breaks a rule, named in `field`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.instrument_create", skip_all)]
pub async fn create_instrument(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<InstrumentInput>,
) -> AppResult<HttpResponse> {
    let unit: UnitId = path_id(&id)?;
    let now = state.clock.now();
    let st = state.clone();
    let inst = db::run(&state.pool, move |conn| {
        editing::create_instrument(conn, &who, &st.catalogue, unit, &body, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(inst))
}

#[utoipa::path(
    patch,
    path = "/api/v1/instruments/{id}",
    tag = "navigation",
    summary = "Edit an instrument (the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = InstrumentInput,
    responses(
        (status = 200, description = "saved", body = Instrument),
        (status = 409, description = "retired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.instrument_update", skip_all)]
pub async fn update_instrument(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<InstrumentInput>,
) -> AppResult<HttpResponse> {
    let id: InstrumentId = path_id(&id)?;
    let now = state.clock.now();
    let st = state.clone();
    let inst = db::run(&state.pool, move |conn| {
        editing::update_instrument(conn, &who, &st.catalogue, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(inst))
}

#[utoipa::path(
    post,
    path = "/api/v1/instruments/{id}/retire",
    tag = "navigation",
    summary = "Retire an instrument (never deleted)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "retired", body = Instrument),
        (status = 409, description = "already retired", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.instrument_retire", skip_all)]
pub async fn retire_instrument(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id: InstrumentId = path_id(&id)?;
    let now = state.clock.now();
    let st = state.clone();
    let inst = db::run(&state.pool, move |conn| {
        editing::retire_instrument(conn, &who, &st.catalogue, id, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(inst))
}
