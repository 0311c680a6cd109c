//! Booking over HTTP on both backends, at chosen instants (ManualClock, platform zone
//! Asia/Shanghai): every rule, the transitions, idempotency, and no double booking under
//! dozens of simultaneous requests.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use common::{TestApp, TestDb};
use futures_util::future::join_all;
use serde_json::{json, Value};
use yiqi::clock::{Clock, ManualClock};
use yiqi::types::PLATFORM_ZONE;

on_both_backends!(
    bookings_follow_the_rules,
    the_listing_decides_who_may_book,
    the_life_of_a_reservation,
    a_retried_request_books_once,
    dozens_racing_for_one_slot_get_exactly_one,
    sample_orders_go_their_own_way,
    a_remote_session_is_recorded_as_remote_sharing,
    the_service_expires_reminds_and_counts_no_shows,
    availability_week_grid_and_calendar_feeds,
    availability_shows_saved_rules_at_once_and_others_within_the_ttl,
    a_booking_is_listed_in_every_window_it_overlaps,
    the_unit_week_shows_bookings_however_they_were_written,
);

/// Shanghai wall time.
fn sh(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    PLATFORM_ZONE
        .with_ymd_and_hms(2026, 11, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.with_timezone(&PLATFORM_ZONE).to_rfc3339()
}

struct Rig {
    app: TestApp,
    clock: Arc<ManualClock>,
    instrument: i64,
    researcher: String,
    manager: String,
}

/// Friday 2026-11-27 10:00 in Changchun; the manager's first instrument.
async fn rig(db: TestDb) -> Rig {
    let clock = ManualClock::at(sh(27, 10, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let instrument = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    // Open to everyone (some demo instruments are not shared).
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{instrument}"),
            Some(&unit_admin),
            Some(json!({"share_mode": "external"})),
        )
        .await;
    assert_eq!(status, 200);
    let researcher = app.token("researcher@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;
    Rig {
        app,
        clock,
        instrument,
        researcher,
        manager,
    }
}

impl Rig {
    async fn book(&self, token: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> (u16, Value) {
        self.app
            .post(
                "/api/v1/reservations",
                Some(token),
                json!({"instrument_id": self.instrument, "kind": "machine_time", "starts_at": rfc(starts), "ends_at": rfc(ends), "purpose": "表征", "project": "国自然 52172001"}),
            )
            .await
    }

    async fn settings(&self, body: Value) {
        let (status, s) = self
            .app
            .call(
                "PUT",
                &format!("/api/v1/instruments/{}/booking-settings", self.instrument),
                Some(&self.manager),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{s}");
    }

    async fn step(&self, token: &str, id: &Value, step: &str, body: Value) -> (u16, Value) {
        self.app
            .post(
                &format!("/api/v1/reservations/{id}/{step}"),
                Some(token),
                body,
            )
            .await
    }
}

async fn bookings_follow_the_rules(db: TestDb) {
    let r = rig(db).await;
    r.settings(json!({"slot_minutes": 30, "min_minutes": 60, "max_minutes": 240, "notice_minutes": 120, "horizon_days": 14,
        "opening_hours": {"1": [[480, 720], [780, 1080]], "2": [[480, 1080]], "5": [[480, 1080]]},
        "closed_days": ["2026-12-01"], "academic_hour_fen": 20000, "min_fee_fen": 5000})).await;
    let code = |v: &Value| v["code"].as_str().unwrap_or_default().to_owned();
    // A time without an offset is ambiguous: 400.
    let (status, p) = r.app.post("/api/v1/reservations", Some(&r.researcher),
        json!({"instrument_id": r.instrument, "kind": "machine_time", "starts_at": "2026-11-30T09:00:00", "ends_at": "2026-11-30T10:00:00"})).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("starts_at")),
        "{p}"
    );
    for (starts, ends, expected) in [
        (sh(30, 9, 0), sh(30, 9, 30), "too_short"),
        (sh(30, 9, 0), sh(30, 14, 0), "too_long"),
        (sh(30, 9, 15), sh(30, 10, 15), "off_grid"),
        (sh(30, 7, 0), sh(30, 8, 0), "outside_opening_hours"),
        (sh(30, 11, 30), sh(30, 13, 30), "outside_opening_hours"),
        (sh(29, 9, 0), sh(29, 10, 0), "outside_opening_hours"),
        (sh(27, 11, 0), sh(27, 12, 0), "too_little_notice"),
        (sh(30, 10, 0), sh(30, 9, 0), "invalid_interval"),
    ] {
        let (status, p) = r.book(&r.researcher, starts, ends).await;
        assert_eq!(
            (status, code(&p)),
            (422, expected.to_owned()),
            "{starts}–{ends}: {p}"
        );
    }
    let dec = |d| {
        PLATFORM_ZONE
            .with_ymd_and_hms(2026, 12, d, 9, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let (status, p) = r
        .book(&r.researcher, dec(1), dec(1) + chrono::Duration::hours(1))
        .await;
    assert_eq!((status, code(&p)), (422, "closed_day".to_owned()), "{p}");
    let (status, p) = r
        .book(&r.researcher, dec(14), dec(14) + chrono::Duration::hours(1))
        .await;
    assert_eq!((status, code(&p)), (422, "too_far_ahead".to_owned()), "{p}");

    // Monday 08:00–09:30 local is Sunday 00:00–01:30 UTC: the local day decides.
    let (status, b) = r.book(&r.researcher, sh(30, 8, 0), sh(30, 9, 30)).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["status"], "pending");
    assert_eq!(b["starts_at"], "2026-11-30T00:00:00Z");
    assert_eq!(
        b["price_tier"], "academic",
        "the researcher belongs to another institute"
    );
    assert_eq!(b["fee_estimate_fen"], 30000, "1.5 h at 200 元");
    // The same slot, or one overlapping it: 409 with the interval.
    let (status, p) = r.book(&r.researcher, sh(30, 9, 0), sh(30, 10, 0)).await;
    assert_eq!(
        (status, code(&p)),
        (409, "reservation_conflict".to_owned()),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("11月30日 08:00–09:30"),
        "{p}"
    );
    // Back to back is fine; with a buffer it is not.
    let (status, _) = r.book(&r.researcher, sh(30, 9, 30), sh(30, 10, 30)).await;
    assert_eq!(status, 201);
    r.settings(json!({"buffer_minutes": 60})).await;
    let (status, p) = r.book(&r.researcher, sh(30, 11, 0), sh(30, 12, 0)).await;
    assert_eq!(
        (status, code(&p)),
        (409, "reservation_conflict".to_owned()),
        "an hour's buffer after 10:30: {p}"
    );
    // At most three active bookings per person.
    r.settings(json!({"buffer_minutes": 0, "max_active_per_user": 2}))
        .await;
    let (status, p) = r.book(&r.researcher, sh(30, 14, 0), sh(30, 15, 0)).await;
    assert_eq!(
        (status, code(&p)),
        (409, "too_many_active".to_owned()),
        "{p}"
    );

    // A ban: 403 with its end.
    r.settings(json!({"max_active_per_user": 10})).await;
    let admin = r.app.token("unit-admin@yiqi.demo").await;
    let (_, me) = r
        .app
        .call("GET", "/api/v1/me", Some(&r.researcher), None)
        .await;
    let (status, _) = r.app.post("/api/v1/bans", Some(&admin),
        json!({"user_id": me["id"], "scope": "instrument", "instrument_id": r.instrument, "reason": "三次爽约", "ends_at": "2026-12-04T16:00:00Z"})).await;
    assert_eq!(status, 201);
    let (status, p) = r.book(&r.researcher, sh(30, 14, 0), sh(30, 15, 0)).await;
    assert_eq!((status, code(&p)), (403, "banned".to_owned()), "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("2026-12-04T16:00:00"),
        "{p}"
    );
    // Qualification required: the manager without one may not book to operate it.
    r.settings(json!({"qualification_required": true})).await;
    let other = r.app.token("unit-admin@yiqi.demo").await;
    let (status, p) = r.book(&other, sh(30, 14, 0), sh(30, 15, 0)).await;
    assert_eq!(
        (status, code(&p)),
        (403, "qualification_required".to_owned()),
        "{p}"
    );
    // Automatic approval.
    r.settings(json!({"qualification_required": false, "approval_required": false}))
        .await;
    let (status, b) = r.book(&other, sh(30, 14, 0), sh(30, 15, 0)).await;
    assert_eq!(
        (status, b["status"].as_str()),
        (201, Some("approved")),
        "{b}"
    );
    assert_eq!(b["price_tier"], "own_unit");
}

async fn the_life_of_a_reservation(db: TestDb) {
    let r = rig(db).await;
    let (_, b) = r.book(&r.researcher, sh(30, 9, 0), sh(30, 10, 0)).await;
    let id = b["id"].clone();
    // The booker cannot approve their own booking; others cannot see it.
    let (status, _) = r.step(&r.researcher, &id, "approve", json!({})).await;
    assert_eq!(status, 403);
    let stranger = r.app.token("unit-admin@yiqi.demo").await;
    let (status, _) = r
        .app
        .call(
            "GET",
            &format!("/api/v1/reservations/{id}"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(status, 200, "the unit's admin sees the unit's bookings");
    // A forbidden step names the current state.
    let (status, p) = r.step(&r.manager, &id, "check-out", json!({})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    assert!(p["detail"].as_str().unwrap().contains("pending"), "{p}");
    // Reject needs a reason.
    let (status, p) = r.step(&r.manager, &id, "reject", json!({})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")));
    // A service type only matters where a service is recorded: elsewhere it is not read.
    let (status, p) = r
        .step(&r.manager, &id, "reject", json!({"service_type": "x"}))
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")), "{p}");
    // Approve, moving it an hour later (checked again for clashes).
    let (_, other) = r.book(&r.researcher, sh(30, 12, 0), sh(30, 13, 0)).await;
    let (status, p) = r
        .step(
            &r.manager,
            &id,
            "approve",
            json!({"starts_at": rfc(sh(30, 11, 30)), "ends_at": rfc(sh(30, 12, 30))}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("reservation_conflict")),
        "{p}"
    );
    let (status, a) = r
        .step(
            &r.manager,
            &id,
            "approve",
            json!({"starts_at": rfc(sh(30, 10, 0)), "ends_at": rfc(sh(30, 11, 0))}),
        )
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        (a["status"].as_str(), a["starts_at"].as_str()),
        (Some("approved"), Some("2026-11-30T02:00:00Z"))
    );
    let (status, _) = r.step(&r.manager, &id, "approve", json!({})).await;
    assert_eq!(status, 409, "approved twice");
    // Cancelling late is for the manager, not the booker.
    r.clock.set(sh(30, 9, 20));
    let researcher = r.app.token("researcher@yiqi.demo").await;
    let manager = r.app.token("manager@yiqi.demo").await;
    let (status, p) = r.step(&researcher, &other["id"], "cancel", json!({})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("too_late_to_cancel")),
        "{p}"
    );
    // Check-in not before 30 minutes ahead, then check-out writes the service record.
    let (status, p) = r.step(&manager, &id, "check-in", json!({})).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("not_now")));
    r.clock.set(sh(30, 10, 5));
    let manager = r.app.token("manager@yiqi.demo").await;
    let (status, c) = r.step(&manager, &id, "check-in", json!({})).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("in_use")), "{c}");
    let (status, p) = r.step(&manager, &id, "cancel", json!({})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "in use cannot be cancelled"
    );
    r.clock.set(sh(30, 10, 50));
    let manager = r.app.token("manager@yiqi.demo").await;
    let researcher = r.app.token("researcher@yiqi.demo").await;
    let (status, done) = r.step(&manager, &id, "check-out", json!({})).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("completed")),
        "{done}"
    );
    let mut conn = r.app.db.connect();
    use diesel::prelude::*;
    use yiqi::db::schema::service_records as s;
    let (minutes, internal, reservation): (i32, bool, Option<i64>) = s::table
        .filter(s::reservation_id.eq(id.as_i64()))
        .select((s::minutes, s::internal, s::reservation_id))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (minutes, internal, reservation),
        (45, false, id.as_i64()),
        "actual minutes, external client"
    );
    // History and the booker's list.
    let (_, mine) = r
        .app
        .call(
            "GET",
            "/api/v1/reservations?mine=true&status=completed",
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(mine["total"], 1);
    let (_, log) = r
        .app
        .call(
            "GET",
            "/api/v1/admin/audit?action=reservation.approve",
            Some(&r.app.token("admin@yiqi.demo").await),
            None,
        )
        .await;
    assert_eq!(log["total"], 1);
}

