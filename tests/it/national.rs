//! What a ministry accepts, on both backends: the national service record's fields through
//! the API and check-out, past years that do not move when the catalogue changes today, the
//! splits by service way, direction and client kind, and the national export (数据报送) with
//! its rule checks, read back from the workbook and from the command line.

use crate::common;

use calamine::Reader;
use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::clock::ManualClock;

on_both_backends!(
    past_years_do_not_move_when_the_catalogue_changes,
    services_carry_the_national_fields,
    the_national_export_holds_back_what_breaks_a_rule,
);

fn now() -> chrono::DateTime<chrono::Utc> {
    common::beijing(2026, 11, 27, 10, 0)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.call("GET", path, Some(token), None).await
}

/// The figures of 2018 a ministry reads: the platform's and one unit's.
async fn year_2018(app: &TestApp, admin: &str) -> (Value, Value) {
    let stats = app
        .json("/api/v1/stats?from=2018-01-01&to=2018-12-31")
        .await;
    let (status, e) = get(app, "/api/v1/units/1/evaluation?year=2018", admin).await;
    assert_eq!(status, 200, "{e}");
    (stats, e)
}

async fn past_years_do_not_move_when_the_catalogue_changes(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(now()), None).await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    let (stats, evaluation) = year_2018(&app, &admin).await;
    for (key, want) in [
        ("units", json!(72)),
        ("instruments", json!(1940)),
        ("sub_platforms", json!(13)),
        ("services", json!(78)),
        ("client_units", json!(24)),
        ("external_client_units", json!(24)),
        ("internal_client_units", json!(0)),
        ("machine_hours", json!(20820.0)),
    ] {
        assert_eq!(stats[key], want, "{key}");
    }
    // The splits add up to the totals.
    for list in ["by_service_way", "by_direction"] {
        let sum: i64 = stats[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["services"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 78, "{list}");
    }
    assert_eq!(stats["by_service_way"][0]["label"], "占用共享");
    assert_eq!(stats["by_direction"][0]["label"], "科学研究");

    // Today: a new instrument joins unit 1 and one of its instruments is retired.
    let (status, created) = app
        .post(
            "/api/v1/units/1/instruments",
            Some(&admin),
            json!({"name_zh": "新购透射电镜", "asset_no": "NEW-2026-1", "category_code": "030101",
                   "original_value_yuan": 9_000_000}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["listed_on"], "2026-11-27",
        "joins the day it is added"
    );
    let (status, p) = app
        .post(
            "/api/v1/units/1/instruments",
            Some(&admin),
            json!({"name_zh": "未来的仪器", "asset_no": "NEW-2026-2", "category_code": "030101",
                   "original_value_yuan": 9_000_000, "listed_on": "2026-12-01"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("listed_on")),
        "{p}"
    );
    let victim = evaluation["per_instrument"][0]["instrument_id"]
        .as_i64()
        .unwrap();
    let (status, retired) = app
        .post(
            &format!("/api/v1/instruments/{victim}/retire"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{retired}");

    let (stats_after, evaluation_after) = year_2018(&app, &admin).await;
    assert_eq!(stats_after, stats, "the platform's 2018 figures");
    assert_eq!(evaluation_after, evaluation, "unit 1's 2018 evaluation");
    // A unit that dates an instrument's joining back is believed at once: the figures of
    // that year are not served from before the correction.
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{}", created["id"]),
            Some(&admin),
            Some(json!({"listed_on": "2018-06-01"})),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    let (corrected, _) = year_2018(&app, &admin).await;
    assert_eq!(corrected["instruments"], 1941);
    // This year sees both changes: the new instrument counts, the retired one too (it was
    // listed until today).
    let (_, this_year) = get(&app, "/api/v1/units/1/evaluation?year=2026", &admin).await;
    let ids: Vec<i64> = this_year["per_instrument"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instrument_id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&created["id"].as_i64().unwrap()));
    assert!(ids.contains(&victim));
    // Next year the retired one is gone.
    let (_, next_year) = get(&app, "/api/v1/units/1/evaluation?year=2027", &admin).await;
    assert!(!next_year["per_instrument"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["instrument_id"] == victim));
}

async fn services_carry_the_national_fields(db: TestDb) {
    let clock = ManualClock::at(now());
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let instrument = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let admin = app.token("unit-admin@yiqi.demo").await;
    app.call(
        "PATCH",
        &format!("/api/v1/instruments/{instrument}"),
        Some(&admin),
        Some(json!({"share_mode": "external"})),
    )
    .await;
    let manager = app.token("manager@yiqi.demo").await;
    let org = app.json("/api/v1/organisations?q=长春高新").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let good = json!({"instrument_id": instrument, "service_type": "testing", "service_way": "entrusted",
        "client_organisation_id": org, "served_on": "2026-11-26", "minutes": 120, "fee_fen": 50000,
        "content": "锂电池正极材料形貌表征", "direction": "development", "project": "高镍正极中试",
        "funding_source": "enterprise", "applicant_name": "王工", "applicant_phone": "0431-85100000"});
    // Bad values are refused with the field named, and nothing is written.
    let before = app
        .json("/api/v1/stats?from=2026-11-26&to=2026-11-26")
        .await["services"]
        .clone();
    for (field, value) in [
        ("funding_source", json!("国家自然科学基金")),
        ("direction", json!("科研")),
        ("content", json!("测".repeat(201))),
        ("applicant_phone", json!("call me")),
        ("applicant_email", json!("not-an-address")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, p) = app
            .post("/api/v1/service-records", Some(&manager), body)
            .await;
        assert_eq!((status, p["field"].as_str()), (422, Some(field)), "{p}");
    }
    assert_eq!(
        app.json("/api/v1/stats?from=2026-11-26&to=2026-11-26")
            .await["services"],
        before
    );
    // A service counts in the years its instrument was listed: not before it joined.
    let mut early = good.clone();
    early["served_on"] = json!("2010-01-04");
    let (status, p) = app
        .post("/api/v1/service-records", Some(&manager), early)
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("served_on")),
        "{p}"
    );
    let (status, r) = app
        .post("/api/v1/service-records", Some(&manager), good)
        .await;
    assert_eq!(status, 201, "{r}");
    // And the instrument cannot have joined after a service it gave.
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{instrument}"),
            Some(&admin),
            Some(json!({"listed_on": "2026-11-27"})),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("listed_on")),
        "{p}"
    );
    for (key, want) in [
        ("content", json!("锂电池正极材料形貌表征")),
        ("direction", json!("development")),
        ("funding_source", json!("enterprise")),
        ("applicant_name", json!("王工")),
        ("service_way", json!("entrusted")),
    ] {
        assert_eq!(r[key], want, "{key}");
    }
    let day = app
        .json("/api/v1/stats?from=2026-11-26&to=2026-11-26")
        .await;
    let way = |code: &str| {
        day["by_service_way"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["service_way"] == code)
            .map(|w| w["machine_hours"].as_f64().unwrap())
    };
    assert!(way("entrusted") >= Some(2.0), "{day}");
    let development = day["by_direction"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["direction"] == "development")
        .unwrap()["services"]
        .as_i64()
        .unwrap();
    assert!(development >= 1);

    // A booking says what the work is for; check-out carries it onto the record, with the
    // booker as the applicant.
    let researcher = app.token("researcher@yiqi.demo").await;
    let starts = common::beijing(2026, 11, 30, 9, 0);
    let body = json!({"instrument_id": instrument, "kind": "machine_time",
        "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(1)).to_rfc3339(),
        "purpose": "课程实验演示", "direction": "teaching", "project": "材料表征课程", "funding_source": "teaching"});
    let mut bad = body.clone();
    bad["funding_source"] = json!("学校");
    let (status, p) = app
        .post("/api/v1/reservations", Some(&researcher), bad)
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("funding_source")),
        "{p}"
    );
    let (status, b) = app
        .post("/api/v1/reservations", Some(&researcher), body)
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(
        (b["direction"].as_str(), b["funding_source"].as_str()),
        (Some("teaching"), Some("teaching"))
    );
    let id = b["id"].as_i64().unwrap();
    let manager = app.token("manager@yiqi.demo").await;
    let step = |name: &'static str, token: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/reservations/{id}/{name}"),
                Some(&token),
                json!({}),
            )
            .await
        }
    };
    assert_eq!(step("approve", manager.clone()).await.0, 200);
    clock.set(common::beijing(2026, 11, 30, 9, 2));
    let manager = app.token("manager@yiqi.demo").await;
    assert_eq!(step("check-in", manager.clone()).await.0, 200);
    clock.set(common::beijing(2026, 11, 30, 10, 0));
    let manager = app.token("manager@yiqi.demo").await;
    let (status, done) = step("check-out", manager.clone()).await;
    assert_eq!(status, 200, "{done}");
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, mine) = get(
        &app,
        "/api/v1/service-records?mine=true&from=2026-11-30",
        &researcher,
    )
    .await;
    let record = &mine["items"][0];
    let me = app.json_as("/api/v1/me", &researcher).await;
    for (key, want) in [
        ("content", json!("课程实验演示")),
        ("direction", json!("teaching")),
        ("funding_source", json!("teaching")),
        ("project", json!("材料表征课程")),
        ("applicant_name", me["name"].clone()),
        ("applicant_email", me["email"].clone()),
    ] {
        assert_eq!(record[key], want, "{key}: {record}");
    }
}

