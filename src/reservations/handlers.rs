//! Reservation endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::model::{ReservationInput, ReservationStatus, Step};
use super::service::{self, Actor, StepInput};
use super::store::Filter;
use crate::auth::Auth;
use crate::clock::naive;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::params::{path_id, QueryParams};
use crate::AppState;

#[tracing::instrument(name = "reservations.create", skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
    body: web::Json<ReservationInput>,
) -> AppResult<HttpResponse> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| AppError::bad_request("Idempotency-Key", "ASCII only"))?;
    let (reservation, created) = service::create(&state, &who, body.into_inner(), key).await?;
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(reservation))
}

#[tracing::instrument(name = "reservations.get", skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let r = db::run(&state.pool, move |c| service::get(c, &who, id)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[tracing::instrument(name = "reservations.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params = QueryParams::parse(
        req.query_string(),
        &[
            "mine",
            "status",
            "instrument",
            "from",
            "to",
            "page",
            "per_page",
        ],
    )?;
    let mine = match params.text("mine", 5)?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::bad_request("mine", "true or false")),
    };
    let time = |k: &str| -> AppResult<_> {
        params
            .text(k, 40)?
            .map(|v| service::instant(k, &v).map(naive))
            .transpose()
    };
    let f = Filter {
        status: params.code(
            "status",
            ReservationStatus::from_code,
            &ReservationStatus::codes(),
        )?,
        instrument: params.id("instrument")?,
        from: time("from")?,
        to: time("to")?,
        ..Default::default()
    };
    let page = params.page()?;
    let list = db::run(&state.pool, move |c| service::list(c, &who, f, mine, page)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[tracing::instrument(name = "reservations.step", skip_all, fields(step = %path.1))]
pub async fn step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = Step::from_code(&path.1)
        .filter(|s| !matches!(s, Step::Expire | Step::MarkNoShow))
        .ok_or(AppError::NotFound { what: "page" })?;
    let input: StepInput = if body.iter().all(u8::is_ascii_whitespace) {
        StepInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| crate::error::unreadable_json(e.to_string()))?
    };
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::take_step(c, Actor::Person(&who), id, step, &input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}