async fn a_retried_request_books_once(db: TestDb) {
    let r = rig(db).await;
    let body = json!({"instrument_id": r.instrument, "kind": "machine_time", "starts_at": rfc(sh(30, 9, 0)), "ends_at": rfc(sh(30, 10, 0))});
    let send = || {
        r.app
            .client
            .post(format!("{}/api/v1/reservations", r.app.address))
            .bearer_auth(&r.researcher)
            .header("Idempotency-Key", "9d1c-double-click")
            .json(&body)
            .send()
    };
    // A double click: both at once.
    let results = join_all([send(), send()]).await;
    let mut statuses: Vec<u16> = Vec::new();
    let mut ids = Vec::new();
    for res in results {
        let res = res.unwrap();
        statuses.push(res.status().as_u16());
        ids.push(res.json::<Value>().await.unwrap()["id"].clone());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201]);
    assert_eq!(ids[0], ids[1]);
    // A retry later returns the same booking, not a 409.
    let res = send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], ids[0]);
    let (_, mine) = r
        .app
        .call(
            "GET",
            "/api/v1/reservations?mine=true",
            Some(&r.researcher),
            None,
        )
        .await;
    assert_eq!(mine["total"], 1);
}

async fn dozens_racing_for_one_slot_get_exactly_one(db: TestDb) {
    let r = rig(db).await;
    r.settings(json!({"max_active_per_user": 100})).await;
    // 24 people, each with their own account.
    let mut conn = r.app.db.connect();
    let hash = yiqi::auth::password::hash("racing password 1").unwrap();
    let mut tokens = Vec::new();
    for n in 0..24 {
        let email = format!("racer{n}@example.cn");
        yiqi::users::service::create_verified(
            &mut conn,
            &yiqi::users::service::NewAccount {
                email: &email,
                name: "赛跑者",
                role: yiqi::auth::Role::Researcher,
                unit: None,
                organisation: None,
            },
            &hash,
            yiqi::clock::Clock::now_naive(&*r.clock),
        )
        .unwrap();
        tokens.push(
            r.app.login(&email, "racing password 1").await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for round in 0..4u32 {
        let starts = sh(30, 9 + 2 * round, 0);
        let ends = starts + chrono::Duration::minutes(90);
        let results = join_all(tokens.iter().map(|t| r.book(t, starts, ends))).await;
        let created = results.iter().filter(|(s, _)| *s == 201).count();
        let conflicts = results
            .iter()
            .filter(|(s, p)| *s == 409 && p["code"] == "reservation_conflict")
            .count();
        let busy = results.iter().filter(|(s, _)| *s == 503).count();
        assert_eq!(created, 1, "round {round}: {results:?}");
        assert_eq!(
            conflicts + busy,
            tokens.len() - 1,
            "round {round}: {results:?}"
        );
    }
    let (_, all) = r
        .app
        .call(
            "GET",
            &format!("/api/v1/reservations?instrument={}", r.instrument),
            Some(&r.manager),
            None,
        )
        .await;
    assert_eq!(all["total"], 4);
}

async fn sample_orders_go_their_own_way(db: TestDb) {
    let r = rig(db).await;
    r.settings(json!({"academic_sample_fen": 15000, "max_samples": 10}))
        .await;
    let order = |n: i32| json!({"instrument_id": r.instrument, "kind": "sample_order", "sample_count": n, "sample_description": "TiO2 粉末，测晶相", "wanted_by": "2026-12-10"});
    let (status, p) = r
        .app
        .post("/api/v1/reservations", Some(&r.researcher), order(11))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("too_many_samples"))
    );
    let (status, o) = r
        .app
        .post("/api/v1/reservations", Some(&r.researcher), order(4))
        .await;
    assert_eq!(status, 201, "{o}");
    assert_eq!(
        (o["status"].as_str(), o["fee_estimate_fen"].as_i64()),
        (Some("submitted"), Some(60000))
    );
    // Results go by e-mail unless the client asks for a printed report or to collect them.
    assert_eq!(o["result_delivery"], "electronic", "{o}");
    let mut posted = order(1);
    posted["result_delivery"] = json!("post");
    let (status, p) = r
        .app
        .post("/api/v1/reservations", Some(&r.researcher), posted)
        .await;
    assert_eq!(
        (status, p["result_delivery"].as_str()),
        (201, Some("post")),
        "{p}"
    );
    let mut pigeon = order(1);
    pigeon["result_delivery"] = json!("pigeon");
    let (status, p) = r
        .app
        .post("/api/v1/reservations", Some(&r.researcher), pigeon)
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("result_delivery")),
        "{p}"
    );
    let id = o["id"].clone();
    let (status, _) = r.step(&r.manager, &id, "approve", json!({})).await;
    assert_eq!(status, 409, "sample orders are accepted, not approved");
    let (status, p) = r.step(&r.manager, &id, "accept", json!({})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("planned_on")));
    for (step, body, expect) in [
        ("accept", json!({"planned_on": "2026-12-02"}), "accepted"),
        ("start-test", json!({}), "in_test"),
        ("report", json!({}), "reported"),
    ] {
        let (status, s) = r.step(&r.manager, &id, step, body).await;
        assert_eq!(
            (status, s["status"].as_str()),
            (200, Some(expect)),
            "{step}: {s}"
        );
    }
    // Completing it records the staff's machine time on the samples as the record's hours
    // (委托共享); the fee stays by the sample. Without the minutes, nothing is written.
    let (status, p) = r.step(&r.manager, &id, "complete", json!({})).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("machine_minutes")),
        "{p}"
    );
    let (status, p) = r
        .step(
            &r.manager,
            &id,
            "complete",
            json!({"machine_minutes": 20000}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("machine_minutes")),
        "{p}"
    );
    let (status, s) = r
        .step(&r.manager, &id, "complete", json!({"machine_minutes": 90}))
        .await;
    assert_eq!(
        (status, s["status"].as_str()),
        (200, Some("completed")),
        "{s}"
    );
    let mut conn = r.app.db.connect();
    use diesel::prelude::*;
    use yiqi::db::schema::service_records as rec;
    let (minutes, samples, way, fee): (i32, i32, String, i64) = rec::table
        .filter(rec::reservation_id.eq(id.as_i64()))
        .select((
            rec::minutes,
            rec::sample_count,
            rec::service_way,
            rec::fee_fen,
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (minutes, samples, way.as_str(), fee),
        (90, 4, "entrusted", 60000)
    );
    let (status, _) = r.step(&r.researcher, &id, "cancel", json!({})).await;
    assert_eq!(status, 409);
}

