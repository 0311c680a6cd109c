//! Logging: readable lines locally, JSON in production. Each request runs in a span carrying
//! its request id (tracing-actix-web), so every line logged while serving it names the id,
//! and the id is echoed in the `x-request-id` response header.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_actix_web::RequestId;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::config::{LogFormat, LogSettings};

/// Keeps the trace exporter alive; dropping it sends the spans still queued (at the end of
/// `yiqi serve`, after the listener has closed and requests in flight have finished).
#[must_use = "dropping it stops the trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(err) = provider.shutdown() {
                eprintln!("yiqi: the last traces were not exported: {err}");
            }
        }
    }
}

/// Installs the global subscriber once; later calls (tests start many apps) are no-ops.
/// With an `otlp_endpoint` (`telemetry.otlp_endpoint`; empty: none), spans also go to that
/// OTLP/HTTP collector: each request's, named by its route pattern, with the handlers' within
/// it, and each job run's as a trace of its own; a request's `traceparent` header makes its
/// span a child of the caller's.
pub fn init(log: &LogSettings, otlp_endpoint: &str) -> Telemetry {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match log.format {
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => fmt::layer().with_target(false).boxed(),
    };
    let provider = match otlp_provider(otlp_endpoint) {
        Ok(provider) => provider,
        Err(err) => {
            eprintln!("yiqi: traces are not exported: {err}");
            None
        }
    };
    let traces = provider.as_ref().map(|p| {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("yiqi"))
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                !(meta.is_span() && QUIET_POLLS.contains(&meta.name()))
            }))
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(traces)
        .try_init();
    // Already installed (a second app in the same test process): that one's export stays.
    Telemetry {
        provider: provider.filter(|_| installed.is_ok()),
    }
}

/// Spans of the loops that look for work every second or few (the mail sender, the search
/// refresher): exported, an idle service would send a trace for each look.
const QUIET_POLLS: [&str; 3] = ["job.mail_sender", "mail.send_due", "job.search_refresh"];

/// The exporter for a collector's base URL (`http://collector:4318`, spans go to
/// `/v1/traces` under it) or its full traces URL; an empty endpoint exports nothing.
fn otlp_provider(endpoint: &str) -> anyhow::Result<Option<SdkTracerProvider>> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    if endpoint.is_empty() {
        return Ok(None);
    }
    if !endpoint.starts_with("http://") {
        anyhow::bail!(
            "telemetry.otlp_endpoint must be an http:// address (a collector beside the \
             service; it forwards over TLS), not {endpoint:?}"
        );
    }
    let url = if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("yiqi")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
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

#[cfg(test)]
mod tests {
    use super::otlp_provider;

    #[test]
    fn only_a_plain_http_collector_is_accepted() {
        assert!(otlp_provider("").unwrap().is_none());
        assert!(otlp_provider("  ").unwrap().is_none());
        let err = otlp_provider("https://tempo:4318").unwrap_err().to_string();
        assert!(err.contains("http://"), "{err}");
        assert!(otlp_provider("tempo:4318").is_err());
    }
}
