//! The unlucky cases: the database going away under a running server.

use crate::common;

#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn a_postgres_restart_costs_no_500_and_heals_itself() {
    use common::{TestApp, TestDb};
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let db = TestDb::postgres().seeded();
    let base = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = format!("yiqi-restart-{}", std::process::id());
    let app = TestApp::spawn_with(db, |db| {
        let mut s = common::settings(db);
        s.database.url = yiqi::config::Secret::new(format!("{}&application_name={name}", db.url));
        s
    })
    .await;
    assert_eq!(
        app.get("/api/v1/instruments?per_page=1").await.status(),
        200
    );

    // What a server restart does to the service: every one of its connections dies.
    let mut admin = diesel::PgConnection::establish(&base).unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'"
        ))
        .unwrap();

    // Each dead connection may fail one request with a 503 (never a 500) before the pool
    // drops it; after that every request succeeds.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            app.get("/api/v1/instruments?per_page=1")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses[statuses.len() - 8..].iter().all(|&s| s == 200),
        "{statuses:?}"
    );
    let ready = app.json("/ready").await;
    assert_eq!(ready["status"], "ready");
}