/// A remote session is recorded as 远程共享 at check-out; it cannot also be staff-operated.
async fn a_remote_session_is_recorded_as_remote_sharing(db: TestDb) {
    let r = rig(db).await;
    let booking = |extra: Value| {
        let mut body = json!({"instrument_id": r.instrument, "kind": "machine_time",
            "starts_at": rfc(sh(30, 14, 0)), "ends_at": rfc(sh(30, 15, 0))});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let app = &r.app;
        let token = r.researcher.clone();
        async move { app.post("/api/v1/reservations", Some(&token), body).await }
    };
    let (status, p) = booking(json!({"remote": true, "staff_assist": true})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("remote")), "{p}");
    let (status, b) = booking(json!({"remote": true})).await;
    assert_eq!((status, b["remote"].as_bool()), (201, Some(true)), "{b}");
    let id = b["id"].clone();
    if b["status"] == "pending" {
        assert_eq!(r.step(&r.manager, &id, "approve", json!({})).await.0, 200);
    }
    r.clock.set(sh(30, 14, 0));
    let manager = r.app.token("manager@yiqi.demo").await;
    assert_eq!(r.step(&manager, &id, "check-in", json!({})).await.0, 200);
    r.clock.set(sh(30, 15, 0));
    let manager = r.app.token("manager@yiqi.demo").await;
    let (status, done) = r.step(&manager, &id, "check-out", json!({})).await;
    assert_eq!(status, 200, "{done}");
    let mut conn = r.app.db.connect();
    use diesel::prelude::*;
    use yiqi::db::schema::service_records as rec;
    let (minutes, way): (i32, String) = rec::table
        .filter(rec::reservation_id.eq(id.as_i64()))
        .select((rec::minutes, rec::service_way))
        .first(&mut conn)
        .unwrap();
    assert_eq!((minutes, way.as_str()), (60, "remote"));
}

