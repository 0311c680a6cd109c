//! Several instances on one database, the way a province scales out behind a proxy: the
//! limits count across them, an edit made through one is served by the other once its watch
//! has read the change counters, and the jobs take each item once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use yiqi::clock::{Clock, ManualClock};

use crate::common::{self, beijing, TestApp, TestDb};

/// The watch's interval in these tests.
const POLL_MS: u64 = 50;

fn instance(db: &TestDb) -> yiqi::config::Settings {
    let mut s = common::settings(db);
    // Figures never age on the test's clock: only the watch can make them stale.
    s.catalogue.counts_ttl_secs = 3600;
    s.catalogue.changes_poll_ms = POLL_MS;
    s.auth.login_max_failures_per_account = 3;
    s.auth.mail_max_per_email = 2;
    s
}

/// Two servers on one seeded database, on one clock.
async fn two_instances(db: TestDb) -> (TestApp, TestApp, Arc<ManualClock>) {
    let clock = ManualClock::at(beijing(2026, 11, 28, 10, 0));
    let db = db.seeded();
    let other = db.alias();
    let a = TestApp::spawn_with_clock(db, instance, clock.clone()).await;
    let b = TestApp::spawn_with_clock(other, instance, clock.clone()).await;
    (a, b, clock)
}

on_both_backends!(
    a_sign_in_with_an_address_of_any_length_counts_as_a_failure,
    the_sign_in_and_mail_limits_hold_across_instances,
    an_edit_through_one_instance_is_served_by_the_other_at_its_next_poll,
    two_instances_running_the_jobs_send_each_reminder_once,
);

async fn sign_in(app: &TestApp, password: &str) -> (u16, Value) {
    sign_in_as(app, "researcher@yiqi.demo", password).await
}

