//! 创新券: a company's quota goes from its application to the payment of a redemption, each
//! step by its party; the budget is committed exactly once under a race; what expires or is
//! cancelled goes back; bad input has its own code and writes nothing.

use crate::common;

use common::smtp::SmtpServer;
use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::clock::{Clock, ManualClock};

on_both_backends!(
    a_company_goes_from_quota_to_payment,
    the_last_of_the_budget_is_committed_exactly_once,
    a_voucher_pays_one_booking_when_it_has_room_for_one,
    every_voucher_step_by_its_party,
    bad_input_has_its_own_code_and_writes_nothing,
    expired_and_cancelled_money_goes_back,
);

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

fn now() -> chrono::DateTime<chrono::Utc> {
    common::beijing(2026, 11, 28, 10, 0)
}

/// The demo company B's application (waiting for the bureau) and the demo instrument the
/// company A's uses are at.
async fn demo_ids(app: &TestApp, issuer: &str, unit_admin: &str) -> (i64, i64) {
    let waiting = app.json_as("/api/v1/vouchers?status=applied", issuer).await;
    let b = waiting
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["company"] == "吉林碳谷碳纤维股份有限公司")
        .expect("company B's application")["id"]
        .as_i64()
        .unwrap();
    let uses = app.json_as("/api/v1/voucher-uses", unit_admin).await;
    let instrument = uses[0]["instrument_id"].as_i64().unwrap();
    (b, instrument)
}

