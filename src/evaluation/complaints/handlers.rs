//! Complaint endpoints and the holiday table: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};

use super::model::{Complaint, ComplaintInput, ComplaintStep, ComplaintStepInput};
use super::service;
use crate::auth::Auth;
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::evaluation::calendar::{self, Holiday, HolidayInput};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, query_params};
use crate::state::AppState;

query_params! {
    /// The query of `GET /api/v1/complaints`.
    pub struct ComplaintListParams {
        /// only the caller's own complaints (else those the caller handles)
        mine: flag,
        /// only those not yet finished
        open: flag,
    }
}

query_params! {
    /// The year of the holiday table, this year (Beijing time) when not given.
    pub struct HolidayParams {
        /// the year, e.g. 2026 (default: this year)
        year: int(2000, 2100),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/complaints",
    tag = "evaluation",
    summary = "File a complaint (投诉) about one's service record or booking, an instrument or a unit; the platform's admins are e-mailed",
    request_body = ComplaintInput,
    responses(
        (status = 201, description = "the complaint", body = Complaint),
        (status = 403, description = "`email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`complaint_open`: one about the same thing is open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field out of its rules; `subject_id` when it is not the caller's service or booking, or does not exist", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaints.file", skip_all)]
pub async fn file(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<ComplaintInput>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let input = body.into_inner();
    let c = db::run(&state.pool, move |c| service::file(c, &who, input, now)).await?;
    Ok(HttpResponse::Created().json(c))
}

#[utoipa::path(
    get,
    path = "/api/v1/complaints",
    tag = "evaluation",
    summary = "The caller's complaints (`mine`), or those they handle: their unit's for a unit admin, all for platform admins; newest first, at most 200",
    params(ComplaintListParams),
    responses(
        (status = 200, description = "the complaints", body = Vec<Complaint>),
        (status = 403, description = "not an administrator (without `mine`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaints.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = ComplaintListParams::parse(req.query_string())?;
    let r = db::run(&state.pool, move |c| service::list(c, &who, p.mine, p.open)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/complaints/{id}",
    tag = "evaluation",
    summary = "A complaint with its history and the steps the caller may take; its parties only",
    params(("id" = i64, Path, description = "the complaint's id")),
    responses(
        (status = 200, description = "the complaint", body = Complaint),
        (status = 404, description = "no such complaint, or the caller is not a party to it", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaints.get", skip_all)]
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
    path = "/api/v1/complaints/{id}/{step}",
    tag = "evaluation",
    summary = "A step: the platform accepts, sends back or decides (uphold, partly_uphold, reject); the unit answers or reports its rectification; the complainant agrees, escalates, confirms or withdraws",
    params(
        ("id" = i64, Path, description = "the complaint's id"),
        ("step" = String, Path, description = "accept | send_back | answer | agree | escalate | uphold | partly_uphold | reject | rectify | confirm | withdraw")
    ),
    request_body = ComplaintStepInput,
    responses(
        (status = 200, description = "done; the other parties are e-mailed", body = Complaint),
        (status = 403, description = "the step is another party's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such complaint, or the caller is not a party to it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition` naming the state, `complaint_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`text` missing where the step needs it, or over 2,000 characters", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaints.step", skip_all, fields(step = %path.1))]
pub async fn step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: OptionalJson<ComplaintStepInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = ComplaintStep::from_code(&path.1)
        .filter(|s| !matches!(s, ComplaintStep::Submit | ComplaintStep::MarkOverdue))
        .ok_or(AppError::NotFound { what: "step" })?;
    let OptionalJson(input) = body;
    let now = state.clock.now();
    let settings = state.evaluation;
    let r = db::run(&state.pool, move |c| {
        service::step(c, &who, id, step, &input, &settings, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/holidays",
    tag = "evaluation",
    summary = "The year's public holidays and weekend workdays (调休) by which answer deadlines count working days",
    params(HolidayParams),
    responses((status = 200, description = "the days, in order", body = Vec<Holiday>))
)]
#[tracing::instrument(name = "holidays.list", skip_all)]
pub async fn holidays(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let year = HolidayParams::parse(req.query_string())?.year.map_or_else(
        || crate::usage::service::local_day(state.clock.now()).year(),
        |y| y as i32,
    );
    let r = db::run(&state.pool, move |c| Ok(calendar::list_year(c, year)?)).await?;
    Ok(HttpResponse::Ok().json(r))
}

fn day_of(raw: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| AppError::bad_request("day", "日期格式为 YYYY-MM-DD (a date, YYYY-MM-DD)"))
}

#[utoipa::path(
    put,
    path = "/api/v1/holidays/{day}",
    tag = "evaluation",
    summary = "Platform admins: mark a day as a holiday or a weekend workday (replacing what it was); deadlines counted from now on follow it",
    params(("day" = String, Path, description = "YYYY-MM-DD")),
    request_body = HolidayInput,
    responses(
        (status = 200, description = "the day", body = Holiday),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`kind` not holiday or workday, or a name over 20 characters", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "holidays.put", skip_all)]
pub async fn put_holiday(
    state: web::Data<AppState>,
    Auth(who): Auth,
    day: web::Path<String>,
    body: Json<HolidayInput>,
) -> AppResult<HttpResponse> {
    let day = day_of(&day)?;
    let input = body.into_inner();
    let now = state.clock.now();
    let saved = db::run(&state.pool, move |c| {
        calendar::set_day(c, &who, day, input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

#[utoipa::path(
    delete,
    path = "/api/v1/holidays/{day}",
    tag = "evaluation",
    summary = "Platform admins: the day follows the weekly rule again",
    params(("day" = String, Path, description = "YYYY-MM-DD")),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the day was not in the table", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "holidays.delete", skip_all)]
pub async fn delete_holiday(
    state: web::Data<AppState>,
    Auth(who): Auth,
    day: web::Path<String>,
) -> AppResult<HttpResponse> {
    let day = day_of(&day)?;
    let now = state.clock.now();
    db::run(&state.pool, move |c| calendar::clear_day(c, &who, day, now)).await?;
    Ok(HttpResponse::NoContent().finish())
}
