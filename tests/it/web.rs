//! The server-rendered pages, read as HTML (the browser walk-through is in browser.rs).

use crate::common;

use common::{TestApp, TestDb};

on_both_backends!(
    pages_show_the_catalogue,
    bad_pages_answer_with_a_readable_page,
    forms_without_the_csrf_token_are_refused,
    the_machine_hour_pages_carry_a_reduction_through,
    a_manager_checks_out_with_idle_time,
    staff_invitations_are_answered_on_the_invitee_page,
    every_form_post_needs_the_csrf_token,
    a_link_shared_through_wechat_opens_the_page,
    signing_in_returns_to_the_page_with_the_chosen_time,
    pages_offer_what_works_and_say_why_in_words_at_the_field,
    the_queue_gives_what_a_manager_decides_from,
    managers_set_rules_and_prices_in_yuan_on_a_form,
    a_manager_answers_a_rating_from_the_list,
    complaints_are_filed_and_handled_from_the_pages,
    a_unit_writes_a_notice_and_the_platform_publishes_it,
);

async fn page(app: &TestApp, path: &str, status: u16) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), status, "GET {path}");
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/html"), "GET {path}: {ctype}");
    res.text().await.unwrap()
}

async fn pages_show_the_catalogue(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let home = page(&app, "/", 200).await;
    assert!(home.contains("<b>1940</b>"), "instrument figure");
    assert!(home.contains("<b>72</b>") && home.contains("<b>13</b>"));
    assert!(home.contains("分析测试子平台") && home.contains("长白山特色资源与中医药子平台"));
    assert!(home.contains("/instruments?category=010000"));

    let list = page(
        &app,
        "/instruments?category=010000&city=%E9%95%BF%E6%98%A5",
        200,
    )
    .await;
    let api = app
        .json("/api/v1/instruments?category=010000&city=%E9%95%BF%E6%98%A5")
        .await;
    assert!(
        list.contains(&format!("共 {} 条", api["total"])),
        "same total as the API"
    );
    let first = api["items"][0]["name_zh"].as_str().unwrap();
    assert!(list.contains(first));
    assert!(list.contains("rel=\"next\""), "a next-page link");
    assert!(list.contains("page=2"));
    assert!(
        list.contains("<option value=\"010000\" selected>"),
        "the filter shows its choice"
    );

    let unit = page(&app, "/units/1", 200).await;
    assert!(unit.contains("吉林大学") && unit.contains("本单位仪器"));
    let sp = page(&app, "/sub-platforms/1", 200).await;
    assert!(sp.contains("分析测试子平台") && sp.contains("/units/1"));
    let detail = page(&app, "/instruments/1", 200).await;
    let one = app.json("/api/v1/instruments/1").await;
    assert!(detail.contains(one["model"].as_str().unwrap()));
    assert!(detail.contains("万元"));

    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(app.get("/static/htmx.min.js").await.status(), 200);
}

async fn a_link_shared_through_wechat_opens_the_page(db: TestDb) {
    // WeChat adds these to every link it passes on; the pages ignore what they do not know,
    // and still read what they do.
    let app = TestApp::spawn(db.seeded()).await;
    let wechat = "from=singlemessage&isappinstalled=0";
    for path in [
        "/",
        "/instruments",
        "/instruments/1",
        "/units/1",
        "/sub-platforms/1",
        "/stats",
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let shown = page(&app, &format!("{path}{sep}{wechat}"), 200).await;
        assert!(!shown.contains("请求有误"), "GET {path}: {shown}");
    }
    let filtered = page(
        &app,
        &format!("/instruments?city=%E9%95%BF%E6%98%A5&{wechat}"),
        200,
    )
    .await;
    let api = app
        .json("/api/v1/instruments?city=%E9%95%BF%E6%98%A5")
        .await;
    assert!(filtered.contains(&format!("共 {} 条", api["total"])));
    let found = page(&app, &format!("/instruments?q=SEM&{wechat}"), 200).await;
    assert!(found.contains("显微镜") && found.contains("<b>"), "{found}");
    // The statistics page has a `from` of its own (a date), which WeChat's does not spoil.
    let stats = page(&app, "/stats?from=2026-01-01&to=2026-06-30", 200).await;
    assert!(stats.contains("2026-06-30"));
    page(&app, "/stats?from=someday", 400).await;
    // A value the page knows is still checked, and the API stays strict.
    page(&app, &format!("/instruments?status=broken&{wechat}"), 400).await;
    let problem = app
        .problem(&format!("/api/v1/instruments?{wechat}"), 400)
        .await;
    assert_eq!(problem["field"], "from", "{problem}");
}

