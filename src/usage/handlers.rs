//! Machine-hour endpoints: HTTP in, JSON (or a report file) out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::export;
use super::model::{DecisionInput, DeclarationInput, ReductionInput, ServiceInput};
use super::service;
use super::store::Filter;
use crate::auth::Auth;
use crate::db;
use crate::error::AppResult;
use crate::http::input::Json;
use crate::params::{path_id, QueryParams};
use crate::types::UnitId;
use crate::AppState;

/// Instruments listed in `by_instrument` unless `top` says otherwise.
const DEFAULT_TOP: i64 = 20;

#[tracing::instrument(name = "usage.stats", skip_all)]
pub async fn stats(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let p = QueryParams::parse(req.query_string(), &["from", "to", "top"])?;
    let (from, to) = (p.date("from")?, p.date("to")?);
    let top = p.int("top", 0, 1000)?.unwrap_or(DEFAULT_TOP) as usize;
    let counts = state.catalogue.counts(&state.pool).await?;
    let stats = state
        .usage_stats
        .get(&state.pool, counts, from, to, top)
        .await?;
    Ok(HttpResponse::Ok().json(&*stats))
}

#[tracing::instrument(name = "usage.log", skip_all)]
pub async fn log(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<ServiceInput>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| {
        service::log_service(c, &who, input, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[tracing::instrument(name = "usage.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = QueryParams::parse(
        req.query_string(),
        &["mine", "instrument", "from", "to", "page", "per_page"],
    )?;
    let mine = match p.text("mine", 5)?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(crate::error::AppError::bad_request("mine", "true or false")),
    };
    let f = Filter {
        instrument: p.id("instrument")?,
        from: p.date("from")?,
        to: p.date("to")?,
        ..Default::default()
    };
    let page = p.page()?;
    let list = db::run(&state.pool, move |c| service::list(c, &who, f, mine, page)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[tracing::instrument(name = "usage.get", skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let r = db::run(&state.pool, move |c| service::get(c, &who, id)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[tracing::instrument(name = "usage.request_reduction", skip_all)]
pub async fn request_reduction(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ReductionInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let window = state.usage.reduction_window_days;
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| {
        service::request_reduction(c, &who, id, input, window, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[tracing::instrument(name = "usage.pending_reductions", skip_all)]
pub async fn pending_reductions(
    state: web::Data<AppState>,
    Auth(who): Auth,
) -> AppResult<HttpResponse> {
    let r = db::run(&state.pool, move |c| service::pending_reductions(c, &who)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[tracing::instrument(name = "usage.decide_reduction", skip_all)]
pub async fn decide_reduction(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<DecisionInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| {
        service::decide_reduction(c, &who, id, input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

pub fn year_of(req: &HttpRequest) -> AppResult<i32> {
    let p = QueryParams::parse(req.query_string(), &["year"])?;
    p.int("year", 2000, 2100)?
        .map(|y| y as i32)
        .ok_or_else(|| crate::error::AppError::bad_request("year", "required, e.g. year=2026"))
}

#[tracing::instrument(name = "usage.evaluation", skip_all)]
pub async fn evaluation(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let unit = path_id(&id)?;
    let year = year_of(&req)?;
    let e = db::run(&state.pool, move |c| {
        service::may_evaluate(&who, UnitId(unit))?;
        service::evaluation(c, unit, year)
    })
    .await?;
    Ok(HttpResponse::Ok().json(e))
}

/// `evaluation.csv` (the year's service records) or `evaluation.xlsx` (the workbook).
#[tracing::instrument(name = "usage.export", skip_all, fields(format = %path.1))]
pub async fn export(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let unit = path_id(&path.0)?;
    let format = path.1.clone();
    let year = year_of(&req)?;
    let report = db::run(&state.pool, move |c| {
        service::may_evaluate(&who, UnitId(unit))?;
        export::year_report(c, unit, year, &format)
    })
    .await?;
    Ok(report.response())
}

#[tracing::instrument(name = "usage.declare", skip_all)]
pub async fn declare(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<DeclarationInput>,
) -> AppResult<HttpResponse> {
    let unit = path_id(&id)?;
    let now = state.clock.now();
    let input = body.into_inner();
    db::run(&state.pool, move |c| {
        service::declare(c, &who, unit, input, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
