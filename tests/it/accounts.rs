//! Accounts end to end: register → the verification mail on a real SMTP server → verify →
//! sign in → refresh (rotation, reuse revokes the family) → sign out; password reset and
//! change; rate-limited sign-in; disabled accounts; `yiqi user add`. Both backends; time is a
//! `ManualClock`.

use crate::common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use serde_json::json;
use yiqi::clock::ManualClock;

on_both_backends!(
    register_verify_sign_in_refresh_and_sign_out,
    registering_twice_tells_the_owner_not_the_caller,
    password_reset_and_change_end_other_sessions,
    sign_in_failures_are_rate_limited_without_telling_who_exists,
    access_tokens_expire_and_forgeries_are_refused,
    disabled_accounts_are_locked_out_and_audited,
    bad_bodies_are_problems_naming_the_field,
    user_add_creates_a_verified_account_from_the_shell,
    behind_a_proxy_failures_count_per_forwarded_address,
);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 8, 0, 0).unwrap()
}

async fn rig(db: TestDb) -> (TestApp, SmtpServer, Arc<ManualClock>) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(t0());
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    (app, smtp, clock)
}

fn registration(email: &str) -> serde_json::Value {
    json!({
        "email": email,
        "password": "长白山天池 2026 ok",
        "name": "李博士",
        "phone": "0431-85166666",
        "organisation_id": 3
    })
}

fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("token in link")
        .to_owned()
}

async fn register_verify_sign_in_refresh_and_sign_out(db: TestDb) {
    let (app, smtp, _clock) = rig(db).await;
    let (status, body) = app
        .post(
            "/api/v1/auth/register",
            None,
            registration("Li.Boshi@JLU.edu.cn"),
        )
        .await;
    assert_eq!(status, 202, "{body}");

    let mail = smtp.wait_for("li.boshi@jlu.edu.cn", "验证").await;
    let link = SmtpServer::link(&mail, "/verify-email?token=");
    assert!(link.starts_with(&app.address), "{link} is on this server");
    assert!(mail.part("text/html").contains("李博士"));

    // Unverified accounts may sign in and browse, not apply or book.
    let tokens = app.login("li.boshi@jlu.edu.cn", "长白山天池 2026 ok").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tokens["expires_in"], 900);
    let (status, me) = app.call("GET", "/api/v1/me", Some(&access), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["email_verified"], false);
    assert_eq!(me["role"], "researcher");
    assert!(me.get("password_hash").is_none());
    let (status, p) = app
        .post(
            "/api/v1/instruments/1/qualifications",
            Some(&access),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("email_unverified"))
    );
    // Even a booking the service could not read: the unverified account hears that first.
    let (status, p) = app
        .post(
            "/api/v1/reservations",
            Some(&access),
            json!({"instrument_id": 1, "kind": "machine_time", "starts_at": "2026-12-01 09:00"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("email_unverified"))
    );

    let token = token_of(&link);
    let (status, user) = app
        .post("/api/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email_verified"], true);
    // Single use.
    let (status, p) = app
        .post("/api/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("token")));
    let (status, _) = app
        .post(
            "/api/v1/instruments/1/qualifications",
            Some(&access),
            json!({}),
        )
        .await;
    assert_eq!(status, 201);

    // Rotation: every refresh gives a new pair; the old refresh token is spent.
    let r1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, t2) = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await;
    assert_eq!(status, 200, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    // Presenting r1 again means it was copied: the whole family is revoked, r2 included.
    let (status, p) = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (401, Some("refresh_token_reused"))
    );
    let (status, _) = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r2}))
        .await;
    assert_eq!(status, 401);

    // Sign out ends that sign-in only.
    let a = app.login("li.boshi@jlu.edu.cn", "长白山天池 2026 ok").await;
    let b = app.login("li.boshi@jlu.edu.cn", "长白山天池 2026 ok").await;
    let (status, _) = app
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": a["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": a["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": b["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200);
}

