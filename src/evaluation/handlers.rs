//! Rating endpoints: HTTP in, JSON out.

use actix_web::{web, HttpResponse};

use super::model::{Rating, RatingInput, RatingSummary, ReplyInput};
use super::service;
use crate::auth::Auth;
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::input::Json;
use crate::params::path_id;
use crate::state::AppState;

/// Ratings listed for the staff.
const STAFF_LIST: i64 = 200;

#[utoipa::path(
    get,
    path = "/api/v1/service-records/{id}/rating",
    tag = "evaluation",
    summary = "The client's own rating of their service",
    params(("id" = i64, Path, description = "the service record's id")),
    responses(
        (status = 200, description = "the rating", body = Rating),
        (status = 404, description = "not rated, or not the caller's service", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "evaluation.mine", skip_all)]
pub async fn mine(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let r = db::run(&state.pool, move |c| service::mine(c, &who, id)).await?;
    let r = r.ok_or(AppError::NotFound { what: "rating" })?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/service-records/{id}/rating",
    tag = "evaluation",
    summary = "The client rates their service (评价), once, within `evaluation.rating_window_days`; a rating at 不满意 or worse e-mails the unit",
    request_body = RatingInput,
    params(("id" = i64, Path, description = "the service record's id")),
    responses(
        (status = 201, description = "the rating", body = Rating),
        (status = 404, description = "no such service of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_rated`, `rating_window_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a score outside the scale, or a comment over 500 characters", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "evaluation.rate", skip_all)]
pub async fn rate(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<RatingInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let settings = state.evaluation;
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| {
        service::rate(c, &who, id, input, &settings, now)
    })
    .await?;
    state.rating_summaries.invalidate();
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    put,
    path = "/api/v1/service-records/{id}/rating",
    tag = "evaluation",
    summary = "The rater changes their rating within `evaluation.rating_edit_days` of giving it",
    request_body = RatingInput,
    params(("id" = i64, Path, description = "the service record's id")),
    responses(
        (status = 200, description = "the rating", body = Rating),
        (status = 404, description = "not rated, or not the caller's service", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`rating_locked`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a score outside the scale, or a comment over 500 characters", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "evaluation.edit", skip_all)]
pub async fn edit(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<RatingInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let settings = state.evaluation;
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| {
        service::edit(c, &who, id, input, &settings, now)
    })
    .await?;
    state.rating_summaries.invalidate();
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/ratings/{id}/reply",
    tag = "evaluation",
    summary = "The host unit answers a rating, once and in public; the rater is told by e-mail",
    request_body = ReplyInput,
    params(("id" = i64, Path, description = "the rating's id")),
    responses(
        (status = 200, description = "the rating with its reply", body = Rating),
        (status = 403, description = "the caller does not run the instrument", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_replied`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an empty reply, or one over 500 characters", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "evaluation.reply", skip_all)]
pub async fn reply(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ReplyInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| {
        service::reply(c, &who, id, input, now)
    })
    .await?;
    state.rating_summaries.invalidate();
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/ratings",
    tag = "evaluation",
    summary = "Ratings of the instruments the caller runs (every one for the platform), newest first",
    responses(
        (status = 200, description = "the latest 200", body = Vec<Rating>),
        (status = 403, description = "not staff", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "evaluation.for_staff", skip_all)]
pub async fn for_staff(state: web::Data<AppState>, Auth(who): Auth) -> AppResult<HttpResponse> {
    let r = db::run(&state.pool, move |c| {
        service::for_staff(c, &who, STAFF_LIST)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/ratings",
    tag = "evaluation",
    summary = "What the instrument's clients said: count, average, satisfaction, distribution and the latest ratings (raters by organisation only)",
    params(("id" = i64, Path, description = "the instrument's id")),
    responses(
        (status = 200, description = "the summary", body = RatingSummary),
        (status = 404, description = "no such instrument", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "evaluation.summary", skip_all)]
pub async fn summary(state: web::Data<AppState>, id: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let st = state.clone();
    let r = db::run(&state.pool, move |c| {
        crate::navigation::store::find_instrument(c, id)?
            .filter(|i| i.retired_at.is_none())
            .ok_or(AppError::NotFound { what: "instrument" })?;
        service::cached_summary(c, &st.rating_summaries, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}