async fn upload(
    app: &TestApp,
    token: &str,
    id: i64,
    kind: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = app
        .client
        .post(format!(
            "{}/api/v1/voucher-uses/{id}/files?kind={kind}",
            app.address
        ))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn split(fee: i64) -> i64 {
    // The demo programme: 50 %, fees up to ¥1,000 paid whole, rounded down to the fen.
    if fee <= 100_000 {
        fee
    } else {
        fee * 50 / 100
    }
}

async fn sample_order(
    app: &TestApp,
    token: &str,
    instrument: i64,
    voucher: Option<i64>,
) -> (u16, Value) {
    let mut body = json!({
        "instrument_id": instrument, "kind": "sample_order", "sample_count": 4,
        "sample_description": "碳纤维原丝 4 束，测拉伸强度", "wanted_by": "2026-12-20"
    });
    if let Some(v) = voucher {
        body["voucher_id"] = json!(v);
    }
    app.post("/api/v1/reservations", Some(token), body).await
}

/// Accept, test, report and complete a sample order as the unit's staff.
async fn serve(app: &TestApp, staff: &str, reservation: i64) {
    for (step, body) in [
        ("accept", json!({"planned_on": "2026-12-01"})),
        ("start-test", json!({})),
        ("report", json!({})),
        ("complete", json!({"machine_minutes": 150})),
    ] {
        let (status, r) = app
            .post(
                &format!("/api/v1/reservations/{reservation}/{step}"),
                Some(staff),
                body,
            )
            .await;
        assert_eq!(status, 200, "{step}: {r}");
    }
}

async fn a_company_goes_from_quota_to_payment(db: TestDb) {
    let smtp = SmtpServer::start();
    let clock = ManualClock::at(now());
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let issuer = app.token("issuer@yiqi.demo").await;
    let company = app.token("company-b@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (voucher, instrument) = demo_ids(&app, &issuer, &unit_admin).await;
    let before = app.json("/api/v1/voucher-programmes/1").await["figures"].clone();
    let stats = "/api/v1/stats?from=2026-01-01&to=2026-12-31";
    let platform_before = app.json(stats).await["voucher_fen"].as_i64().unwrap();
    let evaluation = "/api/v1/units/1/evaluation?year=2026";
    let unit_before = app.json_as(evaluation, &unit_admin).await["voucher_fen"]
        .as_i64()
        .unwrap();

    // The bureau grants less than asked; the company hears of it.
    let (status, v) = app
        .post(
            &format!("/api/v1/vouchers/{voucher}/approve"),
            Some(&issuer),
            json!({"amount_fen": 1_000_000}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "approved");
    assert_eq!(v["available_fen"], 1_000_000);
    assert!(
        v["number"].as_str().unwrap().starts_with("CXQ-2026-"),
        "{v}"
    );
    smtp.wait_for("company-b@yiqi.demo", "创新券已发放").await;

    // The company books with the voucher: the fee splits, the unit is asked to confirm.
    let (status, r) = sample_order(&app, &company, instrument, Some(voucher)).await;
    assert_eq!(status, 201, "{r}");
    let reservation = r["id"].as_i64().unwrap();
    let fee = r["fee_estimate_fen"].as_i64().unwrap();
    let mine = app
        .json_as("/api/v1/voucher-uses?mine=true", &company)
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let u = &mine[0];
    assert_eq!(u["reservation_id"], reservation);
    assert_eq!(u["status"], "requested");
    assert_eq!(u["voucher_fen"], split(fee));
    assert_eq!(u["own_fen"], fee - split(fee));
    let id = u["id"].as_i64().unwrap();
    smtp.wait_for("unit-admin@yiqi.demo", "申请使用").await;

    let (status, u) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/confirm"),
            Some(&unit_admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, u["status"].as_str()),
        (200, Some("confirmed")),
        "{u}"
    );
    serve(&app, &unit_admin, reservation).await;

    // The claim needs its files, and only PDFs or images are taken.
    let (status, p) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/claim"),
            Some(&unit_admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str(), p["field"].as_str()),
        (422, Some("voucher_files_missing"), Some("files")),
        "{p}"
    );
    let (status, p) = upload(&app, &unit_admin, id, "contract", "合同.txt", b"just words").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("attachment_type")),
        "{p}"
    );
    let (status, p) = upload(&app, &company, id, "contract", "合同.pdf", PDF).await;
    assert_eq!(status, 403, "the company does not claim: {p}");
    for (kind, name) in [
        ("contract", "合同.pdf"),
        ("invoice", "发票.pdf"),
        ("payment", "回单.pdf"),
    ] {
        let (status, p) = upload(&app, &unit_admin, id, kind, name, PDF).await;
        assert_eq!(status, 201, "{kind}: {p}");
    }
    let (status, u) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/claim"),
            Some(&unit_admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, u["status"].as_str()),
        (200, Some("claimed")),
        "{u}"
    );
    let claim_fee = u["claim_fee_fen"].as_i64().unwrap();
    let claim = u["claim_fen"].as_i64().unwrap();
    assert_eq!(claim, split(claim_fee).min(split(fee)), "{u}");
    let file = u["files"][0]["id"].as_i64().unwrap();
    let res = app
        .client
        .get(format!(
            "{}/api/v1/voucher-uses/{id}/files/{file}",
            app.address
        ))
        .bearer_auth(&issuer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    smtp.wait_for("issuer@yiqi.demo", "申请兑付").await;

    // Paid only after the issuer approved and the public notice ran its days.
    let (status, p) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/pay"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "{p}"
    );
    let (status, u) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/approve"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, u["status"].as_str()),
        (200, Some("approved")),
        "{u}"
    );
    let notice = app.json("/api/v1/voucher-notice").await;
    let listed = notice
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["use_id"] == id)
        .expect("on the public notice");
    assert_eq!(listed["company"], "吉林碳谷碳纤维股份有限公司");
    assert_eq!(listed["claim_fen"], claim);
    let (status, p) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/pay"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("voucher_notice_running")),
        "{p}"
    );
    clock.advance(chrono::Duration::days(8));
    let issuer = app.token("issuer@yiqi.demo").await;
    let company = app.token("company-b@yiqi.demo").await;
    let (status, u) = app
        .post(
            &format!("/api/v1/voucher-uses/{id}/pay"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!((status, u["status"].as_str()), (200, Some("paid")), "{u}");

    // The programme's money moved by exactly these amounts.
    let after = app.json("/api/v1/voucher-programmes/1").await["figures"].clone();
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap();
    assert_eq!(
        n(&after, "committed_fen"),
        n(&before, "committed_fen") + 1_000_000
    );
    assert_eq!(
        n(&after, "remaining_fen"),
        n(&before, "remaining_fen") - 1_000_000
    );
    assert_eq!(n(&after, "claimed_fen"), n(&before, "claimed_fen") + claim);
    assert_eq!(n(&after, "paid_fen"), n(&before, "paid_fen") + claim);
    let v = app
        .json_as(&format!("/api/v1/vouchers/{voucher}"), &company)
        .await;
    assert_eq!(v["available_fen"], 1_000_000 - claim);
    let steps: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["apply", "approve", "request", "confirm", "claim", "approve", "pay"]
    );

    // The unit's evaluation counts what the vouchers paid of its income.
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let unit_after = app.json_as(evaluation, &unit_admin).await["voucher_fen"]
        .as_i64()
        .unwrap();
    assert_eq!(unit_after, unit_before + claim);
    assert_eq!(
        app.json(stats).await["voucher_fen"].as_i64().unwrap(),
        platform_before + claim,
        "the statistics count it at once"
    );

    // The finance office's workbook says the same.
    let res = app
        .client
        .get(format!(
            "{}/api/v1/voucher-programmes/1/report.xlsx",
            app.address
        ))
        .bearer_auth(&issuer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("汇总").unwrap();
    let paid = sheet
        .rows()
        .find(|r| r[0] == "已拨付")
        .map(|r| r[1].to_string())
        .unwrap();
    assert_eq!(
        paid.parse::<f64>().unwrap(),
        n(&after, "paid_fen") as f64 / 100.0
    );
    let report = app
        .json_as("/api/v1/voucher-programmes/1/report.json", &issuer)
        .await;
    let line = report["companies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "吉林碳谷碳纤维股份有限公司")
        .unwrap();
    assert_eq!(
        (line["committed_fen"].as_i64(), line["paid_fen"].as_i64()),
        (Some(1_000_000), Some(claim))
    );
}

/// A verified member of organisation `org` (password "fixture password 123").
fn member(db_url: &str, org: i64, email: &str) -> yiqi::auth::Principal {
    let mut conn = yiqi::db::connect(db_url).unwrap();
    let hash = yiqi::auth::password::hash("fixture password 123").unwrap();
    let id = yiqi::users::service::create_verified(
        &mut conn,
        &yiqi::users::service::NewAccount {
            email,
            name: "企业联系人",
            role: yiqi::auth::Role::Researcher,
            unit: None,
            organisation: Some(yiqi::types::OrganisationId(org)),
        },
        &hash,
        now().naive_utc(),
    )
    .unwrap();
    yiqi::auth::extract::principal_of(&mut conn, id).unwrap()
}

/// Enterprises with credit codes and a verified member each, made in the database: the
/// members' principals, to apply through the service.
fn companies(db_url: &str, n: usize) -> Vec<yiqi::auth::Principal> {
    let mut conn = yiqi::db::connect(db_url).unwrap();
    let now = now().naive_utc();
    (0..n)
        .map(|i| {
            let code = yiqi::validate::complete_credit_code(&format!("91220101MA{i:07}")).unwrap();
            let org = yiqi::users::store::insert_organisation(
                &mut conn,
                &yiqi::users::model::NewOrganisation {
                    name: format!("测试企业{i}"),
                    kind: yiqi::navigation::model::UnitKind::Enterprise,
                    credit_code: Some(code),
                    unit_id: None,
                    status: yiqi::users::model::OrganisationStatus::Active,
                    created_at: now,
                },
            )
            .unwrap();
            member(db_url, org.0, &format!("company{i}@example.cn"))
        })
        .collect()
}

/// A programme of the demo bureau with this budget and caps, applications open.
async fn programme(app: &TestApp, issuer: &str, budget: i64, per_application: i64) -> i64 {
    let (status, p) = app
        .post(
            "/api/v1/voucher-programmes",
            Some(issuer),
            json!({
                "name": "测试创新券", "issuer_id": issuer_org(app).await,
                "budget_fen": budget, "share_percent": 50,
                "cap_per_application_fen": per_application, "cap_per_company_year_fen": per_application,
                "apply_from": "2026-11-01", "apply_until": "2026-12-31",
                "use_until": "2027-01-31", "redeem_until": "2027-02-28"
            }),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    p["id"].as_i64().unwrap()
}

async fn issuer_org(app: &TestApp) -> i64 {
    app.json("/api/v1/voucher-programmes/1").await["issuer_id"]
        .as_i64()
        .unwrap()
}

fn apply(db_url: &str, who: &yiqi::auth::Principal, programme: i64, fen: i64) -> i64 {
    let mut conn = yiqi::db::connect(db_url).unwrap();
    yiqi::vouchers::service::apply(
        &mut conn,
        who,
        yiqi::vouchers::model::VoucherInput {
            programme_id: yiqi::types::ProgrammeId(programme),
            requested_fen: fen,
            need: "检测".to_owned(),
            sme_declared: false,
        },
        now(),
    )
    .unwrap()
    .id
    .0
}

async fn the_last_of_the_budget_is_committed_exactly_once(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(now()), None).await;
    let url = app.db.url.clone();
    let issuer = app.token("issuer@yiqi.demo").await;
    let p = programme(&app, &issuer, 120_000, 100_000).await;
    let people = companies(&url, 49);
    let big = apply(&url, &people[0], p, 100_000);
    let (status, _) = app
        .post(
            &format!("/api/v1/vouchers/{big}/approve"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    // 20,000 fen left; 48 applications of 2,000 approved at once.
    let ids: Vec<i64> = people[1..]
        .iter()
        .map(|w| apply(&url, w, p, 2_000))
        .collect();
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/api/v1/vouchers/{id}/approve"))
        .collect();
    let answers = futures_util::future::join_all(
        paths
            .iter()
            .map(|path| app.post(path, Some(&issuer), json!({}))),
    )
    .await;
    let granted = answers.iter().filter(|(s, _)| *s == 200).count();
    for (status, body) in &answers {
        assert!(
            *status == 200 || (*status == 409 && body["code"] == "voucher_budget_exhausted"),
            "{status} {body}"
        );
    }
    assert_eq!(granted, 10);
    let figures = app.json(&format!("/api/v1/voucher-programmes/{p}")).await["figures"].clone();
    assert_eq!(figures["committed_fen"], 120_000);
    assert_eq!(figures["remaining_fen"], 0);
    // Those refused are still waiting: a refusal for the budget changed nothing.
    let waiting = app
        .json_as(
            &format!("/api/v1/vouchers?programme_id={p}&status=applied"),
            &issuer,
        )
        .await;
    assert_eq!(waiting.as_array().unwrap().len(), 38);
}

async fn a_voucher_pays_one_booking_when_it_has_room_for_one(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(now()), None).await;
    let url = app.db.url.clone();
    let issuer = app.token("issuer@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (_, instrument) = demo_ids(&app, &issuer, &unit_admin).await;
    let p = programme(&app, &issuer, 1_000_000, 100_000).await;
    let who = &companies(&url, 1)[0];
    // A quota smaller than any booking's part: the first booking takes all of it.
    let v = apply(&url, who, p, 10);
    let (status, _) = app
        .post(
            &format!("/api/v1/vouchers/{v}/approve"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let token = app
        .login("company0@example.cn", "fixture password 123")
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answers = futures_util::future::join_all(
        (0..8).map(|_| sample_order(&app, &token, instrument, Some(v))),
    )
    .await;
    let made: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(made.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(
            (*status, body["code"].as_str()),
            (409, Some("voucher_balance")),
            "{body}"
        );
    }
    // A refused booking left nothing behind: one booking, one use of the whole quota.
    let mine = app.json_as("/api/v1/reservations?mine=true", &token).await;
    assert_eq!(mine["total"], 1, "{mine}");
    let uses = app.json_as("/api/v1/voucher-uses?mine=true", &token).await;
    assert_eq!(uses.as_array().unwrap().len(), 1);
    assert_eq!(uses[0]["voucher_fen"], 10);
    assert_eq!(uses[0]["reservation_id"], made[0]["id"]);
}

async fn every_voucher_step_by_its_party(db: TestDb) {
    let app = TestApp::spawn_full(db.seeded(), ManualClock::at(now()), None).await;
    let t = |email: &'static str| {
        let app = &app;
        async move { app.token(email).await }
    };
    let admin = t("admin@yiqi.demo").await;
    let issuer = t("issuer@yiqi.demo").await;
    let company = t("company@yiqi.demo").await;
    let company_b = t("company-b@yiqi.demo").await;
    let unit_admin = t("unit-admin@yiqi.demo").await;
    let researcher = t("researcher@yiqi.demo").await;
    let (waiting, _) = demo_ids(&app, &issuer, &unit_admin).await;
    let uses = app
        .json_as("/api/v1/voucher-uses?mine=true", &company)
        .await;
    let with = |status: &str| {
        uses.as_array()
            .unwrap()
            .iter()
            .find(|u| u["status"] == status)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (requested, confirmed) = (with("requested"), with("confirmed"));
    let programme = json!({
        "name": "另一期", "issuer_id": issuer_org(&app).await, "budget_fen": 100_000,
        "share_percent": 50, "cap_per_application_fen": 10_000, "cap_per_company_year_fen": 10_000,
        "apply_from": "2026-11-01", "apply_until": "2026-12-31", "use_until": "2027-01-31",
        "redeem_until": "2027-02-28"
    });

    // (who, method, path, body, expected status): the table of who may do what, tried.
    let rows: Vec<(&str, &str, &str, String, Value, u16)> = vec![
        (
            "anonymous",
            "",
            "POST",
            "/api/v1/voucher-programmes".into(),
            programme.clone(),
            401,
        ),
        (
            "researcher",
            researcher.as_str(),
            "POST",
            "/api/v1/voucher-programmes".into(),
            programme.clone(),
            403,
        ),
        (
            "unit admin",
            unit_admin.as_str(),
            "POST",
            "/api/v1/voucher-programmes".into(),
            programme.clone(),
            403,
        ),
        (
            "company",
            company.as_str(),
            "POST",
            "/api/v1/voucher-programmes".into(),
            programme.clone(),
            403,
        ),
        (
            "issuer",
            issuer.as_str(),
            "POST",
            "/api/v1/voucher-programmes".into(),
            programme.clone(),
            201,
        ),
        (
            "platform admin",
            admin.as_str(),
            "POST",
            "/api/v1/voucher-programmes".into(),
            programme.clone(),
            201,
        ),
        (
            "company",
            company.as_str(),
            "GET",
            "/api/v1/voucher-programmes/1/report.json".into(),
            Value::Null,
            403,
        ),
        (
            "unit admin",
            unit_admin.as_str(),
            "GET",
            "/api/v1/voucher-programmes/1/report.json".into(),
            Value::Null,
            403,
        ),
        (
            "issuer",
            issuer.as_str(),
            "GET",
            "/api/v1/voucher-programmes/1/report.json".into(),
            Value::Null,
            200,
        ),
        (
            "platform admin",
            admin.as_str(),
            "GET",
            "/api/v1/voucher-programmes/1/report.json".into(),
            Value::Null,
            200,
        ),
        (
            "researcher",
            researcher.as_str(),
            "GET",
            format!("/api/v1/vouchers/{waiting}"),
            Value::Null,
            404,
        ),
        (
            "another company",
            company.as_str(),
            "GET",
            format!("/api/v1/vouchers/{waiting}"),
            Value::Null,
            404,
        ),
        (
            "unit admin",
            unit_admin.as_str(),
            "GET",
            format!("/api/v1/vouchers/{waiting}"),
            Value::Null,
            404,
        ),
        (
            "its company",
            company_b.as_str(),
            "POST",
            format!("/api/v1/vouchers/{waiting}/approve"),
            json!({}),
            403,
        ),
        (
            "unit admin",
            unit_admin.as_str(),
            "POST",
            format!("/api/v1/vouchers/{waiting}/approve"),
            json!({}),
            404,
        ),
        (
            "issuer",
            issuer.as_str(),
            "POST",
            format!("/api/v1/vouchers/{waiting}/withdraw"),
            json!({}),
            403,
        ),
        (
            "researcher",
            researcher.as_str(),
            "GET",
            format!("/api/v1/voucher-uses/{requested}"),
            Value::Null,
            404,
        ),
        (
            "company",
            company.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{requested}/confirm"),
            json!({}),
            403,
        ),
        (
            "issuer",
            issuer.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{requested}/confirm"),
            json!({}),
            403,
        ),
        (
            "unit admin",
            unit_admin.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{requested}/confirm"),
            json!({"amount_fen": 1}),
            200,
        ),
        (
            "company",
            company.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{confirmed}/claim"),
            json!({}),
            403,
        ),
        (
            "platform admin",
            admin.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{confirmed}/claim"),
            json!({}),
            403,
        ),
        (
            "issuer",
            issuer.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{confirmed}/claim"),
            json!({}),
            403,
        ),
        (
            "unit admin",
            unit_admin.as_str(),
            "POST",
            format!("/api/v1/voucher-uses/{confirmed}/approve"),
            json!({}),
            403,
        ),
        (
            "issuer",
            issuer.as_str(),
            "PUT",
            "/api/v1/organisations/1/voucher-officers".into(),
            json!({"email": "issuer@yiqi.demo"}),
            403,
        ),
        (
            "its company",
            company_b.as_str(),
            "POST",
            format!("/api/v1/vouchers/{waiting}/withdraw"),
            json!({}),
            200,
        ),
    ];
    for (who, token, method, path, body, expected) in rows {
        let token = (!token.is_empty()).then_some(token);
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = app.call(method, &path, token, body).await;
        assert_eq!(status, expected, "{who} {method} {path}: {answer}");
        if status >= 400 {
            assert!(
                answer["code"].is_string(),
                "{who} {method} {path}: {answer}"
            );
        }
    }
    // Every step is audited (money changes hands on them), states as objects like every entry's.
    let audit = app
        .json_as("/api/v1/admin/audit?per_page=100", &admin)
        .await;
    let steps: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("voucher"))
        .collect();
    for action in [
        "voucher.apply",
        "voucher.approve",
        "voucher_use.request",
        "voucher_use.confirm",
        "voucher.withdraw",
    ] {
        assert!(
            steps.iter().any(|e| e["action"] == action),
            "{action}: {audit}"
        );
    }
    for e in steps {
        assert!(e["before"].is_object() || e["before"].is_null(), "{e}");
    }
}

async fn bad_input_has_its_own_code_and_writes_nothing(db: TestDb) {
    let clock = ManualClock::at(now());
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let url = app.db.url.clone();
    let issuer = app.token("issuer@yiqi.demo").await;
    let company = app.token("company@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (_, instrument) = demo_ids(&app, &issuer, &unit_admin).await;
    let count = || {
        use diesel::prelude::*;
        let mut c = yiqi::db::connect(&url).unwrap();
        let v: i64 = yiqi::db::schema::vouchers::table
            .count()
            .get_result(&mut c)
            .unwrap();
        let u: i64 = yiqi::db::schema::voucher_uses::table
            .count()
            .get_result(&mut c)
            .unwrap();
        let r: i64 = yiqi::db::schema::reservations::table
            .count()
            .get_result(&mut c)
            .unwrap();
        let p: i64 = yiqi::db::schema::voucher_programmes::table
            .count()
            .get_result(&mut c)
            .unwrap();
        (v, u, r, p)
    };
    let before = count();
    let apply = |amount: i64, sme: bool| json!({"programme_id": 1, "requested_fen": amount, "need": "检测", "sme_declared": sme});
    let org = issuer_org(&app).await;
    let open = |changes: Value| {
        let mut p = json!({
            "name": "x", "issuer_id": org, "budget_fen": 100_000, "share_percent": 50,
            "cap_per_application_fen": 10_000, "cap_per_company_year_fen": 10_000,
            "apply_from": "2026-11-01", "apply_until": "2026-12-31", "use_until": "2027-01-31",
            "redeem_until": "2027-02-28"
        });
        for (k, v) in changes.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    // Company A already has an approved quota of ¥20,000: the yearly cap leaves ¥80,000.
    let cases: Vec<(&str, &str, Value, u16, &str, &str)> = vec![
        (
            &company,
            "/api/v1/vouchers",
            apply(2_000_001, true),
            422,
            "voucher_cap_exceeded",
            "requested_fen",
        ),
        (
            &company,
            "/api/v1/vouchers",
            apply(-5, true),
            422,
            "validation_failed",
            "requested_fen",
        ),
        (
            &company,
            "/api/v1/vouchers",
            apply(1_000, false),
            422,
            "voucher_not_eligible",
            "sme_declared",
        ),
        (
            &researcher,
            "/api/v1/vouchers",
            apply(1_000, true),
            422,
            "voucher_not_eligible",
            "programme_id",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"use_until": "2026-12-01"})),
            422,
            "voucher_outside_dates",
            "use_until",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"apply_until": "2026-11-20", "apply_from": "2026-11-01"})),
            422,
            "voucher_outside_dates",
            "apply_until",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"share_percent": 0})),
            422,
            "validation_failed",
            "share_percent",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"cap_per_company_year_fen": 5_000})),
            422,
            "validation_failed",
            "cap_per_company_year_fen",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"budget_fen": -1})),
            422,
            "validation_failed",
            "budget_fen",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"apply_from": "2026-13-01"})),
            400,
            "bad_request",
            "apply_from",
        ),
        (
            &issuer,
            "/api/v1/voucher-programmes",
            open(json!({"providers": [{"scope": "unit", "id": 99999}]})),
            422,
            "validation_failed",
            "providers[0].id",
        ),
    ];
    for (token, path, body, status, code, field) in cases {
        let (s, p) = app.post(path, Some(token), body.clone()).await;
        assert_eq!(
            (s, p["code"].as_str(), p["field"].as_str()),
            (status, Some(code), Some(field)),
            "{path} {body}: {p}"
        );
    }
    // One open application per company: the second tab's is refused.
    let (s, p) = app
        .post("/api/v1/vouchers", Some(&company), apply(2_000_000, true))
        .await;
    assert_eq!(s, 201, "{p}");
    let (s, p) = app
        .post("/api/v1/vouchers", Some(&company), apply(2_000_000, true))
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "one open application: {p}"
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/vouchers/{}/refuse", p_id(&app, &issuer).await),
            Some(&issuer),
            json!({"text": ""}),
        )
        .await;
    assert_eq!(s, 422, "a refusal needs its reason");

    // The provider's own legal entity: the first unit, a company itself, holds a voucher but
    // cannot pay its own services with it; the booking is refused with the use.
    let insider = {
        use diesel::prelude::*;
        use yiqi::db::schema::organisations as o;
        let mut c = yiqi::db::connect(&url).unwrap();
        let code = yiqi::validate::complete_credit_code("91220101MA9999999").unwrap();
        diesel::update(o::table.filter(o::unit_id.eq(1)))
            .set((o::kind.eq("enterprise"), o::credit_code.eq(code)))
            .execute(&mut c)
            .unwrap();
        let org: i64 = o::table
            .filter(o::unit_id.eq(1))
            .select(o::id)
            .first(&mut c)
            .unwrap();
        member(&url, org, "insider@example.cn")
    };
    let v = {
        let mut c = yiqi::db::connect(&url).unwrap();
        yiqi::vouchers::service::apply(
            &mut c,
            &insider,
            yiqi::vouchers::model::VoucherInput {
                programme_id: yiqi::types::ProgrammeId(1),
                requested_fen: 100_000,
                need: "检测".to_owned(),
                sme_declared: true,
            },
            now(),
        )
        .unwrap()
        .id
        .0
    };
    let (s, _) = app
        .post(
            &format!("/api/v1/vouchers/{v}/approve"),
            Some(&issuer),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let insider = app
        .login("insider@example.cn", "fixture password 123")
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, p) = sample_order(&app, &insider, instrument, Some(v)).await;
    assert_eq!(
        (s, p["code"].as_str(), p["field"].as_str()),
        (422, Some("voucher_related_party"), Some("voucher_id")),
        "{p}"
    );
    let (s, p) = sample_order(&app, &company, instrument, Some(999_999)).await;
    assert_eq!((s, p["field"].as_str()), (422, Some("voucher_id")), "{p}");
    let after = count();
    assert_eq!(
        after,
        (before.0 + 2, before.1, before.2, before.3),
        "only the two applications were written"
    );

    // Outside the dates to apply.
    clock.set(common::beijing(2027, 3, 1, 10, 0));
    let company = app.token("company-b@yiqi.demo").await;
    let (s, p) = app
        .post("/api/v1/vouchers", Some(&company), apply(1_000, true))
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (422, Some("voucher_outside_dates")),
        "{p}"
    );
}

