//! Who may do what, as a table: every write endpoint (and every restricted read) × every role
//! × own unit / another unit, against the real server on both backends.
//!
//! Denials are consistent: no token → 401, signed in but not allowed (another unit's data
//! included) → 403. A target that does not exist is 404 for everyone (checked elsewhere).

use crate::common;

use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::auth::Role;
use yiqi::db::DbConnection;
use yiqi::users::service::{create_verified, NewAccount};

on_both_backends!(every_endpoint_by_role_and_unit);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Researcher,
    Manager,
    UnitAdmin,
    PlatformAdmin,
}

const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::Researcher,
    Who::Manager,
    Who::UnitAdmin,
    Who::PlatformAdmin,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Own,
    Other,
}

/// Who is allowed, for a target in the staff's own unit or another.
#[derive(Clone, Copy)]
enum Rule {
    PlatformAdmin,
    /// The unit's admin, or a platform admin.
    UnitAdmin,
    /// The instrument's manager, the unit's admin, or a platform admin.
    Runner,
    /// Staff of the unit (queue reads), or a platform admin.
    Staff,
    /// Anyone signed in (and verified).
    SignedIn,
    /// The unit's own admin only: the platform, which judges, does not answer for it.
    UnitItself,
}

fn allowed(rule: Rule, who: Who, side: Side) -> bool {
    match (rule, who) {
        (_, Who::Anonymous) => false,
        (Rule::UnitItself, w) => w == Who::UnitAdmin && side == Side::Own,
        (_, Who::PlatformAdmin) | (Rule::SignedIn, _) => true,
        (Rule::PlatformAdmin, _) => false,
        (Rule::UnitAdmin, w) => w == Who::UnitAdmin && side == Side::Own,
        (Rule::Runner | Rule::Staff, w) => {
            matches!(w, Who::UnitAdmin | Who::Manager) && side == Side::Own
        }
    }
}

/// The first unit's staff run unit 1; the manager manages its first three instruments.
struct World {
    conn: DbConnection,
    unit: [i64; 2],
    /// An instrument each side that the manager manages (own) or nobody here does (other).
    instrument: [i64; 2],
    researcher_id: i64,
    n: u32,
}

impl World {
    fn unit(&self, s: Side) -> i64 {
        self.unit[(s == Side::Other) as usize]
    }
    fn instrument(&self, s: Side) -> i64 {
        self.instrument[(s == Side::Other) as usize]
    }

    fn fresh_user(&mut self, role: Role, unit: Option<i64>) -> (i64, String) {
        self.n += 1;
        let email = format!("fixture{}@example.cn", self.n);
        let hash = yiqi::auth::password::hash("fixture password 123").unwrap();
        let id = create_verified(
            &mut self.conn,
            &NewAccount {
                email: &email,
                name: "测试",
                role,
                unit: unit.map(yiqi::types::UnitId),
                organisation: None,
            },
            &hash,
            chrono::Utc::now().naive_utc(),
        )
        .unwrap();
        (id.0, email)
    }
}

fn instrument_body(n: u32) -> Value {
    json!({
        "name_zh": "扫描电子显微镜",
        "asset_no": format!("PERM-{n}"),
        "category_code": "030101",
        "original_value_yuan": 1_200_000
    })
}