async fn xlsx(app: &TestApp, path: &str, token: &str) -> calamine::Xlsx<std::io::Cursor<Vec<u8>>> {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let bytes = res.bytes().await.unwrap();
    calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx file")
}

async fn the_national_export_holds_back_what_breaks_a_rule(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(now()), None).await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, _) = get(&app, "/api/v1/units/1/nrii.json?year=2026", &researcher).await;
    assert_eq!(status, 403);
    let (status, _) = get(&app, "/api/v1/nrii.json?year=2026", &admin).await;
    assert_eq!(status, 403, "the whole platform is for its admins");
    // The applicants' phones and e-mails are in it: not for every instrument manager.
    let manager = app.token("manager@yiqi.demo").await;
    let (status, _) = get(&app, "/api/v1/units/1/nrii.json?year=2026", &manager).await;
    assert_eq!(status, 403);
    let (status, p) = get(&app, "/api/v1/units/1/nrii.csv?year=2026", &admin).await;
    assert_eq!(status, 404, "{p}");
    let (status, p) = get(&app, "/api/v1/units/1/nrii.json", &admin).await;
    assert_eq!((status, p["field"].as_str()), (400, Some("year")));

    let (status, clean) = get(&app, "/api/v1/units/1/nrii.json?year=2026", &admin).await;
    assert_eq!(status, 200);
    assert!(
        clean["problems"].as_array().unwrap().is_empty(),
        "{}",
        clean["problems"]
    );
    let instruments = clean["instruments"].as_array().unwrap();
    assert!(!instruments.is_empty());
    // Only large instruments (≥ 50万) are reported, their value in 万元 with two decimals.
    for i in instruments {
        let wan: f64 = i["value_wan"].as_str().unwrap().parse().unwrap();
        assert!(wan >= 50.0, "{i}");
        assert_eq!(
            i["value_wan"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .map(str::len),
            Some(2)
        );
    }
    let services = clean["services"].as_array().unwrap().len();
    assert!(services > 0);
    assert_eq!(clean["summaries"][0]["unit_id"], 1);

    // Break one service record (no content, no applicant) and one instrument (no specs).
    let instrument = instruments[0]["instrument_id"].as_i64().unwrap();
    let other = instruments[1]["instrument_id"].as_i64().unwrap();
    let manager_org = app.json("/api/v1/organisations?q=长春高新").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, broken) = app
        .post(
            "/api/v1/service-records",
            Some(&admin),
            json!({"instrument_id": other, "service_type": "testing", "service_way": "technical",
                   "client_organisation_id": manager_org, "served_on": "2026-11-20", "minutes": 60,
                   "fee_fen": 10000}),
        )
        .await;
    assert_eq!(status, 201, "{broken}");
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{instrument}"),
            Some(&admin),
            Some(json!({"specs": ""})),
        )
        .await;
    assert_eq!(status, 200, "{p}");

    let (_, report) = get(&app, "/api/v1/units/1/nrii.json?year=2026", &admin).await;
    let problems = report["problems"].as_array().unwrap();
    let about = |record: &str, id: i64| -> Vec<String> {
        problems
            .iter()
            .filter(|p| p["record"] == record && p["id"] == id)
            .map(|p| p["field"].as_str().unwrap().to_owned())
            .collect()
    };
    let record = broken["id"].as_i64().unwrap();
    assert_eq!(
        about("service", record),
        ["content", "applicant_name", "applicant_phone"]
    );
    assert_eq!(about("instrument", instrument), ["specs"]);
    let sent = |list: &str, key: &str, id: i64| {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[key] == id)
    };
    assert!(!sent("services", "record_id", record), "held back");
    assert!(
        !sent("instruments", "instrument_id", instrument),
        "held back"
    );
    assert!(sent("instruments", "instrument_id", other));
    assert!(report["services"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["owner_unit"] == report["summaries"][0]["unit_name"]
            && s["instrument_id"].as_i64().is_some()));
    let summary = &report["summaries"][0];
    assert_eq!(
        summary["instruments"].as_u64(),
        Some(clean["instruments"].as_array().unwrap().len() as u64),
        "the summary counts the large instruments"
    );

    // The workbook says the same, read back with a spreadsheet reader.
    let mut book = xlsx(&app, "/api/v1/units/1/nrii.xlsx?year=2026", &admin).await;
    assert_eq!(book.sheet_names(), ["仪器", "服务记录", "年度汇总", "问题"]);
    let rows = |book: &mut calamine::Xlsx<_>, name: &str| -> Vec<Vec<String>> {
        book.worksheet_range(name)
            .unwrap()
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let sheet = rows(&mut book, "仪器");
    assert_eq!(
        sheet.len(),
        report["instruments"].as_array().unwrap().len() + 1
    );
    assert_eq!(sheet[0][9], "原值（万元）");
    assert_eq!(
        sheet[1][9],
        report["instruments"][0]["value_wan"].as_str().unwrap()
    );
    let sheet = rows(&mut book, "服务记录");
    assert_eq!(
        sheet.len(),
        report["services"].as_array().unwrap().len() + 1
    );
    assert!(sheet[1..].iter().all(|r| r[0] != record.to_string()));
    assert!(sheet[1..]
        .iter()
        .all(|r| ["占用共享", "技术共享", "委托共享", "远程共享"].contains(&r[9].as_str())));
    let sheet = rows(&mut book, "问题");
    assert!(sheet
        .iter()
        .any(|r| r[1] == record.to_string() && r[2] == "content"));
    assert!(sheet
        .iter()
        .any(|r| r[1] == instrument.to_string() && r[2] == "specs"));
    let sheet = rows(&mut book, "年度汇总");
    assert_eq!(sheet.len(), 2);

    // The platform's admins export every unit at once.
    let platform = app.token("admin@yiqi.demo").await;
    let (status, all) = get(&app, "/api/v1/nrii.json?year=2018", &platform).await;
    assert_eq!(status, 200);
    assert_eq!(all["summaries"].as_array().unwrap().len(), 72);
    let services: i64 = all["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["services"].as_i64().unwrap())
        .sum();
    // The summaries cover the services on large instruments: those sent, and those held back
    // with the instrument broken above (listed in 2018 too).
    let held = all["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            assert!(
                (p["record"] == "instrument" && p["id"] == instrument)
                    || p["field"] == "instrument_id",
                "{p}"
            );
            p["record"] == "service"
        })
        .count();
    assert_eq!(
        services as usize,
        all["services"].as_array().unwrap().len() + held
    );
    assert!(services > 0 && services <= 78, "{services}");
}
