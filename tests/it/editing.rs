//! Editing the catalogue (422 per field, retiring, the audit log) and the qualification,
//! violation and ban rules, on both backends, with e-mail to a real SMTP server and time from
//! a `ManualClock`.

use crate::common;

use chrono::{Duration, TimeZone, Utc};
use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::clock::{Clock, ManualClock};

on_both_backends!(
    instruments_are_validated_field_by_field,
    retired_instruments_leave_the_catalogue_but_keep_their_page,
    booking_settings_are_checked_and_audited,
    qualifications_apply_decide_expire_and_apply_again,
    bans_block_by_scope_until_lifted_with_history,
);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 8, 0, 0).unwrap()
}

fn new_instrument() -> Value {
    json!({
        "name_zh": "场发射扫描电子显微镜",
        "name_en": "Field emission SEM",
        "asset_no": "JLU-2026-0001",
        "category_code": "030101",
        "original_value_yuan": 3_650_000,
        "model": "SU8020",
        "manufacturer": "日立",
        "specs": "分辨率 1.0 nm @ 15 kV",
        "disciplines": ["材料科学", "物理学"]
    })
}

async fn instruments_are_validated_field_by_field(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(t0()), None).await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    let path = "/api/v1/units/1/instruments";
    let long = |n: usize| "测".repeat(n);
    for (field, value) in [
        ("name_zh", json!("")),
        ("name_zh", json!(long(101))),
        ("specs", json!(long(501))),
        ("functions", json!(long(301))),
        ("service_content", json!(long(201))),
        ("category_code", json!("999999")),
        ("category_code", json!("03010")),
        ("original_value_yuan", json!(-1)),
        ("share_mode", json!("everyone")),
        ("run_status", json!("broken")),
        ("contact_email", json!("not-mail")),
        ("contact_phone", json!("ask the porter")),
        ("photo_url", json!("javascript:alert(1)")),
        ("in_service_on", json!("2027-01-01")),
        ("disciplines", json!(["a", "b", "c", "d", "e"])),
        ("asset_no", json!(long(51))),
    ] {
        let mut body = new_instrument();
        body[field] = value.clone();
        let (status, p) = app.post(path, Some(&admin), body).await;
        assert_eq!(
            (status, p["field"].as_str()),
            (422, Some(field)),
            "{field}={value}: {p}"
        );
    }
    for missing in [
        "name_zh",
        "asset_no",
        "category_code",
        "original_value_yuan",
    ] {
        let mut body = new_instrument();
        body.as_object_mut().unwrap().remove(missing);
        let (status, p) = app.post(path, Some(&admin), body).await;
        assert_eq!((status, p["field"].as_str()), (422, Some(missing)), "{p}");
    }
    // Exactly at the limits is fine: 100 characters of Chinese are 100, not 300 bytes.
    let mut body = new_instrument();
    body["name_zh"] = json!(long(100));
    body["specs"] = json!(long(500));
    let (status, created) = app.post(path, Some(&admin), body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["unit"]["id"], 1);
    assert_eq!(
        created["city"],
        app.json("/api/v1/units/1").await["city"],
        "the city defaults to the unit's"
    );
    assert_eq!(created["disciplines"], json!(["材料科学", "物理学"]));
    // The asset number is unique within the unit, not across units.
    let (status, p) = app.post(path, Some(&admin), new_instrument()).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("asset_no")),
        "{p}"
    );
    let platform = app.token("admin@yiqi.demo").await;
    let (status, _) = app
        .post(
            "/api/v1/units/2/instruments",
            Some(&platform),
            new_instrument(),
        )
        .await;
    assert_eq!(status, 201);

    // PATCH changes only what it names; a bad field changes nothing.
    let id = created["id"].as_i64().unwrap();
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&admin),
            Some(json!({"model": "SU9000", "functions": long(301)})),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("functions")));
    assert_eq!(
        app.json(&format!("/api/v1/instruments/{id}")).await["model"],
        "SU8020"
    );
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&admin),
            Some(json!({"model": "SU9000", "run_status": "standby"})),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    let after = app.json(&format!("/api/v1/instruments/{id}")).await;
    assert_eq!(
        (after["model"].as_str(), after["run_status"].as_str()),
        (Some("SU9000"), Some("standby"))
    );
    assert_eq!(after["manufacturer"], "日立");
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&admin),
            Some(json!({"colour": "blue"})),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (400, Some("colour")));

    // Audited with before and after.
    let (_, log) = app
        .call(
            "GET",
            &format!("/api/v1/admin/audit?target_type=instrument&target_id={id}"),
            Some(&platform),
            None,
        )
        .await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["instrument.update", "instrument.create"]);
    assert_eq!(log["items"][0]["before"]["model"], "SU8020");
    assert_eq!(log["items"][0]["after"]["model"], "SU9000");
    assert_eq!(log["items"][0]["actor"]["email"], "unit-admin@yiqi.demo");
}