/// PostgreSQL's own guard: even written past the application (no lock, no check), two active
/// machine-time reservations of one instrument cannot overlap; a cancelled one may.
#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn postgres_excludes_overlaps_by_itself() {
    use diesel::connection::SimpleConnection;
    let db = TestDb::postgres().seeded();
    let mut conn = db.connect();
    let insert = |status: &str, from: &str, to: &str| {
        format!(
            "INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at) \
             VALUES (1, 1, 'machine_time', '{status}', '{from}', '{to}', 'own_unit', 0, now(), now())"
        )
    };
    conn.batch_execute(&insert("approved", "2026-12-01 01:00", "2026-12-01 03:00"))
        .unwrap();
    let err = conn
        .batch_execute(&insert("pending", "2026-12-01 02:00", "2026-12-01 04:00"))
        .unwrap_err();
    assert!(err.to_string().contains("reservations_no_overlap"), "{err}");
    conn.batch_execute(&insert("cancelled", "2026-12-01 02:00", "2026-12-01 04:00"))
        .unwrap();
    conn.batch_execute(&insert("pending", "2026-12-01 03:00", "2026-12-01 04:00"))
        .unwrap();
}

/// Kinds of the e-mails queued so far, oldest first.
fn mail_kinds(db: &TestDb) -> Vec<String> {
    use diesel::prelude::*;
    use yiqi::db::schema::mail_outbox as m;
    m::table
        .select(m::kind)
        .order(m::id)
        .load(&mut db.connect())
        .unwrap()
}