async fn registering_twice_tells_the_owner_not_the_caller(db: TestDb) {
    let (app, smtp, _clock) = rig(db).await;
    // A verified demo account: the caller learns nothing, the owner gets a note.
    let mut again = registration("researcher@yiqi.demo");
    again["name"] = json!("冒名者");
    let (status, body) = app.post("/api/v1/auth/register", None, again).await;
    assert_eq!(status, 202, "{body}");
    let (status, fresh) = app
        .post(
            "/api/v1/auth/register",
            None,
            registration("new@jlu.edu.cn"),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        body, fresh,
        "the same answer whether or not the address has an account"
    );
    let note = smtp.wait_for("researcher@yiqi.demo", "已有账户").await;
    assert!(note.part("text/plain").contains("/password-reset"));
    // The password was not changed by the second registration.
    app.login("researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD)
        .await;

    // A new client organisation is proposed with its credit code checked.
    let mut bad = registration("co@example.cn");
    bad.as_object_mut().unwrap().remove("organisation_id");
    bad["new_organisation"] = json!({"name": "长春某光电科技有限公司", "kind": "enterprise", "credit_code": "91350100M000100Y44"});
    let (status, p) = app.post("/api/v1/auth/register", None, bad.clone()).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("new_organisation.credit_code")),
        "{p}"
    );
    bad["new_organisation"]["credit_code"] = json!("91350100M000100Y43");
    let (status, _) = app.post("/api/v1/auth/register", None, bad).await;
    assert_eq!(status, 202);
    let orgs = app.json("/api/v1/organisations?status=proposed").await;
    assert_eq!(orgs["total"], 1);
    assert_eq!(orgs["items"][0]["name"], "长春某光电科技有限公司");
}

