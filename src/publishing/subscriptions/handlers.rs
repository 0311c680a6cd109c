//! Subscription endpoints: HTTP in, JSON out.

use actix_web::{web, HttpResponse};

use super::model::{Subscription, SubscriptionInput};
use super::service;
use crate::auth::Auth;
use crate::db;
use crate::error::{AppResult, Problem};
use crate::http::input::Json;
use crate::params::path_id;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/v1/subscriptions",
    tag = "publishing",
    summary = "The caller's subscriptions to articles",
    responses(
        (status = 200, description = "the subscriptions", body = Vec<Subscription>),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "subscriptions.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, Auth(who): Auth) -> AppResult<HttpResponse> {
    let r = db::run(&state.pool, move |c| service::mine(c, &who)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/subscriptions",
    tag = "publishing",
    summary = "Follow a list of articles (platform-wide, a sub-platform's or a unit's; all kinds or one) by immediate e-mail or the 08:00 daily digest; the same list again changes how",
    request_body = SubscriptionInput,
    responses(
        (status = 201, description = "subscribed", body = Subscription),
        (status = 200, description = "already subscribed: the delivery changed", body = Subscription),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field out of its choices, or too many subscriptions", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "subscriptions.subscribe", skip_all)]
pub async fn subscribe(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<SubscriptionInput>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let input = body.into_inner();
    let (s, created) = db::run(&state.pool, move |c| {
        service::subscribe(c, &who, input, now)
    })
    .await?;
    Ok(if created {
        HttpResponse::Created().json(s)
    } else {
        HttpResponse::Ok().json(s)
    })
}

#[utoipa::path(
    delete,
    path = "/api/v1/subscriptions/{id}",
    tag = "publishing",
    summary = "End one of the caller's subscriptions",
    params(("id" = i64, Path, description = "the subscription's id")),
    responses(
        (status = 204, description = "ended"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscription of the caller's", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "subscriptions.remove", skip_all)]
pub async fn remove(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    db::run(&state.pool, move |c| service::remove(c, &who, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
