//! Reservation endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::availability::{Availability, UnitWeek};
use super::model::{
    BookingRequest, BookingSettingsRow, Reservation, ReservationInput, ReservationStatus, Step,
};
use super::service::{self, Actor, BlackoutInput, StepCommand, StepInput};
use super::settings::{self, BookingSettingsInput};
use super::store::Filter;
use crate::auth::Auth;
use crate::clock::naive;
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, query_params};
use crate::state::AppState;
use crate::types::{InstrumentId, Paged};

query_params! {
    /// The query of `GET /api/v1/reservations`.
    pub struct ReservationListParams {
        /// only one's own
        mine: flag,
        /// status
        status: code(ReservationStatus),
        /// instrument id
        instrument: id(InstrumentId),
        /// RFC 3339; reservations ending after it
        from: instant,
        /// RFC 3339; reservations starting before it
        to: instant,
        /// paging
        page: page,
    }
}

query_params! {
    /// The window of `GET /api/v1/instruments/{id}/availability`.
    pub struct WindowParams {
        /// RFC 3339; default now
        from: instant,
        /// RFC 3339; default a week after `from`
        to: instant,
    }
}

query_params! {
    /// The week of a unit's schedule.
    pub struct WeekParams {
        /// ISO week, e.g. 2026-W49; default this week
        week: text(10),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/reservations",
    tag = "reservations",
    summary = "Book machine time or send samples (verified accounts); `Idempotency-Key` makes a retry return the first result",
    request_body = ReservationInput,
    responses(
        (status = 201, description = "booked: pending, or approved where approval is automatic; the fee estimate is for the booker's tier", body = Reservation),
        (status = 200, description = "a repeat of an earlier request with the same Idempotency-Key", body = Reservation),
        (status = 400, description = "a time without an offset", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "banned (with the ban's end) or not qualified", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reservation_conflict` with the clashing interval, `too_many_active`, `blackout`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a booking rule, named by `code`; `idempotency_key_reused` when the Idempotency-Key came with another booking", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "reservations.create", skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
    body: Json<ReservationInput>,
) -> AppResult<HttpResponse> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| AppError::bad_request("Idempotency-Key", "ASCII only"))?;
    service::may_book(&who)?;
    let (reservation, created) = service::create(
        &state,
        &who,
        BookingRequest::from_input(body.into_inner())?,
        key,
    )
    .await?;
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(reservation))
}

#[utoipa::path(
    get,
    path = "/api/v1/reservations/{id}",
    tag = "reservations",
    summary = "One reservation (its booker, the instrument's staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = Reservation)
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/reservations",
    tag = "reservations",
    summary = "Mine, or my unit's for staff",
    params(ReservationListParams),
    responses(
        (status = 200, description = "a page", body = Paged<Reservation>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "reservations.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = ReservationListParams::parse(req.query_string())?;
    let (mine, page) = (p.mine, p.page);
    let f = Filter {
        status: p.status,
        instrument: p.instrument,
        from: p.from.map(naive),
        to: p.to.map(naive),
        ..Default::default()
    };
    let list = db::run(&state.pool, move |c| service::list(c, &who, f, mine, page)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    post,
    path = "/api/v1/reservations/{id}/{step}",
    tag = "reservations",
    summary = "A step: approve, reject, cancel, check-in, check-out, accept, start-test, report, complete",
    params(
        ("id" = i64, Path, description = "the id"),
        ("step" = String, Path, description = "approve | reject | cancel | check-in | check-out | accept | start-test | report | complete")
    ),
    request_body = StepInput,
    responses(
        (status = 200, description = "done; the booker is e-mailed", body = Reservation),
        (status = 409, description = "`invalid_transition` naming the current state, `too_late_to_cancel`, `not_now`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "reservations.step", skip_all, fields(step = %path.1))]
pub async fn step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: OptionalJson<StepInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = Step::from_code(&path.1)
        .filter(|s| !matches!(s, Step::Expire | Step::MarkNoShow))
        .ok_or(AppError::NotFound { what: "page" })?;
    let OptionalJson(input) = body;
    let cmd = StepCommand::from_input(input, step)?;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::take_step(c, Actor::Person(&who), id, step, &cmd, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/availability",
    tag = "reservations",
    summary = "Busy intervals (no identities) and the bookable free intervals under the rules",
    params(
        ("id" = i64, Path, description = "the id"),
        WindowParams
    ),
    responses(
        (status = 200, description = "at most 31 days", body = Availability),
        (status = 400, description = "a time without an offset, or a range too long", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "reservations.availability", skip_all)]
pub async fn availability(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let id: crate::types::InstrumentId = path_id(&id)?;
    let window = WindowParams::parse(req.query_string())?;
    let now = state.clock.now();
    let from = window.from.unwrap_or(now);
    let to = window.to.unwrap_or(from + chrono::Duration::days(7));
    let rules = state.clone();
    let a = db::run(&state.pool, move |c| {
        super::availability::availability(c, &rules.booking_rules, id, from, to, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(a))
}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/schedule",
    tag = "reservations",
    summary = "Every instrument of the unit with its busy intervals for one week",
    params(
        ("id" = i64, Path, description = "the id"),
        WeekParams
    ),
    responses(
        (status = 200, description = "the week", body = UnitWeek)
    )
)]
#[tracing::instrument(name = "reservations.unit_week", skip_all)]
pub async fn unit_week(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    use chrono::Datelike;
    let unit = path_id(&id)?;
    let monday = match WeekParams::parse(req.query_string())?.week {
        Some(w) => super::availability::parse_week(&w)?,
        None => {
            let today = state
                .clock
                .now()
                .with_timezone(&crate::types::PLATFORM_ZONE)
                .date_naive();
            today - chrono::Duration::days(today.weekday().num_days_from_monday() as i64)
        }
    };
    let w = db::run(&state.pool, move |c| {
        super::availability::unit_week(c, unit, monday)
    })
    .await?;
    Ok(HttpResponse::Ok().json(w))
}

fn host(state: &AppState) -> String {
    state
        .auth
        .public_url
        .split("://")
        .nth(1)
        .unwrap_or("yiqi")
        .split('/')
        .next()
        .unwrap_or("yiqi")
        .to_owned()
}

fn ics(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .body(body)
}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/calendar.ics",
    tag = "reservations",
    summary = "iCalendar feed of the instrument's busy times",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "text/calendar")
    )
)]
#[tracing::instrument(name = "reservations.instrument_feed", skip_all)]
pub async fn instrument_feed(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id: crate::types::InstrumentId = path_id(id.trim_end_matches(".ics"))?;
    let (now, host) = (state.clock.now(), host(&state));
    let body = db::run(&state.pool, move |c| {
        super::availability::instrument_feed(c, id, &host, now)
    })
    .await?;
    Ok(ics(body))
}

#[utoipa::path(
    get,
    path = "/api/v1/calendar/{token}",
    tag = "reservations",
    summary = "A person's bookings as iCalendar, behind the secret URL",
    params(
        ("token" = String, Path, description = "the secret, with .ics")
    ),
    responses(
        (status = 200, description = "text/calendar"),
        (status = 404, description = "unknown URL", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "reservations.user_feed", skip_all)]
pub async fn user_feed(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let hash = crate::auth::tokens::hash(token.trim_end_matches(".ics"));
    let (now, host) = (state.clock.now(), host(&state));
    let body = db::run(&state.pool, move |c| {
        let user = crate::users::store::user_by_calendar_token(c, &hash)?
            .ok_or(AppError::NotFound { what: "calendar" })?;
        super::availability::user_feed(c, user, &host, now)
    })
    .await?;
    Ok(ics(body))
}

/// A new secret feed URL for the signed-in person (the previous one stops working).
#[utoipa::path(
    post,
    path = "/api/v1/me/calendar-token",
    tag = "reservations",
    summary = "A new secret URL of one's own calendar feed (the old one stops working)",
    responses(
        (status = 200, description = "`{\"url\": …}`")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "reservations.calendar_token", skip_all)]
pub async fn calendar_token(
    state: web::Data<AppState>,
    Auth(who): Auth,
) -> AppResult<HttpResponse> {
    let token = crate::auth::tokens::random();
    let hash = crate::auth::tokens::hash(&token);
    db::run(&state.pool, move |c| {
        Ok(crate::users::store::set_calendar_token(c, who.id, &hash)?)
    })
    .await?;
    let url = format!("{}/api/v1/calendar/{token}.ics", state.auth.public_url);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "url": url })))
}

