//! Machine-hour endpoints: HTTP in, JSON (or a report file) out.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Datelike;

use super::model::{
    DecisionInput, DeclarationInput, Evaluation, Rectification, RectificationInput,
    RectificationStep, RectificationStepInput, Reduction, ReductionInput, ServiceInput,
    ServiceRecord, UnitRound, UsageStats,
};
use super::service::{self, RecordWithHistory};
use super::store::Filter;
use super::{evaluation, export, nrii, rectifications, reductions};
use crate::auth::{authorize, Action, Auth};
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::input::{Json, OptionalJson};
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
    /// The year of the round, this year (Beijing time) when not given.
    pub struct RoundParams {
        /// the year, e.g. 2026 (default: this year)
        year: int(2000, 2100),
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
    let stats = state
        .usage_stats
        .get(&state.pool, &state.catalogue, from, to, top)
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
    let round = state.evaluation;
    let e = db::run(&state.pool, move |c| {
        evaluation::may_evaluate(&who, unit)?;
        evaluation::evaluation(c, unit, year, &round)
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
    let (platform, round) = (state.platform.clone(), state.evaluation);
    let report = db::run(&state.pool, move |c| {
        evaluation::may_evaluate(&who, unit)?;
        export::year_report(c, &platform, &round, unit, year, &format)
    })
    .await?;
    Ok(report.response())
}

/// The unit's year for the national reporting interface (数据报送).
#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/nrii.{format}",
    tag = "usage",
    summary = "The unit's year for the national reporting interface (数据报送): its large instruments, their service records and the yearly summary, checked against the national rules; records that break one are held back and listed in `problems` with the field named",
    params(
        ("id" = i64, Path, description = "the unit"),
        ("format" = String, Path, description = "`json` (NriiExport) or `xlsx` (sheets 仪器, 服务记录, 年度汇总, 问题)"),
        YearParams
    ),
    responses(
        (status = 200, description = "the report: NriiExport as JSON, or the workbook", content(
            (nrii::NriiExport = "application/json"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 403, description = "not the unit's staff or a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such unit, or another format", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.unit_nrii", skip_all, fields(format = %path.1))]
pub async fn unit_nrii(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let unit = path_id(&path.0)?;
    let format = path.1.clone();
    let year = year_of(&req)?;
    let round = state.evaluation;
    let report = db::run(&state.pool, move |c| {
        crate::usage::nrii::unit_report(c, &who, unit, year, &round, &format)
    })
    .await?;
    Ok(report.response())
}

/// Every unit's year for the national reporting interface, for the platform's admins.
#[utoipa::path(
    get,
    path = "/api/v1/nrii.{format}",
    tag = "usage",
    summary = "Platform admins: every unit's year for the national reporting interface, as one report",
    params(
        ("format" = String, Path, description = "`json` or `xlsx`"),
        YearParams
    ),
    responses(
        (status = 200, description = "the report: NriiExport as JSON, or the workbook", content(
            (nrii::NriiExport = "application/json"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "another format", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "another whole-platform report is being built (`rate_limited`, `Retry-After`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.platform_nrii", skip_all, fields(format = %format))]
pub async fn platform_nrii(
    state: web::Data<AppState>,
    Auth(who): Auth,
    format: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let year = year_of(&req)?;
    let round = state.evaluation;
    let format = format.into_inner();
    nrii::check_format(&format)?;
    authorize(&who, Action::JudgeComplaints)?;
    let turn = state.platform_report.take()?;
    let report = db::run(&state.pool, move |c| {
        let _turn = turn;
        nrii::report(&nrii::build(c, None, year, &round)?, &format)
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

#[utoipa::path(
    get,
    path = "/api/v1/evaluation",
    tag = "usage",
    summary = "Platform admins: the yearly round, every unit's satisfaction, complaints (received, upheld, answered late), the 限期整改 flag with its reasons and the year's rectification notices; flagged units first",
    params(RoundParams),
    responses(
        (status = 200, description = "one line per unit", body = Vec<UnitRound>),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.round", skip_all)]
pub async fn round(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let year = RoundParams::parse(req.query_string())?.year.map_or_else(
        || service::local_day(state.clock.now()).year(),
        |y| y as i32,
    );
    let settings = state.evaluation;
    let r = db::run(&state.pool, move |c| {
        authorize(&who, Action::JudgeComplaints)?;
        evaluation::round(c, year, &settings)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/evaluation.{format}",
    tag = "usage",
    summary = "Platform admins: the yearly round as CSV (UTF-8 with BOM) or a workbook, for the province's files",
    params(
        ("format" = String, Path, description = "`csv` or `xlsx`"),
        RoundParams
    ),
    responses(
        (status = 200, description = "text/csv or the workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)"),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "another format", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.round_export", skip_all, fields(format = %format))]
pub async fn round_export(
    state: web::Data<AppState>,
    Auth(who): Auth,
    format: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let year = RoundParams::parse(req.query_string())?.year.map_or_else(
        || service::local_day(state.clock.now()).year(),
        |y| y as i32,
    );
    let settings = state.evaluation;
    let format = format.into_inner();
    let report = db::run(&state.pool, move |c| {
        authorize(&who, Action::JudgeComplaints)?;
        let list = evaluation::round(c, year, &settings)?;
        export::round_report(&list, year, &format)
    })
    .await?;
    Ok(report.response())
}

#[utoipa::path(
    post,
    path = "/api/v1/units/{id}/rectifications",
    tag = "usage",
    summary = "Platform admins: order the unit to rectify by a deadline (限期整改通知); its admins are e-mailed",
    params(("id" = i64, Path, description = "the unit's id")),
    request_body = RectificationInput,
    responses(
        (status = 201, description = "the notice", body = Rectification),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an empty reason, or a deadline not after today", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.rectify", skip_all)]
pub async fn rectify(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<RectificationInput>,
) -> AppResult<HttpResponse> {
    let unit = path_id(&id)?;
    let input = body.into_inner();
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        rectifications::issue(c, &who, unit, input, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/rectifications/{id}",
    tag = "usage",
    summary = "A rectification notice, for the platform and the unit's admins",
    params(("id" = i64, Path, description = "the notice's id")),
    responses(
        (status = 200, description = "the notice", body = Rectification),
        (status = 404, description = "no such notice, or not the caller's to see", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.rectification", skip_all)]
pub async fn rectification(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let r = db::run(&state.pool, move |c| {
        rectifications::get(c, &who, id).map(Rectification::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/rectifications/{id}/{step}",
    tag = "usage",
    summary = "The unit reports back (`report`, with `text`); the platform closes the notice (`close`) or extends it (`extend`, with a later `deadline`)",
    params(
        ("id" = i64, Path, description = "the notice's id"),
        ("step" = String, Path, description = "report | close | extend")
    ),
    request_body = RectificationStepInput,
    responses(
        (status = 200, description = "done; the other side is e-mailed", body = Rectification),
        (status = 403, description = "the other side's step", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such notice, or not the caller's to see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`, `notice_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an empty report, or an extension not later than the deadline", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "usage.rectification_step", skip_all, fields(step = %path.1))]
pub async fn rectification_step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: OptionalJson<RectificationStepInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = RectificationStep::from_code(&path.1).ok_or(AppError::NotFound { what: "step" })?;
    let OptionalJson(input) = body;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        rectifications::step(c, &who, id, step, input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}
