//! What a hostile user tries: redirects off the site after sign-in, making someone staff
//! without asking, mail bombing, NUL bytes, arrays for objects, probing other people's
//! reservations, replaying an Idempotency-Key with another body, and the HTTP surface (security
//! headers on every page, HEAD, 405 with Allow, 413). Both backends.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use yiqi::clock::ManualClock;
use yiqi::types::PLATFORM_ZONE;

on_both_backends!(
    sign_in_sends_people_only_to_pages_of_the_site,
    staff_join_a_unit_only_by_accepting_and_leave_with_what_they_had,
    mail_sending_requests_are_limited_the_same_for_known_and_unknown_addresses,
    nul_bytes_are_bad_input_everywhere,
    enabling_an_active_account_keeps_its_sessions,
    arrays_are_not_objects,
    reservations_others_may_not_see_do_not_exist_for_them,
    an_idempotency_key_reused_for_another_booking_is_refused,
    every_page_sends_the_security_headers,
    head_is_answered_and_wrong_methods_name_the_right_ones,
    bodies_over_the_limit_are_413,
);

/// Friday 2026-11-27 10:00 in Changchun.
fn t0() -> DateTime<Utc> {
    PLATFORM_ZONE
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn rig(db: TestDb) -> (TestApp, SmtpServer, Arc<ManualClock>) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(t0());
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    (app, smtp, clock)
}

fn cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Posts the sign-in form with `next` and returns (status, Location).
async fn sign_in_with_next(app: &TestApp, next: &str) -> (u16, String) {
    let page = app.get("/login").await;
    let csrf = cookie_of(&page, "yiqi_csrf").expect("a CSRF cookie");
    let res = app
        .client
        .post(format!("{}/login", app.address))
        .header("cookie", format!("yiqi_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "researcher@yiqi.demo"),
            ("password", yiqi::seed::DEMO_PASSWORD),
            ("next", next),
        ])
        .send()
        .await
        .expect("request");
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status().as_u16(), location)
}

async fn sign_in_sends_people_only_to_pages_of_the_site(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    for next in [
        "/\t/evil.example",
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        " //evil.example",
        "/\r\n/evil.example",
    ] {
        let (status, location) = sign_in_with_next(&app, next).await;
        assert_eq!(status, 303, "next={next:?}");
        assert!(
            location.starts_with('/') && !location.starts_with("//") && !location.contains('\\'),
            "next={next:?} went to {location:?}"
        );
    }
    // A header split is not possible and is not a 500.
    let (status, location) = sign_in_with_next(&app, "/me\r\nSet-Cookie: x=y").await;
    assert_eq!(status, 303);
    assert!(
        !location.contains('\n') && !location.contains('\r'),
        "{location:?}"
    );
    // A page of the site keeps its query.
    assert_eq!(
        sign_in_with_next(&app, "/reservations?status=pending").await,
        (303, "/reservations?status=pending".to_owned())
    );
}

