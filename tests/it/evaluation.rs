//! 评价: a client rates a service once, within its window, and may change it for a few days;
//! the unit hears of a low rating at once and answers once, in public; the instrument's page
//! and its summary show what was said, with the rater by organisation only.

use crate::common;

use chrono::Duration;
use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::clock::ManualClock;

on_both_backends!(
    a_client_rates_a_service_and_the_unit_answers,
    a_rating_keeps_its_rules,
);

/// The manager logs a 90-minute service on the open instrument for the demo researcher, on
/// `day`; returns the record's id.
pub(crate) async fn service_for_researcher(app: &TestApp, instrument: i64, day: &str) -> i64 {
    let manager = app.token("manager@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, me) = app.call("GET", "/api/v1/me", Some(&researcher), None).await;
    let org = app.json("/api/v1/organisations?q=长春光学").await["items"][0]["id"].clone();
    let (status, record) = app
        .post(
            "/api/v1/service-records",
            Some(&manager),
            json!({"instrument_id": instrument, "service_type": "testing", "service_way": "technical",
                "client_organisation_id": org, "client_user_id": me["id"], "served_on": day,
                "minutes": 90, "fee_fen": 30000}),
        )
        .await;
    assert_eq!(status, 201, "{record}");
    record["id"].as_i64().unwrap()
}

fn scores(overall: &str) -> Value {
    json!({"overall": overall, "attitude": "satisfied", "quality": "very_satisfied",
        "timeliness": "neutral", "price": "satisfied", "condition": "satisfied",
        "comment": "数据质量很好，老师讲解耐心"})
}

async fn a_client_rates_a_service_and_the_unit_answers(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(common::beijing(2026, 11, 30, 18, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let instrument = app.open_instrument().await;
    let record = service_for_researcher(&app, instrument, "2026-11-30").await;
    // The client is asked to rate, with a link to the form.
    let invite = smtp
        .wait_for("researcher@yiqi.demo", "请评价本次服务")
        .await;
    assert!(
        invite
            .part("text/plain")
            .contains(&format!("/me/services/{record}/rate")),
        "{}",
        invite.part("text/plain")
    );

    let researcher = app.token("researcher@yiqi.demo").await;
    let path = format!("/api/v1/service-records/{record}/rating");
    let (status, r) = app
        .post(&path, Some(&researcher), scores("dissatisfied"))
        .await;
    assert_eq!(
        (status, r["overall_label"].as_str()),
        (201, Some("不满意")),
        "{r}"
    );
    // 不满意 reaches the instrument's manager at once.
    let low = smtp
        .wait_for("manager@yiqi.demo", "收到「不满意」评价")
        .await;
    assert!(low.part("text/plain").contains("数据质量很好"));

    // Everyone sees it on the instrument, the rater by organisation only.
    let summary = app
        .json(&format!("/api/v1/instruments/{instrument}/ratings"))
        .await;
    assert_eq!(summary["count"], 1, "{summary}");
    assert_eq!(summary["average"].as_f64(), Some(2.0));
    assert_eq!(summary["satisfaction"].as_f64(), Some(0.0));
    let shown = &summary["recent"][0];
    assert!(
        shown["rater"].as_str().unwrap().ends_with(" 用户")
            && shown["rater"].as_str().unwrap().contains("长春光学"),
        "{shown}"
    );
    assert!(!shown.to_string().contains("王研究员"), "no name: {shown}");

    // The client changes their mind within the week.
    clock.advance(Duration::days(2));
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, r) = app
        .call(
            "PUT",
            &path,
            Some(&researcher),
            Some(scores("very_satisfied")),
        )
        .await;
    assert_eq!(
        (status, r["overall"].as_str()),
        (200, Some("very_satisfied")),
        "{r}"
    );
    let summary = app
        .json(&format!("/api/v1/instruments/{instrument}/ratings"))
        .await;
    assert_eq!(
        (summary["count"].as_i64(), summary["satisfaction"].as_f64()),
        (Some(1), Some(1.0))
    );
    // The kept counts equal a rebuild from the ratings.
    yiqi::usage::store::rebuild_rollups(&mut app.db.connect()).unwrap();
    assert_eq!(
        app.json(&format!("/api/v1/instruments/{instrument}/ratings"))
            .await,
        summary
    );

    // The unit's yearly evaluation counts it: satisfaction is the share at the top two levels.
    let admin = app.token("unit-admin@yiqi.demo").await;
    let (status, e) = app
        .call(
            "GET",
            "/api/v1/units/1/evaluation?year=2026",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(
        (e["ratings"].as_i64(), e["satisfaction"].as_f64()),
        (Some(1), Some(1.0))
    );
    let row = e["per_instrument"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instrument_id"] == instrument)
        .unwrap();
    assert_eq!(
        (row["ratings"].as_i64(), row["satisfaction"].as_f64()),
        (Some(1), Some(1.0))
    );

    // The unit answers once, in public; the client hears of it; a second answer is refused.
    let manager = app.token("manager@yiqi.demo").await;
    let id = r["id"].as_i64().unwrap();
    let reply = format!("/api/v1/ratings/{id}/reply");
    let (status, p) = app
        .post(&reply, Some(&researcher), json!({"reply": "自己回复"}))
        .await;
    assert_eq!(status, 403, "only the unit answers: {p}");
    let (status, p) = app.post(&reply, Some(&manager), json!({"reply": ""})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reply")));
    let (status, r) = app
        .post(
            &reply,
            Some(&manager),
            json!({"reply": "感谢您的肯定，欢迎再来"}),
        )
        .await;
    assert_eq!(
        (status, r["reply"].as_str()),
        (200, Some("感谢您的肯定，欢迎再来")),
        "{r}"
    );
    smtp.wait_for("researcher@yiqi.demo", "回复了您的评价")
        .await;
    let (status, p) = app
        .post(&reply, Some(&manager), json!({"reply": "再说一次"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (409, Some("already_replied")));
    let summary = app
        .json(&format!("/api/v1/instruments/{instrument}/ratings"))
        .await;
    assert_eq!(summary["recent"][0]["reply"], "感谢您的肯定，欢迎再来");
    // The instrument's page says it too.
    let page = app
        .get(&format!("/instruments/{instrument}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("非常满意") && page.contains("感谢您的肯定") && page.contains("1 条评价"),
        "the page shows the rating"
    );
}

async fn a_rating_keeps_its_rules(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 11, 30, 18, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let instrument = app.open_instrument().await;
    let recent = service_for_researcher(&app, instrument, "2026-11-30").await;
    let old = service_for_researcher(&app, instrument, "2026-10-20").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;
    let path = |id: i64| format!("/api/v1/service-records/{id}/rating");

    // Only the client may rate; anyone else learns nothing of the service.
    let (status, _) = app
        .post(&path(recent), Some(&manager), scores("satisfied"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.call("GET", &path(recent), Some(&manager), None).await;
    assert_eq!(status, 404);
    // Bad scores and a long comment name their field and write nothing.
    let mut bad = scores("fine");
    let (status, p) = app
        .post(&path(recent), Some(&researcher), bad.clone())
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("overall")), "{p}");
    bad = scores("satisfied");
    bad["comment"] = json!("好".repeat(501));
    let (status, p) = app.post(&path(recent), Some(&researcher), bad).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("comment")), "{p}");
    let (status, _) = app
        .call("GET", &path(recent), Some(&researcher), None)
        .await;
    assert_eq!(status, 404, "nothing was written");

    // Past the 30-day window: refused.
    let (status, p) = app
        .post(&path(old), Some(&researcher), scores("satisfied"))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("rating_window_closed")),
        "{p}"
    );

    // Once: a double click gives one rating and one refusal.
    let twice = path(recent);
    let (a, b) = tokio::join!(
        app.post(&twice, Some(&researcher), scores("satisfied")),
        app.post(&twice, Some(&researcher), scores("satisfied")),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", a.1, b.1);
    let refused = if a.0 == 409 { &a.1 } else { &b.1 };
    assert_eq!(refused["code"], "already_rated");
    let summary = app
        .json(&format!("/api/v1/instruments/{instrument}/ratings"))
        .await;
    assert_eq!(summary["count"], 1);

    // Changeable for 7 days, not after.
    clock.advance(Duration::days(7) + Duration::minutes(1));
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, p) = app
        .call(
            "PUT",
            &path(recent),
            Some(&researcher),
            Some(scores("neutral")),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("rating_locked")),
        "{p}"
    );
    let (_, mine) = app
        .call("GET", &path(recent), Some(&researcher), None)
        .await;
    assert_eq!(mine["overall"], "satisfied");
}
