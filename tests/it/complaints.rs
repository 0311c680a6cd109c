//! 投诉: a complaint goes from filing through the platform and the unit to its closing, each
//! step by its party only (others learn nothing of it), with deadlines counted in Beijing
//! working days and marked overdue by the job; the yearly round counts and flags.

use crate::common;

use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::auth::Role;
use yiqi::clock::{Clock, ManualClock};

on_both_backends!(
    a_complaint_goes_from_filing_to_closing,
    every_complaint_step_by_party,
    deadlines_count_beijing_working_days,
    the_yearly_round_flags_and_orders_rectification,
);

async fn step(app: &TestApp, token: &str, id: i64, step: &str, text: &str) -> (u16, Value) {
    app.post(
        &format!("/api/v1/complaints/{id}/{step}"),
        Some(token),
        json!({ "text": text }),
    )
    .await
}

fn history_steps(c: &Value) -> Vec<String> {
    c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["step"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_complaint_goes_from_filing_to_closing(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(common::beijing(2026, 11, 30, 18, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let instrument = app.open_instrument().await;
    let record = crate::evaluation::service_for_researcher(&app, instrument, "2026-11-30").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;
    let figures = |e: &Value| {
        let c = &e["complaints"];
        [&c["received"], &c["upheld"], &c["late"]].map(|v| v.as_i64().unwrap())
    };
    let before = figures(
        &app.json_as("/api/v1/units/1/evaluation?year=2026", &unit_admin)
            .await,
    );

    let (status, c) = app
        .post(
            "/api/v1/complaints",
            Some(&researcher),
            json!({"subject": "service_record", "subject_id": record, "category": "overcharging",
                "description": "收费比公示价格高出一倍", "request": "退还多收的费用"}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        (c["status"].as_str(), c["unit_id"].as_i64()),
        (Some("submitted"), Some(1))
    );
    // The platform is told, the complainant gets a receipt; the unit learns nothing yet (the
    // complaint has not reached it).
    smtp.wait_for("admin@yiqi.demo", &format!("投诉 #{id}：待受理"))
        .await;
    let receipt = smtp
        .wait_for("researcher@yiqi.demo", &format!("投诉 #{id}：待受理"))
        .await;
    assert!(receipt.part("text/plain").contains("已提交"));
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/complaints/{id}"),
            Some(&unit_admin),
            None,
        )
        .await;
    assert_eq!(status, 404, "not the unit's until accepted");
    // Filing twice about the same service is refused while the first is open.
    let (status, p) = app
        .post(
            "/api/v1/complaints",
            Some(&researcher),
            json!({"subject": "service_record", "subject_id": record, "category": "delay",
                "description": "再投诉一次"}),
        )
        .await;
    assert_eq!((status, p["code"].as_str()), (409, Some("complaint_open")));

    // Private: the instrument's manager (not a unit admin) learns nothing of it.
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/complaints/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // The complainant cannot accept their own complaint: another party's step.
    let (status, p) = step(&app, &researcher, id, "accept", "").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("forbidden")),
        "{p}"
    );
    // A decision before acceptance is out of order, and writes nothing.
    let (status, p) = step(&app, &admin, id, "uphold", "成立").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "{p}"
    );

    // Monday 30 November 18:00: accepted; five working days end with Monday 7 December.
    let (status, c) = step(&app, &admin, id, "accept", "").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["answer_due_at"], "2026-12-07T16:00:00Z", "{c}");
    smtp.wait_for("unit-admin@yiqi.demo", &format!("投诉 #{id}：待单位答复"))
        .await;
    let (status, p) = step(&app, &unit_admin, id, "answer", "").await;
    assert_eq!((status, p["field"].as_str()), (422, Some("text")), "{p}");
    let (status, c) = step(
        &app,
        &unit_admin,
        id,
        "answer",
        "经核实按企业价收费有误，已退还差价",
    )
    .await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("answered")),
        "{c}"
    );
    smtp.wait_for("researcher@yiqi.demo", &format!("投诉 #{id}：单位已答复"))
        .await;
    let (status, c) = step(&app, &researcher, id, "escalate", "差价未全部退还").await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("escalated")),
        "{c}"
    );
    let (status, c) = step(&app, &admin, id, "uphold", "收费标准适用错误").await;
    assert_eq!(
        (status, c["status"].as_str(), c["decision"].as_str()),
        (200, Some("rectifying"), Some("upheld")),
        "{c}"
    );
    // After the decision the complainant can no longer withdraw.
    let (status, p) = step(&app, &researcher, id, "withdraw", "").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (status, c) = step(
        &app,
        &unit_admin,
        id,
        "rectify",
        "已退还全部差价并修订收费公示",
    )
    .await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("rectified")),
        "{c}"
    );
    let (status, c) = step(&app, &researcher, id, "confirm", "").await;
    assert_eq!((status, c["status"].as_str()), (200, Some("closed")), "{c}");
    assert_eq!(
        history_steps(&c),
        ["submit", "accept", "answer", "escalate", "uphold", "rectify", "confirm"]
    );
    // An answer after closing has its own code.
    let (status, p) = step(&app, &unit_admin, id, "answer", "补充说明").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("complaint_closed")),
        "{p}"
    );

    // Staff steps are audited; the complainant's are not.
    let audit = app
        .json_as("/api/v1/admin/audit?per_page=100", &admin)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("complaint."))
        .collect();
    for a in [
        "complaint.accept",
        "complaint.answer",
        "complaint.uphold",
        "complaint.rectify",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert!(!actions.contains(&"complaint.confirm"));

    // Lists: the complainant's, the unit's, the platform's.
    for (token, query) in [(&researcher, "?mine=true"), (&unit_admin, ""), (&admin, "")] {
        let list = app
            .json_as(&format!("/api/v1/complaints{query}"), token)
            .await;
        assert!(
            list.as_array().unwrap().iter().any(|c| c["id"] == id),
            "{query}: {list}"
        );
    }
    let (status, _) = app
        .call("GET", "/api/v1/complaints", Some(&manager), None)
        .await;
    assert_eq!(status, 403, "a manager has no complaint queue");

    // The yearly evaluation counts it: received, upheld, not late.
    let e = app
        .json_as("/api/v1/units/1/evaluation?year=2026", &unit_admin)
        .await;
    let [received, upheld, late] = figures(&e);
    assert_eq!(
        [received - before[0], upheld - before[1], late - before[2]],
        [1, 1, 0],
        "{e}"
    );
}

