//! 信息发布: a unit's article is on the unit's pages once submitted and platform-wide once
//! the platform publishes it; drafts and returned articles are their writers' alone; Markdown
//! is cleaned of anything that runs; scheduled and ended articles come and go at their time.

use crate::common;

use chrono::Duration;
use common::{TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::clock::{Clock, ManualClock};

on_both_backends!(
    a_units_article_reaches_the_platform_after_approval,
    hostile_text_never_reaches_a_page,
    scheduled_and_ended_articles_come_and_go,
    a_training_takes_as_many_as_it_has_places,
    attachments_are_checked_by_their_bytes_and_kept_by_hash,
    an_oversized_upload_is_refused_before_it_is_read,
    subscribers_hear_at_once_or_at_eight_and_leave_in_one_click,
    the_search_box_finds_published_articles_only,
    a_second_tab_cannot_overwrite_or_approve_unseen_text,
    an_article_returned_overnight_comes_back_to_the_digest,
);

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, a) = app.post("/api/v1/articles", Some(token), body).await;
    assert_eq!(status, 201, "{a}");
    a
}

/// A platform article written and published by `token`.
async fn published(app: &TestApp, token: &str, body: Value) -> Value {
    let a = create(app, token, body).await;
    let (status, p) = step(app, token, a["id"].as_i64().unwrap(), "publish", json!({})).await;
    assert_eq!(status, 200, "{p}");
    a
}

async fn step(app: &TestApp, token: &str, id: i64, step: &str, body: Value) -> (u16, Value) {
    app.post(&format!("/api/v1/articles/{id}/{step}"), Some(token), body)
        .await
}