async fn retired_instruments_leave_the_catalogue_but_keep_their_page(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(t0()), None).await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    let before = app.json("/api/v1/stats").await["instruments"]
        .as_i64()
        .unwrap();
    let unit = app.json("/api/v1/instruments?unit=1&per_page=100").await;
    let id = unit["items"][3]["id"].as_i64().unwrap();
    let (status, retired) = app
        .post(
            &format!("/api/v1/instruments/{id}/retire"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{retired}");
    assert_eq!(retired["retired_at"], "2026-11-28T08:00:00Z");
    let (status, p) = app
        .post(
            &format!("/api/v1/instruments/{id}/retire"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("instrument_retired"))
    );
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&admin),
            Some(json!({"model": "x"})),
        )
        .await;
    assert_eq!(status, 409);
    // Gone from lists and figures (the counts cache was cleared), still readable by id.
    let list = app.json("/api/v1/instruments?unit=1&per_page=100").await;
    assert_eq!(
        list["total"].as_i64().unwrap(),
        unit["total"].as_i64().unwrap() - 1
    );
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["id"] != id));
    assert_eq!(
        app.json("/api/v1/stats").await["instruments"]
            .as_i64()
            .unwrap(),
        before - 1
    );
    assert_eq!(
        app.json(&format!("/api/v1/instruments/{id}")).await["retired_at"],
        "2026-11-28T08:00:00Z"
    );
    // Sub-platforms and units: renaming a unit renames its organisation.
    let platform = app.token("admin@yiqi.demo").await;
    let (status, unit) = app
        .call(
            "PATCH",
            "/api/v1/units/1",
            Some(&platform),
            Some(json!({"name": "吉林大学（中心校区）"})),
        )
        .await;
    assert_eq!(status, 200, "{unit}");
    let orgs = app
        .json("/api/v1/organisations?q=%E4%B8%AD%E5%BF%83%E6%A0%A1%E5%8C%BA")
        .await;
    assert_eq!(orgs["items"][0]["unit_id"], 1);
    let (status, p) = app
        .call(
            "PATCH",
            "/api/v1/units/1",
            Some(&platform),
            Some(json!({"name": app.json("/api/v1/units/2").await["name"]})),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("name")));
    let (status, created) = app
        .post("/api/v1/units", Some(&platform), json!({"sub_platform_id": 1, "name": "长春新材料检测中心", "short_name": "新材料", "kind": "testing_body", "city": "长春"}))
        .await;
    assert_eq!(status, 201, "{created}");
    let orgs = app
        .json("/api/v1/organisations?q=%E6%96%B0%E6%9D%90%E6%96%99")
        .await;
    assert_eq!(
        orgs["items"][0]["unit_id"], created["id"],
        "a new unit is an organisation"
    );
    let (status, p) = app
        .post(
            "/api/v1/sub-platforms",
            Some(&platform),
            json!({"name": ""}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("name")));
}

async fn booking_settings_are_checked_and_audited(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(t0()), None).await;
    let manager = app.token("manager@yiqi.demo").await;
    let id = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/instruments/{id}/booking-settings");
    let defaults = app.json(&path).await;
    assert_eq!(defaults["approval_required"], true);
    for (field, body) in [
        ("slot_minutes", json!({"slot_minutes": 2})),
        (
            "max_minutes",
            json!({"min_minutes": 120, "max_minutes": 60}),
        ),
        (
            "min_minutes",
            json!({"slot_minutes": 45, "min_minutes": 60}),
        ),
        ("horizon_days", json!({"horizon_days": 0})),
        ("modes", json!({"modes": "teleport"})),
    ] {
        let (status, p) = app.call("PUT", &path, Some(&manager), Some(body)).await;
        assert_eq!((status, p["field"].as_str()), (422, Some(field)), "{p}");
    }
    let (status, saved) = app
        .call("PUT", &path, Some(&manager), Some(json!({"modes": "machine_time", "approval_required": false, "slot_minutes": 60, "min_minutes": 60, "max_minutes": 240})))
        .await;
    assert_eq!(status, 200, "{saved}");
    let read = app.json(&path).await;
    assert_eq!(
        (
            read["modes"].as_str(),
            read["approval_required"].as_bool(),
            read["max_minutes"].as_i64()
        ),
        (Some("machine_time"), Some(false), Some(240))
    );
    let (status, _) = app
        .call(
            "PUT",
            &path,
            Some(&manager),
            Some(json!({"notice_minutes": 120})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.json(&path).await["slot_minutes"],
        60,
        "a second save keeps the first's values"
    );
}

