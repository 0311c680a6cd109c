//! The server-rendered pages, read as HTML (the browser walk-through is in browser.rs).

mod common;

use common::{TestApp, TestDb};

on_both_backends!(
    pages_show_the_catalogue,
    bad_pages_answer_with_a_readable_page,
    forms_without_the_csrf_token_are_refused,
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

async fn bad_pages_answer_with_a_readable_page(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let missing = page(&app, "/instruments/999999", 404).await;
    assert!(missing.contains("页面不存在") && missing.contains("返回首页"));
    let bad = page(&app, "/instruments?status=broken", 400).await;
    assert!(bad.contains("请求有误") && bad.contains("status"));
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