#[utoipa::path(
    post,
    path = "/api/v1/instruments/{id}/blackouts",
    tag = "reservations",
    summary = "A maintenance window (the instrument's staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = BlackoutInput,
    responses(
        (status = 201, description = "`{\"id\": …}`"),
        (status = 409, description = "bookings in the window: move or cancel them first", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "reservations.blackout", skip_all)]
pub async fn add_blackout(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<service::BlackoutInput>,
) -> AppResult<HttpResponse> {
    let id: crate::types::InstrumentId = path_id(&id)?;
    let now = state.clock.now();
    let bid = db::run(&state.pool, move |c| {
        service::add_blackout(c, &who, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": bid })))
}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/booking-settings",
    tag = "reservations",
    summary = "Booking settings",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "the settings, or the defaults", body = BookingSettingsRow)
    )
)]
#[tracing::instrument(name = "catalogue.booking_settings", skip_all)]
pub async fn booking_settings(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id: InstrumentId = path_id(&id)?;
    let row = db::run(&state.pool, move |conn| {
        settings::booking_settings(conn, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(row))
}

#[utoipa::path(
    put,
    path = "/api/v1/instruments/{id}/booking-settings",
    tag = "reservations",
    summary = "Change booking settings (its managers, the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = BookingSettingsInput,
    responses(
        (status = 200, description = "saved", body = BookingSettingsRow),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "catalogue.booking_settings_save", skip_all)]
pub async fn save_booking_settings(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<BookingSettingsInput>,
) -> AppResult<HttpResponse> {
    let id: InstrumentId = path_id(&id)?;
    let now = state.clock.now();
    let rules = state.booking_rules.clone();
    let row = db::run(&state.pool, move |conn| {
        settings::save_booking_settings(conn, &who, &rules, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(row))
}
