//! Machine-hour endpoints: HTTP in, JSON (or a report file) out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::model::{
    DecisionInput, DeclarationInput, Evaluation, Reduction, ReductionInput, ServiceInput,
    ServiceRecord, UsageStats,
};
use super::service::{self, RecordWithHistory};
use super::store::Filter;
use super::{evaluation, export, reductions};
use crate::auth::Auth;
use crate::db;
use crate::error::{AppResult, Problem};
use crate::http::input::Json;
use crate::params::{path_id, query_params};
use crate::state::AppState;
use crate::types::{InstrumentId, Paged};

/// Instruments listed in `by_instrument` unless `top` says otherwise.
const DEFAULT_TOP: i64 = 20;

query_params! {
    /// The query of `GET /api/v1/stats`.
    pub struct StatsParams {
        /// first day, YYYY-MM-DD (default: all history)
        from: date,
        /// last day, YYYY-MM-DD
        to: date,
        /// instruments listed in by_instrument (default 20)
        top: int(0, 1000),
    }
}

query_params! {
    /// The query of `GET /api/v1/service-records`.
    pub struct RecordListParams {
        /// only mine as a client
        mine: flag,
        /// one instrument
        instrument: id(InstrumentId),
        /// first day, YYYY-MM-DD
        from: date,
        /// last day, YYYY-MM-DD
        to: date,
        /// paging
        page: page,
    }
}

query_params! {
    /// The year of an evaluation.
    pub struct YearParams {
        /// the year, e.g. 2026
        year: required_int(2000, 2100),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "usage",
    summary = "Platform figures: the catalogue counts and what was served in [from, to] (client units, services, machine-hours, external hours, income), by unit, sub-platform, instrument (the `top` most used), month and service type",
    params(StatsParams),
    responses(
        (status = 200, description = "figures", body = UsageStats),
        (status = 400, description = "a malformed date", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` before `from`", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "usage.stats", skip_all)]
pub async fn stats(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let StatsParams { from, to, top } = StatsParams::parse(req.query_string())?;
    let top = top.unwrap_or(DEFAULT_TOP) as usize;
    let counts = state.catalogue.counts(&state.pool).await?;
    let stats = state
        .usage_stats
        .get(&state.pool, counts, from, to, top)
        .await?;
    Ok(HttpResponse::Ok().json(&*stats))
}

#[utoipa::path(
    post,
    path = "/api/v1/service-records",
    tag = "usage",
    summary = "Log a service outside a booking (the instrument's staff): times, or a date and effective minutes",
    request_body = ServiceInput,
    responses(
        (status = 201, description = "the record", body = ServiceRecord),
        (status = 400, description = "a time without an offset", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field out of range, named by `field`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/service-records",
    tag = "usage",
    summary = "Service records: mine as a client, or my unit's / instruments' for staff",
    params(RecordListParams),
    responses(
        (status = 200, description = "a page of records", body = Paged<ServiceRecord>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = RecordListParams::parse(req.query_string())?;
    let (mine, page) = (p.mine, p.page);
    let f = Filter {
        instrument: p.instrument,
        from: p.from,
        to: p.to,
        ..Default::default()
    };
    let list = db::run(&state.pool, move |c| service::list(c, &who, f, mine, page)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    get,
    path = "/api/v1/service-records/{id}",
    tag = "usage",
    summary = "One record with its hour-reduction history",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "the record", body = RecordWithHistory),
        (status = 404, description = "no such record", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/service-records/{id}/reductions",
    tag = "usage",
    summary = "The client asks for an hour reduction (核减机时) within the configured window",
    request_body = ReductionInput,
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 201, description = "the pending request", body = Reduction),
        (status = 409, description = "`reduction_pending`, `reduction_window_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "minutes not fewer than recorded, or no reason", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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
        reductions::request_reduction(c, &who, id, input, window, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/hour-reductions",
    tag = "usage",
    summary = "Pending hour reductions the reader may decide",
    responses(
        (status = 200, description = "oldest first", body = Vec<Reduction>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.pending_reductions", skip_all)]
pub async fn pending_reductions(
    state: web::Data<AppState>,
    Auth(who): Auth,
) -> AppResult<HttpResponse> {
    let r = db::run(&state.pool, move |c| {
        reductions::pending_reductions(c, &who)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/hour-reductions/{id}/decision",
    tag = "usage",
    summary = "Accept (the record and the figures change; the request keeps the old ones) or refuse with a reason",
    request_body = DecisionInput,
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "the decided request", body = Reduction),
        (status = 409, description = "`reduction_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a refusal without a reason", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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
        reductions::decide_reduction(c, &who, id, input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

pub fn year_of(req: &HttpRequest) -> AppResult<i32> {
    Ok(YearParams::parse(req.query_string())?.year as i32)
}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/evaluation",
    tag = "usage",
    summary = "A unit's yearly evaluation (开放共享评价考核): hours, external hours, income, client units, services, utilisation, the four ratios, per instrument",
    params(
        ("id" = i64, Path, description = "the id"),
        YearParams
    ),
    responses(
        (status = 200, description = "the evaluation", body = Evaluation),
        (status = 400, description = "no or a bad year", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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
        evaluation::may_evaluate(&who, unit)?;
        evaluation::evaluation(c, unit, year)
    })
    .await?;
    Ok(HttpResponse::Ok().json(e))
}

/// `evaluation.csv` (the year's service records) or `evaluation.xlsx` (the workbook).
#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/evaluation.{format}",
    tag = "usage",
    summary = "The year's service records as CSV (UTF-8 with BOM, Chinese headers), or the evaluation as a workbook (汇总, 仪器, 服务记录)",
    params(
        ("id" = i64, Path, description = "the id"),
        ("format" = String, Path, description = "`csv` or `xlsx`"),
        YearParams
    ),
    responses(
        (status = 200, description = "text/csv or the workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)"),
        (status = 404, description = "no such unit, or another format", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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
    let platform = state.platform.clone();
    let report = db::run(&state.pool, move |c| {
        evaluation::may_evaluate(&who, unit)?;
        export::year_report(c, &platform, unit, year, &format)
    })
    .await?;
    Ok(report.response())
}

#[utoipa::path(
    put,
    path = "/api/v1/units/{id}/declarations",
    tag = "usage",
    summary = "The unit admin declares the year's eligible instruments (denominator of three ratios)",
    request_body = DeclarationInput,
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 204, description = "saved"),
        (status = 422, description = "out of range", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
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
        evaluation::declare(c, &who, unit, input, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