async fn signing_in_returns_to_the_page_with_the_chosen_time(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let chosen = "/instruments/5/book?date=2026-12-08&start=14:30&end=16:00";
    let res = app.get(chosen).await;
    assert_eq!(res.status(), 303);
    let login = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        login,
        "/login?next=%2Finstruments%2F5%2Fbook%3Fdate%3D2026-12-08%26start%3D14%3A30%26end%3D16%3A00"
    );
    // The sign-in form carries it, and signing in goes back there.
    let form = app.get(&login).await;
    let csrf = set_cookie(&form, "yiqi_csrf").expect("a CSRF cookie");
    let html = form.text().await.unwrap();
    assert!(
        html.contains(
            "value=\"/instruments/5/book?date=2026-12-08&#38;start=14:30&#38;end=16:00\""
        ),
        "{html}"
    );
    let ok = post_login(
        &app,
        &csrf,
        "researcher@yiqi.demo",
        "/instruments/5/book?date=2026-12-08&start=14:30&end=16:00",
    )
    .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], chosen);
    let access = set_cookie(&ok, "yiqi_access").expect("a session cookie");
    let (status, book) = page_as(
        &app,
        &format!("yiqi_csrf={csrf}; yiqi_access={access}"),
        chosen,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        book.contains("value=\"14:30\"") && book.contains("value=\"16:00\""),
        "{book}"
    );
    // A link followed inside the page (htmx's boost) is sent there by HX-Redirect.
    let boosted = app
        .client
        .get(format!("{}{chosen}", app.address))
        .header("hx-request", "true")
        .header("hx-boosted", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(boosted.headers()["hx-redirect"], login.as_str());
    // A fragment asked for by htmx is not sent to the sign-in page.
    let fragment = app
        .client
        .get(format!("{}/me", app.address))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(fragment.status(), 401);
}

async fn bad_pages_answer_with_a_readable_page(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let missing = page(&app, "/instruments/999999", 404).await;
    assert!(missing.contains("页面不存在") && missing.contains("返回首页"));
    let bad = page(&app, "/instruments?status=broken", 400).await;
    assert!(bad.contains("请求有误") && bad.contains("status"));
    // In words, without the API's English gloss.
    assert!(bad.contains("不能是 broken"), "{bad}");
    assert!(!bad.contains("is not one of"), "{bad}");
    let bad = page(&app, "/instruments?page=zwei", 400).await;
    assert!(
        bad.contains("之间的整数") && !bad.contains("whole number"),
        "{bad}"
    );
    page(&app, "/no/such/page", 404).await;
    page(&app, "/static/nothing.js", 404).await;
}

/// The value of cookie `name` set by `res`.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default()[name.len() + 1..].to_owned())
}

async fn forms_without_the_csrf_token_are_refused(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let res = app.get("/login").await;
    let csrf = set_cookie(&res, "yiqi_csrf").expect("a CSRF cookie on the first page");
    let header = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("yiqi_csrf="))
        .unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("name=\"csrf\" value=\"{csrf}\"")));

    let login = |cookie: Option<String>, field: &str| {
        let mut form = vec![
            ("email", "admin@yiqi.demo".to_owned()),
            ("password", yiqi::seed::DEMO_PASSWORD.to_owned()),
            ("next", "https://evil.example/steal".to_owned()),
        ];
        form.push(("csrf", field.to_owned()));
        let mut req = app
            .client
            .post(format!("{}/login", app.address))
            .form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", format!("yiqi_csrf={c}"));
        }
        req.send()
    };
    // A cross-site form post carries no cookie, or not the matching one.
    assert_eq!(login(None, &csrf).await.unwrap().status(), 403);
    assert_eq!(
        login(Some(csrf.clone()), "forged").await.unwrap().status(),
        403
    );
    let ok = login(Some(csrf.clone()), &csrf).await.unwrap();
    assert_eq!(ok.status(), 303);
    // `next` never leads off the site.
    assert_eq!(ok.headers()["location"], "/me");
    let session = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("yiqi_access="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
}

/// Signs in through the login form: the cookie header of the session and its CSRF token.
async fn signed_in(app: &TestApp, email: &str) -> (String, String) {
    let res = app.get("/login").await;
    let csrf = set_cookie(&res, "yiqi_csrf").expect("a CSRF cookie");
    let ok = post_login(app, &csrf, email, "").await;
    assert_eq!(ok.status(), 303, "sign in {email}");
    let access = set_cookie(&ok, "yiqi_access").expect("a session cookie");
    (format!("yiqi_csrf={csrf}; yiqi_access={access}"), csrf)
}