async fn every_endpoint_by_role_and_unit(db: TestDb) {
    let db = db.seeded();
    let conn = db.connect();
    let app = TestApp::spawn(db).await;
    let own_unit = 1;
    let other_unit = 2;
    let managed = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let foreign = app.json("/api/v1/instruments?unit=2&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let mut tokens = std::collections::HashMap::new();
    for (who, email) in [
        (Who::Researcher, "researcher@yiqi.demo"),
        (Who::Manager, "manager@yiqi.demo"),
        (Who::UnitAdmin, "unit-admin@yiqi.demo"),
        (Who::PlatformAdmin, "admin@yiqi.demo"),
    ] {
        tokens.insert(format!("{who:?}"), app.token(email).await);
    }
    let researcher_id = app
        .call(
            "GET",
            "/api/v1/me",
            tokens.get("Researcher").map(String::as_str),
            None,
        )
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    let mut w = World {
        conn,
        unit: [own_unit, other_unit],
        instrument: [managed, foreign],
        researcher_id,
        n: 0,
    };
    let admin = tokens["PlatformAdmin"].clone();
    let researcher = tokens["Researcher"].clone();
    let mut checked = 0;

    for who in EVERYONE {
        for side in [Side::Own, Side::Other] {
            let token = tokens.get(&format!("{who:?}")).cloned();
            let t = token.as_deref();
            // (name, rule, method, path, body), with fixtures made fresh for this call.
            let mut cases: Vec<(&str, Rule, &str, String, Value)> = Vec::new();
            let u = w.unit(side);
            let i = w.instrument(side);
            w.n += 1;
            let n = w.n;
            cases.push((
                "create sub-platform",
                Rule::PlatformAdmin,
                "POST",
                "/api/v1/sub-platforms".into(),
                json!({"name": format!("子平台{n}")}),
            ));
            cases.push((
                "edit sub-platform",
                Rule::PlatformAdmin,
                "PATCH",
                "/api/v1/sub-platforms/1".into(),
                json!({"description": "说明"}),
            ));
            cases.push(("create unit", Rule::PlatformAdmin, "POST", "/api/v1/units".into(),
                json!({"sub_platform_id": 1, "name": format!("测试单位{n}"), "short_name": "测试", "kind": "institute", "city": "长春"})));
            cases.push((
                "edit unit",
                Rule::PlatformAdmin,
                "PATCH",
                format!("/api/v1/units/{u}"),
                json!({"website": "https://example.cn"}),
            ));
            cases.push((
                "create instrument",
                Rule::UnitAdmin,
                "POST",
                format!("/api/v1/units/{u}/instruments"),
                instrument_body(n),
            ));
            cases.push((
                "edit instrument",
                Rule::UnitAdmin,
                "PATCH",
                format!("/api/v1/instruments/{i}"),
                json!({"model": format!("M-{n}")}),
            ));
            let (_, fresh) = app
                .post(
                    &format!("/api/v1/units/{u}/instruments"),
                    Some(&admin),
                    instrument_body(1000 + n),
                )
                .await;
            cases.push((
                "retire instrument",
                Rule::UnitAdmin,
                "POST",
                format!("/api/v1/instruments/{}/retire", fresh["id"]),
                json!({}),
            ));
            cases.push((
                "booking settings",
                Rule::Runner,
                "PUT",
                format!("/api/v1/instruments/{i}/booking-settings"),
                json!({"slot_minutes": 30}),
            ));
            let (_, candidate) = w.fresh_user(Role::Researcher, None);
            cases.push((
                "add staff",
                Rule::UnitAdmin,
                "POST",
                format!("/api/v1/units/{u}/staff"),
                json!({"email": candidate, "role": "instrument_manager"}),
            ));
            let (staff_id, _) = w.fresh_user(Role::InstrumentManager, Some(u));
            cases.push((
                "remove staff",
                Rule::UnitAdmin,
                "DELETE",
                format!("/api/v1/units/{u}/staff/{staff_id}"),
                Value::Null,
            ));
            cases.push((
                "name managers",
                Rule::UnitAdmin,
                "PUT",
                format!("/api/v1/instruments/{i}/managers"),
                json!({"user_ids": []}),
            ));
            let (applicant, applicant_email) = w.fresh_user(Role::Researcher, None);
            let applicant_token = app.login(&applicant_email, "fixture password 123").await
                ["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let (_, application) = app
                .post(
                    &format!("/api/v1/instruments/{i}/qualifications"),
                    Some(&applicant_token),
                    json!({"note": "培训已完成"}),
                )
                .await;
            cases.push((
                "decide qualification",
                Rule::Runner,
                "POST",
                format!("/api/v1/qualifications/{}/decision", application["id"]),
                json!({"decision": "approve", "level": "supervised"}),
            ));
            cases.push((
                "record violation",
                Rule::Runner,
                "POST",
                format!("/api/v1/users/{applicant}/violations"),
                json!({"instrument_id": i, "kind": "late", "occurred_at": "2026-01-05T02:00:00Z"}),
            ));
            // A fresh client's rating of a service on the instrument: the unit answers it.
            let (client, client_email) = w.fresh_user(Role::Researcher, None);
            let client_token = app.login(&client_email, "fixture password 123").await
                ["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let org = app.json("/api/v1/organisations?per_page=1").await["items"][0]["id"].clone();
            let (status, record) = app
                .post(
                    "/api/v1/service-records",
                    Some(&admin),
                    json!({"instrument_id": i,
                    "service_type": "testing", "service_way": "technical",
                    "client_organisation_id": org, "client_user_id": client,
                    "served_on": yiqi::usage::service::local_day(chrono::Utc::now()),
                    "minutes": 60, "fee_fen": 0}),
                )
                .await;
            assert_eq!(status, 201, "{record}");
            let everything = "satisfied";
            let (status, rating) = app
                .post(
                    &format!("/api/v1/service-records/{}/rating", record["id"]),
                    Some(&client_token),
                    json!({"overall": everything, "attitude": everything, "quality": everything,
                        "timeliness": everything, "price": everything, "condition": everything}),
                )
                .await;
            assert_eq!(status, 201, "{rating}");
            cases.push((
                "reply to a rating",
                Rule::Runner,
                "POST",
                format!("/api/v1/ratings/{}/reply", rating["id"]),
                json!({"reply": "感谢您的评价"}),
            ));
            cases.push(("ban in a unit", Rule::UnitAdmin, "POST", "/api/v1/bans".into(),
                json!({"user_id": w.researcher_id, "scope": "unit", "unit_id": u, "reason": "三次爽约", "ends_at": "2099-01-01T00:00:00Z"})));
            let (_, ban) = app.post("/api/v1/bans", Some(&admin),
                json!({"user_id": applicant, "scope": "instrument", "instrument_id": i, "reason": "超时", "ends_at": "2099-01-01T00:00:00Z"})).await;
            cases.push((
                "lift ban",
                Rule::UnitAdmin,
                "POST",
                format!("/api/v1/bans/{}/lift", ban["id"]),
                json!({"reason": "已说明情况"}),
            ));
            cases.push(("ban everywhere", Rule::PlatformAdmin, "POST", "/api/v1/bans".into(),
                json!({"user_id": applicant, "scope": "all", "reason": "严重违规", "ends_at": "2099-01-01T00:00:00Z"})));
            cases.push((
                "apply for qualification",
                Rule::SignedIn,
                "POST",
                format!("/api/v1/instruments/{i}/qualifications"),
                json!({}),
            ));
            cases.push((
                "edit own profile",
                Rule::SignedIn,
                "PATCH",
                "/api/v1/me".into(),
                json!({"phone": "0431-1234567"}),
            ));
            let (_, org_body) = app.post("/api/v1/auth/register", None, json!({
                "email": format!("org{n}@example.cn"), "password": "long enough password", "name": "某人",
                "new_organisation": {"name": format!("新公司{n}"), "kind": "enterprise"}})).await;
            assert_eq!(org_body["status"], "verification_sent");
            let orgs = app
                .json(&format!(
                    "/api/v1/organisations?q={}",
                    urlencode(&format!("新公司{n}"))
                ))
                .await;
            cases.push((
                "accept organisation",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/organisations/{}/approve", orgs["items"][0]["id"]),
                json!({}),
            ));
            let (victim, _) = w.fresh_user(Role::Researcher, None);
            cases.push((
                "disable account",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/admin/users/{victim}/disable"),
                json!({}),
            ));
            cases.push((
                "enable account",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/admin/users/{victim}/enable"),
                json!({}),
            ));
            let dead = dead_mail(&mut w.conn);
            cases.push((
                "retry dead mail",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/admin/mail/{dead}/retry"),
                json!({}),
            ));
            cases.push((
                "list users",
                Rule::PlatformAdmin,
                "GET",
                "/api/v1/admin/users".into(),
                Value::Null,
            ));
            cases.push((
                "read audit log",
                Rule::PlatformAdmin,
                "GET",
                "/api/v1/admin/audit".into(),
                Value::Null,
            ));
            cases.push((
                "read mail queue",
                Rule::PlatformAdmin,
                "GET",
                "/api/v1/admin/mail".into(),
                Value::Null,
            ));
            cases.push((
                "list staff",
                Rule::UnitAdmin,
                "GET",
                format!("/api/v1/units/{u}/staff"),
                Value::Null,
            ));
            cases.push((
                "violations of a person",
                Rule::Staff,
                "GET",
                format!("/api/v1/users/{applicant}/violations"),
                Value::Null,
            ));

            // The yearly round: notices and the holiday table.
            // One open notice per unit and year: each fixture its own year.
            let round = EVERYONE.iter().position(|x| *x == who).unwrap_or(0) as u32 * 2
                + u32::from(side == Side::Other);
            let year = |k: u32| 2000 + 4 * round + k;
            let notice = |admin: String, year: u32| {
                let app = &app;
                async move {
                    let (status, n) = app
                        .post(
                            &format!("/api/v1/units/{u}/rectifications"),
                            Some(&admin),
                            json!({"year": year, "reason": "满意度偏低", "deadline": "2099-12-31"}),
                        )
                        .await;
                    assert_eq!(status, 201, "{n}");
                    n["id"].as_i64().unwrap()
                }
            };
            cases.push((
                "issue a rectification notice",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/units/{u}/rectifications"),
                json!({"year": year(0), "reason": "投诉成立较多", "deadline": "2099-12-31"}),
            ));
            let to_report = notice(admin.clone(), year(1)).await;
            cases.push((
                "report on a rectification notice",
                Rule::UnitItself,
                "POST",
                format!("/api/v1/rectifications/{to_report}/report"),
                json!({"text": "已整改"}),
            ));
            let to_extend = notice(admin.clone(), year(2)).await;
            cases.push((
                "extend a rectification notice",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/rectifications/{to_extend}/extend"),
                json!({"deadline": "2100-06-30"}),
            ));
            // One the unit reported on, to close: reported by an admin of that unit.
            let to_close = notice(admin.clone(), year(3)).await;
            let (_, unit_admin_email) = w.fresh_user(Role::UnitAdmin, Some(u));
            let unit_token = app.login(&unit_admin_email, "fixture password 123").await
                ["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let (status, _) = app
                .post(
                    &format!("/api/v1/rectifications/{to_close}/report"),
                    Some(&unit_token),
                    json!({"text": "已整改"}),
                )
                .await;
            assert_eq!(status, 200);
            cases.push((
                "close a rectification notice",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/rectifications/{to_close}/close"),
                json!({}),
            ));
            cases.push((
                "read the yearly round",
                Rule::PlatformAdmin,
                "GET",
                "/api/v1/evaluation?year=2026".into(),
                Value::Null,
            ));
            let day = format!("2099-01-{:02}", n % 28 + 1);
            cases.push((
                "set a holiday",
                Rule::PlatformAdmin,
                "PUT",
                format!("/api/v1/holidays/{day}"),
                json!({"kind": "holiday", "name": "测试"}),
            ));
            let (status, _) = app
                .call(
                    "PUT",
                    &format!("/api/v1/holidays/2098-01-{:02}", n % 28 + 1),
                    Some(&admin),
                    Some(json!({"kind": "holiday"})),
                )
                .await;
            assert_eq!(status, 200);
            cases.push((
                "remove a holiday",
                Rule::PlatformAdmin,
                "DELETE",
                format!("/api/v1/holidays/2098-01-{:02}", n % 28 + 1),
                Value::Null,
            ));

            // Articles: the platform's by its admins, a unit's by its admins; publishing a unit's
            // submitted article platform-wide by the platform's admins.
            cases.push((
                "write a platform article",
                Rule::PlatformAdmin,
                "POST",
                "/api/v1/articles".into(),
                json!({"kind": "news", "scope": "platform", "title": format!("新闻{n}")}),
            ));
            cases.push((
                "write a unit's article",
                Rule::UnitAdmin,
                "POST",
                "/api/v1/articles".into(),
                json!({"kind": "notice", "scope": "unit", "unit_id": u, "title": format!("通知{n}")}),
            ));
            let (status, article) = app
                .post(
                    "/api/v1/articles",
                    Some(&unit_token),
                    json!({"kind": "notice", "scope": "unit", "unit_id": u, "title": format!("待审{n}")}),
                )
                .await;
            assert_eq!(status, 201, "{article}");
            let (status, _) = app
                .post(
                    &format!("/api/v1/articles/{}/submit", article["id"]),
                    Some(&unit_token),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200);
            // The article's author (`unit_token`) edits it, and the platform's admins; the unit's
            // other admins may write their own but not change a colleague's.
            cases.push((
                "edit a unit's article",
                Rule::PlatformAdmin,
                "PATCH",
                format!("/api/v1/articles/{}", article["id"]),
                json!({"summary": format!("摘要{n}")}),
            ));
            let pdf =
                reqwest::multipart::Part::bytes(b"%PDF-1.7\n%%EOF\n".to_vec()).file_name("a.pdf");
            let res = app
                .client
                .post(format!(
                    "{}/api/v1/articles/{}/attachments",
                    app.address, article["id"]
                ))
                .bearer_auth(&unit_token)
                .multipart(reqwest::multipart::Form::new().part("file", pdf))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            let file: Value = res.json().await.unwrap();
            cases.push((
                "take a file off a unit's article",
                Rule::PlatformAdmin,
                "DELETE",
                format!(
                    "/api/v1/articles/{}/attachments/{}",
                    article["id"], file["id"]
                ),
                Value::Null,
            ));
            cases.push((
                "publish a unit's article",
                Rule::PlatformAdmin,
                "POST",
                format!("/api/v1/articles/{}/publish", article["id"]),
                json!({}),
            ));

            for (name, rule, method, path, body) in cases {
                let body = (!body.is_null()).then_some(body);
                let (status, got) = app.call(method, &path, t, body).await;
                let expect = if who == Who::Anonymous {
                    "401"
                } else if allowed(rule, who, side)
                    || (name == "violations of a person" && who != Who::Researcher)
                {
                    "2xx"
                } else {
                    "403"
                };
                let ok = match expect {
                    "2xx" => (200..300).contains(&status),
                    "401" => status == 401,
                    _ => status == 403,
                };
                assert!(ok, "{name}: {who:?} on the {side:?} unit: expected {expect}, got {status} {got} ({method} {path})");
                if status == 403 {
                    assert_eq!(got["code"], "forbidden", "{name}: {got}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 5 * 2 * 25, "{checked} checks");
    // A researcher reads only their own record.
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/users/{}/bans", w.researcher_id),
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A message in the outbox that failed for good.
fn dead_mail(conn: &mut DbConnection) -> i64 {
    let m = yiqi::mail::templates::test_message("dead@example.cn", "x").unwrap();
    let now = chrono::Utc::now().naive_utc();
    yiqi::db::write_tx(conn, |c| yiqi::mail::enqueue(c, &m, now)).unwrap();
    use diesel::prelude::*;
    use yiqi::db::schema::mail_outbox;
    let id: i64 = mail_outbox::table
        .select(mail_outbox::id)
        .order(mail_outbox::id.desc())
        .first(conn)
        .unwrap();
    yiqi::mail::store::mark_dead(conn, yiqi::types::MessageId(id), "550 no such mailbox").unwrap();
    id
}