/// Each step × who: the step's party succeeds, another party is refused (403), anyone who
/// is not a party learns nothing (404), no token is 401. Denials come first, so the one
/// success is the last call on each complaint.
async fn every_complaint_step_by_party(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;
    let (_, stranger) = app.fresh_account(Role::Researcher, None, 1).await;
    let (_, other_admin) = app.fresh_account(Role::UnitAdmin, Some(2), 2).await;
    let instruments: Vec<i64> = app.json("/api/v1/instruments?unit=1&per_page=20").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    // Which steps lead from a new complaint to the state a step applies in.
    let path_to = |s: &str| -> Vec<(&'static str, &'static str)> {
        let all = [
            ("accept", "admin"),
            ("answer", "unit"),
            ("escalate", "complainant"),
            ("uphold", "admin"),
            ("rectify", "unit"),
        ];
        let n = match s {
            "accept" | "send_back" | "withdraw" => 0,
            "answer" => 1,
            "agree" | "escalate" => 2,
            "uphold" | "partly_uphold" | "reject" => 3,
            "rectify" => 4,
            "confirm" => 5,
            _ => unreachable!(),
        };
        all[..n].to_vec()
    };
    let cases = [
        ("accept", "admin"),
        ("send_back", "admin"),
        ("answer", "unit"),
        ("agree", "complainant"),
        ("escalate", "complainant"),
        ("uphold", "admin"),
        ("partly_uphold", "admin"),
        ("reject", "admin"),
        ("rectify", "unit"),
        ("confirm", "complainant"),
        ("withdraw", "complainant"),
    ];
    let tokens = [
        ("anonymous", None),
        ("stranger", Some(&stranger)),
        ("manager", Some(&manager)),
        ("other unit's admin", Some(&other_admin)),
        ("complainant", Some(&researcher)),
        ("unit", Some(&unit_admin)),
        ("admin", Some(&admin)),
    ];
    let mut checked = 0;
    for (n, (name, owner)) in cases.into_iter().enumerate() {
        let (status, c) = app
            .post(
                "/api/v1/complaints",
                Some(&researcher),
                json!({"subject": "instrument", "subject_id": instruments[n], "category": "attitude",
                    "description": "态度生硬"}),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        let id = c["id"].as_i64().unwrap();
        for (s, by) in path_to(name) {
            let t = match by {
                "admin" => &admin,
                "unit" => &unit_admin,
                _ => &researcher,
            };
            let (status, c) = step(&app, t, id, s, "说明").await;
            assert_eq!(status, 200, "{s} on the way to {name}: {c}");
        }
        // Denials first, the owner last.
        let mut order: Vec<_> = tokens.iter().filter(|(w, _)| *w != owner).collect();
        order.extend(tokens.iter().filter(|(w, _)| *w == owner));
        for (who, token) in order {
            let (status, body) = match token {
                Some(t) => step(&app, t, id, name, "说明").await,
                None => {
                    app.post(
                        &format!("/api/v1/complaints/{id}/{name}"),
                        None,
                        json!({"text": "说明"}),
                    )
                    .await
                }
            };
            // The unit is a party once the platform has accepted the complaint.
            let before_acceptance = matches!(name, "accept" | "send_back" | "withdraw");
            let expect = match *who {
                "anonymous" => 401,
                "stranger" | "manager" | "other unit's admin" => 404,
                "unit" if before_acceptance => 404,
                w if w == owner => 200,
                _ => 403,
            };
            assert_eq!(status, expect, "{name} by {who}: {body}");
            checked += 1;
        }
    }
    assert_eq!(checked, 11 * 7);

    // Filing: any verified account; about someone else's booking or service, no.
    let (status, p) = app
        .post(
            "/api/v1/complaints",
            None,
            json!({"subject": "unit", "subject_id": 1, "category": "other", "description": "x"}),
        )
        .await;
    assert_eq!(status, 401, "{p}");
    let (status, p) = app
        .post(
            "/api/v1/complaints",
            Some(&stranger),
            json!({"subject": "service_record", "subject_id": 1, "category": "other", "description": "x"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("subject_id")),
        "{p}"
    );
    let (status, p) = app
        .post(
            "/api/v1/complaints",
            Some(&unit_admin),
            json!({"subject": "unit", "subject_id": 1, "category": "other", "description": "自己"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("subject_id")),
        "{p}"
    );
    for (body, field) in [
        (
            json!({"subject": "bank", "subject_id": 1, "category": "other", "description": "x"}),
            "subject",
        ),
        (
            json!({"subject": "unit", "subject_id": 2, "category": "rude", "description": "x"}),
            "category",
        ),
        (
            json!({"subject": "unit", "subject_id": 2, "category": "other", "description": ""}),
            "description",
        ),
        (
            json!({"subject": "unit", "subject_id": 2, "category": "other", "description": "长".repeat(2001)}),
            "description",
        ),
        (
            json!({"subject": "unit", "subject_id": 2, "category": "other", "description": "x", "request": "多".repeat(501)}),
            "request",
        ),
    ] {
        let (status, p) = app.post("/api/v1/complaints", Some(&stranger), body).await;
        assert_eq!((status, p["field"].as_str()), (422, Some(field)), "{p}");
    }
    let mine = app.json_as("/api/v1/complaints?mine=true", &stranger).await;
    assert_eq!(mine, json!([]), "nothing was written");

    // Nobody judges their own complaint: a platform admin who files one cannot accept it.
    let (status, own) = app
        .post(
            "/api/v1/complaints",
            Some(&admin),
            json!({"subject": "unit", "subject_id": 3, "category": "other", "description": "自己投诉"}),
        )
        .await;
    assert_eq!(status, 201, "{own}");
    assert_eq!(own["steps"], json!(["withdraw"]), "{own}");
    let (status, _) = step(&app, &admin, own["id"].as_i64().unwrap(), "accept", "").await;
    assert_eq!(status, 403);

    // The holiday table: platform admins only.
    for (token, expect) in [(&researcher, 403), (&unit_admin, 403), (&admin, 200)] {
        let (status, body) = app
            .call(
                "PUT",
                "/api/v1/holidays/2027-01-01",
                Some(token),
                Some(json!({"kind": "holiday", "name": "元旦"})),
            )
            .await;
        assert_eq!(status, expect, "{body}");
    }
    let (status, _) = app
        .call(
            "DELETE",
            "/api/v1/holidays/2027-01-01",
            Some(&unit_admin),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call("DELETE", "/api/v1/holidays/2027-01-01", Some(&admin), None)
        .await;
    assert_eq!(status, 204);
    let (status, p) = app
        .call(
            "PUT",
            "/api/v1/holidays/2027-01-02",
            Some(&admin),
            Some(json!({"kind": "party"})),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("kind")));
}

async fn file_about_unit(app: &TestApp, token: &str, unit: i64) -> i64 {
    let (status, c) = app
        .post(
            "/api/v1/complaints",
            Some(token),
            json!({"subject": "unit", "subject_id": unit, "category": "delay",
                "description": "送样一个月未出报告"}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_i64().unwrap()
}

async fn deadlines_count_beijing_working_days(db: TestDb) {
    let smtp = SmtpServer::start();
    // Friday 4 December 2026, 19:30.
    let clock = ManualClock::at(common::beijing(2026, 12, 4, 19, 30));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    // A Friday-evening complaint, accepted at once: Mon–Fri next week, due at the close of
    // Friday 11 December.
    let friday = file_about_unit(&app, &researcher, 1).await;
    let (_, c) = step(&app, &admin, friday, "accept", "").await;
    assert_eq!(c["answer_due_at"], "2026-12-11T16:00:00Z", "{c}");

    // A holiday inside the window moves the deadline by a working day.
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/holidays/2026-12-16",
            Some(&admin),
            Some(json!({"kind": "holiday", "name": "测试假日"})),
        )
        .await;
    assert_eq!(status, 200);
    clock.set(common::beijing(2026, 12, 14, 10, 0));
    let admin = app.token("admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let monday = file_about_unit(&app, &researcher, 2).await;
    let (_, c) = step(&app, &admin, monday, "accept", "").await;
    // Tue 15, Thu 17, Fri 18, Mon 21, Tue 22 (Wednesday 16 off).
    assert_eq!(c["answer_due_at"], "2026-12-22T16:00:00Z", "{c}");

    // The minute before the deadline nothing is overdue; at the deadline the job marks it,
    // once, and tells the unit and the platform.
    let settings = common::settings(&app.db).evaluation;
    let mut conn = app.db.connect();
    use yiqi::evaluation::complaints::service::mark_overdue;
    clock.set(common::beijing(2026, 12, 11, 23, 59));
    assert_eq!(mark_overdue(&mut conn, &settings, clock.now()).unwrap(), 0);
    clock.set(common::beijing(2026, 12, 12, 0, 0));
    mark_overdue(&mut conn, &settings, clock.now()).unwrap();
    assert_eq!(mark_overdue(&mut conn, &settings, clock.now()).unwrap(), 0);
    let researcher = app.token("researcher@yiqi.demo").await;
    let c = app
        .json_as(&format!("/api/v1/complaints/{friday}"), &researcher)
        .await;
    assert_eq!(
        (c["status"].as_str(), c["overdue"].as_bool()),
        (Some("accepted"), Some(true)),
        "{c}"
    );
    assert_eq!(
        history_steps(&c),
        ["submit", "accept", "overdue"],
        "marked once"
    );
    let monday_c = app
        .json_as(&format!("/api/v1/complaints/{monday}"), &researcher)
        .await;
    assert_eq!(monday_c["overdue"], false, "its deadline is later");
    smtp.wait_for(
        "unit-admin@yiqi.demo",
        &format!("投诉 #{friday}：待单位答复"),
    )
    .await;
    let overdue = smtp
        .wait_for(
            "admin@yiqi.demo",
            &format!("投诉 #{friday}：单位逾期未答复"),
        )
        .await;
    assert!(overdue.part("text/plain").contains("未在期限内答复"));
    smtp.wait_for(
        "unit-admin@yiqi.demo",
        &format!("投诉 #{friday}：单位逾期未答复"),
    )
    .await;
    // Overdue, the complainant need not wait for the answer to ask the platform.
    let (status, c) = step(&app, &researcher, friday, "escalate", "单位逾期未答复").await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("escalated")),
        "{c}"
    );
    // Without an overdue deadline, escalating before the answer is out of order.
    let (status, p) = step(&app, &researcher, monday, "escalate", "等不及").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let e = app
        .json_as("/api/v1/units/1/evaluation?year=2026", &unit_admin)
        .await;
    assert_eq!(e["complaints"]["late"], 1, "{e}");
}

async fn the_yearly_round_flags_and_orders_rectification(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(common::beijing(2026, 11, 30, 18, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let instrument = app.open_instrument().await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    // Five services rated 不满意: satisfaction 0 over 5 ratings flags the unit.
    let bad = "dissatisfied";
    for day in [
        "2026-11-26",
        "2026-11-27",
        "2026-11-28",
        "2026-11-29",
        "2026-11-30",
    ] {
        let record = crate::evaluation::service_for_researcher(&app, instrument, day).await;
        let (status, r) = app
            .post(
                &format!("/api/v1/service-records/{record}/rating"),
                Some(&researcher),
                json!({"overall": bad, "attitude": bad, "quality": bad, "timeliness": bad,
                    "price": bad, "condition": bad}),
            )
            .await;
        assert_eq!(status, 201, "{r}");
    }
    let (status, round) = app
        .call(
            "GET",
            "/api/v1/evaluation?year=2026",
            Some(&unit_admin),
            None,
        )
        .await;
    assert_eq!(status, 403, "{round}");
    let round = app.json_as("/api/v1/evaluation?year=2026", &admin).await;
    let first = &round[0];
    assert_eq!(first["unit_id"], 1, "flagged units come first: {first}");
    assert_eq!(
        (first["satisfaction"].as_f64(), first["ratings"].as_i64()),
        (Some(0.0), Some(5))
    );
    assert!(
        first["rectify"][0].as_str().unwrap().contains("满意度"),
        "{first}"
    );
    // The evaluation agrees with the ratings, and with a rebuild of the kept counts.
    let before = app
        .json_as("/api/v1/units/1/evaluation?year=2026", &unit_admin)
        .await;
    assert_eq!(
        (before["ratings"].as_i64(), before["satisfaction"].as_f64()),
        (Some(5), Some(0.0))
    );
    yiqi::usage::store::rebuild_rollups(&mut app.db.connect()).unwrap();
    let after = app
        .json_as("/api/v1/units/1/evaluation?year=2026", &unit_admin)
        .await;
    assert_eq!(before, after);
    // The statistics carry it too.
    let stats = app
        .json("/api/v1/stats?from=2026-01-01&to=2026-12-31")
        .await;
    let unit1 = stats["by_unit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit_id"] == 1)
        .unwrap();
    assert_eq!(
        (unit1["ratings"].as_i64(), unit1["satisfaction"].as_f64()),
        (Some(5), Some(0.0)),
        "{unit1}"
    );

    // The platform orders rectification; the unit reports; the platform extends, then closes.
    let (status, p) = app
        .post(
            "/api/v1/units/1/rectifications",
            Some(&admin),
            json!({"year": 2026, "reason": "满意度过低", "deadline": "2026-11-30"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("deadline")),
        "{p}"
    );
    let (status, n) = app
        .post(
            "/api/v1/units/1/rectifications",
            Some(&admin),
            json!({"year": 2026, "reason": "满意度过低，请查找原因并整改", "deadline": "2026-12-31"}),
        )
        .await;
    assert_eq!(status, 201, "{n}");
    let id = n["id"].as_i64().unwrap();
    smtp.wait_for("unit-admin@yiqi.demo", "限期整改通知").await;
    // A second notice for the same year while this one is open: refused (a double click).
    let (status, p) = app
        .post(
            "/api/v1/units/1/rectifications",
            Some(&admin),
            json!({"year": 2026, "reason": "再发一次", "deadline": "2026-12-31"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("already_exists")),
        "{p}"
    );
    // The unit's staff read it (their evaluation lists it); another unit's admin learns nothing.
    let manager = app.token("manager@yiqi.demo").await;
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/rectifications/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let path = |s: &str| format!("/api/v1/rectifications/{id}/{s}");
    let (status, _) = app.post(&path("close"), Some(&admin), json!({})).await;
    assert_eq!(status, 409, "nothing reported yet");
    let (status, _) = app
        .post(&path("report"), Some(&admin), json!({"text": "代报"}))
        .await;
    assert_eq!(status, 403, "the platform does not report for the unit");
    let (status, n) = app
        .post(
            &path("report"),
            Some(&unit_admin),
            json!({"text": "已培训服务人员并回访用户"}),
        )
        .await;
    assert_eq!(
        (status, n["status"].as_str()),
        (200, Some("reported")),
        "{n}"
    );
    let (status, p) = app
        .post(
            &path("extend"),
            Some(&admin),
            json!({"deadline": "2026-12-01"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("deadline")),
        "{p}"
    );
    let (status, n) = app
        .post(
            &path("extend"),
            Some(&admin),
            json!({"deadline": "2027-01-31", "text": "请补充回访记录"}),
        )
        .await;
    assert_eq!(
        (status, n["status"].as_str(), n["extensions"].as_i64()),
        (200, Some("issued"), Some(1)),
        "{n}"
    );
    let (_, n) = app
        .post(
            &path("report"),
            Some(&unit_admin),
            json!({"text": "回访记录已补充"}),
        )
        .await;
    assert_eq!(n["status"], "reported");
    let (status, n) = app.post(&path("close"), Some(&admin), json!({})).await;
    assert_eq!((status, n["status"].as_str()), (200, Some("closed")), "{n}");
    let (status, p) = app
        .post(&path("report"), Some(&unit_admin), json!({"text": "再报"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (409, Some("notice_closed")));
    // The evaluation lists it, and the workbook has a sheet for it.
    let e = app
        .json_as("/api/v1/units/1/evaluation?year=2026", &unit_admin)
        .await;
    assert_eq!(e["notices"][0]["status"], "closed", "{e}");
    assert!(!e["rectify"].as_array().unwrap().is_empty());
    let res = app
        .client
        .get(format!(
            "{}/api/v1/units/1/evaluation.xlsx?year=2026",
            app.address
        ))
        .bearer_auth(&unit_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let cell = |sheet: &str, book: &mut calamine::Xlsx<_>, label: &str| {
        book.worksheet_range(sheet)
            .unwrap()
            .rows()
            .find(|r| r[0] == label)
            .map(|r| r[1].to_string())
    };
    assert!(
        cell("汇总", &mut book, "限期整改").is_some_and(|v| v.contains("满意度")),
        "the summary sheet names the flag"
    );
    assert_eq!(
        cell("汇总", &mut book, "投诉成立（含部分成立）").as_deref(),
        Some("0")
    );
    let notices = book.worksheet_range("整改通知").unwrap();
    assert_eq!(notices.height(), 2);
    assert!(notices
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .any(|c| *c == "回访记录已补充"));

    // The platform's round as a file.
    let (status, csv) = {
        let res = app
            .client
            .get(format!("{}/api/v1/evaluation.csv?year=2026", app.address))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    assert_eq!(status, 200);
    let first_line = csv.lines().nth(1).unwrap();
    assert!(
        first_line.contains("满意度") && first_line.contains("已结束"),
        "the flagged unit first, with its notice: {first_line}"
    );
}