async fn the_service_expires_reminds_and_counts_no_shows(db: TestDb) {
    let r = rig(db).await;
    let policy = yiqi::config::ReservationSettings {
        no_show_limit: 2,
        no_show_window_days: 30,
        no_show_ban_days: 7,
        jobs_interval_secs: 60,
    };
    let mut conn = r.app.db.connect();
    use yiqi::reservations::jobs;
    // /ready shows the jobs' last runs (the loop ran once at start).
    let ready = r.app.json("/ready").await;
    for job in [
        "expire_reservations",
        "mark_no_shows",
        "send_reminders",
        "expire_qualifications",
        "mark_overdue_complaints",
    ] {
        assert_eq!(ready["jobs"][job]["ok"], true, "{ready}");
    }
    let (_, undecided) = r.book(&r.researcher, sh(30, 9, 0), sh(30, 10, 0)).await;
    let (_, first) = r.book(&r.researcher, sh(30, 10, 0), sh(30, 11, 0)).await;
    let (_, second) = r.book(&r.researcher, sh(30, 14, 0), sh(30, 15, 0)).await;
    for b in [&first, &second] {
        let (status, _) = r.step(&r.manager, &b["id"], "approve", json!({})).await;
        assert_eq!(status, 200);
    }
    // The day before: reminders for what starts within 24 hours, once.
    r.clock.set(sh(29, 10, 30));
    assert_eq!(
        jobs::send_reminders(&mut conn, r.clock.now()).unwrap(),
        1,
        "10:00 is within 24 h, 14:00 not yet"
    );
    assert_eq!(jobs::send_reminders(&mut conn, r.clock.now()).unwrap(), 0);
    r.clock.set(sh(29, 14, 30));
    assert_eq!(jobs::send_reminders(&mut conn, r.clock.now()).unwrap(), 1);
    // Nobody decided before the start: expired.
    r.clock.set(sh(30, 8, 59));
    assert_eq!(jobs::expire_pending(&mut conn, r.clock.now()).unwrap(), 0);
    r.clock.set(sh(30, 9, 0));
    assert_eq!(jobs::expire_pending(&mut conn, r.clock.now()).unwrap(), 1);
    // Grace of 15 minutes, then a no-show; the slot is free again.
    r.clock.set(sh(30, 10, 14));
    assert_eq!(
        jobs::mark_no_shows(&mut conn, &policy, r.clock.now()).unwrap(),
        0
    );
    r.clock.set(sh(30, 10, 15));
    assert_eq!(
        jobs::mark_no_shows(&mut conn, &policy, r.clock.now()).unwrap(),
        1
    );
    r.clock.set(sh(30, 14, 15));
    assert_eq!(
        jobs::mark_no_shows(&mut conn, &policy, r.clock.now()).unwrap(),
        1
    );
    let researcher = r.app.token("researcher@yiqi.demo").await;
    for (b, status) in [
        (&undecided, "expired"),
        (&first, "no_show"),
        (&second, "no_show"),
    ] {
        let (_, got) = r
            .app
            .call(
                "GET",
                &format!("/api/v1/reservations/{}", b["id"]),
                Some(&researcher),
                None,
            )
            .await;
        assert_eq!(got["status"], status, "{got}");
    }
    // Two no-shows within 30 days: a week's ban everywhere.
    let (status, p) = r.book(&researcher, sh(30, 18, 0), sh(30, 19, 0)).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("banned")), "{p}");
    let kinds = mail_kinds(&r.app.db);
    for kind in [
        "reservation_reminder",
        "reservation_expired",
        "reservation_no_show",
        "ban_created",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "reservation_reminder")
            .count(),
        2
    );
}

