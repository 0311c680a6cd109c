//! The application's assembly: pool, jobs, server, and the route table.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web as aw, App, HttpResponse, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Backend;
use crate::error::{AppResult, Problem};
use crate::navigation::service::Catalogue;
use crate::state::AppState;

pub struct Application {
    server: Server,
    port: u16,
    /// The metrics listener (`server.metrics_bind`) and its port.
    metrics: Option<(Server, u16)>,
}

impl Application {
    /// Connects, migrates, seeds the demo platform into an empty database when configured,
    /// and binds the listener (port 0 picks a free one, as the tests do).
    pub fn build(settings: &Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, crate::clock::system())
    }

    /// As `build`, reading time from `clock` (tests choose the instant).
    pub fn build_with_clock(
        settings: &Settings,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let public_url = if settings.server.public_url.is_empty() {
            let host = listener.local_addr()?.ip();
            let host = if host.is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                host.to_string()
            };
            format!("http://{host}:{port}")
        } else {
            settings.server.public_url.clone()
        };
        let mut state = prepare(settings, clock.clone(), public_url)?;
        if settings.mail.sender_enabled {
            let sender = Arc::new(crate::mail::sender::Sender::from_settings(
                &settings.mail,
                clock,
            )?);
            state.mail = Some(sender.health.clone());
            crate::jobs::spawn_mail_sender(
                state.pool.clone(),
                sender,
                Duration::from_millis(settings.mail.poll_interval_ms.max(10)),
            );
        }
        if state.backend == crate::db::Backend::Sqlite {
            crate::jobs::spawn_wal_checkpoints(state.pool.clone());
            crate::jobs::spawn_backups(
                state.pool.clone(),
                state.clock.clone(),
                state.jobs.clone(),
                settings.backup.clone(),
            );
        }
        crate::jobs::spawn_housekeeping(
            state.pool.clone(),
            state.clock.clone(),
            state.jobs.clone(),
            crate::jobs::Policies {
                reservations: settings.reservations,
                evaluation: settings.evaluation,
                vouchers: settings.vouchers,
            },
        );
        if settings.catalogue.changes_poll_ms > 0 {
            crate::jobs::spawn_cache_watch(
                state.pool.clone(),
                watch_caches(&state),
                Duration::from_millis(settings.catalogue.changes_poll_ms),
            );
        }
        crate::jobs::spawn_search_refresher(
            state.pool.clone(),
            state.search.clone(),
            settings.search.clone(),
        );
        let state = aw::Data::new(state);
        crate::metrics::init();
        let metrics = if settings.server.metrics_bind.is_empty() {
            None
        } else {
            let listener = TcpListener::bind(&settings.server.metrics_bind)
                .with_context(|| format!("cannot listen on {}", settings.server.metrics_bind))?;
            let port = listener.local_addr()?.port();
            let state = state.clone();
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .route("/metrics", aw::get().to(crate::metrics::scrape_admin))
            })
            .workers(1)
            // The main server's signals stop it (run_until_stopped).
            .disable_signals()
            .listen(listener)?
            .run();
            tracing::info!(port, "metrics on {}", settings.server.metrics_bind);
            Some((server, port))
        };
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(aw::Data::new(crate::http::ErrorRenderer(
                    crate::web::error_for,
                )))
                .wrap(from_fn(crate::http::input::refuse_nul_in_uri))
                .wrap(from_fn(crate::http::headers::security_headers))
                .wrap(Compress::default())
                .wrap(from_fn(crate::telemetry::echo_request_id))
                .wrap(from_fn(crate::metrics::track))
                .wrap(TracingLogger::default())
                .configure(|cfg| crate::http::routes::serve(cfg, routes))
                .default_service(aw::to(crate::web::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(settings.server.shutdown_timeout_secs);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        tracing::info!(port, "listening on {}", settings.server.bind);
        Ok(Application {
            server: server.run(),
            port,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when `server.metrics_bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some((metrics, _)) = self.metrics else {
            return self.server.await;
        };
        let handle = metrics.handle();
        actix_web::rt::spawn(metrics);
        let result = self.server.await;
        handle.stop(true).await;
        result
    }
}

/// Database work done before serving.
fn prepare(
    settings: &Settings,
    clock: SharedClock,
    public_url: String,
) -> anyhow::Result<AppState> {
    crate::mail::templates::set_platform(&settings.platform.name);
    crate::mail::templates::set_public_url(&public_url);
    let (pool, backend) = crate::db::connect_pool(
        settings.database.url.expose(),
        settings.database.pool_size,
        Duration::from_secs(settings.database.pool_timeout_secs),
    )?;
    let mut conn = pool.get().context("no database connection")?;
    tracing::info!(database = %crate::db::Target::parse(settings.database.url.expose())?.describe(), "database connected");
    let ran = crate::db::migrate(&mut conn)?;
    if ran > 0 {
        tracing::info!(migrations = ran, "database migrated");
    }
    if settings.demo.seed_on_empty && crate::seed::is_empty(&mut conn)? {
        tracing::info!(
            scale = settings.demo.scale,
            "empty database: loading the demo platform"
        );
        let summary = crate::seed::demo(
            &mut conn,
            settings.demo.scale,
            crate::usage::service::local_day(clock.now()),
            Some(std::path::Path::new(&settings.publishing.attachment_dir)),
        )?;
        tracing::info!(%summary, "demo platform loaded");
    }
    let catalogue = Catalogue::load(
        &mut conn,
        Duration::from_secs(settings.catalogue.counts_ttl_secs),
        clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("cannot load the category tree: {e}"))?;
    drop(conn);
    let search = crate::search::service::Search::open(
        &settings.search,
        catalogue.categories.clone(),
        clock.clone(),
    )
    .context("cannot open the search index")?;
    Ok(AppState {
        pool,
        backend,
        catalogue,
        clock: clock.clone(),
        mail: None,
        auth: Arc::new(crate::auth::AuthContext::new(&settings.auth, public_url)),
        metrics_token: settings.server.metrics_token.clone(),
        jobs: Arc::new(crate::jobs::JobsHealth::default()),
        usage: settings.usage,
        evaluation: settings.evaluation,
        publishing: settings.publishing.clone(),
        vouchers: settings.vouchers,
        platform_report: Default::default(),
        usage_stats: crate::usage::stats::StatsCache::new(
            Duration::from_secs(settings.catalogue.counts_ttl_secs),
            clock.clone(),
        ),
        booking_rules: crate::reservations::rules::RulesCache::new(
            Duration::from_secs(settings.catalogue.counts_ttl_secs),
            crate::reservations::rules::MAX_CACHED_RULES,
            clock.clone(),
        ),
        rating_summaries: crate::evaluation::service::SummaryCache::new(
            Duration::from_secs(settings.catalogue.counts_ttl_secs),
            crate::evaluation::service::MAX_CACHED_SUMMARIES,
            clock.clone(),
        ),
        search,
        platform: Arc::new(settings.platform.clone()),
    })
}

/// This instance's caches, each made stale when another instance changes its data.
fn watch_caches(state: &AppState) -> crate::cache::Watch {
    use crate::cache::Topic;
    let watch = crate::cache::Watch::default();
    let catalogue = state.catalogue.clone();
    watch.on(Topic::Catalogue, move || catalogue.invalidate());
    let rules = state.booking_rules.clone();
    watch.on(Topic::BookingRules, move || rules.invalidate());
    let ratings = state.rating_summaries.clone();
    watch.on(Topic::Ratings, move || ratings.invalidate());
    // The statistics carry satisfaction too.
    for topic in [Topic::Usage, Topic::Ratings] {
        let stats = state.usage_stats.clone();
        watch.on(topic, move || stats.invalidate());
    }
    watch
}

/// The route table: every path the service answers (`crate::http::routes::table(routes)` lists them).
pub fn routes(r: &mut crate::http::routes::Routes) {
    r.get("/health", health)
        .get("/ready", ready)
        .get("/metrics", crate::metrics::scrape)
        .get("/api/docs", api_docs)
        .get("/api/docs/{file}", api_docs_file)
        .scope(
            "/api/v1",
            |s| s,
            |r| {
                r.get("/openapi.json", openapi_json);
                crate::navigation::routes(r);
                crate::search::routes(r);
                crate::users::routes(r);
                crate::reservations::routes(r);
                crate::usage::routes(r);
                crate::evaluation::routes(r);
                crate::publishing::routes(r);
                crate::vouchers::routes(r);
                crate::mail::handlers::routes(r);
            },
        );
    crate::web::routes(r);
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "ops",
    summary = "This document",
    responses(
        (status = 200, description = "OpenAPI 3.1")
    )
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::document())
}

/// The Swagger UI's files are compiled in (the `vendored` feature), so the page works
/// without the internet, reading this service's own document.
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "ops",
    summary = "Interactive API page (Swagger UI)",
    responses(
        (status = 303, description = "to `/api/docs/index.html`")
    )
)]
async fn api_docs() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/api/docs/index.html"))
        .finish()
}

#[utoipa::path(
    get,
    path = "/api/docs/{file}",
    tag = "ops",
    summary = "A file of the interactive API page",
    params(("file" = String, Path, description = "`index.html`, a script, a style sheet or an image")),
    responses(
        (status = 200, description = "the file: `text/html`, `text/css`, `text/javascript` or `image/png`"),
        (status = 404, description = "no such file", body = Problem, content_type = "application/problem+json")
    )
)]
async fn api_docs_file(file: aw::Path<String>) -> AppResult<HttpResponse> {
    static CONFIG: std::sync::LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
        std::sync::LazyLock::new(|| {
            Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json"))
        });
    let found = utoipa_swagger_ui::serve(&file, CONFIG.clone())
        .map_err(|e| crate::error::AppError::internal(anyhow::anyhow!("swagger ui: {e}")))?;
    let file = found.ok_or(crate::error::AppError::NotFound { what: "file" })?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .body(file.bytes.into_owned()))
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "ops",
    summary = "Process alive",
    responses(
        (status = 200, description = "alive")
    )
)]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the database answers. The body also shows the mail queue and the sender's
/// last success, which do not decide readiness (a dead SMTP server must not take the
/// service out of a load balancer: mail waits in the outbox).
#[utoipa::path(
    get,
    path = "/ready",
    tag = "ops",
    summary = "Database reachable; mail queue and jobs",
    responses(
        (status = 200, description = "ready"),
        (status = 503, description = "database unreachable", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "ready", skip_all)]
async fn ready(state: aw::Data<AppState>) -> AppResult<HttpResponse> {
    let queue = crate::db::run(&state.pool, |c| {
        crate::db::ping(c)?;
        Ok(crate::mail::store::status(c)?)
    })
    .await?;
    let backend = match state.backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let last_sent_at = state.mail.as_ref().and_then(|h| h.last_sent_at());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ready",
        "database": backend,
        "mail": {
            "sender_running": state.mail.is_some(),
            "queued": queue.queued,
            "sending": queue.sending,
            "dead": queue.dead,
            "oldest_queued_at": queue.oldest_queued_at.map(|t| t.and_utc()),
            "last_sent_at": last_sent_at,
        },
        "jobs": state.jobs.snapshot(),
    })))
}