async fn staff_join_a_unit_only_by_accepting_and_leave_with_what_they_had(db: TestDb) {
    let (app, smtp, _clock) = rig(db).await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, before) = app.call("GET", "/api/v1/me", Some(&researcher), None).await;
    assert_eq!(before["role"], "researcher");
    let own_org = before["organisation"]["id"].clone();
    assert!(own_org.is_number(), "{before}");

    // The unit admin can only invite; nothing about the person changes yet.
    let invite = json!({"email": "researcher@yiqi.demo", "role": "instrument_manager"});
    let (status, inv) = app
        .post("/api/v1/units/1/staff", Some(&admin), invite.clone())
        .await;
    assert_eq!(status, 202, "{inv}");
    assert_eq!(inv["status"], "pending");
    // A second click finds the same invitation.
    let (status, again) = app
        .post("/api/v1/units/1/staff", Some(&admin), invite.clone())
        .await;
    assert_eq!((status, &again["id"]), (202, &inv["id"]));
    let mail = smtp.wait_for("researcher@yiqi.demo", "单位人员邀请").await;
    assert!(mail.part("text/plain").contains("/me/invitations"));
    let (_, unchanged) = app.call("GET", "/api/v1/me", Some(&researcher), None).await;
    assert_eq!(unchanged["role"], "researcher");
    assert_eq!(unchanged["organisation"]["id"], own_org);

    // Only the person invited may answer it.
    let manager = app.token("manager@yiqi.demo").await;
    let accept = format!("/api/v1/me/invitations/{}/accept", inv["id"]);
    let (status, _) = app.post(&accept, Some(&manager), json!({})).await;
    assert_eq!(status, 404);

    let (_, mine) = app
        .call("GET", "/api/v1/me/invitations", Some(&researcher), None)
        .await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    let (status, joined) = app.post(&accept, Some(&researcher), json!({})).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["role"], "instrument_manager");
    assert_eq!(joined["unit_id"], 1);
    assert_ne!(joined["organisation"]["id"], own_org);
    let (status, p) = app.post(&accept, Some(&researcher), json!({})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invitation_answered"))
    );

    // Leaving gives back the organisation they had.
    let (status, left) = app
        .call(
            "DELETE",
            &format!("/api/v1/units/1/staff/{}", joined["id"]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{left}");
    assert_eq!(left["role"], "researcher");
    assert_eq!(left["unit_id"], Value::Null);
    assert_eq!(left["organisation"]["id"], own_org);

    // Declining changes nothing.
    let (status, inv) = app
        .post("/api/v1/units/1/staff", Some(&admin), invite.clone())
        .await;
    assert_eq!(status, 202, "{inv}");
    let (status, declined) = app
        .post(
            &format!("/api/v1/me/invitations/{}/decline", inv["id"]),
            Some(&researcher),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["role"], "researcher");
    assert_eq!(declined["organisation"]["id"], own_org);
    let (_, mine) = app
        .call("GET", "/api/v1/me/invitations", Some(&researcher), None)
        .await;
    assert_eq!(mine, json!([]));

    // A platform admin is never invited to a unit.
    let (status, p) = app
        .post(
            "/api/v1/units/1/staff",
            Some(&admin),
            json!({"email": "admin@yiqi.demo", "role": "unit_admin"}),
        )
        .await;
    assert_eq!((status, p["code"].as_str()), (409, Some("platform_admin")));
}

async fn mail_sending_requests_are_limited_the_same_for_known_and_unknown_addresses(db: TestDb) {
    let (app, smtp, _clock) = rig(db).await;
    let reset = |email: &'static str| {
        let app = &app;
        async move {
            app.post("/api/v1/auth/password-reset", None, json!({"email": email}))
                .await
        }
    };
    for email in ["researcher@yiqi.demo", "nobody-here@example.cn"] {
        for n in 1..=5 {
            let (status, body) = reset(email).await;
            assert_eq!(status, 202, "{email} #{n}: {body}");
        }
        let (status, p) = reset(email).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (429, Some("rate_limited")),
            "{email}: {p}"
        );
    }
    // The five that were answered reached the owner; the sixth did not.
    smtp.wait_for_count("researcher@yiqi.demo", "重置", 5).await;

    // Registering the same address over and over is limited in the same way.
    let registration = json!({"email": "new-person@example.cn", "password": "长白山天池 2026 ok",
        "name": "李博士", "phone": "0431-85166666", "organisation_id": 3});
    for n in 1..=5 {
        let (status, body) = app
            .post("/api/v1/auth/register", None, registration.clone())
            .await;
        assert_eq!(status, 202, "#{n}: {body}");
    }
    let (status, _) = app
        .post("/api/v1/auth/register", None, registration.clone())
        .await;
    assert_eq!(status, 429);

    // One client cannot spread the bombing over many addresses either.
    let mut refused = 0;
    for n in 0..60 {
        let (status, _) = app
            .post(
                "/api/v1/auth/password-reset",
                None,
                json!({"email": format!("target{n}@example.cn")}),
            )
            .await;
        if status == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} of 60 refused");
}

async fn nul_bytes_are_bad_input_everywhere(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    for path in [
        "/api/v1/instruments?city=%00",
        "/api/v1/instruments?city=%E9%95%BF%00",
        "/api/v1/instruments/%00",
    ] {
        let p = app.problem(path, 400).await;
        assert!(p["field"].is_string(), "{path}: {p}");
    }
    let (status, p) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a\u{0}b@x.cn", "password": "x"}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("email")), "{p}");
    let admin = app.token("admin@yiqi.demo").await;
    let (status, p) = app
        .call(
            "PATCH",
            "/api/v1/units/1",
            Some(&admin),
            Some(json!({"description": "共享\u{0}"})),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("description")),
        "{p}"
    );
    // A form field: the page says it is bad input.
    let res = app
        .client
        .post(format!("{}/login", app.address))
        .form(&[("email", "a\u{0}b@x.cn"), ("password", "x")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 400);
    // Nothing was broken for the next person.
    assert_eq!(app.get("/api/v1/instruments?city=长春").await.status(), 200);
}