/// Posts the login form with the demo password, the CSRF token and `next` (empty: none).
async fn post_login(app: &TestApp, csrf: &str, email: &str, next: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/login", app.address))
        .header("cookie", format!("yiqi_csrf={csrf}"))
        .form(&[
            ("email", email),
            ("password", yiqi::seed::DEMO_PASSWORD),
            ("csrf", csrf),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

async fn page_as(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post_as(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = app
        .client
        .post(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.text().await.unwrap();
    (status, if status == 303 { location } else { body })
}

async fn the_machine_hour_pages_carry_a_reduction_through(db: TestDb) {
    // The day the demo history was generated for: its newest records are inside the window.
    let noon = common::demo_today().and_hms_opt(4, 0, 0).unwrap().and_utc();
    let app = TestApp::spawn_with_clock(
        db.seeded(),
        common::settings,
        yiqi::clock::ManualClock::at(noon),
    )
    .await;
    let (researcher, csrf) = signed_in(&app, "researcher@yiqi.demo").await;
    let (status, mine) = page_as(&app, &researcher, "/me/services").await;
    assert_eq!(status, 200);
    assert!(
        mine.contains("我的服务记录") && mine.contains("申请核减"),
        "{mine}"
    );
    // The researcher's first record, from the API, and the request form for it.
    let token = app.token("researcher@yiqi.demo").await;
    let (_, list) = app
        .call(
            "GET",
            "/api/v1/service-records?mine=true",
            Some(&token),
            None,
        )
        .await;
    let record = &list["items"][0];
    let instrument = record["instrument_id"].as_i64().unwrap();
    let (id, minutes) = (
        record["id"].as_i64().unwrap(),
        record["minutes"].as_i64().unwrap(),
    );
    let path = format!("/me/services/{id}/reduce");
    let (status, form) = post_as(&app, &researcher, &path, &[("csrf", &csrf), ("_get", "1")]).await;
    assert_eq!(status, 200);
    assert!(form.contains("核减后的有效机时"), "{form}");
    // The form asks for hours, one decimal.
    let too_many = format!("{:.1}", (minutes + 12) as f64 / 60.0);
    let (status, form) = post_as(
        &app,
        &researcher,
        &path,
        &[("csrf", &csrf), ("hours", &too_many), ("reason", "停机")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(form.contains("id=\"err-hours\""), "{form}");
    let fewer = format!("{:.1}", (minutes / 2) as f64 / 60.0);
    let (status, to) = post_as(
        &app,
        &researcher,
        &path,
        &[
            ("csrf", &csrf),
            ("hours", &fewer),
            ("reason", "停机二十分钟"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/me/services?asked=1"));
    // The platform admin (who may decide any) sees it in the queue and refuses it with a reason.
    let (platform, platform_csrf) = signed_in(&app, "admin@yiqi.demo").await;
    let (status, queue) = page_as(&app, &platform, "/manage/hour-reductions").await;
    assert_eq!(status, 200);
    assert!(
        queue.contains("停机二十分钟") && queue.contains("不同意"),
        "{queue}"
    );
    // The service is named by its instrument and day, not by a record number.
    assert!(
        queue.contains(&format!("href=\"/instruments/{instrument}\"")),
        "{queue}"
    );
    let (_, api_queue) = app
        .call(
            "GET",
            "/api/v1/hour-reductions",
            Some(&app.token("admin@yiqi.demo").await),
            None,
        )
        .await;
    let rid = api_queue[0]["id"].as_i64().unwrap();
    let (status, to) = post_as(
        &app,
        &platform,
        &format!("/manage/hour-reductions/{rid}"),
        &[
            ("csrf", &platform_csrf),
            ("accept", "0"),
            ("reason", "记录无误"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/manage/hour-reductions"));
    let (_, full) = app
        .call(
            "GET",
            &format!("/api/v1/service-records/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(full["reductions"][0]["status"], "refused");
    assert_eq!(full["reductions"][0]["decision_reason"], "记录无误");
    assert_eq!(full["minutes"].as_i64(), Some(minutes), "unchanged");
    let (admin, admin_csrf) = signed_in(&app, "unit-admin@yiqi.demo").await;
    // The service form refuses what it cannot read instead of logging a zero.
    let (status, form) = post_as(
        &app,
        &admin,
        "/manage/services/new",
        &[
            ("csrf", &admin_csrf),
            ("instrument_id", "1"),
            ("service_type", "testing"),
            ("service_way", "technical"),
            ("client_organisation_id", "2"),
            ("served_on", "2026-11-27"),
            ("hours", "2"),
            ("sample_count", "三个"),
            ("fee_yuan", "100"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(form.contains("id=\"err-sample_count\""), "{form}");
    // The staff's log and the evaluation page with its export buttons.
    let (status, log) = page_as(&app, &admin, "/manage/services").await;
    assert_eq!(status, 200);
    assert!(log.contains("登记服务") && log.contains("小时"), "{log}");
    let (status, eval) = page_as(&app, &admin, "/units/1/evaluation?year=2026").await;
    assert_eq!(status, 200);
    assert!(
        eval.contains("/units/1/evaluation.xlsx?year=2026") && eval.contains("入网率"),
        "{eval}"
    );
    let res = app
        .client
        .get(format!("{}/units/1/evaluation.csv?year=2026", app.address))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().starts_with("\u{feff}序号"));
    // The unit admin's page offers the national report, with the session's cookie.
    assert!(eval.contains("/units/1/nrii.xlsx?year=2026"), "{eval}");
    let res = app
        .client
        .get(format!("{}/units/1/nrii.json?year=2026", app.address))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let report: serde_json::Value = res.json().await.unwrap();
    assert_eq!(report["summaries"][0]["unit_id"], 1);
    let (status, _) = page_as(&app, &researcher, "/units/1/evaluation?year=2026").await;
    assert_eq!(status, 403);
    // The public statistics page.
    let stats = page(&app, "/stats?from=2018-01-01&to=2018-12-31", 200).await;
    assert!(
        stats.contains("id=\"fig-services\">78<") && stats.contains("<svg id=\"chart-months\""),
        "stats page"
    );
}

/// The queue's check-out button asks for idle minutes, which leave the effective hours.
async fn a_manager_checks_out_with_idle_time(db: TestDb) {
    use chrono::TimeZone;
    use diesel::prelude::*;
    use yiqi::db::schema::service_records as s;
    let at = |d, h, m| {
        yiqi::types::PLATFORM_ZONE
            .with_ymd_and_hms(2026, 11, d, h, m, 0)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let clock = yiqi::clock::ManualClock::at(at(27, 10, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let instrument = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    app.call(
        "PATCH",
        &format!("/api/v1/instruments/{instrument}"),
        Some(&unit_admin),
        Some(serde_json::json!({"share_mode": "external"})),
    )
    .await;
    let (status, booked) = app
        .post(
            "/api/v1/reservations",
            Some(&app.token("researcher@yiqi.demo").await),
            serde_json::json!({"instrument_id": instrument, "kind": "machine_time",
                "starts_at": "2026-11-30T10:00:00+08:00", "ends_at": "2026-11-30T11:00:00+08:00"}),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_i64().unwrap();
    if booked["status"] == "pending" {
        let manager = app.token("manager@yiqi.demo").await;
        let (status, _) = app
            .post(
                &format!("/api/v1/reservations/{id}/approve"),
                Some(&manager),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200);
    }
    clock.set(at(30, 10, 5));
    let (manager, csrf) = signed_in(&app, "manager@yiqi.demo").await;
    let (status, _) = post_as(
        &app,
        &manager,
        &format!("/reservations/{id}/check-in"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    clock.set(at(30, 10, 50));
    let (manager, csrf) = signed_in(&app, "manager@yiqi.demo").await;
    let (_, queue) = page_as(&app, &manager, "/manage/reservations?tab=in_use").await;
    assert!(queue.contains("name=\"idle_minutes\""), "{queue}");
    let path = format!("/reservations/{id}/check-out");
    let (status, error) = post_as(
        &app,
        &manager,
        &path,
        &[("csrf", &csrf), ("idle_minutes", "一刻钟")],
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert!(error.contains("空闲时间请填写整数分钟"), "{error}");
    let (status, _) = post_as(
        &app,
        &manager,
        &path,
        &[("csrf", &csrf), ("idle_minutes", "15")],
    )
    .await;
    assert_eq!(status, 303);
    // 10:05 to 10:50 is 45 minutes, 15 of them idle.
    let mut conn = app.db.connect();
    let (minutes, idle): (i32, i32) = s::table
        .filter(s::reservation_id.eq(id))
        .select((s::minutes, s::idle_minutes))
        .first(&mut conn)
        .unwrap();
    assert_eq!((minutes, idle), (30, 15));
}

async fn staff_invitations_are_answered_on_the_invitee_page(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let (admin, admin_csrf) = signed_in(&app, "unit-admin@yiqi.demo").await;
    let (status, page) = post_as(
        &app,
        &admin,
        "/manage/units/1/staff?role=instrument_manager",
        &[("csrf", &admin_csrf), ("reason", "researcher@yiqi.demo")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已向对方发送邀请"), "{page}");

    let (researcher, csrf) = signed_in(&app, "researcher@yiqi.demo").await;
    let (status, profile) = page_as(&app, &researcher, "/me").await;
    assert_eq!(status, 200);
    assert!(
        profile.contains("/me/invitations"),
        "the profile links the invitations"
    );
    let (status, list) = page_as(&app, &researcher, "/me/invitations").await;
    assert_eq!(status, 200);
    assert!(
        list.contains("仪器负责人") && list.contains("接受") && list.contains("谢绝"),
        "{list}"
    );
    let id = list
        .split("/me/invitations/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("an invitation in the list")
        .to_owned();
    // Without the CSRF token nothing happens.
    let (status, _) = post_as(
        &app,
        &researcher,
        &format!("/me/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(status, 403);
    let (status, done) = post_as(
        &app,
        &researcher,
        &format!("/me/invitations/{id}/accept"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("您已成为仪器负责人"), "{done}");
    let (status, again) = post_as(
        &app,
        &researcher,
        &format!("/me/invitations/{id}/accept"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(again.contains("已经处理过"), "{again}");
}

/// Every page route that takes a POST refuses it without the session's CSRF token, or with
/// another one, before doing anything: signed in as the platform admin, who may do most things.
/// The one exception is the e-mails' one-click unsubscribe, which a mail client posts without
/// cookies (RFC 8058): its unguessable token is the key, and it undoes one subscription.
async fn every_form_post_needs_the_csrf_token(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let (admin, csrf) = signed_in(&app, "admin@yiqi.demo").await;
    let posts: Vec<String> = yiqi::http::routes::table(yiqi::routes)
        .into_iter()
        .filter(|r| r.method == actix_web::http::Method::POST && !r.path.starts_with("/api/"))
        .filter(|r| r.path != "/unsubscribe/{token}")
        .map(|r| common::concrete(&r.path))
        .collect();
    assert!(posts.len() >= 20, "{} form routes", posts.len());
    let instruments_before = app.json("/api/v1/instruments?per_page=1").await["total"].clone();
    for path in &posts {
        let forms: [&[(&str, &str)]; 3] = [
            &[("name", "改名"), ("reason", "x")],
            &[("csrf", ""), ("name", "改名")],
            &[("csrf", "forged-token"), ("name", "改名")],
        ];
        for form in forms {
            let (status, body) = post_as(&app, &admin, path, form).await;
            assert_eq!(status, 403, "POST {path} with {form:?}: {body}");
            assert!(body.contains("表单已过期"), "POST {path}: {body}");
        }
    }
    // The admin is still signed in: the refusals changed nothing.
    let (status, _) = post_as(&app, &admin, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(
        app.json("/api/v1/instruments?per_page=1").await["total"],
        instruments_before
    );
}

fn beijing(d: u32, h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
    common::beijing(2026, 11, d, h, m)
}

async fn pages_offer_what_works_and_say_why_in_words_at_the_field(db: TestDb) {
    let clock = yiqi::clock::ManualClock::at(beijing(27, 10, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let id = app.open_instrument().await;
    let (me, csrf) = signed_in(&app, "researcher@yiqi.demo").await;

    // The footer names the operator (configuration); the instrument page leads with the action.
    let (_, inst) = page_as(&app, &me, &format!("/instruments/{id}")).await;
    assert!(
        inst.contains("主办单位：吉林省科研基础设施和大型科研仪器开放共享平台管理中心"),
        "{inst}"
    );
    let (book, facts) = (
        inst.find("id=\"book\"").unwrap(),
        inst.find("id=\"instrument-facts\"").unwrap(),
    );
    assert!(book < facts, "预约机时 comes before the asset details");
    assert!(inst.contains("id=\"price\""));

    // An instrument that is not shared offers no booking and says whom to call.
    let closed = app
        .json("/api/v1/instruments?share_mode=none&per_page=1")
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let (_, page) = page_as(&app, &me, &format!("/instruments/{closed}")).await;
    assert!(
        page.contains("id=\"closed-note\"") && page.contains("不共享"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"book\"") && !page.contains("_week"),
        "no booking offered"
    );

    // The week's dates as people write them, and a timeline.
    let (_, week) = page_as(&app, &me, &format!("/instruments/{id}/_week")).await;
    assert!(
        week.contains("11月27日–12月3日") && week.contains("tl-cell free"),
        "{week}"
    );

    // Too short: the rule in words, beside the end time, no API field names.
    let form = |start: &str, end: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf.as_str()),
            ("date", "2026-11-30"),
            ("start", start),
            ("end", end),
            ("nonce", &format!("{start}{end}")),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let path = format!("/instruments/{id}/book");
    let short = form("10:00", "10:15");
    let short: Vec<(&str, &str)> = short
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = post_as(&app, &me, &path, &short).await;
    assert_eq!(status, 422);
    assert!(
        body.contains("id=\"err-end\">每次至少预约 30 分钟<"),
        "{body}"
    );
    assert!(
        !body.contains("ends_at") && !body.contains("at least"),
        "{body}"
    );
    // Outside the opening hours: the hours of that day.
    let late = form("22:00", "23:00");
    let late: Vec<(&str, &str)> = late.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body) = post_as(&app, &me, &path, &late).await;
    assert_eq!(status, 422);
    assert!(body.contains("周一开放时间为 08:00–22:00"), "{body}");

    // Booked: a confirmation that says what happens next.
    let ok = form("10:00", "11:00");
    let ok: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, to) = post_as(&app, &me, &path, &ok).await;
    assert_eq!(status, 303, "{to}");
    assert!(to.starts_with("/reservations?booked="), "{to}");
    let rid = to.rsplit('=').next().unwrap().to_owned();
    let (_, mine) = page_as(&app, &me, &to).await;
    assert!(
        mine.contains("id=\"notice\"") && mine.contains("等待仪器负责人审核"),
        "{mine}"
    );
    assert!(
        mine.contains("11月30日 10:00–11:00") && mine.contains("吉林大学"),
        "{mine}"
    );
    assert!(
        mine.contains("以审核确认为准") || mine.contains(" 元"),
        "{mine}"
    );
    assert!(
        mine.contains(&format!("/reservations/{rid}/confirm-cancel")),
        "取消 is offered"
    );

    // A clash, in Beijing time.
    let again = form("10:30", "11:30");
    let again: Vec<(&str, &str)> = again
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = post_as(&app, &me, &path, &again).await;
    assert_eq!(status, 409);
    assert!(
        body.contains("与已有预约 11月30日 10:00–11:00 冲突"),
        "{body}"
    );
    assert!(!body.contains("+00:00"), "{body}");

    // Cancelling asks first.
    let (status, confirm) =
        page_as(&app, &me, &format!("/reservations/{rid}/confirm-cancel")).await;
    assert_eq!(status, 200);
    assert!(
        confirm.contains("确认取消") && confirm.contains("11月30日 10:00–11:00"),
        "{confirm}"
    );

    // Within a day of the start, 取消 is no longer offered; posting it anyway keeps the list
    // with the reason under the row.
    clock.set(beijing(29, 12, 0));
    let (me, csrf) = signed_in(&app, "researcher@yiqi.demo").await;
    let (_, mine) = page_as(&app, &me, "/reservations").await;
    assert!(
        !mine.contains(&format!("/reservations/{rid}/confirm-cancel")),
        "{mine}"
    );
    let (status, body) = post_as(
        &app,
        &me,
        &format!("/reservations/{rid}/cancel"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        body.contains("id=\"row-error\"") && body.contains("开始前 1 天内不能取消"),
        "{body}"
    );
    assert!(body.contains("id=\"data\""), "still the list");
}

async fn the_queue_gives_what_a_manager_decides_from(db: TestDb) {
    let clock = yiqi::clock::ManualClock::at(beijing(27, 10, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let id = app.open_instrument().await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, booked) = app
        .post(
            "/api/v1/reservations",
            Some(&researcher),
            serde_json::json!({"instrument_id": id, "kind": "machine_time", "purpose": "表面形貌观察",
                "project": "国家自然科学基金 52001234",
                "starts_at": "2026-11-30T14:00:00+08:00", "ends_at": "2026-11-30T15:00:00+08:00"}),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    // Asked later, starting earlier: the queue lists it first (the most urgent first).
    let (status, earlier) = app
        .post(
            "/api/v1/reservations",
            Some(&researcher),
            serde_json::json!({"instrument_id": id, "kind": "machine_time",
                "starts_at": "2026-11-30T09:00:00+08:00", "ends_at": "2026-11-30T10:00:00+08:00"}),
        )
        .await;
    assert_eq!(status, 201, "{earlier}");
    let (manager, csrf) = signed_in(&app, "manager@yiqi.demo").await;
    let (status, queue) = page_as(&app, &manager, "/manage/reservations").await;
    assert_eq!(status, 200);
    let (nine, two) = (
        queue
            .find("11月30日 09:00–10:00")
            .expect("the 09:00 booking"),
        queue
            .find("11月30日 14:00–15:00")
            .expect("the 14:00 booking"),
    );
    assert!(nine < two, "in the order they start");
    for wanted in [
        "王研究员",
        "校外",
        "表面形貌观察",
        "国家自然科学基金 52001234",
        "mailto:",
        "class=\"small danger\"",
        "<textarea name=\"reason\"",
    ] {
        assert!(queue.contains(wanted), "{wanted}: {queue}");
    }
    // The pending tab's count is the number of rows it lists.
    let rows = queue.matches("<tr><td data-label=\"预约\"").count() as i64;
    assert!(
        queue.contains(&format!("待审核 <span class=\"count\">{rows}</span>")),
        "{rows}: {queue}"
    );
    // Refusing without a reason stays on the queue, the reason beside the row.
    let rid = booked["id"].as_i64().unwrap();
    let res = app
        .client
        .post(format!("{}/reservations/{rid}/reject", app.address))
        .header("cookie", &manager)
        .header(
            "referer",
            format!("{}/manage/reservations?tab=pending", app.address),
        )
        .form(&[("csrf", csrf.as_str()), ("reason", " ")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("id=\"row-error\"") && body.contains("预约审核与上机"),
        "{body}"
    );

    // A manager's unit pages offer no editing they would be refused.
    let (status, unit) = page_as(&app, &manager, "/manage/units/1/instruments").await;
    assert_eq!(status, 200);
    assert!(
        !unit.contains("新增仪器") && !unit.contains("/edit\""),
        "{unit}"
    );
    assert!(!unit.contains(">人员<"), "{unit}");
    // The menu follows the role: a manager has no 单位管理 or 平台管理.
    assert!(
        !unit.contains(">单位管理<") && !unit.contains(">平台管理<"),
        "menu"
    );
}

async fn managers_set_rules_and_prices_in_yuan_on_a_form(db: TestDb) {
    let clock = yiqi::clock::ManualClock::at(beijing(27, 10, 0));
    let app = TestApp::spawn_full(db.seeded(), clock, None).await;
    let id = app.open_instrument().await;
    let path = format!("/manage/instruments/{id}/booking-settings");
    // Not the researcher's to set.
    let (researcher, _) = signed_in(&app, "researcher@yiqi.demo").await;
    let (status, _) = page_as(&app, &researcher, &path).await;
    assert_eq!(status, 403);

    let (manager, csrf) = signed_in(&app, "manager@yiqi.demo").await;
    let (status, form) = page_as(&app, &manager, &path).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("其他高校院所 元/小时") && form.contains("工作日开放时间"),
        "{form}"
    );
    // A price with three decimals is refused at its field; nothing is saved.
    let (status, body) = post_as(
        &app,
        &manager,
        &path,
        &[("csrf", &csrf), ("academic_hour_fen", "12.345")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("id=\"err-academic_hour_fen\""), "{body}");
    let (status, to) = post_as(
        &app,
        &manager,
        &path,
        &[
            ("csrf", &csrf),
            ("academic_hour_fen", "255.5"),
            ("academic_sample_fen", "80"),
            ("min_fee_fen", "50"),
            ("weekday_hours", "08:00-12:00, 13:00-22:00"),
            ("weekend_hours", ""),
        ],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (303, format!("/instruments/{id}").as_str())
    );
    let saved = app
        .json(&format!("/api/v1/instruments/{id}/booking-settings"))
        .await;
    assert_eq!(saved["academic_hour_fen"], 25550);
    assert_eq!(saved["academic_sample_fen"], 8000);
    assert_eq!(saved["min_fee_fen"], 5000);
    // The researcher (another university) sees the price, and the weekend is closed.
    let (_, page) = page_as(&app, &researcher, &format!("/instruments/{id}")).await;
    assert!(
        page.contains("其他高校院所价格：255.50 元/小时；送样 80.00 元/样，最低收费 50.00 元"),
        "{page}"
    );
    let (_, week) = page_as(&app, &researcher, &format!("/instruments/{id}/_week")).await;
    assert!(
        week.contains("周六 11月28日 08:00–09:00 不可预约"),
        "{week}"
    );
    assert!(
        week.contains("周一 11月30日 12:00–13:00 不可预约"),
        "{week}"
    );
}

async fn a_manager_answers_a_rating_from_the_list(db: TestDb) {
    let clock = yiqi::clock::ManualClock::at(common::beijing(2026, 11, 30, 18, 0));
    let app = TestApp::spawn_full(db.seeded(), clock, None).await;
    let instrument = app.open_instrument().await;
    let record = crate::evaluation::service_for_researcher(&app, instrument, "2026-11-30").await;
    let (researcher, researcher_csrf) = signed_in(&app, "researcher@yiqi.demo").await;
    // The client's list offers the form; the form rates.
    let (_, list) = page_as(&app, &researcher, "/me/services").await;
    assert!(
        list.contains(&format!("/me/services/{record}/rate")),
        "{list}"
    );
    let mut form = vec![
        ("csrf", researcher_csrf.as_str()),
        ("comment", "样品处理及时"),
    ];
    for field in [
        "overall",
        "attitude",
        "quality",
        "timeliness",
        "price",
        "condition",
    ] {
        form.push((field, "satisfied"));
    }
    let (status, to) = post_as(
        &app,
        &researcher,
        &format!("/me/services/{record}/rate"),
        &form,
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/me/services?rated=1"));
    let (_, list) = page_as(&app, &researcher, "/me/services").await;
    assert!(list.contains("修改评价"), "{list}");
    // A bad score comes back at its field.
    form[2] = ("overall", "meh");
    let (status, page) = post_as(
        &app,
        &researcher,
        &format!("/me/services/{record}/rate"),
        &form,
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"err-overall\""), "{page}");

    let (manager, csrf) = signed_in(&app, "manager@yiqi.demo").await;
    let (status, queue) = page_as(&app, &manager, "/manage/ratings").await;
    assert_eq!(status, 200);
    assert!(
        queue.contains("样品处理及时") && queue.contains("公开回复"),
        "{queue}"
    );
    let (_, api) = app
        .call(
            "GET",
            "/api/v1/ratings",
            Some(&app.token("manager@yiqi.demo").await),
            None,
        )
        .await;
    let id = api[0]["id"].as_i64().unwrap();
    let (status, to) = post_as(
        &app,
        &manager,
        &format!("/manage/ratings/{id}/reply"),
        &[("csrf", &csrf), ("reason", "感谢反馈，我们会继续努力")],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/manage/ratings"));
    let (_, queue) = page_as(&app, &manager, "/manage/ratings").await;
    assert!(
        queue.contains("感谢反馈") && !queue.contains("公开回复"),
        "{queue}"
    );
    let (_, page) = page_as(&app, &researcher, &format!("/instruments/{instrument}")).await;
    assert!(
        page.contains("单位回复") && page.contains("感谢反馈"),
        "{page}"
    );
}

async fn complaints_are_filed_and_handled_from_the_pages(db: TestDb) {
    let clock = yiqi::clock::ManualClock::at(common::beijing(2026, 11, 30, 18, 0));
    let app = TestApp::spawn_full(db.seeded(), clock, None).await;
    let instrument = app.open_instrument().await;
    let (researcher, r_csrf) = signed_in(&app, "researcher@yiqi.demo").await;
    // The instrument's page offers the form.
    let (_, page) = page_as(&app, &researcher, &format!("/instruments/{instrument}")).await;
    let new = format!("/complaints/new?subject=instrument&subject_id={instrument}");
    assert!(page.contains(&new.replace('&', "&amp;")), "{page}");
    let (status, form) = page_as(&app, &researcher, &new).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("投诉类型") && form.contains("拒绝服务"),
        "{form}"
    );
    let subject_id = instrument.to_string();
    let mut fields = vec![
        ("csrf", r_csrf.as_str()),
        ("subject", "instrument"),
        ("subject_id", subject_id.as_str()),
        ("category", "false_listing"),
        ("description", ""),
    ];
    // An empty description comes back at its field, nothing filed.
    let (status, page) = post_as(&app, &researcher, "/complaints/new", &fields).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"err-description\""), "{page}");
    fields[4] = ("description", "页面写可预约，实际长期停用");
    let (status, to) = post_as(&app, &researcher, "/complaints/new", &fields).await;
    assert_eq!(status, 303, "{to}");
    let id: i64 = to
        .trim_start_matches("/complaints/")
        .trim_end_matches("?filed=1")
        .parse()
        .unwrap();
    let (_, page) = page_as(&app, &researcher, &to).await;
    assert!(
        page.contains("投诉已提交") && page.contains("待受理") && page.contains("虚假信息"),
        "{page}"
    );
    let (_, mine) = page_as(&app, &researcher, "/me/complaints").await;
    assert!(mine.contains(&format!("/complaints/{id}")), "{mine}");
    // The instrument's manager is no party: 404.
    let (manager, _) = signed_in(&app, "manager@yiqi.demo").await;
    let (status, _) = page_as(&app, &manager, &format!("/complaints/{id}")).await;
    assert_eq!(status, 404);

    // The platform accepts from its queue; the deadline shows.
    let (admin, a_csrf) = signed_in(&app, "admin@yiqi.demo").await;
    let (_, queue) = page_as(&app, &admin, "/manage/complaints").await;
    assert!(queue.contains(&format!("/complaints/{id}")), "{queue}");
    let (_, page) = page_as(&app, &admin, &format!("/complaints/{id}")).await;
    assert!(
        page.contains("step-accept") && page.contains("step-send_back"),
        "{page}"
    );
    let (status, to) = post_as(
        &app,
        &admin,
        &format!("/complaints/{id}/accept"),
        &[("csrf", &a_csrf), ("text", "")],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (303, format!("/complaints/{id}").as_str())
    );
    // The unit's queue shows the deadline; an empty answer is refused on the page.
    let (unit, u_csrf) = signed_in(&app, "unit-admin@yiqi.demo").await;
    let (_, queue) = page_as(&app, &unit, "/manage/complaints").await;
    assert!(queue.contains("2026-12-08 00:00 前"), "{queue}");
    let (status, page) = post_as(
        &app,
        &unit,
        &format!("/complaints/{id}/answer"),
        &[("csrf", &u_csrf), ("text", " ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("请填写答复内容"), "{page}");
    let (status, _) = post_as(
        &app,
        &unit,
        &format!("/complaints/{id}/answer"),
        &[("csrf", &u_csrf), ("text", "仪器已恢复，页面状态已更正")],
    )
    .await;
    assert_eq!(status, 303);
    // The complainant accepts the answer: closed, with its history.
    let (status, _) = post_as(
        &app,
        &researcher,
        &format!("/complaints/{id}/agree"),
        &[("csrf", &r_csrf), ("text", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page) = page_as(&app, &researcher, &format!("/complaints/{id}")).await;
    assert!(
        page.contains("已办结") && page.contains("仪器已恢复") && page.contains("接受答复"),
        "{page}"
    );
    // A step after closing comes back as the page with the reason.
    let (status, page) = post_as(
        &app,
        &researcher,
        &format!("/complaints/{id}/withdraw"),
        &[("csrf", &r_csrf), ("text", "")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("form-error"), "{page}");

    // The platform's round and holiday pages.
    let (status, round) = page_as(&app, &admin, "/admin/evaluation?year=2026").await;
    assert_eq!(status, 200);
    assert!(round.contains("下达整改通知"), "{round}");
    let (status, _) = page_as(&app, &unit, "/admin/evaluation?year=2026").await;
    assert_eq!(status, 403);
    let (status, to) = post_as(
        &app,
        &admin,
        "/admin/holidays/new",
        &[
            ("csrf", &a_csrf),
            ("day", "2027-02-06"),
            ("kind", "holiday"),
            ("name", "春节"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/admin/holidays?year=2027"));
    let (_, days) = page_as(&app, &admin, "/admin/holidays?year=2027").await;
    assert!(
        days.contains("2027-02-06") && days.contains("春节"),
        "{days}"
    );
    let (_, days) = page_as(&app, &admin, "/admin/holidays?year=2026").await;
    assert!(
        days.contains("国庆节") && days.contains("调休上班"),
        "{days}"
    );
}

async fn a_unit_writes_a_notice_and_the_platform_publishes_it(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let (unit, u_csrf) = signed_in(&app, "unit-admin@yiqi.demo").await;
    let (status, form) = page_as(&app, &unit, "/manage/articles/new").await;
    assert_eq!(status, 200);
    assert!(
        form.contains("本单位") && !form.contains(">平台<"),
        "{form}"
    );
    let mut fields = vec![
        ("csrf", u_csrf.as_str()),
        ("kind", "training"),
        ("scope", "unit:1"),
        ("title", ""),
        ("summary", "面向校外用户"),
        ("body", "## 时间\n\n12月15日 14:00"),
        ("publish_at", ""),
        ("ends_at", ""),
        ("pinned", "0"),
    ];
    // A missing title comes back at its field.
    let (status, refused) = post_as(&app, &unit, "/manage/articles/new", &fields).await;
    assert_eq!(status, 422);
    assert!(refused.contains("id=\"err-title\""), "{refused}");
    fields[3] = ("title", "透射电镜操作培训");
    let (status, to) = post_as(&app, &unit, "/manage/articles/new", &fields).await;
    assert_eq!(status, 303, "{to}");
    let (_, draft) = page_as(&app, &unit, &to).await;
    assert!(
        draft.contains("草稿") && draft.contains("step-submit"),
        "{draft}"
    );
    let (status, _) = post_as(
        &app,
        &unit,
        &format!("{to}/submit").replace("/articles/", "/manage/articles/"),
        &[("csrf", &u_csrf)],
    )
    .await;
    assert_eq!(status, 303);
    // On the unit's article list; the platform publishes it from the page.
    let (admin, a_csrf) = signed_in(&app, "admin@yiqi.demo").await;
    let (_, submitted) = page_as(&app, &admin, &to).await;
    assert!(
        submitted.contains("step-publish") && submitted.contains("step-return"),
        "{submitted}"
    );
    let (status, _) = post_as(
        &app,
        &admin,
        &format!("{to}/publish").replace("/articles/", "/manage/articles/"),
        &[("csrf", &a_csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let list = page(&app, "/articles?kind=training", 200).await;
    assert!(list.contains("透射电镜操作培训"), "{list}");
    let article = page(&app, &to, 200).await;
    assert!(
        article.contains("<h2>时间</h2>") && article.contains("吉林大学"),
        "{article}"
    );
    let (_, mine) = page_as(&app, &unit, "/manage/articles").await;
    assert!(
        mine.contains("透射电镜操作培训") && mine.contains("已发布"),
        "{mine}"
    );
}