/// The id of company A's newest waiting application.
async fn p_id(app: &TestApp, issuer: &str) -> i64 {
    let waiting = app.json_as("/api/v1/vouchers?status=applied", issuer).await;
    waiting
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["company"] == "长春光谱仪器科技有限公司")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn expired_and_cancelled_money_goes_back(db: TestDb) {
    let clock = ManualClock::at(now());
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let url = app.db.url.clone();
    let company = app.token("company@yiqi.demo").await;
    let mine = app.json_as("/api/v1/vouchers?mine=true", &company).await;
    let v = &mine[0];
    let id = v["id"].as_i64().unwrap();
    let used = v["used_fen"].as_i64().unwrap();
    let v = app
        .json_as(&format!("/api/v1/vouchers/{id}"), &company)
        .await;
    let requested = v["uses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["status"] == "requested")
        .unwrap()
        .clone();
    // The booking waiting for confirmation is cancelled: its part goes back to the quota.
    let (s, r) = app
        .post(
            &format!(
                "/api/v1/reservations/{}/cancel",
                requested["reservation_id"]
            ),
            Some(&company),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let v = app
        .json_as(&format!("/api/v1/vouchers/{id}"), &company)
        .await;
    let held = requested["voucher_fen"].as_i64().unwrap();
    assert_eq!(v["used_fen"].as_i64().unwrap(), used - held);
    assert_eq!(
        v["uses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == requested["id"])
            .unwrap()["status"],
        "cancelled"
    );
    let before = app.json("/api/v1/voucher-programmes/1").await["figures"].clone();

    // After the use-by date the job gives back what no use holds, once.
    let after_use_by = common::beijing(2027, 3, 29, 2, 0);
    clock.set(after_use_by);
    let mut conn = yiqi::db::connect(&url).unwrap();
    let done = yiqi::vouchers::service::expire_due(&mut conn, after_use_by).unwrap();
    assert!(done >= 1, "{done}");
    assert_eq!(
        yiqi::vouchers::service::expire_due(&mut conn, after_use_by).unwrap(),
        0
    );
    let company = app.token("company@yiqi.demo").await;
    let v = app
        .json_as(&format!("/api/v1/vouchers/{id}"), &company)
        .await;
    assert_eq!(v["status"], "expired");
    let still_held = used - held;
    assert_eq!(v["returned_fen"].as_i64().unwrap(), 2_000_000 - still_held);
    let after = app.json("/api/v1/voucher-programmes/1").await["figures"].clone();
    assert_eq!(
        after["remaining_fen"].as_i64().unwrap(),
        before["remaining_fen"].as_i64().unwrap() + 2_000_000 - still_held
    );
    // The confirmed use never claimed lapses after the last day to redeem, and its part
    // returns to the budget too; the approved redemption stays.
    let after_redeem = common::beijing(2027, 5, 28, 2, 0);
    assert!(yiqi::vouchers::service::expire_due(&mut conn, after_redeem).unwrap() >= 1);
    let last = app.json("/api/v1/voucher-programmes/1").await["figures"].clone();
    let approved = last["approved_fen"].as_i64().unwrap();
    assert_eq!(last["committed_fen"].as_i64().unwrap(), approved);
    let _ = clock.now();
}