async fn availability_week_grid_and_calendar_feeds(db: TestDb) {
    let r = rig(db).await;
    r.settings(json!({"approval_required": false, "buffer_minutes": 30, "opening_hours": {"1": [[480, 1080]]}})).await;
    let (status, b) = r.book(&r.researcher, sh(30, 10, 0), sh(30, 11, 0)).await;
    assert_eq!(status, 201, "{b}");
    let (status, p) = r
        .app
        .post(
            &format!("/api/v1/instruments/{}/blackouts", r.instrument),
            Some(&r.manager),
            json!({"starts_at": rfc(sh(30, 10, 30)), "ends_at": rfc(sh(30, 12, 0)), "reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("reservation_conflict")),
        "a blackout over a booking: {p}"
    );
    let (status, _) = r.app.post(&format!("/api/v1/instruments/{}/blackouts", r.instrument), Some(&r.manager),
        json!({"starts_at": rfc(sh(30, 15, 0)), "ends_at": rfc(sh(30, 16, 0)), "reason": "液氮补充"})).await;
    assert_eq!(status, 201);
    let (status, p) = r.book(&r.researcher, sh(30, 15, 0), sh(30, 16, 0)).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("blackout")), "{p}");

    // Monday: open 08:00–18:00; busy 10:00–11:00 (+30 min buffer each side) and 15:00–16:00.
    let a = r
        .app
        .json(&format!(
            "/api/v1/instruments/{}/availability?from={}&to={}",
            r.instrument,
            urlencode(&rfc(sh(30, 0, 0))),
            urlencode(&rfc(sh(30, 23, 59)))
        ))
        .await;
    let busy = a["busy"].as_array().unwrap();
    assert_eq!(busy.len(), 2, "{a}");
    // An instrument that does not exist is a 404; one without settings of its own has the
    // defaults' opening hours.
    let window = format!(
        "availability?from={}&to={}",
        urlencode(&rfc(sh(30, 0, 0))),
        urlencode(&rfc(sh(30, 23, 59)))
    );
    let missing = r
        .app
        .get(&format!("/api/v1/instruments/999999/{window}"))
        .await;
    assert_eq!(missing.status(), 404);
    let plain = r.instrument + 1;
    let defaults = r
        .app
        .json(&format!("/api/v1/instruments/{plain}/{window}"))
        .await;
    assert!(
        !defaults["free"].as_array().unwrap().is_empty(),
        "{defaults}"
    );
    assert_eq!(busy[0]["what"], "reservation");
    assert!(
        busy[0].get("user_id").is_none(),
        "no identities in availability"
    );
    assert_eq!(busy[1]["note"], "液氮补充");
    let free = free_intervals(&a);
    let z = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        free,
        vec![
            (z(sh(30, 8, 0)), z(sh(30, 9, 30))),
            (z(sh(30, 11, 30)), z(sh(30, 15, 0))),
            (z(sh(30, 16, 0)), z(sh(30, 18, 0))),
        ],
        "{a}"
    );
    let (status, p) = r
        .app
        .call(
            "GET",
            &format!(
                "/api/v1/instruments/{}/availability?from=2026-11-30T00:00:00",
                r.instrument
            ),
            None,
            None,
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("from")));

    // The unit's week: every instrument, the busy ones with their intervals.
    let week = r.app.json("/api/v1/units/1/schedule?week=2026-W49").await;
    assert_eq!(
        week["from"], "2026-11-29T16:00:00Z",
        "Monday 00:00 in Changchun"
    );
    let units = r.app.json("/api/v1/instruments?unit=1&per_page=1").await;
    assert_eq!(
        week["instruments"].as_array().unwrap().len() as i64,
        units["total"].as_i64().unwrap()
    );
    let mine = week["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == r.instrument)
        .unwrap();
    assert_eq!(mine["busy"].as_array().unwrap().len(), 2);
    let (status, _) = r
        .app
        .call("GET", "/api/v1/units/1/schedule?week=2026-W60", None, None)
        .await;
    assert_eq!(status, 400);

    // iCalendar: the instrument's busy times, and the person's own bookings behind a secret URL.
    let parse = |text: &str| {
        let reader = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
        reader
            .map(|c| c.expect("a valid iCalendar"))
            .collect::<Vec<_>>()
    };
    let res = r
        .app
        .get(&format!(
            "/api/v1/instruments/{}/calendar.ics",
            r.instrument
        ))
        .await;
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let feed = res.text().await.unwrap();
    assert!(
        feed.contains("\r\n") && feed.lines().all(|l| l.len() <= 76),
        "CRLF, folded lines"
    );
    let cals = parse(&feed);
    assert_eq!(cals[0].events.len(), 2);
    let start = cals[0].events[0]
        .properties
        .iter()
        .find(|p| p.name == "DTSTART")
        .unwrap();
    assert_eq!(start.value.as_deref(), Some("20261130T020000Z"));
    assert!(!feed.contains("researcher"), "no identities");
    let (_, link) = r
        .app
        .post("/api/v1/me/calendar-token", Some(&r.researcher), json!({}))
        .await;
    let url = link["url"].as_str().unwrap().to_owned();
    let path = url.trim_start_matches(&r.app.address).to_owned();
    let personal = r.app.get(&path).await.text().await.unwrap();
    let cals = parse(&personal);
    assert_eq!(cals[0].events.len(), 1);
    let summary = cals[0].events[0]
        .properties
        .iter()
        .find(|p| p.name == "SUMMARY")
        .unwrap();
    assert!(
        summary.value.as_deref().unwrap().contains("已批准"),
        "{summary:?}"
    );
    // A new URL retires the old one.
    r.app
        .post("/api/v1/me/calendar-token", Some(&r.researcher), json!({}))
        .await;
    assert_eq!(r.app.get(&path).await.status(), 404);
}

