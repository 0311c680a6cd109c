//! 预约申请 — machine-time bookings and sample orders, approval by the host unit.

pub mod availability;
pub mod handlers;
pub mod jobs;
pub mod model;
pub mod rules;
pub mod service;
pub mod settings;
pub mod store;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use handlers as h;
    r.post("/reservations", h::create)
        .get("/reservations", h::list)
        .get("/reservations/{id}", h::get)
        .post("/reservations/{id}/{step}", h::step)
        .get("/instruments/{id}/booking-settings", h::booking_settings)
        .put(
            "/instruments/{id}/booking-settings",
            h::save_booking_settings,
        )
        .get("/instruments/{id}/availability", h::availability)
        .post("/instruments/{id}/blackouts", h::add_blackout)
        .get("/instruments/{id}/calendar.ics", h::instrument_feed)
        .get("/units/{id}/schedule", h::unit_week)
        .post("/me/calendar-token", h::calendar_token)
        .get("/calendar/{token}", h::user_feed);
}

/// This module's part of the API document, from the attributes on its handlers.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    handlers::create,
    handlers::list,
    handlers::get,
    handlers::step,
    handlers::booking_settings,
    handlers::save_booking_settings,
    handlers::availability,
    handlers::add_blackout,
    handlers::instrument_feed,
    handlers::unit_week,
    handlers::calendar_token,
    handlers::user_feed
))]
pub struct Api;