async fn qualifications_apply_decide_expire_and_apply_again(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(t0());
    let db = db.seeded();
    let mut conn = db.connect();
    let app = TestApp::spawn_full(db, clock.clone(), Some(smtp.port)).await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;
    let id = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let apply = format!("/api/v1/instruments/{id}/qualifications");

    let (status, q) = app
        .post(
            &apply,
            Some(&researcher),
            json!({"note": "已参加 11 月培训"}),
        )
        .await;
    assert_eq!(status, 201, "{q}");
    assert_eq!(q["status"], "applied");
    // A double click does not make a second application.
    let (status, p) = app.post(&apply, Some(&researcher), json!({})).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("already_applied")));
    // The manager and the unit admin are told.
    smtp.wait_for("manager@yiqi.demo", "上机资格申请").await;
    smtp.wait_for("unit-admin@yiqi.demo", "上机资格申请").await;

    let (_, queue) = app
        .call(
            "GET",
            "/api/v1/qualifications?status=applied",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(queue["total"], 1);
    let qid = queue["items"][0]["id"].as_i64().unwrap();
    let decide = format!("/api/v1/qualifications/{qid}/decision");
    let (status, p) = app
        .post(&decide, Some(&manager), json!({"decision": "refuse"}))
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")));
    let (status, p) = app
        .post(
            &decide,
            Some(&manager),
            json!({"decision": "approve", "level": "expert"}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("level")));
    let expires = t0() + Duration::days(30);
    let (status, q) = app
        .post(
            &decide,
            Some(&manager),
            json!({"decision": "approve", "level": "independent", "expires_at": expires}),
        )
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(
        (q["status"].as_str(), q["level"].as_str()),
        (Some("approved"), Some("independent"))
    );
    let (status, p) = app
        .post(
            &decide,
            Some(&manager),
            json!({"decision": "refuse", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let mail = smtp
        .wait_for("researcher@yiqi.demo", "上机资格已批准")
        .await;
    assert!(
        mail.part("text/plain").contains("可独立上机"),
        "{}",
        mail.part("text/plain")
    );
    assert!(mail.part("text/plain").contains("2026年12月28日"));
    let me = yiqi::types::UserId(q["user"]["id"].as_i64().unwrap());
    let level = yiqi::users::qualifications::qualification_level(
        &mut conn,
        me,
        yiqi::types::InstrumentId(id),
        clock.now(),
    )
    .unwrap();
    assert_eq!(
        level,
        Some(yiqi::users::model::QualificationLevel::Independent)
    );

    // Expiry: nothing before the day, then expired with an e-mail, and one may apply again.
    clock.advance(Duration::days(30) - Duration::seconds(1));
    assert_eq!(
        yiqi::users::qualifications::expire_due(&mut conn, clock.now()).unwrap(),
        0
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(
        yiqi::users::qualifications::expire_due(&mut conn, clock.now()).unwrap(),
        1
    );
    assert_eq!(
        yiqi::users::qualifications::expire_due(&mut conn, clock.now()).unwrap(),
        0
    );
    smtp.wait_for("researcher@yiqi.demo", "上机资格已到期")
        .await;
    let level = yiqi::users::qualifications::qualification_level(
        &mut conn,
        me,
        yiqi::types::InstrumentId(id),
        clock.now(),
    )
    .unwrap();
    assert_eq!(level, None);
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, mine) = app
        .call(
            "GET",
            "/api/v1/qualifications?mine=true",
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(mine["items"][0]["status"], "expired");
    let (status, _) = app.post(&apply, Some(&researcher), json!({})).await;
    assert_eq!(status, 201);
    // Refused, with the reason reaching the applicant.
    let manager = app.token("manager@yiqi.demo").await;
    let (_, queue) = app
        .call(
            "GET",
            "/api/v1/qualifications?status=applied",
            Some(&manager),
            None,
        )
        .await;
    let qid = queue["items"][0]["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/qualifications/{qid}/decision"),
            Some(&manager),
            json!({"decision": "refuse", "reason": "请先完成安全培训"}),
        )
        .await;
    assert_eq!(status, 200);
    let mail = smtp
        .wait_for("researcher@yiqi.demo", "上机资格未通过")
        .await;
    assert!(mail.part("text/plain").contains("请先完成安全培训"));
}

async fn bans_block_by_scope_until_lifted_with_history(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(t0());
    let db = db.seeded();
    let mut conn = db.connect();
    let app = TestApp::spawn_full(db, clock.clone(), Some(smtp.port)).await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, me) = app.call("GET", "/api/v1/me", Some(&researcher), None).await;
    let uid = me["id"].as_i64().unwrap();
    let own = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let other = app.json("/api/v1/instruments?unit=2&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();

    // Violations are recorded against a person and counted.
    for _ in 0..3 {
        let (status, v) = app
            .post(&format!("/api/v1/users/{uid}/violations"), Some(&unit_admin), json!({"instrument_id": own, "kind": "no_show", "occurred_at": t0() - Duration::days(1)}))
            .await;
        assert_eq!(status, 201, "{v}");
    }
    let (status, p) = app
        .post(&format!("/api/v1/users/{uid}/violations"), Some(&unit_admin), json!({"instrument_id": own, "kind": "no_show", "occurred_at": t0() + Duration::days(1)}))
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("occurred_at")));
    let since = (t0() - Duration::days(30)).naive_utc();
    assert_eq!(
        yiqi::users::store::count_violations(
            &mut conn,
            yiqi::types::UserId(uid),
            yiqi::users::model::ViolationKind::NoShow,
            since
        )
        .unwrap(),
        3
    );
    let (_, mine) = app
        .call(
            "GET",
            &format!("/api/v1/users/{uid}/violations"),
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);

    // Three no-shows: a week's ban from the unit's instruments.
    let ends = t0() + Duration::days(7);
    let (status, p) = app
        .post(
            "/api/v1/bans",
            Some(&unit_admin),
            json!({"user_id": uid, "scope": "unit", "reason": "三次爽约", "ends_at": ends}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("unit_id")));
    let (status, ban) = app
        .post("/api/v1/bans", Some(&unit_admin), json!({"user_id": uid, "scope": "unit", "unit_id": 1, "reason": "三次爽约", "ends_at": ends}))
        .await;
    assert_eq!(status, 201, "{ban}");
    assert_eq!(ban["active"], true);
    let mail = smtp
        .wait_for("researcher@yiqi.demo", "预约权限已暂停")
        .await;
    assert!(mail.part("text/plain").contains("三次爽约"));
    assert!(
        mail.part("text/plain").contains("2026-12-05 16:00"),
        "{}",
        mail.part("text/plain")
    );

    let inst = |id: i64, conn: &mut yiqi::db::DbConnection| {
        yiqi::users::qualifications::instrument(conn, yiqi::types::InstrumentId(id)).unwrap()
    };
    let me = yiqi::types::UserId(uid);
    let own_row = inst(own, &mut conn);
    let other_row = inst(other, &mut conn);
    let active =
        yiqi::users::qualifications::active_ban(&mut conn, me, &own_row, clock.now()).unwrap();
    assert_eq!(active.map(|b| b.ends_at), Some(ends));
    assert!(
        yiqi::users::qualifications::active_ban(&mut conn, me, &other_row, clock.now())
            .unwrap()
            .is_none(),
        "another unit's instruments are not covered"
    );
    clock.advance(Duration::days(7));
    assert!(
        yiqi::users::qualifications::active_ban(&mut conn, me, &own_row, clock.now())
            .unwrap()
            .is_none(),
        "ends on time"
    );

    // Lifted early: who and why stay in its history.
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (_, ban) = app
        .post("/api/v1/bans", Some(&unit_admin), json!({"user_id": uid, "scope": "instrument", "instrument_id": own, "reason": "超时两小时", "ends_at": clock.now() + Duration::days(3)}))
        .await;
    assert!(ban["id"].is_i64(), "{ban}");
    let (status, p) = app
        .post(
            &format!("/api/v1/bans/{}/lift", ban["id"]),
            Some(&unit_admin),
            json!({"reason": ""}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")));
    let (status, lifted) = app
        .post(
            &format!("/api/v1/bans/{}/lift", ban["id"]),
            Some(&unit_admin),
            json!({"reason": "设备故障所致，非本人原因"}),
        )
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(lifted["active"], false);
    assert_eq!(lifted["lift_reason"], "设备故障所致，非本人原因");
    assert!(lifted["lifted_by"].is_i64());
    let (status, _) = app
        .post(
            &format!("/api/v1/bans/{}/lift", ban["id"]),
            Some(&unit_admin),
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(status, 409);
    assert!(
        yiqi::users::qualifications::active_ban(&mut conn, me, &own_row, clock.now())
            .unwrap()
            .is_none()
    );
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, history) = app
        .call(
            "GET",
            &format!("/api/v1/users/{uid}/bans"),
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    smtp.wait_for("researcher@yiqi.demo", "预约权限已恢复")
        .await;
}
