//! Machine-hours on both backends: the province's 2018 figures from the demo's records, service
//! records from check-out and from the manager's log, hour reductions with their history, the
//! rollups equal to a recomputation, a unit's evaluation and its CSV / XLSX exports.

use crate::common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};
use yiqi::clock::ManualClock;
use yiqi::db::schema::{instruments, service_records as s};
use yiqi::types::PLATFORM_ZONE;

on_both_backends!(
    the_demo_reports_the_provinces_2018_figures,
    services_are_logged_corrected_and_rolled_up,
    a_units_evaluation_and_its_exports,
);

/// Shanghai wall time in November / December 2026.
fn sh(month: u32, d: u32, h: u32, m: u32) -> DateTime<Utc> {
    PLATFORM_ZONE
        .with_ymd_and_hms(2026, month, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.with_timezone(&PLATFORM_ZONE).to_rfc3339()
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.call("GET", path, Some(token), None).await
}

/// (services, distinct client organisations, minutes) of the records in [from, to], read
/// straight from the table.
fn recount(app: &TestApp, from: &str, to: &str) -> (i64, i64, i64) {
    let (from, to) = (
        NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap(),
        NaiveDate::parse_from_str(to, "%Y-%m-%d").unwrap(),
    );
    let mut conn = app.db.connect();
    let rows: Vec<(Option<i64>, i32)> = s::table
        .filter(s::served_on.between(from, to))
        .select((s::client_organisation_id, s::minutes))
        .load(&mut conn)
        .unwrap();
    let orgs: std::collections::HashSet<_> = rows.iter().filter_map(|r| r.0).collect();
    (
        rows.len() as i64,
        orgs.len() as i64,
        rows.iter().map(|r| i64::from(r.1)).sum(),
    )
}

/// The kept rollups, then the same recomputed from the records: they must be equal.
fn rollups_match_recomputation(app: &TestApp) {
    let mut conn = app.db.connect();
    let cells = |conn: &mut yiqi::db::DbConnection| {
        (
            yiqi::usage::store::monthly_cells(conn).unwrap(),
            yiqi::usage::store::yearly_cells(conn).unwrap(),
            yiqi::usage::store::unit_cells(conn).unwrap(),
            yiqi::usage::store::client_cells(conn).unwrap(),
            yiqi::usage::store::platform_client_cells(conn).unwrap(),
            yiqi::usage::store::instrument_client_cells(conn).unwrap(),
        )
    };
    let kept = cells(&mut conn);
    yiqi::usage::store::rebuild_rollups(&mut conn).unwrap();
    let recomputed = cells(&mut conn);
    assert!(!kept.0.is_empty());
    assert_eq!(kept, recomputed, "rollups equal the recomputation");
}

async fn the_demo_reports_the_provinces_2018_figures(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let year = app
        .json("/api/v1/stats?from=2018-01-01&to=2018-12-31")
        .await;
    for (key, want) in [
        ("services", json!(78)),
        ("client_units", json!(24)),
        ("machine_hours", json!(20820.0)),
        ("external_hours", json!(20820.0)),
        ("units", json!(72)),
        ("instruments", json!(1940)),
        ("sub_platforms", json!(13)),
    ] {
        assert_eq!(year[key], want, "{key}");
    }
    // The breakdowns add up to the totals.
    let sum = |list: &Value, key: &str| -> f64 {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v[key].as_f64().unwrap())
            .sum()
    };
    assert_eq!(year["by_month"].as_array().unwrap().len(), 12);
    assert_eq!(year["by_sub_platform"].as_array().unwrap().len(), 13);
    for list in ["by_month", "by_sub_platform", "by_service_type", "by_unit"] {
        assert_eq!(sum(&year[list], "services"), 78.0, "{list}");
        assert_eq!(sum(&year[list], "machine_hours"), 20820.0, "{list}");
    }
    assert_eq!(
        year["income_fen"].as_f64(),
        Some(sum(&year["by_unit"], "income_fen"))
    );
    assert_eq!(year["by_service_type"][0]["label"], "测试");
    let top = year["by_instrument"].as_array().unwrap();
    assert!(
        top.len() == 20 && top[0]["machine_hours"].as_f64() >= top[19]["machine_hours"].as_f64()
    );
    // Ragged periods mix rollups (whole months) with records (the edge days) and agree with
    // counting the records themselves.
    for (from, to) in [
        ("2018-01-15", "2018-03-10"),
        ("2018-02-03", "2018-02-20"),
        ("2025-06-30", "2026-11-27"),
        ("2018-01-01", "2026-12-31"),
    ] {
        let st = app
            .json(&format!("/api/v1/stats?from={from}&to={to}"))
            .await;
        let (services, clients, minutes) = recount(&app, from, to);
        assert_eq!(st["services"], services, "{from}..{to}");
        assert_eq!(st["client_units"], clients, "{from}..{to}");
        assert_eq!(
            st["machine_hours"].as_f64().unwrap(),
            (minutes as f64 / 6.0).round() / 10.0,
            "{from}..{to}"
        );
    }
    // This year is alive, and bad periods are refused with the field named.
    let this_year = app
        .json("/api/v1/stats?from=2026-01-01&to=2026-12-31")
        .await;
    assert!(
        this_year["services"].as_i64().unwrap() > 500,
        "{}",
        this_year["services"]
    );
    let p = app
        .problem("/api/v1/stats?from=2018-12-31&to=2018-01-01", 422)
        .await;
    assert_eq!(p["field"], "to");
    let p = app.problem("/api/v1/stats?from=2018-02-30", 400).await;
    assert_eq!(p["field"], "from");
    let p = app.problem("/api/v1/stats?month=3", 400).await;
    assert_eq!(p["field"], "month");
    rollups_match_recomputation(&app);
}