/// The entry titles of a feed, read by an independent Atom parser (feed-rs); each entry links
/// to its article's page.
async fn feed_titles(app: &TestApp, path: &str) -> Vec<String> {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let bytes = res.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&bytes[..]).expect("an Atom feed");
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    feed.entries
        .iter()
        .map(|e| {
            assert!(e.links[0].href.contains("/articles/"), "{:?}", e.links);
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

async fn a_units_article_reaches_the_platform_after_approval(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;

    // A unit's admin writes for their unit only.
    let (status, _) = app
        .post(
            "/api/v1/articles",
            Some(&unit_admin),
            json!({"kind": "notice", "scope": "platform", "title": "全省通知"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            "/api/v1/articles",
            Some(&unit_admin),
            json!({"kind": "notice", "scope": "unit", "unit_id": 2, "title": "别人的单位"}),
        )
        .await;
    assert_eq!(status, 403);
    let a = create(
        &app,
        &unit_admin,
        json!({"kind": "notice", "scope": "unit", "unit_id": 1, "title": "扫描电镜12月8日停机维护",
            "summary": "停机一天", "body": "**12月8日**全天停机维护。"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["status"], "draft");
    let path = format!("/api/v1/articles/{id}");
    // A draft is its writer's: anyone else learns nothing of it.
    for token in [None, Some(researcher.as_str())] {
        let (status, _) = app.call("GET", &path, token, None).await;
        assert_eq!(status, 404);
    }
    let (status, _) = app.call("GET", &path, Some(&admin), None).await;
    assert_eq!(status, 200);

    // Submitted: on the unit's page at once, not yet platform-wide.
    let (status, a) = step(&app, &unit_admin, id, "submit", json!({})).await;
    assert_eq!(
        (status, a["status"].as_str()),
        (200, Some("submitted")),
        "{a}"
    );
    let (status, public) = app.call("GET", &path, None, None).await;
    assert_eq!(status, 200);
    assert!(public["body_html"]
        .as_str()
        .unwrap()
        .contains("<strong>12月8日</strong>"));
    assert!(ids(&app.json("/api/v1/articles?unit=1").await).contains(&id));
    assert!(!ids(&app.json("/api/v1/articles?kind=notice").await).contains(&id));
    let unit_page = app.get("/units/1").await.text().await.unwrap();
    assert!(
        unit_page.contains("扫描电镜12月8日停机维护"),
        "the unit's page lists it"
    );
    // Newest first in the unit's feed; not yet in the platform's.
    assert_eq!(
        feed_titles(&app, "/feeds/units/1.atom").await[0],
        "扫描电镜12月8日停机维护"
    );
    assert!(!feed_titles(&app, "/feeds/notice.atom")
        .await
        .contains(&"扫描电镜12月8日停机维护".to_owned()));
    // The unit cannot publish platform-wide.
    let (status, _) = step(&app, &unit_admin, id, "publish", json!({})).await;
    assert_eq!(status, 403);

    // Returned with a reason: off the unit's page, the reason for its writer.
    let (status, p) = step(&app, &admin, id, "return", json!({"reason": ""})).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("reason")));
    let (status, a) = step(
        &app,
        &admin,
        id,
        "return",
        json!({"reason": "请写明停机时段"}),
    )
    .await;
    assert_eq!(
        (status, a["status"].as_str()),
        (200, Some("returned")),
        "{a}"
    );
    let (status, _) = app.call("GET", &path, None, None).await;
    assert_eq!(status, 404);
    let mine = app.json_as("/api/v1/articles?mine=true", &unit_admin).await;
    let listed = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(listed["return_reason"], "请写明停机时段");

    // Edited, submitted again, published: platform-wide and on the home page.
    let (status, _) = app
        .call(
            "PATCH",
            &path,
            Some(&unit_admin),
            Some(json!({"body": "**12月8日 8:00–18:00** 停机维护。"})),
        )
        .await;
    assert_eq!(status, 200);
    step(&app, &unit_admin, id, "submit", json!({})).await;
    let (status, a) = step(&app, &admin, id, "publish", json!({})).await;
    assert_eq!(
        (status, a["status"].as_str()),
        (200, Some("published")),
        "{a}"
    );
    assert!(ids(&app.json("/api/v1/articles?kind=notice").await).contains(&id));
    let home = app.get("/").await.text().await.unwrap();
    assert!(
        home.contains("扫描电镜12月8日停机维护"),
        "the home page lists it"
    );
    // Publishing twice is out of order.
    let (status, p) = step(&app, &admin, id, "publish", json!({})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // Editing what is out keeps what it said before.
    clock.advance(Duration::hours(1));
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (status, a) = app
        .call(
            "PATCH",
            &path,
            Some(&unit_admin),
            Some(json!({"title": "扫描电镜12月8日停机维护（已延长）"})),
        )
        .await;
    assert_eq!((status, a["revisions"].as_i64()), (200, Some(1)), "{a}");
    // The unit's change to what the platform approved goes back to it: on the unit's pages,
    // off the platform's lists until approved again.
    assert_eq!(a["status"], "submitted", "{a}");
    assert!(!ids(&app.json("/api/v1/articles?kind=notice").await).contains(&id));
    assert!(ids(&app.json("/api/v1/articles?unit=1").await).contains(&id));
    // Its kind is fixed once out; emptying its date keeps the date.
    let (status, p) = app
        .call(
            "PATCH",
            &path,
            Some(&unit_admin),
            Some(json!({"kind": "news"})),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("kind")), "{p}");
    let (status, a) = app
        .call(
            "PATCH",
            &path,
            Some(&unit_admin),
            Some(json!({"publish_at": ""})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(a["publish_at"].is_string(), "{a}");
    let admin = app.token("admin@yiqi.demo").await;
    let (status, _) = step(&app, &admin, id, "publish", json!({})).await;
    assert_eq!(status, 200);
    assert!(ids(&app.json("/api/v1/articles?kind=notice").await).contains(&id));
    // Another admin of the unit does not see this writer's drafts, nor count them.
    let draft = create(
        &app,
        &unit_admin,
        json!({"kind": "news", "scope": "unit", "unit_id": 1, "title": "草稿"}),
    )
    .await["id"]
        .clone();
    let (_, colleague) = app
        .fresh_account(yiqi::auth::Role::UnitAdmin, Some(1), 300)
        .await;
    let theirs = app.json_as("/api/v1/articles?mine=true", &colleague).await;
    assert!(
        !theirs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == draft),
        "{theirs}"
    );
    assert_eq!(
        theirs["total"].as_i64(),
        Some(theirs["items"].as_array().unwrap().len() as i64)
    );
    // The scope is fixed once written.
    let (status, p) = app
        .call(
            "PATCH",
            &path,
            Some(&unit_admin),
            Some(json!({"scope": "platform"})),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("scope")));
    // The researcher cannot edit it.
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, _) = app
        .call(
            "PATCH",
            &path,
            Some(&researcher),
            Some(json!({"title": "改"})),
        )
        .await;
    assert_eq!(status, 403);
    // The page shows it.
    let page = app
        .get(&format!("/articles/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("已延长") && page.contains("8:00–18:00"),
        "{page}"
    );
}

async fn hostile_text_never_reaches_a_page(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let admin = app.token("admin@yiqi.demo").await;
    let body = "<script>alert('b')</script>\n\n<img src=x onerror=alert(1)>\n\n[点我](javascript:alert(2))\n\n<a href=\"javascript:alert(3)\">链接</a>\n\n<iframe src=\"https://evil.example\"></iframe>\n\n正常的**内容**";
    let a = create(
        &app,
        &admin,
        json!({"kind": "news", "scope": "platform", "title": "<script>alert('t')</script>新闻",
            "summary": "<img src=x onerror=alert(4)>", "body": body}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    step(&app, &admin, id, "publish", json!({})).await;
    let html = app.json(&format!("/api/v1/articles/{id}")).await["body_html"]
        .as_str()
        .unwrap()
        .to_lowercase();
    for bad in ["<script", "onerror", "javascript:", "<iframe"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    assert!(html.contains("<strong>内容</strong>"));
    for path in [
        format!("/articles/{id}"),
        "/articles?kind=news".to_owned(),
        "/".to_owned(),
    ] {
        let page = app.get(&path).await.text().await.unwrap();
        assert!(
            !page.contains("<script>alert") && !page.contains("<img src=x onerror"),
            "{path}: {page}"
        );
        assert!(
            page.contains("&lt;script&gt;") || page.contains("&#60;script&#62;"),
            "{path}: the title, escaped"
        );
    }
    // Limits name their field.
    for (body, field) in [
        (
            json!({"kind": "news", "scope": "platform", "title": ""}),
            "title",
        ),
        (
            json!({"kind": "news", "scope": "platform", "title": "长".repeat(101)}),
            "title",
        ),
        (
            json!({"kind": "news", "scope": "platform", "title": "x", "summary": "长".repeat(301)}),
            "summary",
        ),
        (
            json!({"kind": "gossip", "scope": "platform", "title": "x"}),
            "kind",
        ),
        (
            json!({"kind": "news", "scope": "unit", "unit_id": 999999, "title": "x"}),
            "unit_id",
        ),
        (
            json!({"kind": "news", "scope": "platform", "title": "x", "publish_at": "2027-01-02T00:00:00+08:00", "ends_at": "2027-01-01T00:00:00+08:00"}),
            "ends_at",
        ),
        (
            json!({"kind": "news", "scope": "platform", "title": "x", "ends_at": "9999-12-31T23:59:59-01:00"}),
            "ends_at",
        ),
    ] {
        let (status, p) = app.post("/api/v1/articles", Some(&admin), body).await;
        assert!(matches!(status, 400 | 422), "{p}");
        assert_eq!(p["field"].as_str(), Some(field), "{p}");
    }
}

async fn scheduled_and_ended_articles_come_and_go(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let admin = app.token("admin@yiqi.demo").await;
    let later = create(
        &app,
        &admin,
        json!({"kind": "notice", "scope": "platform", "title": "明天发布的通知",
            "publish_at": "2026-12-08T09:00:00+08:00"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    step(&app, &admin, later, "publish", json!({})).await;
    let ending = create(
        &app,
        &admin,
        json!({"kind": "notice", "scope": "platform", "title": "今天截止的报名",
            "ends_at": "2026-12-07T18:00:00+08:00"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    step(&app, &admin, ending, "publish", json!({})).await;
    let pinned = create(
        &app,
        &admin,
        json!({"kind": "notice", "scope": "platform", "title": "置顶：开放共享管理办法", "pinned": true,
            "publish_at": "2026-12-01T09:00:00+08:00"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    step(&app, &admin, pinned, "publish", json!({})).await;

    let list = ids(&app.json("/api/v1/articles?kind=notice").await);
    assert_eq!(list.first(), Some(&pinned), "pinned first: {list:?}");
    assert!(list.contains(&ending) && !list.contains(&later), "{list:?}");
    let (status, _) = app
        .call("GET", &format!("/api/v1/articles/{later}"), None, None)
        .await;
    assert_eq!(status, 404, "not before its time");

    // 18:00: the ended notice leaves the list, keeps its address.
    clock.set(common::beijing(2026, 12, 7, 18, 0));
    let list = ids(&app.json("/api/v1/articles?kind=notice").await);
    assert!(!list.contains(&ending), "{list:?}");
    app.json(&format!("/api/v1/articles/{ending}")).await;
    // Tomorrow 09:00: the scheduled one is out.
    clock.set(common::beijing(2026, 12, 8, 9, 0));
    let list = ids(&app.json("/api/v1/articles?kind=notice").await);
    assert!(list.contains(&later), "{list:?}");
}

async fn a_training_takes_as_many_as_it_has_places(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    let instrument = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, p) = app
        .post(
            "/api/v1/articles",
            Some(&unit_admin),
            json!({"kind": "training", "scope": "unit", "unit_id": 1, "title": "培训",
                "signup_limit": -1}),
        )
        .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("signup_limit")));
    let a = create(
        &app,
        &unit_admin,
        json!({"kind": "training", "scope": "unit", "unit_id": 1, "title": "扫描电镜上机培训",
            "event_at": "2026-12-15T14:00:00+08:00", "event_place": "材料楼 101",
            "signup_limit": 3, "instrument_ids": [instrument, instrument]}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    let signups = format!("/api/v1/articles/{id}/signups");
    let researcher = app.token("researcher@yiqi.demo").await;
    // Not before it is out.
    let (status, _) = app.post(&signups, Some(&researcher), json!({})).await;
    assert_eq!(status, 404);
    step(&app, &unit_admin, id, "submit", json!({})).await;
    step(&app, &admin, id, "publish", json!({})).await;
    let t = app.json(&format!("/api/v1/articles/{id}")).await["training"].clone();
    assert_eq!(t["instruments"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(
        (t["place"].as_str(), t["signups"].as_i64()),
        (Some("材料楼 101"), Some(0))
    );

    // Six people at once for three places: exactly three get one.
    let mut tokens = Vec::new();
    for n in 0..6 {
        tokens.push(
            app.fresh_account(yiqi::auth::Role::Researcher, None, 100 + n)
                .await
                .1,
        );
    }
    let calls = tokens
        .iter()
        .map(|t| app.post(&signups, Some(t), json!({})));
    let results = futures_util::future::join_all(calls).await;
    let mut codes: Vec<String> = results
        .iter()
        .map(|(s, b)| {
            if *s == 201 {
                "201".to_owned()
            } else {
                b["code"].as_str().unwrap_or("?").to_owned()
            }
        })
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "201",
            "201",
            "201",
            "training_full",
            "training_full",
            "training_full"
        ]
    );
    let t = app.json(&format!("/api/v1/articles/{id}")).await["training"].clone();
    assert_eq!(t["signups"], 3);

    // Once each; a place given back is free again.
    let first = tokens
        .iter()
        .zip(&results)
        .find(|(_, r)| r.0 == 201)
        .unwrap()
        .0;
    let (status, p) = app.post(&signups, Some(first), json!({})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("already_signed_up"))
    );
    let (status, t) = app.call("DELETE", &signups, Some(first), None).await;
    assert_eq!((status, t["training"]["signups"].as_i64()), (200, Some(2)));
    let (status, _) = app.call("DELETE", &signups, Some(first), None).await;
    assert_eq!(status, 404, "nothing left to cancel");
    let (status, t) = app.post(&signups, Some(&researcher), json!({})).await;
    assert_eq!(
        (status, t["training"]["signed_up"].as_bool()),
        (201, Some(true))
    );

    // Once it begins, sign-ups are closed.
    clock.set(common::beijing(2026, 12, 15, 14, 0));
    let late = app
        .fresh_account(yiqi::auth::Role::Researcher, None, 200)
        .await
        .1;
    let (status, p) = app.post(&signups, Some(&late), json!({})).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("signup_closed")));
    // The page shows the training and the places.
    let page = app
        .get(&format!("/articles/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("材料楼 101") && page.contains("已报 3 人，限 3 人"),
        "{page}"
    );
}

/// A multipart upload of one file, as a browser or `curl -F file=@…` sends it.
async fn upload(app: &TestApp, token: &str, id: i64, name: &str, bytes: &[u8]) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = app
        .client
        .post(format!("{}/api/v1/articles/{id}/attachments", app.address))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Every file under `dir`, relative.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

async fn attachments_are_checked_by_their_bytes_and_kept_by_hash(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let a = create(
        &app,
        &unit_admin,
        json!({"kind": "notice", "scope": "unit", "unit_id": 1, "title": "停机检修通知"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();

    // A hostile name loses its path and stays text; the type comes from the bytes.
    let hostile = "../../<img src=x onerror=alert(1)>通知.pdf";
    let (status, f) = upload(&app, &unit_admin, id, hostile, PDF).await;
    assert_eq!(status, 201, "{f}");
    assert_eq!(f["name"], "<img src=x onerror=alert(1)>通知.pdf");
    assert_eq!(f["content_type"], "application/pdf");
    assert_eq!(f["size"], PDF.len());
    let url = f["url"].as_str().unwrap().to_owned();

    // Kept once, by its SHA-256, inside the attachment directory and nowhere else.
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(PDF)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let stored = vec![format!("{}/{hash}", &hash[..2])];
    assert_eq!(files_under(&app.attachment_dir), stored);
    let outside = app.attachment_dir.parent().unwrap().parent().unwrap();
    assert!(
        !files_under(outside).iter().any(|p| p.contains("通知.pdf")),
        "a file named after the upload"
    );
    // The same bytes again under another name: a second attachment, the same file.
    let (status, _) = upload(&app, &unit_admin, id, "通知（副本）.PDF", PDF).await;
    assert_eq!(status, 201);
    assert_eq!(files_under(&app.attachment_dir), stored);

    // Refused, each with its code, and nothing kept: a page claiming to be a PDF, a PNG
    // named .pdf, a program, an empty file, a form without a file.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
    for (name, bytes, code) in [
        (
            "报告.pdf",
            &b"<html><script>alert(1)</script></html>"[..],
            "attachment_type",
        ),
        ("报告.pdf", &png[..], "attachment_type"),
        (
            "setup.exe",
            &b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0"[..],
            "attachment_type",
        ),
        ("空.pdf", &b""[..], "validation_failed"),
    ] {
        let (status, p) = upload(&app, &unit_admin, id, name, bytes).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some(code)),
            "{name}: {p}"
        );
        assert_eq!(p["field"], "file");
    }
    let res = app
        .client
        .post(format!("{}/api/v1/articles/{id}/attachments", app.address))
        .bearer_auth(&unit_admin)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(files_under(&app.attachment_dir), stored);

    // A draft's files are its writers': others get 404, and cannot attach either.
    assert_eq!(app.get(&url).await.status(), 404);
    let (status, _) = upload(&app, &researcher, id, "x.pdf", PDF).await;
    assert_eq!(status, 404);
    let res = app
        .client
        .get(format!(
            "{}/api/v1/articles/{id}/attachments/{}",
            app.address, f["id"]
        ))
        .bearer_auth(&unit_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Submitted, the notice is public and so are its files: the original name, the type
    // found at upload, never sniffed, never run.
    let (status, _) = step(&app, &unit_admin, id, "submit", json!({})).await;
    assert_eq!(status, 200);
    let res = app.get(&url).await;
    assert_eq!(res.status(), 200);
    let h = |k: &str| res.headers()[k].to_str().unwrap().to_owned();
    assert_eq!(h("content-type"), "application/pdf");
    assert_eq!(h("x-content-type-options"), "nosniff");
    let cd = h("content-disposition");
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(cd.contains("%E9%80%9A%E7%9F%A5.pdf"), "{cd}");
    assert!(!cd.contains('<'), "{cd}");
    assert_eq!(&res.bytes().await.unwrap()[..], PDF);
    let (status, _) = upload(&app, &researcher, id, "x.pdf", PDF).await;
    assert_eq!(status, 403);

    // On the article's page the hostile name is text.
    let page = app
        .get(&format!("/articles/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("&#60;img src=x onerror=alert(1)&#62;通知.pdf"),
        "{page}"
    );
    assert!(!page.contains("<img src=x"));
    let article = app.json(&format!("/api/v1/articles/{id}")).await;
    assert_eq!(article["attachments"].as_array().unwrap().len(), 2);

    // Taken off by its writer: gone from the article, 404 at its address.
    let fid = f["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/articles/{id}/attachments/{fid}"),
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/articles/{id}/attachments/{fid}"),
            Some(&unit_admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&url).await.status(), 404);
    let article = app.json(&format!("/api/v1/articles/{id}")).await;
    assert_eq!(article["attachments"].as_array().unwrap().len(), 1);
}

/// Sends a request's head and then, with `chunked`, a multipart body that never ends;
/// returns the first bytes of the answer. An answer at all proves the server did not wait
/// for the whole body.
async fn answer_to_endless_upload(app: &TestApp, token: &str, id: i64, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let chunked = head.contains("chunked");
    let head = format!(
        "POST /api/v1/articles/{id}/attachments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n{head}\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        if chunked {
            let start = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n";
            wr.write_all(format!("{:x}\r\n{start}\r\n", start.len()).as_bytes())
                .await?;
            let chunk = vec![b'a'; 64 * 1024];
            loop {
                wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                wr.write_all(&chunk).await?;
                wr.write_all(b"\r\n").await?;
            }
        }
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(())
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), rd.read(&mut buf))
        .await
        .expect("an answer before the body ends")
        .unwrap();
    writer.abort();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn an_oversized_upload_is_refused_before_it_is_read(db: TestDb) {
    let app = TestApp::spawn_with(db.seeded(), |db| {
        let mut s = common::settings(db);
        s.publishing.max_attachment_mb = 1;
        s
    })
    .await;
    let admin = app.token("admin@yiqi.demo").await;
    let a = create(
        &app,
        &admin,
        json!({"kind": "news", "scope": "platform", "title": "大文件"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    // Declared too large: refused on the head alone.
    let answer = answer_to_endless_upload(&app, &admin, id, "Content-Length: 52428800\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    // Sent without a length and never ending: refused once past the limit.
    let answer = answer_to_endless_upload(&app, &admin, id, "Transfer-Encoding: chunked\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(files_under(&app.attachment_dir).is_empty());
    let article = app.json_as(&format!("/api/v1/articles/{id}"), &admin).await;
    assert!(article["attachments"].as_array().unwrap().is_empty());
    // Just under the limit passes.
    let mut pdf = PDF.to_vec();
    pdf.resize(1024 * 1024 - 1024, b' ');
    let (status, f) = upload(&app, &admin, id, "刚好.pdf", &pdf).await;
    assert_eq!(status, 201, "{f}");
}

async fn subscribers_hear_at_once_or_at_eight_and_leave_in_one_click(db: TestDb) {
    use yiqi::publishing::subscriptions::service::{announce, send_digests};
    let smtp = common::smtp::SmtpServer::start();
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let admin = app.token("admin@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;

    // The researcher follows unit 1's notices by immediate e-mail (asking twice changes the
    // delivery, it does not add a second); the manager the platform's lists in the digest.
    let subscribe = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move { app.post("/api/v1/subscriptions", Some(&token), body).await }
    };
    let unit_notices = json!({"scope": "unit", "scope_id": 1, "kind": "notice", "mode": "daily"});
    let (status, s) = subscribe(&researcher, unit_notices.clone()).await;
    assert_eq!(status, 201, "{s}");
    let mut again = unit_notices.clone();
    again["mode"] = json!("immediate");
    let (status, s2) = subscribe(&researcher, again).await;
    assert_eq!(
        (status, &s2["id"], s2["mode"].as_str()),
        (200, &s["id"], Some("immediate"))
    );
    let (status, _) = subscribe(&manager, json!({"mode": "daily"})).await;
    assert_eq!(status, 201);
    for (body, field) in [
        (json!({"kind": "gossip"}), "kind"),
        (json!({"scope": "unit"}), "scope_id"),
        (json!({"scope": "unit", "scope_id": 999999}), "scope_id"),
        (json!({"mode": "hourly"}), "mode"),
    ] {
        let (status, p) = subscribe(&researcher, body).await;
        assert_eq!((status, p["field"].as_str()), (422, Some(field)), "{p}");
    }
    let mine = app.json_as("/api/v1/subscriptions", &researcher).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert!(mine[0].get("token").is_none());

    // The unit submits a notice: on its page at once, so its followers hear of it once.
    let a = create(
        &app,
        &unit_admin,
        json!({"kind": "notice", "scope": "unit", "unit_id": 1, "title": "透射电镜停机检修", "summary": "12月9日至10日停机"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    let mut conn = app.db.connect();
    assert_eq!(
        announce(&mut conn, clock.now()).unwrap(),
        0,
        "a draft is nobody's news"
    );
    step(&app, &unit_admin, id, "submit", json!({})).await;
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 1);
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 0);
    let m = smtp
        .wait_for("researcher@yiqi.demo", "透射电镜停机检修")
        .await;
    assert!(m.part("text/plain").contains("12月9日至10日停机"));
    let link = m.header("List-Unsubscribe");
    assert!(
        link.starts_with('<') && link.contains("/unsubscribe/"),
        "{link}"
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );

    // Published platform-wide: the manager's digest takes it; the researcher, told already,
    // is not told again.
    step(&app, &admin, id, "publish", json!({})).await;
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 1);
    // Scheduled for tomorrow 10:00: nobody hears of it before then.
    published(&app, &admin, json!({"kind": "news", "scope": "platform", "title": "共享平台年度报告", "publish_at": "2026-12-08T10:00:00+08:00"})).await;
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 0);

    // The digest goes at 08:00 Beijing time, once, with what was queued before.
    clock.set(common::beijing(2026, 12, 8, 7, 59));
    assert_eq!(send_digests(&mut conn, clock.now()).unwrap(), 0);
    clock.set(common::beijing(2026, 12, 8, 8, 0));
    assert_eq!(send_digests(&mut conn, clock.now()).unwrap(), 1);
    assert_eq!(send_digests(&mut conn, clock.now()).unwrap(), 0);
    let digest = smtp.wait_for("manager@yiqi.demo", "每日摘要").await;
    let text = digest.part("text/plain");
    assert!(
        text.contains("透射电镜停机检修") && !text.contains("共享平台年度报告"),
        "{text}"
    );
    clock.set(common::beijing(2026, 12, 8, 10, 0));
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 1);
    assert_eq!(
        send_digests(&mut conn, clock.now()).unwrap(),
        0,
        "tomorrow's digest"
    );
    clock.set(common::beijing(2026, 12, 9, 8, 0));
    assert_eq!(send_digests(&mut conn, clock.now()).unwrap(), 1);

    // The link opened in a browser asks first; a mail client's one-click POST, without any
    // sign-in or cookie, unsubscribes that subscription and nothing else.
    let researcher = app.token("researcher@yiqi.demo").await;
    let manager = app.token("manager@yiqi.demo").await;
    let path = &link[link.find("/unsubscribe/").unwrap()..link.len() - 1];
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("退订"));
    assert_eq!(
        app.json_as("/api/v1/subscriptions", &researcher)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let one_click = |p: String| {
        app.client
            .post(format!("{}{p}", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    assert_eq!(one_click(path.to_owned()).await.unwrap().status(), 200);
    assert!(app
        .json_as("/api/v1/subscriptions", &researcher)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.json_as("/api/v1/subscriptions", &manager)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Clicked again (a mail client may post twice): the same answer, nothing else undone.
    let again = one_click(path.to_owned()).await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("已经退订"));
    assert_eq!(
        one_click("/unsubscribe/not-a-token".into())
            .await
            .unwrap()
            .status(),
        200
    );
    // Nor can one person end another's subscription through the API.
    let theirs = app.json_as("/api/v1/subscriptions", &manager).await[0]["id"].clone();
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/subscriptions/{theirs}"),
            Some(&researcher),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

async fn the_search_box_finds_published_articles_only(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let admin = app.token("admin@yiqi.demo").await;
    let out = published(&app, &admin, json!({"kind": "policy", "scope": "platform", "title": "吉林省大型科研仪器开放共享管理办法", "body": "吉科发〔2026〕42 号。第一条 为规范100%开放共享……"})).await;
    create(
        &app,
        &admin,
        json!({"kind": "policy", "scope": "platform", "title": "开放共享管理办法（征求意见稿）"}),
    )
    .await;

    // Every word must appear; a draft is never found; `%` and `_` are plain characters.
    let found = app
        .json("/api/v1/articles?q=%E5%85%B1%E4%BA%AB%20%E7%AE%A1%E7%90%86%E5%8A%9E%E6%B3%95")
        .await;
    let found = ids(&found);
    assert!(found.contains(&out["id"].as_i64().unwrap()), "{found:?}");
    assert!(found.len() >= 2, "the demo's rules too: {found:?}");
    let found = app.json("/api/v1/articles?q=42%20%E5%8F%B7%E3%80%82").await;
    assert_eq!(ids(&found), vec![out["id"].as_i64().unwrap()]);
    let found = app.json("/api/v1/articles?q=100%25").await;
    assert_eq!(found["total"], 1, "{found}");
    let found = app.json("/api/v1/articles?q=%25%25%25%20_").await;
    assert_eq!(found["total"], 0, "{found}");

    // The header's search box shows them above the instruments.
    let page = app
        .get("/instruments?q=%E7%AE%A1%E7%90%86%E5%8A%9E%E6%B3%95")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"article-hits\""), "{page}");
    assert!(page.contains("吉林省大型科研仪器开放共享管理办法"));
    assert!(!page.contains("征求意见稿"));
}

async fn a_second_tab_cannot_overwrite_or_approve_unseen_text(db: TestDb) {
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let admin = app.token("admin@yiqi.demo").await;
    let a = create(
        &app,
        &unit_admin,
        json!({"kind": "notice", "scope": "unit", "unit_id": 1, "title": "开放日通知"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    step(&app, &unit_admin, id, "submit", json!({})).await;
    // The platform admin opens it; meanwhile the unit changes its text.
    let seen = app.json_as(&format!("/api/v1/articles/{id}"), &admin).await["updated_at"].clone();
    clock.advance(Duration::minutes(1));
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/articles/{id}"),
            Some(&unit_admin),
            Some(json!({"body": "改为线上开放日", "version": seen})),
        )
        .await;
    assert_eq!(status, 200);
    // Approving what the admin read is refused, and so is a second tab's edit of it.
    clock.advance(Duration::minutes(1));
    let (status, p) = step(&app, &admin, id, "publish", json!({"version": seen})).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("edit_conflict")),
        "{p}"
    );
    let (status, p) = app
        .call(
            "PATCH",
            &format!("/api/v1/articles/{id}"),
            Some(&unit_admin),
            Some(json!({"title": "旧标签页的标题", "version": seen})),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("edit_conflict")),
        "{p}"
    );
    let now = app.json_as(&format!("/api/v1/articles/{id}"), &admin).await;
    assert_eq!(now["title"], "开放日通知");
    assert_eq!(now["status"], "submitted");
    // Read again, it goes through.
    let (status, p) = step(
        &app,
        &admin,
        id,
        "publish",
        json!({"version": now["updated_at"]}),
    )
    .await;
    assert_eq!(status, 200, "{p}"); // A file added by the unit to what the platform approved goes back for approval too, and
                                    // counts as a change for whoever holds the old version.
    clock.advance(Duration::minutes(1));
    let (status, _) = upload(&app, &unit_admin, id, "日程.pdf", PDF).await;
    assert_eq!(status, 201);
    let after = app.json_as(&format!("/api/v1/articles/{id}"), &admin).await;
    assert_eq!(after["status"], "submitted");
    assert_ne!(after["updated_at"], p["updated_at"]);
}

async fn an_article_returned_overnight_comes_back_to_the_digest(db: TestDb) {
    use yiqi::publishing::subscriptions::service::{announce, send_digests};
    let smtp = common::smtp::SmtpServer::start();
    let clock = ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), Some(smtp.port)).await;
    let admin = app.token("admin@yiqi.demo").await;
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, _) = app
        .post(
            "/api/v1/subscriptions",
            Some(&researcher),
            json!({"scope": "unit", "scope_id": 1, "mode": "daily"}),
        )
        .await;
    assert_eq!(status, 201);
    let a = create(
        &app,
        &unit_admin,
        json!({"kind": "notice", "scope": "unit", "unit_id": 1, "title": "液氮供应调整"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    step(&app, &unit_admin, id, "submit", json!({})).await;
    let mut conn = app.db.connect();
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 1);
    // Returned before the digest: left out of it, and not counted as told.
    let (status, _) = step(&app, &admin, id, "return", json!({"reason": "请补充时间"})).await;
    assert_eq!(status, 200);
    clock.set(common::beijing(2026, 12, 8, 8, 0));
    assert_eq!(send_digests(&mut conn, clock.now()).unwrap(), 0);
    // Sent again, it is in the next digest.
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (status, _) = step(&app, &unit_admin, id, "submit", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(announce(&mut conn, clock.now()).unwrap(), 1);
    clock.set(common::beijing(2026, 12, 9, 8, 0));
    assert_eq!(send_digests(&mut conn, clock.now()).unwrap(), 1);
    let digest = smtp.wait_for("researcher@yiqi.demo", "每日摘要").await;
    assert!(digest.part("text/plain").contains("液氮供应调整"));
}
