//! What an operator watches: Prometheus metrics.

use crate::common::{self, TestApp, TestDb};
use serde_json::json;

on_both_backends!(metrics_count_requests_by_route_and_show_pool_outbox_jobs_and_bookings);

const TOKEN: &str = "metrics-token-of-the-test-0123456789";

/// The value of the first series named `name` whose labels contain every one of `labels`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            (series == name || series.starts_with(&format!("{name}{{")))
                && labels.iter().all(|want| series.contains(want))
        })
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

async fn metrics_count_requests_by_route_and_show_pool_outbox_jobs_and_bookings(db: TestDb) {
    let app = TestApp::spawn_with(db.seeded(), |db| {
        let mut s = common::settings(db);
        s.server.metrics_token = yiqi::config::Secret::new(TOKEN.to_owned());
        s.server.metrics_bind = "127.0.0.1:0".to_owned();
        s
    })
    .await;
    // Not for anyone: without the token 401, with another 401.
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Some traffic: two instrument pages, a failed sign-in, a booking made, one refused.
    let instrument = app.open_instrument().await;
    app.json(&format!("/api/v1/instruments/{instrument}")).await;
    app.json(&format!("/api/v1/instruments/{instrument}")).await;
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "researcher@yiqi.demo", "password": "not the password"}),
        )
        .await;
    assert_eq!(status, 401);
    let token = app.token("researcher@yiqi.demo").await;
    let day = (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&yiqi::types::PLATFORM_ZONE)
        .date_naive();
    let body = json!({"instrument_id": instrument, "kind": "machine_time",
        "starts_at": format!("{day}T09:00:00+08:00"), "ends_at": format!("{day}T10:00:00+08:00")});
    let (first, made) = app
        .post("/api/v1/reservations", Some(&token), body.clone())
        .await;
    assert_eq!(first, 201, "{made}");
    let (second, refused) = app.post("/api/v1/reservations", Some(&token), body).await;
    assert_eq!(second, 409, "{refused}");
    let code = refused["code"].as_str().unwrap().to_owned();

    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    // Per route pattern, never per raw path.
    let page = [
        "route=\"/api/v1/instruments/{id}\"",
        "method=\"GET\"",
        "status=\"2xx\"",
    ];
    assert!(
        value(&text, "http_requests_total", &page).unwrap() >= 2.0,
        "{text}"
    );
    assert!(!text.contains(&format!("route=\"/api/v1/instruments/{instrument}\"")));
    assert!(value(&text, "http_request_duration_seconds_bucket", &page).is_some());
    assert!(value(
        &text,
        "http_requests_total",
        &[
            "route=\"/api/v1/reservations\"",
            "method=\"POST\"",
            "status=\"4xx\""
        ]
    )
    .is_some());
    assert!(value(&text, "yiqi_bookings_created_total", &[]).unwrap() >= 1.0);
    assert!(
        value(
            &text,
            "yiqi_bookings_refused_total",
            &[&format!("code=\"{code}\"")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(value(&text, "yiqi_signin_failures_total", &[]).unwrap() >= 1.0);
    // Read when scraped: the pool, the outbox (the booking queued its e-mails), the jobs.
    assert_eq!(value(&text, "yiqi_db_up", &[]), Some(1.0));
    assert!(value(&text, "yiqi_db_pool_size", &[]).unwrap() >= 1.0);
    assert!(value(&text, "yiqi_db_pool_connections_in_use", &[]).is_some());
    assert!(value(&text, "yiqi_db_pool_waiting", &[]).is_some());
    assert!(value(&text, "yiqi_mail_outbox_queued", &[]).unwrap() >= 1.0);
    assert!(value(&text, "yiqi_mail_outbox_oldest_queued_age_seconds", &[]).is_some());
    assert!(value(
        &text,
        "yiqi_job_last_run_age_seconds",
        &["job=\"expire_reservations\""]
    )
    .is_some());

    // The admin listener answers without a token.
    let admin = app.metrics_address.clone().expect("the metrics listener");
    let res = app
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("yiqi_bookings_created_total"));
}

/// Without a token or a listener there is no /metrics at all.
#[actix_web::test]
async fn no_metrics_unless_configured() {
    let app = TestApp::spawn(TestDb::sqlite().seeded()).await;
    assert_eq!(app.get("/metrics").await.status(), 404);
}

/// A platform that started on SQLite moves to PostgreSQL: `yiqi copy-data` copies every table
/// with its ids (the demo and 5,000 service records of history), the rollups equal a rebuild,
/// both databases then serve the same answers, new rows get fresh ids, and a second copy into
/// the now non-empty target is refused.
#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn copy_data_moves_a_whole_platform_from_sqlite_to_postgres() {
    use crate::cli::{run, yiqi};
    let sqlite = TestDb::sqlite().seeded();
    let (ok, out, err) = run(yiqi()
        .args(["seed", "history", "--records", "5000", "--years", "2"])
        .env("DATABASE_URL", &sqlite.url));
    assert!(ok, "{out}{err}");
    let pg = TestDb::postgres();
    let (ok, out, err) = run(yiqi()
        .args(["copy-data", "--from", &sqlite.url, "--to", &pg.url])
        .env_remove("DATABASE_URL"));
    assert!(ok, "{out}{err}");
    assert!(out.contains("usage rollups: equal to a rebuild"), "{out}");

    // Every table, row for row: the counts it reports are the source's.
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |db: &TestDb, table: &str| -> i64 {
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<N>(&mut db.connect())
            .unwrap()
            .n
    };
    let mut tables = 0;
    for line in out.lines() {
        let Some((n, table)) = line.trim().split_once("  ") else {
            continue;
        };
        let Ok(n) = n.parse::<i64>() else { continue };
        let table = table.trim();
        assert_eq!(count(&sqlite, table), n, "{table} in SQLite");
        assert_eq!(count(&pg, table), n, "{table} in PostgreSQL");
        tables += 1;
    }
    let all: i64 = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_type = 'BASE TABLE' AND table_name <> '__diesel_schema_migrations'",
    )
    .get_result::<N>(&mut pg.connect())
    .unwrap()
    .n;
    assert_eq!(tables, all, "every table: {out}");
    assert!(count(&pg, "service_records") > 5000);
    assert!(count(&pg, "vouchers") >= 2);

    // Both serve the same platform.
    let on_sqlite = TestApp::spawn(sqlite.alias()).await;
    let on_pg = TestApp::spawn(pg).await;
    for path in [
        "/api/v1/stats",
        "/api/v1/stats?from=2018-01-01&to=2018-12-31",
        "/api/v1/sub-platforms",
        "/api/v1/instruments?unit=1&per_page=50",
        "/api/v1/voucher-programmes/1",
    ] {
        assert_eq!(on_sqlite.json(path).await, on_pg.json(path).await, "{path}");
    }
    // Sequences continue after the copied ids: a new booking on PostgreSQL gets a fresh id.
    let instrument = on_pg.open_instrument().await;
    let token = on_pg.token("researcher@yiqi.demo").await;
    let day = (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&yiqi::types::PLATFORM_ZONE)
        .date_naive();
    let (status, made) = on_pg
        .post(
            "/api/v1/reservations",
            Some(&token),
            json!({"instrument_id": instrument, "kind": "machine_time",
                "starts_at": format!("{day}T09:00:00+08:00"), "ends_at": format!("{day}T10:00:00+08:00")}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let copied_max: i64 = diesel::sql_query("SELECT MAX(id) AS n FROM reservations")
        .get_result::<N>(&mut sqlite.connect())
        .unwrap()
        .n;
    assert!(made["id"].as_i64().unwrap() > copied_max);

    // Into a database that holds a platform: refused, nothing touched.
    let (ok, _, err) = run(yiqi()
        .args(["copy-data", "--from", &sqlite.url, "--to", &on_pg.db.url])
        .env_remove("DATABASE_URL"));
    assert!(!ok && err.contains("not empty"), "{err}");
}

/// With `telemetry.otlp_endpoint` set, `yiqi serve` sends its traces to an OTLP/HTTP collector
/// (here one the test runs): a request's span is named by its route pattern, continues the
/// caller's trace from `traceparent`, holds the handler's span, and the spans still queued
/// when SIGTERM stops the service are sent before it exits.
#[actix_web::test]
async fn traces_go_to_an_otlp_collector_and_continue_the_callers_trace() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    use std::sync::{Arc, Mutex};

    // The collector: records what is posted where.
    let received: Arc<Mutex<Vec<(String, web::Bytes)>>> = Arc::default();
    let sink = received.clone();
    let collector = HttpServer::new(move || {
        let sink = sink.clone();
        App::new()
            .app_data(web::PayloadConfig::new(16 << 20))
            .default_service(web::to(
                move |req: actix_web::HttpRequest, body: web::Bytes| {
                    let sink = sink.clone();
                    async move {
                        sink.lock().unwrap().push((req.path().to_owned(), body));
                        HttpResponse::Ok().finish()
                    }
                },
            ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let collector_port = collector.addrs()[0].port();
    actix_web::rt::spawn(collector.run());

    let db = TestDb::sqlite().seeded();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{collector_port}");
    let (mut server, port) = crate::resilience::serve_with(
        &db,
        dir.path(),
        &[("YIQI__TELEMETRY__OTLP_ENDPOINT", &endpoint)],
    );
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/instruments/1"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let pid = server.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.0.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "still running");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let posts = received.lock().unwrap().clone();
    assert!(!posts.is_empty(), "nothing reached the collector");
    let mut spans = Vec::new();
    for (path, body) in &posts {
        assert_eq!(path, "/v1/traces");
        let export = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
        for resource in export.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value));
            assert!(service.unwrap_or_default().contains("yiqi"));
            spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
        }
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let request = spans
        .iter()
        .find(|s| s.name == "GET /api/v1/instruments/{id}")
        .unwrap_or_else(|| panic!("no span for the request's route among {names:?}"));
    assert_eq!(
        hex(&request.trace_id),
        trace_id,
        "the caller's trace goes on"
    );
    assert_eq!(hex(&request.parent_span_id), caller_span);
    let handler = spans
        .iter()
        .find(|s| s.name == "navigation.instrument")
        .unwrap_or_else(|| panic!("no handler span among {names:?}"));
    assert_eq!(handler.trace_id, request.trace_id);
    assert_eq!(handler.parent_span_id, request.span_id);
}
