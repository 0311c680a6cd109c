//! Logging: readable lines locally, JSON in production. Each request runs in a span carrying
//! its request id (tracing-actix-web), so every line logged while serving it names the id,
//! and the id is echoed in the `x-request-id` response header.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing_actix_web::RequestId;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls (tests start many apps) are no-ops.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let result = match settings.format {
        LogFormat::Json => fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .try_init(),
        LogFormat::Pretty => fmt().with_env_filter(filter).with_target(false).try_init(),
    };
    // Already installed (a second app in the same test process) is fine.
    drop(result);
}

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware: copies the request id that `TracingLogger` assigned into the response.
pub async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let started = std::time::Instant::now();
    let mut res = next.call(req).await?;
    // Runs inside TracingLogger's span, so the line carries the request id, method and path.
    tracing::info!(
        status = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request completed"
    );
    if let Some(id) = id {
        if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
            res.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
    }
    Ok(res)
}