async fn enabling_an_active_account_keeps_its_sessions(db: TestDb) {
    let (app, _smtp, clock) = rig(db).await;
    let admin = app.token("admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, me) = app.call("GET", "/api/v1/me", Some(&researcher), None).await;
    let (_, admin_me) = app.call("GET", "/api/v1/me", Some(&admin), None).await;
    // Revoking is "tokens issued before now": a later instant makes it visible.
    clock.advance(chrono::Duration::minutes(1));
    for id in [&me["id"], &admin_me["id"]] {
        let (status, body) = app
            .post(
                &format!("/api/v1/admin/users/{id}/enable"),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for token in [&researcher, &admin] {
        let (status, body) = app.call("GET", "/api/v1/me", Some(token), None).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn arrays_are_not_objects(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    let (status, p) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!(["researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD]),
        )
        .await;
    assert_eq!(status, 400, "{p}");
    let admin = app.token("unit-admin@yiqi.demo").await;
    let instrument = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let managers = |app: &TestApp| -> i64 {
        let mut conn = app.db.connect();
        let rows: Vec<Count> = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM instrument_managers WHERE instrument_id = {instrument}"
        ))
        .load(&mut conn)
        .expect("count managers");
        rows[0].n
    };
    let before = managers(&app);
    assert!(before > 0);
    for body in [
        json!([[]]),
        json!([]),
        json!({"user_ids": [[]]}),
        json!("x"),
    ] {
        let (status, p) = app
            .call(
                "PUT",
                &format!("/api/v1/instruments/{instrument}/managers"),
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {p}");
    }
    assert_eq!(managers(&app), before);
}

fn sh(d: u32, h: u32) -> String {
    PLATFORM_ZONE
        .with_ymd_and_hms(2026, 12, d, h, 0, 0)
        .unwrap()
        .to_rfc3339()
}

/// An instrument of unit 1 that the demo manager does not manage, open to everyone.
async fn unmanaged_instrument(app: &TestApp) -> i64 {
    let manager = app.token("manager@yiqi.demo").await;
    let (_, me) = app.call("GET", "/api/v1/me", Some(&manager), None).await;
    let manager_id = me["id"].as_i64().unwrap();
    let list = app.json("/api/v1/instruments?unit=1&per_page=20").await;
    let mut conn = app.db.connect();
    let mut chosen = None;
    for item in list["items"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        let rows: Vec<Count> = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM instrument_managers WHERE instrument_id = {id} AND user_id = {manager_id}"
        ))
        .load(&mut conn)
        .expect("managers");
        if rows[0].n == 0 {
            chosen = Some(id);
            break;
        }
    }
    let id = chosen.expect("unit 1 has an instrument the demo manager does not run");
    app.open(id).await;
    id
}

async fn reservations_others_may_not_see_do_not_exist_for_them(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    let instrument = unmanaged_instrument(&app).await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, booked) = app
        .post(
            "/api/v1/reservations",
            Some(&researcher),
            json!({"instrument_id": instrument, "kind": "machine_time",
                "starts_at": sh(1, 9), "ends_at": sh(1, 11), "purpose": "表征"}),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let id = &booked["id"];
    let manager = app.token("manager@yiqi.demo").await;
    let missing = app
        .call("GET", "/api/v1/reservations/99999999", Some(&manager), None)
        .await;
    assert_eq!(missing.0, 404);
    let hidden = app
        .call(
            "GET",
            &format!("/api/v1/reservations/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(hidden, missing, "another's reservation looks missing");
    let (status, p) = app
        .post(
            &format!("/api/v1/reservations/{id}/approve"),
            Some(&manager),
            json!({}),
        )
        .await;
    assert_eq!((status, &p["code"]), (404, &missing.1["code"]), "{p}");
    // Those who may see it still do.
    let admin = app.token("unit-admin@yiqi.demo").await;
    for token in [&researcher, &admin] {
        let (status, r) = app
            .call(
                "GET",
                &format!("/api/v1/reservations/{id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!((status, &r["status"]), (200, &json!("pending")), "{r}");
    }
}

async fn an_idempotency_key_reused_for_another_booking_is_refused(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    let instrument = unmanaged_instrument(&app).await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let book = |starts: u32| {
        let (app, researcher) = (&app, &researcher);
        async move {
            let res = app
                .client
                .post(format!("{}/api/v1/reservations", app.address))
                .bearer_auth(researcher)
                .header("Idempotency-Key", "booking-7f3a")
                .json(&json!({"instrument_id": instrument, "kind": "machine_time",
                    "starts_at": sh(2, starts), "ends_at": sh(2, starts + 1)}))
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, first) = book(9).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = book(9).await;
    assert!(status == 200 || status == 201, "{again}");
    assert_eq!(again["id"], first["id"]);
    let (status, p) = book(13).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["code"], "idempotency_key_reused");
    assert_eq!(p["field"], "Idempotency-Key");
    let (_, mine) = app
        .call("GET", "/api/v1/reservations", Some(&researcher), None)
        .await;
    let at_13 = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["instrument_id"] == instrument)
        .count();
    assert_eq!(at_13, 1, "one booking, not two: {mine}");
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn every_page_sends_the_security_headers(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    let routes = yiqi::http::routes::table(yiqi::routes);
    let gets: Vec<_> = routes
        .iter()
        .filter(|r| r.method == actix_web::http::Method::GET)
        .collect();
    assert!(gets.len() > 40, "{} GET routes", gets.len());
    let mut paths: Vec<String> = gets.iter().map(|r| common::concrete(&r.path)).collect();
    // Answers the routes do not declare carry them too.
    paths.push("/no-such-page".into());
    paths.push("/api/v1/no-such-thing".into());
    for path in &paths {
        let res = app.get(path).await;
        let status = res.status().as_u16();
        assert!(status < 500, "GET {path}: {status}");
        let csp = header(&res, "content-security-policy");
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'"),
            "GET {path}: {csp:?}"
        );
        assert_eq!(
            header(&res, "x-content-type-options"),
            "nosniff",
            "GET {path}"
        );
        assert_eq!(header(&res, "referrer-policy"), "same-origin", "GET {path}");
        assert_eq!(header(&res, "x-frame-options"), "DENY", "GET {path}");
        assert_eq!(
            header(&res, "strict-transport-security"),
            "",
            "GET {path}: plain HTTP"
        );
    }
    // In production behind TLS, browsers are told to stay on HTTPS.
    let https = TestApp::spawn_with(TestDb::sqlite().seeded(), |db| {
        let mut s = common::settings(db);
        s.server.public_url = "https://yiqi.example.cn".into();
        s
    })
    .await;
    let res = https.get("/").await;
    assert!(
        header(&res, "strict-transport-security").contains("max-age="),
        "{:?}",
        res.headers()
    );
}

async fn head_is_answered_and_wrong_methods_name_the_right_ones(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    for path in ["/health", "/api/v1/instruments", "/", "/instruments"] {
        let res = app
            .client
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "HEAD {path}");
        assert!(res.bytes().await.expect("body").is_empty(), "HEAD {path}");
    }
    for (method, path, allow) in [
        ("DELETE", "/health", "GET, HEAD"),
        ("POST", "/api/v1/instruments", "GET, HEAD"),
        ("GET", "/api/v1/auth/login", "POST"),
        ("PUT", "/api/v1/units/1", "GET, HEAD, PATCH"),
    ] {
        let res = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.address),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(header(&res, "allow"), allow, "{method} {path}");
        assert_eq!(header(&res, "content-type"), "application/problem+json");
    }
    // An unknown path is still 404.
    assert_eq!(app.get("/api/v1/nothing-here").await.status(), 404);
}

async fn bodies_over_the_limit_are_413(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    let big = json!({"email": "a@b.cn", "password": "x".repeat(70 * 1024)});
    let (status, p) = app.post("/api/v1/auth/login", None, big).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (413, Some("payload_too_large")),
        "{p}"
    );
    // Just under the limit is read and judged on its content.
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a@b.cn", "password": "x".repeat(60 * 1024)}),
        )
        .await;
    assert_eq!(status, 401);
}