async fn sign_in_as(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

async fn the_sign_in_and_mail_limits_hold_across_instances(db: TestDb) {
    let (a, b, clock) = two_instances(db).await;
    // Three failures, spread over the two instances (each saw fewer than the limit)...
    for app in [&a, &b, &a] {
        assert_eq!(sign_in(app, "wrong-password").await.0, 401);
    }
    // ...lock the account on both, even for the right password.
    for app in [&b, &a] {
        let (status, p) = sign_in(app, yiqi::seed::DEMO_PASSWORD).await;
        assert_eq!((status, p["code"].as_str()), (429, Some("rate_limited")));
    }
    // The window ends for both at once; a success clears the account's count everywhere.
    clock.advance(chrono::Duration::seconds(901));
    // The job deletes the ended windows: the account's and the address's.
    let mut conn = a.db.connect();
    assert_eq!(
        yiqi::auth::limiter::sweep(&mut conn, clock.now()).unwrap(),
        2
    );
    assert_eq!(sign_in(&b, yiqi::seed::DEMO_PASSWORD).await.0, 200);
    for app in [&a, &b] {
        assert_eq!(sign_in(app, "wrong-password").await.0, 401);
    }
    assert_eq!(sign_in(&a, yiqi::seed::DEMO_PASSWORD).await.0, 200);

    // Two reset mails to one address, asked through different instances, use its allowance.
    for app in [&a, &b] {
        assert_eq!(reset(app).await.0, 202);
    }
    let (status, p) = reset(&a).await;
    assert_eq!((status, p["code"].as_str()), (429, Some("rate_limited")));
}

/// The counters are keyed by the address typed: one too long for an index key (PostgreSQL's
/// b-tree refuses keys over about 2.7 KB) must still be a failed sign-in, not a 500 (it was).
async fn a_sign_in_with_an_address_of_any_length_counts_as_a_failure(db: TestDb) {
    let (a, _b, _clock) = two_instances(db).await;
    // Letters that do not repeat (PostgreSQL would compress a repeated pattern under the limit).
    let mut x: u64 = 7;
    let local: String = (0..8_000)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect();
    let email = format!("{local}@example.cn");
    for _ in 0..3 {
        let (status, p) = sign_in_as(&a, &email, "wrong-password").await;
        assert_eq!(status, 401, "{p}");
    }
    let (status, p) = sign_in_as(&a, &email, "wrong-password").await;
    assert_eq!((status, p["code"].as_str()), (429, Some("rate_limited")));
}

async fn reset(app: &TestApp) -> (u16, Value) {
    app.post(
        "/api/v1/auth/password-reset",
        None,
        json!({"email": "manager@yiqi.demo"}),
    )
    .await
}

/// Waits (in real time: the watch runs on a timer) until `read` answers something other than
/// `before`, and returns it with how long it took.
async fn changes_from<F, Fut>(before: &Value, read: F) -> (Value, Duration)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let started = Instant::now();
    loop {
        let now = read().await;
        if &now != before {
            return (now, started.elapsed());
        }
        // Far beyond the interval: without the watch, nothing would change for an hour.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other instance still serves {before}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn an_edit_through_one_instance_is_served_by_the_other_at_its_next_poll(db: TestDb) {
    let (a, b, _clock) = two_instances(db).await;
    let admin = a.token("unit-admin@yiqi.demo").await;
    let total = || async { b.json("/api/v1/instruments?unit=1&per_page=1").await["total"].clone() };
    let instruments = || async { b.json("/api/v1/stats").await["instruments"].clone() };
    // B computes and keeps the figures.
    let (total_before, count_before) = (total().await, instruments().await);
    let id = a.json("/api/v1/instruments?unit=1&per_page=5").await["items"][3]["id"]
        .as_i64()
        .unwrap();
    let (status, body) = a
        .post(
            &format!("/api/v1/instruments/{id}/retire"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A shows it at once; B once its watch has read the catalogue's counter.
    assert_eq!(
        a.json("/api/v1/stats").await["instruments"],
        json!(count_before.as_i64().unwrap() - 1)
    );
    let (count, waited) = changes_from(&count_before, instruments).await;
    assert_eq!(count, json!(count_before.as_i64().unwrap() - 1));
    let (after, _) = changes_from(&total_before, total).await;
    assert_eq!(after, json!(total_before.as_i64().unwrap() - 1));
    println!("B served the retirement after {waited:?} (watch every {POLL_MS} ms)");

    // Booking rules: A closes the instrument's Mondays but 10:00–12:00; B's availability
    // follows.
    let open = a.open_instrument().await;
    let monday = format!(
        "/api/v1/instruments/{open}/availability?from={}&to={}",
        enc(beijing(2026, 11, 30, 0, 0)),
        enc(beijing(2026, 11, 30, 23, 59))
    );
    let free = || async { b.json(&monday).await["free"].clone() };
    let before = free().await;
    let (status, body) = a
        .call(
            "PUT",
            &format!("/api/v1/instruments/{open}/booking-settings"),
            Some(&admin),
            Some(json!({"opening_hours": {"1": [[600, 720]]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (now, _) = changes_from(&before, free).await;
    let free: Vec<_> = now.as_array().unwrap().iter().collect();
    assert_eq!(free.len(), 1, "{now}");
    assert_eq!(
        free[0]["starts_at"].as_str().map(parse),
        Some(beijing(2026, 11, 30, 10, 0))
    );
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

fn parse(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The housekeeping of both instances runs at the same instant, over 20 approved bookings
/// starting within a day: 20 reminders in all, whoever sent them.
async fn two_instances_running_the_jobs_send_each_reminder_once(db: TestDb) {
    let (a, _b, clock) = two_instances(db).await;
    let instrument = a.open_instrument().await;
    let researcher = a.token("researcher@yiqi.demo").await;
    let manager = a.token("manager@yiqi.demo").await;
    let (status, body) = a
        .call(
            "PUT",
            &format!("/api/v1/instruments/{instrument}/booking-settings"),
            Some(&manager),
            Some(json!({"max_active_per_user": 20})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids = Vec::new();
    for n in 0..20 {
        // Tuesday 1 December from 08:00, half an hour each.
        let starts = beijing(2026, 12, 1, 8, 0) + chrono::Duration::minutes(30 * n);
        let (status, body) = a
            .post(
                "/api/v1/reservations",
                Some(&researcher),
                json!({"instrument_id": instrument, "kind": "machine_time",
                    "starts_at": starts.to_rfc3339(),
                    "ends_at": (starts + chrono::Duration::minutes(30)).to_rfc3339(),
                    "purpose": "表征", "project": "国自然 52172001"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = a
            .post(
                &format!("/api/v1/reservations/{}/approve", body["id"]),
                Some(&manager),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    // The day before, when every one of them is within 24 hours.
    clock.set(beijing(2026, 11, 30, 21, 0));
    let policy = || {
        let s = instance(&a.db);
        yiqi::jobs::Policies {
            reservations: s.reservations,
            evaluation: s.evaluation,
            vouchers: s.vouchers,
        }
    };
    let pool = || {
        yiqi::db::connect_pool(&a.db.url, 4, Duration::from_secs(10))
            .unwrap()
            .0
    };
    let (pool_a, pool_b) = (pool(), pool());
    let (health_a, health_b) = (
        yiqi::jobs::JobsHealth::default(),
        yiqi::jobs::JobsHealth::default(),
    );
    let now = clock.now();
    tokio::join!(
        yiqi::jobs::run_housekeeping(&pool_a, now, &health_a, policy()),
        yiqi::jobs::run_housekeeping(&pool_b, now, &health_b, policy()),
    );
    let sent = |h: &yiqi::jobs::JobsHealth| h.snapshot()["send_reminders"]["done"].as_u64();
    assert_eq!(
        sent(&health_a).unwrap() + sent(&health_b).unwrap(),
        20,
        "each booking reminded by one instance"
    );
    use diesel::prelude::*;
    use yiqi::db::schema::mail_outbox as m;
    let reminded: Vec<Option<i64>> = m::table
        .filter(m::kind.eq("reservation_reminder"))
        .select(m::related_id)
        .load(&mut a.db.connect())
        .unwrap();
    let mut reminded: Vec<i64> = reminded.into_iter().flatten().collect();
    reminded.sort_unstable();
    ids.sort_unstable();
    assert_eq!(reminded, ids, "one reminder per booking");
}