async fn services_are_logged_corrected_and_rolled_up(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(sh(11, 27, 10, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let instrument = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let manager = app.token("manager@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    app.call(
        "PATCH",
        &format!("/api/v1/instruments/{instrument}"),
        Some(&admin),
        Some(json!({"share_mode": "external"})),
    )
    .await;
    let before = app
        .json("/api/v1/stats?from=2026-11-30&to=2026-11-30")
        .await;
    assert_eq!(before["services"], 0);

    // Check-out writes the record: actual minutes less the idle time the staff report.
    let (status, b) = app
        .post(
            "/api/v1/reservations",
            Some(&researcher),
            json!({"instrument_id": instrument, "kind": "machine_time",
                   "starts_at": rfc(sh(11, 30, 9, 0)), "ends_at": rfc(sh(11, 30, 10, 0))}),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    let step = |name: &'static str, token: String, body: Value| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/reservations/{id}/{name}"),
                Some(&token),
                body,
            )
            .await
        }
    };
    assert_eq!(step("approve", manager.clone(), json!({})).await.0, 200);
    clock.set(sh(11, 30, 9, 5));
    let manager = app.token("manager@yiqi.demo").await;
    assert_eq!(step("check-in", manager.clone(), json!({})).await.0, 200);
    clock.set(sh(11, 30, 9, 55));
    let manager = app.token("manager@yiqi.demo").await;
    let (status, p) = step(
        "check-out",
        manager.clone(),
        json!({"service_type": "lecture"}),
    )
    .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("service_type")),
        "{p}"
    );
    let (status, done) = step(
        "check-out",
        manager.clone(),
        json!({"idle_minutes": 10, "service_type": "training"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let researcher = app.token("researcher@yiqi.demo").await;
    let (_, mine) = get(
        &app,
        "/api/v1/service-records?mine=true&from=2026-11-30",
        &researcher,
    )
    .await;
    assert_eq!(mine["total"], 1, "{mine}");
    let record = mine["items"][0].clone();
    assert_eq!(
        (
            record["minutes"].as_i64(),
            record["idle_minutes"].as_i64(),
            record["service_type"].as_str(),
            record["served_on"].as_str(),
            record["internal"].as_bool()
        ),
        (
            Some(40),
            Some(10),
            Some("training"),
            Some("2026-11-30"),
            Some(false)
        )
    );
    let day = app
        .json("/api/v1/stats?from=2026-11-30&to=2026-11-30")
        .await;
    assert_eq!(
        (day["services"].as_i64(), day["machine_hours"].as_f64()),
        (Some(1), Some(0.7))
    );

    // The manager logs a consultation outside any booking; bad input names its field.
    let org = app.json("/api/v1/organisations?q=长春高新").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let log = |body: Value| {
        let app = &app;
        let token = manager.clone();
        async move {
            app.post("/api/v1/service-records", Some(&token), body)
                .await
        }
    };
    let good = json!({"instrument_id": instrument, "service_type": "consulting", "service_way": "technical",
        "client_organisation_id": org, "served_on": "2026-11-30", "minutes": 90, "fee_fen": 30000,
        "project": "工艺咨询"});
    for (patch, field, status) in [
        (json!({"service_type": "chat"}), "service_type", 422),
        (json!({"service_way": "by post"}), "service_way", 422),
        (
            json!({"client_organisation_id": 999999}),
            "client_organisation_id",
            422,
        ),
        (json!({"minutes": -5}), "minutes", 422),
        (json!({"fee_fen": -1}), "fee_fen", 422),
        (json!({"served_on": "2026-12-25"}), "served_on", 422),
        (
            json!({"served_on": null, "minutes": null, "starts_at": rfc(sh(11, 30, 14, 0)), "ends_at": rfc(sh(11, 30, 13, 0))}),
            "ends_at",
            422,
        ),
        (
            json!({"served_on": null, "minutes": null, "starts_at": "2026-11-30T13:00:00", "ends_at": rfc(sh(11, 30, 14, 0))}),
            "starts_at",
            400,
        ),
    ] {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (got, p) = log(body).await;
        assert_eq!(
            (got, p["field"].as_str()),
            (status, Some(field)),
            "{patch}: {p}"
        );
    }
    let other = app.json("/api/v1/instruments?unit=2&per_page=1").await["items"][0]["id"].clone();
    let mut elsewhere = good.clone();
    elsewhere["instrument_id"] = other;
    assert_eq!(log(elsewhere).await.0, 403, "not the manager's instrument");
    let (status, _) = app
        .post("/api/v1/service-records", Some(&researcher), good.clone())
        .await;
    assert_eq!(status, 403, "researchers do not log services");
    let (status, logged) = log(good.clone()).await;
    assert_eq!(status, 201, "{logged}");
    assert_eq!(logged["logged_by"].as_i64(), Some(3));
    let day = app
        .json("/api/v1/stats?from=2026-11-30&to=2026-11-30")
        .await;
    assert_eq!(
        (day["services"].as_i64(), day["machine_hours"].as_f64()),
        (Some(2), Some(2.2))
    );
    assert_eq!(day["by_service_type"][2]["services"], 1, "consulting");

    // The client asks for a reduction (核减机时); the manager refuses (with a reason), then
    // accepts a second request; the history keeps both and the client hears each decision.
    let rid = record["id"].as_i64().unwrap();
    let ask = |body: Value| {
        let app = &app;
        let token = researcher.clone();
        async move {
            app.post(
                &format!("/api/v1/service-records/{rid}/reductions"),
                Some(&token),
                body,
            )
            .await
        }
    };
    let (status, p) = ask(json!({"minutes": 40, "reason": "空转"})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("minutes")));
    let (status, p) = ask(json!({"minutes": 30, "reason": ""})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")));
    let (status, p) = app
        .post(
            &format!("/api/v1/service-records/{rid}/reductions"),
            Some(&manager),
            json!({"minutes": 30, "reason": "x"}),
        )
        .await;
    assert_eq!(status, 403, "only the client asks: {p}");
    let (status, first) = ask(json!({"minutes": 30, "reason": "仪器故障停机十分钟"})).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (201, Some("pending")),
        "{first}"
    );
    let (status, p) = ask(json!({"minutes": 20, "reason": "again"})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("reduction_pending"))
    );
    smtp.wait_for("manager@yiqi.demo", "核减机时申请").await;
    let (_, queue) = get(&app, "/api/v1/hour-reductions", &manager).await;
    assert_eq!(queue.as_array().map(Vec::len), Some(1), "{queue}");
    let decide = |id: i64, body: Value| {
        let app = &app;
        let token = manager.clone();
        async move {
            app.post(
                &format!("/api/v1/hour-reductions/{id}/decision"),
                Some(&token),
                body,
            )
            .await
        }
    };
    let first_id = first["id"].as_i64().unwrap();
    let (status, p) = decide(first_id, json!({"accept": false})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")), "{p}");
    let (status, refused) = decide(
        first_id,
        json!({"accept": false, "reason": "日志显示无停机"}),
    )
    .await;
    assert_eq!(
        (status, refused["status"].as_str()),
        (200, Some("refused")),
        "{refused}"
    );
    let (status, p) = decide(first_id, json!({"accept": true})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("reduction_decided"))
    );
    smtp.wait_for("researcher@yiqi.demo", "核减机时未同意")
        .await;
    let (_, second) = ask(json!({"minutes": 20, "reason": "附停机记录"})).await;
    let (status, accepted) = decide(second["id"].as_i64().unwrap(), json!({"accept": true})).await;
    assert_eq!(
        (status, accepted["status"].as_str()),
        (200, Some("accepted")),
        "{accepted}"
    );
    let fee_before = accepted["fee_before_fen"].as_i64().unwrap();
    assert_eq!(
        accepted["fee_after_fen"].as_i64(),
        Some((fee_before * 20 + 20) / 40),
        "in proportion"
    );
    let mail = smtp
        .wait_for("researcher@yiqi.demo", "核减机时已同意")
        .await;
    assert!(mail.part("text/plain").contains("有效机时 0.3 小时"));
    let (_, full) = get(&app, &format!("/api/v1/service-records/{rid}"), &researcher).await;
    assert_eq!(full["minutes"], 20);
    let history: Vec<_> = full["reductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["minutes_before"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [("refused".to_owned(), 40), ("accepted".to_owned(), 40)]
    );
    let day = app
        .json("/api/v1/stats?from=2026-11-30&to=2026-11-30")
        .await;
    assert_eq!(day["machine_hours"].as_f64(), Some(1.8), "20 + 90 minutes");

    // Past the window nobody may ask.
    clock.set(sh(12, 31, 9, 0));
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, p) = app
        .post(
            &format!("/api/v1/service-records/{rid}/reductions"),
            Some(&researcher),
            json!({"minutes": 10, "reason": "late"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("reduction_window_closed")),
        "{p}"
    );
    rollups_match_recomputation(&app);
}