async fn password_reset_and_change_end_other_sessions(db: TestDb) {
    let (app, smtp, clock) = rig(db).await;
    let email = "researcher@yiqi.demo";
    let old = app.login(email, yiqi::seed::DEMO_PASSWORD).await;
    clock.advance(Duration::seconds(5));

    // Unknown addresses get the same answer and no mail.
    let (s1, b1) = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "nobody@x.cn"}),
        )
        .await;
    let (s2, b2) = app
        .post("/api/v1/auth/password-reset", None, json!({"email": email}))
        .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(b1, b2);
    let mail = smtp.wait_for(email, "重置密码").await;
    let token = token_of(&SmtpServer::link(&mail, "/password-reset/confirm?token="));

    let (status, p) = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("password")));
    let (status, _) = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "净月潭的新密码 2026"}),
        )
        .await;
    assert_eq!(status, 204);
    // The old sign-in is over: its access token and its refresh token.
    let (status, p) = app
        .call("GET", "/api/v1/me", old["access_token"].as_str(), None)
        .await;
    assert_eq!((status, p["code"].as_str()), (401, Some("token_revoked")));
    let (status, _) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": old["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": yiqi::seed::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
    app.login(email, "净月潭的新密码 2026").await;

    // A reset link expires after an hour.
    app.post("/api/v1/auth/password-reset", None, json!({"email": email}))
        .await;
    clock.advance(Duration::minutes(61));
    let resets = smtp.wait_for_count(email, "重置密码", 2).await;
    let late_token = token_of(&SmtpServer::link(
        &resets[1],
        "/password-reset/confirm?token=",
    ));
    assert_ne!(late_token, token);
    let (status, _) = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": late_token, "password": "又一个新密码 2026 x"}),
        )
        .await;
    assert_eq!(status, 422);

    // Changing the password keeps this session (new tokens) and ends the others.
    let this = app.login(email, "净月潭的新密码 2026").await;
    let other = app.login(email, "净月潭的新密码 2026").await;
    clock.advance(Duration::seconds(5));
    let access = this["access_token"].as_str().unwrap();
    let (status, p) = app
        .post(
            "/api/v1/me/password",
            Some(access),
            json!({"current_password": "wrong", "new_password": "松花江畔 2026 新密码"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("current_password"))
    );
    let (status, fresh) = app
        .post("/api/v1/me/password", Some(access), json!({"current_password": "净月潭的新密码 2026", "new_password": "松花江畔 2026 新密码"}))
        .await;
    assert_eq!(status, 200, "{fresh}");
    let (status, _) = app
        .call("GET", "/api/v1/me", fresh["access_token"].as_str(), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
}

async fn sign_in_failures_are_rate_limited_without_telling_who_exists(db: TestDb) {
    let (app, _smtp, clock) = rig(db).await;
    let wrong = |email: &str| json!({"email": email, "password": "not the password"});
    let (_, known) = app
        .post("/api/v1/auth/login", None, wrong("manager@yiqi.demo"))
        .await;
    let (_, unknown) = app
        .post("/api/v1/auth/login", None, wrong("ghost@yiqi.demo"))
        .await;
    assert_eq!(
        known, unknown,
        "the same problem whether or not the account exists"
    );
    assert_eq!(known["code"], "invalid_credentials");
    for _ in 0..4 {
        let (status, _) = app
            .post("/api/v1/auth/login", None, wrong("manager@yiqi.demo"))
            .await;
        assert_eq!(status, 401);
    }
    // Five failures: the account is paused, even for the right password.
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"email": "Manager@yiqi.demo", "password": yiqi::seed::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Another account from the same address still works.
    app.login("unit-admin@yiqi.demo", yiqi::seed::DEMO_PASSWORD)
        .await;
    clock.advance(Duration::seconds(retry));
    app.login("manager@yiqi.demo", yiqi::seed::DEMO_PASSWORD)
        .await;
}

async fn access_tokens_expire_and_forgeries_are_refused(db: TestDb) {
    let (app, _smtp, clock) = rig(db).await;
    let tokens = app
        .login("researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD)
        .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, _) = app.call("GET", "/api/v1/me", Some(&access), None).await;
    assert_eq!(status, 200);
    let (status, p) = app.call("GET", "/api/v1/me", None, None).await;
    assert_eq!((status, p["code"].as_str()), (401, Some("unauthorized")));
    // A changed payload (another user id) breaks the signature.
    let parts: Vec<&str> = access.split('.').collect();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("1");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );
    let (status, _) = app.call("GET", "/api/v1/me", Some(&forged), None).await;
    assert_eq!(status, 401);
    let unsigned = format!(
        "{}.{}.",
        engine.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let (status, _) = app.call("GET", "/api/v1/me", Some(&unsigned), None).await;
    assert_eq!(status, 401);
    clock.advance(Duration::seconds(900));
    let (status, p) = app.call("GET", "/api/v1/me", Some(&access), None).await;
    assert_eq!((status, p["code"].as_str()), (401, Some("token_expired")));
    // The refresh token still works and gives a fresh access token.
    let (status, t) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call("GET", "/api/v1/me", t["access_token"].as_str(), None)
        .await;
    assert_eq!(status, 200);
}

async fn disabled_accounts_are_locked_out_and_audited(db: TestDb) {
    let (app, _smtp, clock) = rig(db).await;
    let admin = app.token("admin@yiqi.demo").await;
    let researcher = app
        .login("researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD)
        .await;
    let (_, me) = app
        .call(
            "GET",
            "/api/v1/me",
            researcher["access_token"].as_str(),
            None,
        )
        .await;
    let id = me["id"].as_i64().unwrap();
    clock.advance(Duration::seconds(2));
    let (status, user) = app
        .post(
            &format!("/api/v1/admin/users/{id}/disable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["disabled"], true);
    let (status, p) = app
        .call(
            "GET",
            "/api/v1/me",
            researcher["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (401, Some("account_disabled"))
    );
    let (status, _) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": researcher["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, p) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "researcher@yiqi.demo", "password": yiqi::seed::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("account_disabled"))
    );
    // The admin cannot lock themselves out.
    let (_, admin_me) = app.call("GET", "/api/v1/me", Some(&admin), None).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/admin/users/{}/disable", admin_me["id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 409);

    let (status, log) = app
        .call(
            "GET",
            "/api/v1/admin/audit?action=user.disable",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(log["total"], 1);
    let entry = &log["items"][0];
    assert_eq!(entry["actor"]["email"], "admin@yiqi.demo");
    assert_eq!(entry["target_id"], id);
    assert_eq!(entry["before"]["disabled"], false);
    assert_eq!(entry["after"]["disabled"], true);
    assert_eq!(
        entry["at"],
        (t0() + Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/admin/users/{id}/enable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    app.login("researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD)
        .await;
}

async fn bad_bodies_are_problems_naming_the_field(db: TestDb) {
    let (app, _smtp, _clock) = rig(db).await;
    let (status, p) = app
        .post("/api/v1/auth/login", None, json!({"email": "a@b.cn"}))
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("password")),
        "{p}"
    );
    let (status, p) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a@b.cn", "password": "x", "admin": true}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("admin")), "{p}");
    let res = app
        .client
        .post(format!("{}/api/v1/auth/register", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    for (field, patch) in [
        ("email", json!({"email": "not-an-address"})),
        ("password", json!({"password": "short"})),
        ("name", json!({"name": ""})),
        ("phone", json!({"phone": "call me"})),
        ("organisation_id", json!({"organisation_id": 999999})),
    ] {
        let mut body = registration("field@example.cn");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, p) = app.post("/api/v1/auth/register", None, body).await;
        assert_eq!((status, p["field"].as_str()), (422, Some(field)), "{p}");
    }
    // Nothing was half-written: the address can still register.
    let (status, _) = app
        .post(
            "/api/v1/auth/register",
            None,
            registration("field@example.cn"),
        )
        .await;
    assert_eq!(status, 202);
}

async fn user_add_creates_a_verified_account_from_the_shell(db: TestDb) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let db = db.seeded();
    let add = |args: &[&str], password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_yiqi"))
            .args(["user", "add"])
            .args(args)
            .env("YIQI_ENV", "test")
            .env("DATABASE_URL", &db.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = add(
        &[
            "--email",
            "Ops@Jilin.gov.cn",
            "--name",
            "运维",
            "--role",
            "platform_admin",
            "--password-stdin",
        ],
        "the first admin's password",
    );
    assert!(ok, "{out}");
    let (ok, out) = add(
        &[
            "--email",
            "m@x.cn",
            "--name",
            "M",
            "--role",
            "instrument_manager",
            "--password-stdin",
        ],
        "long enough password",
    );
    assert!(!ok && out.contains("--unit"), "{out}");
    let (ok, out) = add(
        &[
            "--email",
            "w@x.cn",
            "--name",
            "W",
            "--role",
            "wizard",
            "--password-stdin",
        ],
        "long enough password",
    );
    assert!(!ok && out.contains("platform_admin"), "{out}");
    let (ok, out) = add(
        &[
            "--email",
            "s@x.cn",
            "--name",
            "S",
            "--role",
            "researcher",
            "--password-stdin",
        ],
        "short",
    );
    assert!(!ok && out.contains("10"), "{out}");
    let (ok, _) = add(
        &[
            "--email",
            "ops@jilin.gov.cn",
            "--name",
            "again",
            "--role",
            "researcher",
            "--password-stdin",
        ],
        "long enough password",
    );
    assert!(!ok, "the address is taken");

    let app = TestApp::spawn(db).await;
    let tokens = app
        .login("ops@jilin.gov.cn", "the first admin's password")
        .await;
    let (_, me) = app
        .call("GET", "/api/v1/me", tokens["access_token"].as_str(), None)
        .await;
    assert_eq!(me["role"], "platform_admin");
    assert_eq!(me["email_verified"], true);
}

async fn behind_a_proxy_failures_count_per_forwarded_address(db: TestDb) {
    let clock = ManualClock::at(t0());
    let spawn = |db: TestDb, trust: bool| {
        TestApp::spawn_with_clock(
            db,
            move |db| {
                let mut s = common::settings(db);
                s.auth.login_max_failures_per_address = 3;
                s.auth.login_max_failures_per_account = 100;
                s.auth.trust_forwarded_for = trust;
                s
            },
            clock.clone(),
        )
    };
    let app = spawn(db.seeded(), true).await;
    let attempt = |from: &'static str, n: usize| {
        app.client
            .post(format!("{}/api/v1/auth/login", app.address))
            .header("x-forwarded-for", from)
            .json(&json!({"email": format!("guess{n}@example.cn"), "password": "guess guess"}))
            .send()
    };
    for n in 0..3 {
        assert_eq!(attempt("203.0.113.7", n).await.unwrap().status(), 401);
    }
    assert_eq!(attempt("203.0.113.7", 9).await.unwrap().status(), 429);
    assert_eq!(
        attempt("198.51.100.2", 9).await.unwrap().status(),
        401,
        "another client is not held back"
    );

    // Without a trusted proxy the header is ignored: a guesser cannot pick a fresh address.
    let app2 = spawn(TestDb::sqlite().seeded(), false).await;
    for (n, from) in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
        .iter()
        .enumerate()
    {
        let status = app2
            .client
            .post(format!("{}/api/v1/auth/login", app2.address))
            .header("x-forwarded-for", *from)
            .json(&json!({"email": format!("guess{n}@example.cn"), "password": "guess guess"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, if n < 3 { 401 } else { 429 }, "attempt {n}");
    }
}