/// Availability keeps an instrument's rules for `catalogue.counts_ttl_secs` (10 s): a save
/// through this instance shows at once, a change written by another instance within 10 s.
async fn availability_shows_saved_rules_at_once_and_others_within_the_ttl(db: TestDb) {
    use diesel::connection::SimpleConnection;
    let r = rig(db).await;
    r.settings(json!({"opening_hours": {"1": [[480, 1080]]}}))
        .await;
    let monday = format!(
        "/api/v1/instruments/{}/availability?from={}&to={}",
        r.instrument,
        urlencode(&rfc(sh(30, 0, 0))),
        urlencode(&rfc(sh(30, 23, 59)))
    );
    let z = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let day = vec![(z(sh(30, 8, 0)), z(sh(30, 18, 0)))];
    assert_eq!(free_intervals(&r.app.json(&monday).await), day);

    // Another instance opens Mondays 10:00–12:00 only.
    r.app
        .db
        .connect()
        .batch_execute(&format!(
            "UPDATE booking_settings SET opening_hours = '{{\"1\": [[600, 720]]}}' WHERE instrument_id = {}",
            r.instrument
        ))
        .unwrap();
    r.clock.advance(chrono::Duration::seconds(9));
    assert_eq!(
        free_intervals(&r.app.json(&monday).await),
        day,
        "within the ttl"
    );
    r.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        free_intervals(&r.app.json(&monday).await),
        vec![(z(sh(30, 10, 0)), z(sh(30, 12, 0)))],
        "after the ttl"
    );

    // A save through this instance shows at once.
    r.settings(json!({"opening_hours": {"1": [[540, 600]]}}))
        .await;
    assert_eq!(
        free_intervals(&r.app.json(&monday).await),
        vec![(z(sh(30, 9, 0)), z(sh(30, 10, 0)))]
    );
}

/// An availability answer's free intervals, as (start, end) in RFC 3339.
fn free_intervals(a: &Value) -> Vec<(String, String)> {
    a["free"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["starts_at"].as_str().unwrap().to_owned(),
                f["ends_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Internal sharing admits the unit's own people only; an instrument awaiting repair or
/// scrapping admits nobody, nor one that fails often unless its unit allows it; the
/// instrument's page says so instead of offering the button.
async fn the_listing_decides_who_may_book(db: TestDb) {
    let r = rig(db).await;
    let code = |v: &Value| v["code"].as_str().unwrap_or_default().to_owned();
    let unit_admin = r.app.token("unit-admin@yiqi.demo").await;
    let listing = |body: Value| {
        let (app, token, id) = (&r.app, unit_admin.clone(), r.instrument);
        async move {
            let (status, v) = app
                .call(
                    "PATCH",
                    &format!("/api/v1/instruments/{id}"),
                    Some(&token),
                    Some(body),
                )
                .await;
            assert_eq!(status, 200, "{v}");
        }
    };
    listing(json!({"share_mode": "internal", "run_status": "normal"})).await;
    let (status, p) = r.book(&r.researcher, sh(30, 9, 0), sh(30, 10, 0)).await;
    assert_eq!((status, code(&p)), (403, "internal_only".to_owned()), "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("本单位内部共享"),
        "{p}"
    );
    // The unit's own manager books it.
    let (status, b) = r.book(&r.manager, sh(30, 9, 0), sh(30, 10, 0)).await;
    assert_eq!(status, 201, "{b}");
    // The page tells the outsider why, and offers no button.
    let page = r
        .app
        .client
        .get(format!("{}/instruments/{}", r.app.address, r.instrument))
        .header("cookie", format!("yiqi_access={}", r.researcher))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"closed-note\"") && page.contains("本单位内部共享"),
        "{page}"
    );
    assert!(!page.contains("id=\"book\""), "{page}");

    for status_code in ["awaiting_repair", "awaiting_scrap", "frequent_fault"] {
        listing(json!({"share_mode": "external", "run_status": status_code})).await;
        let (status, p) = r.book(&r.researcher, sh(30, 11, 0), sh(30, 12, 0)).await;
        assert_eq!(
            (status, code(&p)),
            (422, "out_of_service".to_owned()),
            "{status_code}: {p}"
        );
        // Visitors are told too.
        let page = r
            .app
            .client
            .get(format!("{}/instruments/{}", r.app.address, r.instrument))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("暂停预约") && !page.contains("id=\"book\""),
            "{page}"
        );
    }
    // Failing often, the unit may still take bookings.
    r.settings(json!({"book_when_faulty": true})).await;
    let (status, b) = r.book(&r.researcher, sh(30, 11, 0), sh(30, 12, 0)).await;
    assert_eq!(status, 201, "{b}");
    listing(json!({"run_status": "awaiting_repair"})).await;
    let (status, p) = r.book(&r.researcher, sh(30, 13, 0), sh(30, 14, 0)).await;
    assert_eq!(
        (status, code(&p)),
        (422, "out_of_service".to_owned()),
        "{p}"
    );
}