async fn a_units_evaluation_and_its_exports(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, p) = get(&app, "/api/v1/units/1/evaluation?year=2026", &researcher).await;
    assert_eq!(status, 403, "{p}");
    let (status, p) = get(&app, "/api/v1/units/1/evaluation", &admin).await;
    assert_eq!((status, p["field"].as_str()), (400, Some("year")));
    let (status, _) = get(&app, "/api/v1/units/2/evaluation?year=2026", &admin).await;
    assert_eq!(status, 403, "another unit's evaluation");
    let (status, p) = app
        .call(
            "PUT",
            "/api/v1/units/1/declarations",
            Some(&admin),
            Some(json!({"year": 2026, "eligible_instruments": -3})),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (422, Some("eligible_instruments"))
    );
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/units/1/declarations",
            Some(&admin),
            Some(json!({"year": 2026, "eligible_instruments": 400})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, e) = get(&app, "/api/v1/units/1/evaluation?year=2026", &admin).await;
    assert_eq!(status, 200, "{e}");
    let rows = e["per_instrument"].as_array().unwrap();
    let listed = e["instruments"].as_i64().unwrap();
    assert_eq!(rows.len() as i64, listed);
    let total: i64 = rows.iter().map(|r| r["services"].as_i64().unwrap()).sum();
    assert_eq!(e["services"].as_i64(), Some(total));
    // The ratios count large instruments (原值 ≥ 50万); sharing means open to it and serving.
    let large = rows.iter().filter(|r| r["large"] == true);
    for r in rows {
        assert_eq!(
            r["large"].as_bool(),
            Some(r["original_value_yuan"].as_i64() >= Some(500_000))
        );
    }
    let shared = large
        .clone()
        .filter(|r| r["share_mode"] != "none" && r["services"].as_i64() > Some(0))
        .count() as i64;
    assert!(shared > 0);
    assert_eq!(
        e["ratios"]["shared_of_eligible"]["numerator"].as_i64(),
        Some(shared)
    );
    let externally = large
        .clone()
        .filter(|r| r["external_services"].as_i64() > Some(0))
        .count() as i64;
    assert_eq!(
        e["ratios"]["shared_externally_of_eligible"]["numerator"].as_i64(),
        Some(externally)
    );
    let large = large.count() as i64;
    assert_eq!(e["large_instruments"].as_i64(), Some(large));
    assert!(large < listed, "the demo has smaller instruments too");
    assert_eq!(
        e["ratios"]["registered_of_eligible"]["value"].as_f64(),
        Some((large as f64 / 400.0 * 1000.0).round() / 1000.0)
    );
    assert_eq!(e["satisfaction"], Value::Null, "no ratings yet");
    // The unit's records of the year, straight from the table.
    let mut conn = app.db.connect();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
    );
    let (count, minutes): (i64, Option<i64>) = s::table
        .inner_join(instruments::table)
        .filter(instruments::unit_id.eq(1))
        .filter(s::served_on.between(from, to))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "CAST(SUM(service_records.minutes) AS BIGINT)",
            ),
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!(e["services"].as_i64(), Some(count));
    assert_eq!(
        e["machine_hours"].as_f64(),
        Some((minutes.unwrap_or(0) as f64 / 6.0).round() / 10.0)
    );
    // Client units per instrument, counted distinct from the records.
    let pairs: Vec<(i64, Option<i64>)> = s::table
        .inner_join(instruments::table)
        .filter(instruments::unit_id.eq(1))
        .filter(s::served_on.between(from, to))
        .select((s::instrument_id, s::client_organisation_id))
        .distinct()
        .load(&mut conn)
        .unwrap();
    let mut per_instrument = std::collections::HashMap::<i64, i64>::new();
    for (instrument, _) in pairs.iter().filter(|p| p.1.is_some()) {
        *per_instrument.entry(*instrument).or_default() += 1;
    }
    assert!(
        per_instrument.values().any(|&n| n > 1),
        "{per_instrument:?}"
    );
    for r in rows {
        let id = r["instrument_id"].as_i64().unwrap();
        assert_eq!(
            r["client_units"].as_i64(),
            Some(per_instrument.get(&id).copied().unwrap_or(0)),
            "client units of instrument {id}"
        );
    }

    // CSV: a byte-order mark, Chinese headers, one line per record.
    let res = app
        .client
        .get(format!(
            "{}/api/v1/units/1/evaluation.csv?year=2026",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("records-1-2026.csv"));
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with("\u{feff}序号,仪器名称,资产编号,服务日期"),
        "{}",
        &csv[..80]
    );
    assert_eq!(csv.lines().count() as i64, count + 1);
    // Hours with one decimal and money with its 角 and 分, as every page shows them.
    for line in csv.lines().skip(1).filter(|l| !l.contains('"')) {
        let f: Vec<&str> = line.split(',').collect();
        let decimals = |s: &str| s.split_once('.').map(|(_, d)| d.len());
        assert_eq!(decimals(f[11]), Some(1), "hours in {line}");
        assert_eq!(decimals(f[13]), Some(2), "income in {line}");
    }

    // XLSX: a real workbook, read back with a spreadsheet reader.
    let res = app
        .client
        .get(format!(
            "{}/api/v1/units/1/evaluation.xlsx?year=2026",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx file");
    assert_eq!(book.sheet_names(), ["汇总", "仪器", "服务记录", "整改通知"]);
    let summary = book.worksheet_range("汇总").unwrap();
    let services = summary
        .rows()
        .find(|r| r[0] == "服务次数")
        .map(|r| r[1].to_string());
    assert_eq!(services, Some(count.to_string()));
    // The platform that reports the figures, by its configured name and operator.
    let row = |name: &str| {
        summary
            .rows()
            .find(|r| r[0] == name)
            .map(|r| r[1].to_string())
    };
    assert_eq!(
        row("平台").as_deref(),
        Some("吉林省大型科研仪器开放共享平台")
    );
    assert!(row("主办单位").is_some_and(|o| !o.is_empty()));
    let per = book.worksheet_range("仪器").unwrap();
    assert_eq!(per.height() as i64, listed + 1);
    // 原值 in 万元, as every page shows it.
    assert_eq!(
        per.get((0, 2)).map(|c| c.to_string()),
        Some("原值（万元）".to_owned())
    );
    let records = book.worksheet_range("服务记录").unwrap();
    assert_eq!(records.height() as i64, count + 1);
    assert_eq!(
        records.get((0, 11)).map(|c| c.to_string()),
        Some("有效机时（小时）".to_owned())
    );
    let (status, _) = get(&app, "/api/v1/units/1/evaluation.pdf?year=2026", &admin).await;
    assert_eq!(status, 404);
    let res = app
        .client
        .get(format!(
            "{}/api/v1/units/1/evaluation.xlsx?year=2026",
            app.address
        ))
        .bearer_auth(&researcher)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
