//! Prometheus metrics at `/metrics`: on the admin listener `server.metrics_bind` (no token:
//! bind it where only the monitoring network reaches), or on the main port with
//! `Authorization: Bearer <server.metrics_token>`. Neither set: `/metrics` is 404.
//!
//! Requests are counted and timed per route pattern (`/api/v1/instruments/{id}`, never the raw
//! path, so a crawler cannot grow the series without bound) and status class. The pool, the
//! outbox and the jobs are read when scraped; bookings and sign-in failures are counted where
//! they happen (`booking_created`, `booking_refused`, `signin_failed`).

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;

/// Seconds: the web pages and the API answer in milliseconds; 5 s is the pool's time-out.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder, installed on first use (a test process runs many apps; they
/// share it, as the counters of one process should).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .ok()?
                .install_recorder()
                .inspect_err(|e| tracing::warn!(error = %e, "no metrics recorder"))
                .ok()
        })
        .as_ref()
}

/// Installs the recorder before the first request, so counters are never lost to a late start.
pub fn init() {
    let _ = handle();
}

/// A method as a label: the standard ones, else "other" (a client chooses the method).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times every request by route pattern, method and status class.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = match res.status().as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    let labels = [
        ("route", route),
        ("method", method.to_owned()),
        ("status", status.to_owned()),
    ];
    counter!("http_requests_total", &labels).increment(1);
    histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    Ok(res)
}

pub fn booking_created() {
    counter!("yiqi_bookings_created_total").increment(1);
}

/// A booking refused, by the problem's code (a fixed set: `ErrorCode`).
pub fn booking_refused(code: ErrorCode) {
    counter!("yiqi_bookings_refused_total", "code" => code.as_str()).increment(1);
}

pub fn signin_failed() {
    counter!("yiqi_signin_failures_total").increment(1);
}

/// What the scrape reads now: the pool, the outbox, the jobs' last runs.
async fn sample(state: &AppState) {
    let pool = state.pool.status();
    gauge!("yiqi_db_pool_size").set(pool.size as f64);
    gauge!("yiqi_db_pool_connections_in_use").set(pool.in_use as f64);
    gauge!("yiqi_db_pool_waiting").set(pool.waiting as f64);
    gauge!("yiqi_db_up").set(if pool.database_down { 0.0 } else { 1.0 });
    let now = state.clock.now();
    // The outbox needs the database; while it is down the last values stand.
    if let Ok(q) = crate::db::run(&state.pool, |c| Ok(crate::mail::store::status(c)?)).await {
        gauge!("yiqi_mail_outbox_queued").set(q.queued as f64);
        gauge!("yiqi_mail_outbox_dead").set(q.dead as f64);
        let age = q.oldest_queued_at.map_or(0.0, |t| {
            (now - t.and_utc()).num_milliseconds().max(0) as f64 / 1000.0
        });
        gauge!("yiqi_mail_outbox_oldest_queued_age_seconds").set(age);
    }
    for (job, at, ok) in state.jobs.last_runs() {
        let age = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
        gauge!("yiqi_job_last_run_age_seconds", "job" => job).set(age);
        gauge!("yiqi_job_last_run_ok", "job" => job).set(if ok { 1.0 } else { 0.0 });
    }
}

async fn exposition(state: &AppState) -> AppResult<HttpResponse> {
    let handle = handle().ok_or(AppError::NotFound { what: "metrics" })?;
    sample(state).await;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render()))
}

/// `/metrics` on the main port: only with the configured token.
#[tracing::instrument(name = "metrics.scrape", skip_all)]
pub async fn scrape(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let token = state.metrics_token.expose();
    if token.is_empty() {
        return Err(AppError::NotFound { what: "metrics" });
    }
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return Err(AppError::Unauthorized {
            code: ErrorCode::Unauthorized,
            message: "需要监控令牌 (the metrics token is required)".to_owned(),
        });
    }
    exposition(&state).await
}

/// `/metrics` on the admin listener: whoever reaches that address may read.
#[tracing::instrument(name = "metrics.scrape_admin", skip_all)]
pub async fn scrape_admin(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    exposition(&state).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