/// A window's list reads only bookings that could reach into it (none is longer than
/// `MAX_BOOKING_MINUTES`, a week): one of exactly that length is still found from the minute
/// before it ends, and from its first hour.
async fn a_booking_is_listed_in_every_window_it_overlaps(db: TestDb) {
    use diesel::prelude::*;
    use yiqi::db::schema::reservations;
    let r = rig(db).await;
    let (status, b) = r.book(&r.researcher, sh(30, 9, 0), sh(30, 10, 0)).await;
    assert_eq!(status, 201, "{b}");
    // Stretched to the longest a booking may be, as if an instrument allowed a week.
    let week = chrono::Duration::minutes(yiqi::reservations::rules::MAX_BOOKING_MINUTES);
    let starts = sh(30, 10, 0) - week;
    diesel::update(reservations::table.find(b["id"].as_i64().unwrap()))
        .set(reservations::starts_at.eq(starts.naive_utc()))
        .execute(&mut r.app.db.connect())
        .unwrap();
    let listed = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let path = format!(
            "/api/v1/reservations?mine=true&from={}&to={}",
            urlencode(&rfc(from)),
            urlencode(&rfc(to))
        );
        let app = &r.app;
        let token = r.researcher.clone();
        async move {
            let (status, list) = app.call("GET", &path, Some(&token), None).await;
            assert_eq!(status, 200, "{list}");
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(sh(30, 9, 59), sh(30, 12, 0)).await,
        vec![b["id"].clone()]
    );
    assert_eq!(
        listed(starts, starts + chrono::Duration::hours(1)).await,
        vec![b["id"].clone()]
    );
    assert!(listed(sh(30, 10, 0), sh(30, 12, 0)).await.is_empty());
}

/// The unit's week grid reads bookings by the unit stored on each row: a booking written by
/// SQL without it (a data load) is there, and when an instrument moves to another unit its
/// bookings move to that unit's grid.
async fn the_unit_week_shows_bookings_however_they_were_written(db: TestDb) {
    use diesel::prelude::*;
    use yiqi::db::schema::{instruments, reservations};
    let r = rig(db).await;
    let (status, b) = r.book(&r.researcher, sh(30, 9, 0), sh(30, 10, 0)).await;
    assert_eq!(status, 201, "{b}");
    let mut conn = r.app.db.connect();
    diesel::insert_into(reservations::table)
        .values((
            reservations::instrument_id.eq(r.instrument),
            reservations::user_id.eq(4),
            reservations::kind.eq("machine_time"),
            reservations::status.eq("approved"),
            reservations::starts_at.eq(sh(30, 14, 0).naive_utc()),
            reservations::ends_at.eq(sh(30, 15, 0).naive_utc()),
            reservations::price_tier.eq("academic"),
            reservations::fee_estimate_fen.eq(0),
            reservations::created_at.eq(sh(27, 10, 0).naive_utc()),
            reservations::updated_at.eq(sh(27, 10, 0).naive_utc()),
        ))
        .execute(&mut conn)
        .unwrap();
    let busy_in = |unit: i64| {
        let app = &r.app;
        let instrument = r.instrument;
        async move {
            let week = app
                .json(&format!("/api/v1/units/{unit}/schedule?week=2026-W49"))
                .await;
            week["instruments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == instrument)
                .map(|i| {
                    i["busy"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b["starts_at"].as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                })
        }
    };
    let both = vec![
        "2026-11-30T01:00:00Z".to_owned(),
        "2026-11-30T06:00:00Z".to_owned(),
    ];
    assert_eq!(busy_in(1).await, Some(both.clone()));
    diesel::update(instruments::table.find(r.instrument))
        .set(instruments::unit_id.eq(2))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(busy_in(1).await, None);
    assert_eq!(busy_in(2).await, Some(both));
}
