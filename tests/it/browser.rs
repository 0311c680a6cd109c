//! A person's walk through the catalogue in a real headless Chromium, driven over WebDriver.
//! Runs when chromedriver is installed (see build.rs); otherwise `cargo test` lists it as
//! ignored with the command that installs it.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, TestDb};
use fantoccini::{Client, ClientBuilder, Locator};

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {path}: {e}; apt-get install chromium chromium-driver")
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver { child, port }
}

async fn browser(driver: &Driver) -> Client {
    browser_with(driver, serde_json::json!(null)).await
}

/// A browser that shows pages as a 390 × 844 phone does (CSS pixels, touch).
async fn phone(driver: &Driver) -> Client {
    browser_with(
        driver,
        serde_json::json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true}}),
    )
    .await
}

async fn browser_with(driver: &Driver, mobile: serde_json::Value) -> Client {
    let mut caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900"
            ]
        }
    });
    if !mobile.is_null() {
        caps["goog:chromeOptions"]["mobileEmulation"] = mobile;
    }
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

/// The text of the first element matching `css`, waiting for it. htmx swaps the page body in
/// place, so an element found a moment ago may be gone: look again until the deadline.
async fn text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                return t;
            }
        }
        assert!(Instant::now() < deadline, "no {css} on the page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the first element matching `css` and waits until `expect` shows `wanted`.
async fn click_through(c: &Client, css: &str, expect: &str) -> String {
    let link = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    let wanted = link.text().await.unwrap();
    link.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = c.find(Locator::Css(expect)).await.ok();
        if let Some(el) = shown {
            if el.text().await.unwrap_or_default().contains(&wanted) {
                return wanted;
            }
        }
        assert!(
            Instant::now() < deadline,
            "after clicking {css} no {expect} with {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_researcher_clicks_from_the_home_page_to_an_instrument() {
    let app = TestApp::spawn(TestDb::sqlite().seeded()).await;
    let driver = start_driver();
    let c = browser(&driver).await;

    c.goto(&format!("{}/", app.address)).await.unwrap();
    let figures = text(&c, "#figures").await;
    assert!(
        figures.contains("1940") && figures.contains("72") && figures.contains("13"),
        "{figures}"
    );

    let sub = click_through(&c, "#sub-platforms a", "h1").await;
    assert_eq!(sub, "分析测试子平台");
    let unit = click_through(&c, "#unit-list a.title", "h1").await;
    assert_eq!(unit, "吉林大学");
    let name = click_through(&c, "#instrument-list a.title", "#instrument-name").await;

    let api = app.json("/api/v1/instruments?unit=1&per_page=1").await;
    let id = api["items"][0]["id"].as_i64().unwrap();
    assert_eq!(api["items"][0]["name_zh"], name.as_str());
    let expected = app.json(&format!("/api/v1/instruments/{id}")).await;
    assert_eq!(
        text(&c, "#model").await,
        expected["model"].as_str().unwrap()
    );
    assert_eq!(
        text(&c, "#manufacturer").await,
        expected["manufacturer"].as_str().unwrap()
    );
    assert!(text(&c, "#value").await.ends_with("万元"));
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with(&format!("/instruments/{id}")));

    // Filtering by class from the catalogue page narrows the list.
    c.goto(&format!("{}/instruments", app.address))
        .await
        .unwrap();
    let before = text(&c, "h1 small").await;
    c.find(Locator::Css("#f-category option[value='010000']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#f-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while text(&c, "h1 small").await == before {
        assert!(
            Instant::now() < deadline,
            "the filter did not change the list"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let class = app
        .json("/api/v1/instruments?category=010000&per_page=1")
        .await;
    assert!(text(&c, "h1 small")
        .await
        .contains(&class["total"].to_string()));
    assert!(text(&c, "#subcategories").await.contains("电子光学仪器"));

    // On a phone-sized screen nothing runs off the side.
    c.set_window_size(390, 844).await.unwrap();
    for path in ["/", "/instruments", &format!("/instruments/{id}")] {
        c.goto(&format!("{}{path}", app.address)).await.unwrap();
        let overflow = c
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{path} overflows by {overflow}px on a phone"
        );
    }
    c.close().await.unwrap();
}

/// Types `value` into the field `css` after clearing it.
async fn fill(c: &Client, css: &str, value: &str) {
    let el = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    // Parts of a page (the session menu, an instrument's actions) arrive by htmx after the
    // page itself: wait for the element instead of failing at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(el) => {
                if el.click().await.is_ok() {
                    return;
                }
            }
            Err(e) => assert!(Instant::now() < deadline, "{css}: {e}"),
        }
        assert!(Instant::now() < deadline, "cannot click {css}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the element `css` shows text containing `wanted`.
async fn wait_text(c: &Client, css: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if t.contains(wanted) {
                    return t;
                }
            }
        }
        assert!(Instant::now() < deadline, "no {css} showing {wanted}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_out(c: &Client) {
    click(c, "#session-nav button").await;
    wait_text(c, "#session-nav", "登录").await;
}

async fn sign_in(c: &Client, app: &TestApp, email: &str, password: &str) {
    c.goto(&format!("{}/login", app.address)).await.unwrap();
    fill(c, "#f-email", email).await;
    fill(c, "#f-password", password).await;
    click(c, "#submit").await;
    wait_text(c, "h1", "我的账户").await;
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_researcher_registers_verifies_from_the_mail_and_signs_in() {
    let smtp = common::smtp::SmtpServer::start();
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::system(),
        Some(smtp.port),
    )
    .await;
    let driver = start_driver();
    let c = browser(&driver).await;

    c.goto(&format!("{}/", app.address)).await.unwrap();
    click(c_ref(&c), "#session-nav a[href='/register']").await;
    wait_text(&c, "h1", "注册账户").await;
    fill(&c, "#f-email", "zhang.san@ciac.ac.cn").await;
    fill(&c, "#f-password", "short").await;
    fill(&c, "#f-name", "张三").await;
    click(&c, "#f-organisation_id option[value='3']").await;
    click(&c, "#submit").await;
    // The server's rule (not only the browser's) names the field, and keeps what was typed.
    wait_text(&c, "#err-password", "10").await;
    let kept = c
        .find(Locator::Css("#f-name"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("张三"));
    fill(&c, "#f-password", "长春应化所的密码 2026").await;
    click(&c, "#submit").await;
    wait_text(&c, "#message", "zhang.san@ciac.ac.cn").await;

    let mail = smtp.wait_for("zhang.san@ciac.ac.cn", "验证").await;
    let link = common::smtp::SmtpServer::link(&mail, "/verify-email?token=");
    c.goto(&link).await.unwrap();
    click(&c, "#submit").await;
    wait_text(&c, "#message", "已验证").await;

    click(&c, "#message a.button").await;
    wait_text(&c, "h1", "登录").await;
    fill(&c, "#f-email", "zhang.san@ciac.ac.cn").await;
    fill(&c, "#f-password", "wrong password 123").await;
    click(&c, "#submit").await;
    wait_text(&c, "#form-error", "邮箱或密码不正确").await;
    fill(&c, "#f-password", "长春应化所的密码 2026").await;
    click(&c, "#submit").await;
    let intro = wait_text(&c, "main", "已验证").await;
    assert!(intro.contains("中国科学院长春应用化学研究所"), "{intro}");
    wait_text(&c, "#session-nav .who", "张三").await;

    // Signing out ends the session: the profile asks to sign in again, and comes back.
    sign_out(&c).await;
    c.goto(&format!("{}/me", app.address)).await.unwrap();
    wait_text(&c, "h1", "登录").await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("/login?next=%2Fme"));
    c.close().await.unwrap();
}

fn c_ref(c: &Client) -> &Client {
    c
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_unit_admin_edits_an_instrument() {
    let app = TestApp::spawn(TestDb::sqlite().seeded()).await;
    let driver = start_driver();
    let c = browser(&driver).await;
    sign_in(&c, &app, "unit-admin@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    click(&c, "#session-nav a[href='/manage']").await;
    wait_text(&c, "h1", "仪器").await;
    let first = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0].clone();
    let id = first["id"].as_i64().unwrap();
    click(
        &c,
        &format!("#data a[href='/manage/instruments/{id}/edit']"),
    )
    .await;
    wait_text(&c, "h1", "编辑").await;
    let name = c
        .find(Locator::Css("#f-name_zh"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), first["name_zh"].as_str());

    // A category code that does not exist: the server says which field, nothing is saved.
    fill(&c, "#f-model", "SU9000 升级版").await;
    fill(&c, "#f-category_code", "999999").await;
    click(&c, "#submit").await;
    wait_text(&c, "#err-category_code", "999999").await;
    assert_eq!(
        app.json(&format!("/api/v1/instruments/{id}")).await["model"],
        first["model"]
    );

    let code = app.json(&format!("/api/v1/instruments/{id}")).await["category_path"][2]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    fill(&c, "#f-category_code", &code).await;
    fill(&c, "#f-model", "SU9000 升级版").await;
    // 原值 in 万元 as every page shows it, kept exactly in yuan.
    fill(&c, "#f-original_value_wan", "235.50").await;
    click(&c, "#submit").await;
    wait_text(&c, "#model", "SU9000 升级版").await;
    wait_text(&c, "#value", "235.50 万元").await;
    let saved = app.json(&format!("/api/v1/instruments/{id}")).await;
    assert_eq!(saved["model"], "SU9000 升级版");
    assert_eq!(saved["original_value_yuan"], 2_355_000);

    // Another unit's instrument is not theirs to edit.
    let foreign = app.json("/api/v1/instruments?unit=2&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    c.goto(&format!(
        "{}/manage/instruments/{foreign}/edit",
        app.address
    ))
    .await
    .unwrap();
    wait_text(&c, "h1", "403").await;
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_qualification_is_applied_for_and_approved_in_the_queue() {
    let smtp = common::smtp::SmtpServer::start();
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::system(),
        Some(smtp.port),
    )
    .await;
    let driver = start_driver();
    let c = browser(&driver).await;
    let id = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();

    // Not signed in: the page says how to apply.
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    wait_text(&c, "#instrument-actions", "登录").await;

    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    wait_text(&c, "#instrument-actions", "申请上机资格").await;
    fill(
        &c,
        "#instrument-actions input[name=note]",
        "已参加 11 月的安全培训",
    )
    .await;
    click(&c, "#apply").await;
    wait_text(&c, "#qualification-status", "待审核").await;
    assert!(
        c.find(Locator::Css("#apply")).await.is_err(),
        "no second application"
    );
    sign_out(&c).await;

    sign_in(&c, &app, "manager@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/manage/qualifications", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "已参加 11 月的安全培训").await;
    assert!(smtp
        .wait_for("manager@yiqi.demo", "上机资格申请")
        .await
        .part("text/plain")
        .contains("/manage/qualifications"));
    click(&c, "#data form[action*='level=independent'] button").await;
    wait_text(&c, "#data", "暂无").await;
    let mail = smtp
        .wait_for("researcher@yiqi.demo", "上机资格已批准")
        .await;
    assert!(mail.part("text/plain").contains("可独立上机"));
    sign_out(&c).await;

    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    wait_text(&c, "#qualification-status", "已获得").await;
    wait_text(&c, "#qualification-status", "可独立上机").await;
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_platform_admin_adds_a_unit_and_disables_an_account() {
    let app = TestApp::spawn(TestDb::sqlite().seeded()).await;
    let driver = start_driver();
    let c = browser(&driver).await;
    sign_in(&c, &app, "admin@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    click(&c, "#session-nav a[href='/admin']").await;
    wait_text(&c, "h1", "平台管理").await;
    wait_text(&c, "#data", "待审核的机时预约").await;
    click(&c, ".chips a[href='/admin/units']").await;
    wait_text(&c, "h1", "单位").await;
    click(&c, ".chips a[href='/admin/units/new']").await;
    wait_text(&c, "h1", "新增单位").await;
    // A name already in use is refused by the server, next to the field.
    fill(&c, "#f-name", "吉林大学").await;
    fill(&c, "#f-short_name", "省计量院").await;
    fill(&c, "#f-city", "长春").await;
    click(&c, "#f-kind option[value='testing_body']").await;
    click(&c, "#submit").await;
    wait_text(&c, "#err-name", "名称已被使用").await;
    fill(&c, "#f-name", "长白山计量测试中心").await;
    click(&c, "#submit").await;
    wait_text(&c, "h1", "长白山计量测试中心").await;
    let units = app
        .json("/api/v1/units?kind=testing_body&per_page=100")
        .await;
    assert!(units["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "长白山计量测试中心"));

    // Disabling an account from the users page ends its sign-ins.
    let researcher = app.token("researcher@yiqi.demo").await;
    c.goto(&format!("{}/admin/users?q=researcher", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "researcher@yiqi.demo").await;
    click(&c, "#data form[action$='/disable'] button").await;
    wait_text(&c, "#data", "已停用").await;
    let (status, _) = app.call("GET", "/api/v1/me", Some(&researcher), None).await;
    assert_eq!(status, 401);
    c.goto(&format!("{}/admin/audit", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "停用了账户").await;
    let admin = app.token("admin@yiqi.demo").await;
    let (_, log) = app
        .call(
            "GET",
            "/api/v1/admin/audit?action=unit.create",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(log["total"], 1, "{log}");
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn an_expired_access_token_is_renewed_from_the_refresh_cookie() {
    let clock = yiqi::clock::ManualClock::at(chrono::Utc::now());
    let app = TestApp::spawn_full(TestDb::sqlite().seeded(), clock.clone(), None).await;
    let driver = start_driver();
    let c = browser(&driver).await;
    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    // The access token (15 minutes) has expired; the page still knows who this is.
    clock.advance(chrono::Duration::minutes(20));
    c.goto(&format!("{}/me", app.address)).await.unwrap();
    wait_text(&c, "h1", "我的账户").await;
    wait_text(&c, "#session-nav .who", "王研究员").await;
    // Past the refresh token's 30 days, the session is over.
    clock.advance(chrono::Duration::days(31));
    c.goto(&format!("{}/me", app.address)).await.unwrap();
    wait_text(&c, "h1", "登录").await;
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_researcher_books_the_manager_approves_and_the_researcher_is_told() {
    use chrono::TimeZone;
    let smtp = common::smtp::SmtpServer::start();
    // Friday 2026-11-27 10:00 in Changchun.
    let now = yiqi::types::PLATFORM_ZONE
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::ManualClock::at(now),
        Some(smtp.port),
    )
    .await;
    let id = app.open_instrument().await;
    let driver = start_driver();
    let c = browser(&driver).await;

    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    // The instrument's next 7 days, then the 7 after: the first free time opens the form filled in.
    wait_text(&c, "#instrument-week", "未来 7 天").await;
    wait_text(&c, "#instrument-week", "11月27日–12月3日").await;
    click(&c, "#next-week").await;
    wait_text(&c, "#instrument-week", "12月4日–12月10日").await;
    click(&c, "#free-list li:first-child a").await;
    wait_text(&c, "h1", "预约").await;
    wait_text(&c, "main", "未来 7 天可预约").await;
    let date = c
        .find(Locator::Css("#f-date"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(date.as_deref(), Some("2026-12-04"));
    let start = c
        .find(Locator::Css("#f-start"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(start.as_deref(), Some("08:00"));
    set_value(&c, "#f-date", "2026-11-30").await;
    set_value(&c, "#f-start", "09:00").await;
    set_value(&c, "#f-end", "09:15").await;
    click(&c, "#submit").await;
    // Too short: the rule's message next to the field, what was typed kept.
    wait_text(&c, "#form-error", "").await;
    wait_text(&c, "#err-end", "每次至少预约 30 分钟").await;
    set_value(&c, "#f-end", "10:30").await;
    fill(&c, "#f-purpose", "XRD 物相分析").await;
    click(&c, "#submit").await;
    wait_text(&c, "h1", "我的预约").await;
    wait_text(&c, "#data", "待审核").await;
    smtp.wait_for("manager@yiqi.demo", "新的预约申请").await;
    sign_out(&c).await;

    sign_in(&c, &app, "manager@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/manage/reservations", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "11月30日 09:00").await;
    click(&c, "#data form[action$='/approve'] button").await;
    let mail = smtp.wait_for("researcher@yiqi.demo", "预约已批准").await;
    assert!(
        mail.part("text/plain").contains("2026-11-30 09:00"),
        "{}",
        mail.part("text/plain")
    );
    sign_out(&c).await;

    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/reservations", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "已批准").await;
    // The unit's week shows the booking.
    c.goto(&format!("{}/units/1/week?week=2026-W49", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "09:00–10:30").await;
    c.close().await.unwrap();
}

/// Sets a date or time input directly: typing into them depends on the browser's locale.
async fn set_value(c: &Client, css: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1]",
        vec![serde_json::json!(css), serde_json::json!(value)],
    )
    .await
    .unwrap();
}

/// How many elements match `css`.
async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn an_officer_reads_the_statistics_and_a_manager_logs_a_service() {
    use chrono::TimeZone;
    let now = yiqi::types::PLATFORM_ZONE
        .with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let app = TestApp::spawn_with_clock(
        TestDb::sqlite().seeded(),
        common::settings,
        yiqi::clock::ManualClock::at(now),
    )
    .await;
    let driver = start_driver();
    let c = browser(&driver).await;
    // From the home page to the statistics, then the province's 2018 figures.
    c.goto(&app.address).await.unwrap();
    click(&c, "header a[href='/stats']").await;
    wait_text(&c, "h1", "2026-01-01 至 2026-11-28").await;
    click(&c, "a[href='/stats?from=2018-01-01&to=2018-12-31']").await;
    wait_text(&c, "h1", "2018-01-01 至 2018-12-31").await;
    assert_eq!(text(&c, "#fig-services").await, "78");
    assert_eq!(text(&c, "#fig-clients").await, "24");
    assert_eq!(text(&c, "#fig-hours").await, "20820.0");
    // The charts: twelve months, thirteen sub-platforms, four service types, ten instruments.
    assert_eq!(count(&c, "#chart-months rect").await, 12);
    assert_eq!(count(&c, "#chart-sub-platforms rect").await, 13);
    assert_eq!(count(&c, "#chart-types rect").await, 4);
    assert_eq!(count(&c, "#chart-instruments rect").await, 10);
    let labels = text(&c, "#chart-types").await;
    for t in ["测试", "培训", "咨询", "教学"] {
        assert!(labels.contains(t), "{labels}");
    }
    // The national splits: by service way and by direction, with the same bars.
    let labels = text(&c, "#chart-ways").await;
    for t in ["占用共享", "技术共享", "委托共享", "远程共享"] {
        assert!(labels.contains(t), "{labels}");
    }
    assert_eq!(count(&c, "#chart-directions rect").await, 4);
    assert_eq!(text(&c, "#fig-external-clients").await, "24");
    assert_eq!(text(&c, "#fig-internal-clients").await, "0");
    // Bars are as tall as their months' hours: the tallest month has the most.
    let heights: Vec<f64> = c
        .execute(
            "return [...document.querySelectorAll('#chart-months rect')].map(r => r.getBBox().height)",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let stats = app
        .json("/api/v1/stats?from=2018-01-01&to=2018-12-31")
        .await;
    let hours: Vec<f64> = stats["by_month"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine_hours"].as_f64().unwrap())
        .collect();
    let tallest = |v: &[f64]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    };
    assert_eq!(tallest(&heights), tallest(&hours));

    // The manager logs a consultation; it heads the unit's service log.
    sign_in(&c, &app, "manager@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/manage/services", app.address))
        .await
        .unwrap();
    click(&c, "a[href='/manage/services/new']").await;
    wait_text(&c, "h1", "登记服务").await;
    c.find(Locator::Css("#f-service_type"))
        .await
        .unwrap()
        .select_by_value("consulting")
        .await
        .unwrap();
    set_value(&c, "#f-served_on", "2026-11-28").await;
    fill(&c, "#f-content", "热处理工艺参数咨询").await;
    c.find(Locator::Css("#f-direction"))
        .await
        .unwrap()
        .select_by_value("development")
        .await
        .unwrap();
    c.find(Locator::Css("#f-funding_source"))
        .await
        .unwrap()
        .select_by_value("enterprise")
        .await
        .unwrap();
    fill(&c, "#f-hours", "abc").await;
    click(&c, "#submit").await;
    wait_text(&c, "#err-hours", "请填写数字").await;
    fill(&c, "#f-hours", "2.5").await;
    fill(&c, "#f-fee_yuan", "500").await;
    fill(&c, "#f-project", "工艺咨询").await;
    click(&c, "#submit").await;
    wait_text(&c, ".notice", "服务记录已登记").await;
    let first = text(&c, "#data tbody tr").await;
    assert!(
        first.contains("2026-11-28") && first.contains("咨询") && first.contains("2.5 小时"),
        "{first}"
    );
    // The unit's evaluation page offers the exports.
    c.goto(&format!("{}/units/1/evaluation?year=2026", app.address))
        .await
        .unwrap();
    wait_text(&c, "h1", "2026 年度开放共享评价").await;
    assert_eq!(
        count(&c, "a[href='/units/1/evaluation.xlsx?year=2026']").await,
        1
    );
    // The national report (with the applicants' contacts) is for the unit's admins.
    assert_eq!(count(&c, "a[href='/units/1/nrii.xlsx?year=2026']").await, 0);
    // The unit's year by service way: the consultation just logged is 技术共享 by default.
    assert_eq!(count(&c, "#chart-ways rect").await, 4);
    let ways = text(&c, "#chart-ways").await;
    assert!(ways.contains("技术共享"), "{ways}");
    let top = text(&c, "#data tbody tr").await;
    assert!(top.contains('%'), "{top}");
    c.close().await.unwrap();
}

/// The interactive API page works from the service alone (its files are compiled in) under the
/// service's Content-Security-Policy: it loads this service's document and lists its operations.
#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn the_api_page_lists_the_operations_of_the_document() {
    let app = TestApp::spawn(TestDb::sqlite().seeded()).await;
    let driver = start_driver();
    let c = browser(&driver).await;

    c.goto(&format!("{}/api/docs", app.address)).await.unwrap();
    let title = text(&c, ".information-container .title").await;
    assert!(title.contains("yiqi"), "{title}");
    let path = text(
        &c,
        ".opblock-summary-path[data-path='/api/v1/instruments/{id}']",
    )
    .await;
    assert_eq!(path, "/api/v1/instruments/{id}");
    let shown = c.find_all(Locator::Css(".opblock")).await.unwrap().len();
    let doc = app.json("/api/v1/openapi.json").await;
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(shown, operations);
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_researcher_searches_narrows_and_books_the_free_slot_found() {
    use chrono::TimeZone;
    // Friday 2026-11-27 10:00 in Changchun; the window asked is Monday 10:00 to 11:00.
    let now = yiqi::types::PLATFORM_ZONE
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::ManualClock::at(now),
        None,
    )
    .await;
    let driver = start_driver();
    let c = browser(&driver).await;
    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    // Typed in the header, the words become a ranked search with facets.
    fill(&c, "#header-q", "扫描电镜").await;
    click(&c, ".search-box button").await;
    wait_text(&c, "h1", "检索“扫描电镜”").await;
    wait_text(&c, "#instrument-list", "扫描电子显微镜").await;
    // Narrowed to instruments shared with everyone.
    click(&c, "#facets a[href*='share_mode=external']").await;
    wait_text(&c, "#facets a.on", "外部共享").await;
    // Opened, the first result is the instrument's own page.
    let name = wait_text(&c, "#instrument-list .row .title", "扫描").await;
    click(&c, "#instrument-list .row .title").await;
    wait_text(&c, "h1", "扫描电子显微镜").await;
    c.back().await.unwrap();
    wait_text(&c, "h1", "检索").await;
    // Only what is free on Monday 10:00–11:00, and its booking form filled in with it.
    set_value(&c, "#s-free-day", "2026-11-30").await;
    set_value(&c, "#s-free-start", "10:00").await;
    set_value(&c, "#s-free-end", "11:00").await;
    click(&c, "#s-submit").await;
    wait_text(&c, "#free-note", "该时段").await;
    assert!(!name.is_empty());
    click(&c, "#instrument-list .row a.book").await;
    wait_text(&c, "h1", "预约").await;
    let value = |css: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Css(css))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
        }
    };
    assert_eq!(value("#f-date").await.as_deref(), Some("2026-11-30"));
    assert_eq!(value("#f-start").await.as_deref(), Some("10:00"));
    assert_eq!(value("#f-end").await.as_deref(), Some("11:00"));
    fill(&c, "#f-purpose", "断口形貌观察").await;
    click(&c, "#submit").await;
    wait_text(&c, "h1", "我的预约").await;
    wait_text(&c, "#data", "扫描电子显微镜").await;
    c.close().await.unwrap();
}

/// Whether the page is wider than the phone (horizontal scrolling).
async fn scrolls_sideways(c: &Client) -> bool {
    let v = c
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    v.as_bool().unwrap_or(true)
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn on_a_phone_the_pages_fit_and_the_action_comes_first() {
    let now = common::beijing(2026, 11, 27, 10, 0);
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::ManualClock::at(now),
        None,
    )
    .await;
    let id = app.open_instrument().await;
    let researcher = app.token("researcher@yiqi.demo").await;
    let (status, _) = app
        .post(
            "/api/v1/reservations",
            Some(&researcher),
            serde_json::json!({"instrument_id": id, "kind": "machine_time", "purpose": "形貌观察",
                "starts_at": "2026-11-30T10:00:00+08:00", "ends_at": "2026-11-30T11:00:00+08:00"}),
        )
        .await;
    assert_eq!(status, 201);
    let driver = start_driver();
    let c = phone(&driver).await;

    // Signed out, the header is one row with a menu button; the menu opens on a tap.
    c.goto(&format!("{}/", app.address)).await.unwrap();
    wait_text(&c, "#figures", "1940").await;
    assert!(!scrolls_sideways(&c).await, "home page scrolls sideways");
    let header = c
        .execute(
            "return document.querySelector('header.top').getBoundingClientRect().height",
            vec![],
        )
        .await
        .unwrap();
    assert!(header.as_f64().unwrap() <= 80.0, "header {header}");

    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    // The instrument page: 预约机时 visible without scrolling, the page within the screen.
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    wait_text(&c, "#instrument-week", "未来 7 天").await;
    assert!(
        !scrolls_sideways(&c).await,
        "instrument page scrolls sideways"
    );
    let bottom = c
        .execute(
            "const r = document.querySelector('#book').getBoundingClientRect(); return [r.bottom, r.height, window.innerHeight]",
            vec![],
        )
        .await
        .unwrap();
    let (b, h, screen) = (
        bottom[0].as_f64().unwrap(),
        bottom[1].as_f64().unwrap(),
        bottom[2].as_f64().unwrap(),
    );
    assert!(b <= screen, "预约机时 below the fold: {bottom}");
    assert!(h >= 44.0, "预约机时 is {h}px high");

    // The booking form.
    c.goto(&format!("{}/instruments/{id}/book", app.address))
        .await
        .unwrap();
    wait_text(&c, "h1", "预约").await;
    assert!(!scrolls_sideways(&c).await, "booking form scrolls sideways");

    // My bookings: cards, a tap-sized 取消.
    c.goto(&format!("{}/reservations", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "待审核").await;
    assert!(!scrolls_sideways(&c).await, "my bookings scroll sideways");
    let cancel = c
        .execute(
            "return document.querySelector('#data a.button').getBoundingClientRect().height",
            vec![],
        )
        .await
        .unwrap();
    assert!(cancel.as_f64().unwrap() >= 44.0, "取消 is {cancel}px high");

    // The menu: hidden until the 菜单 button is tapped.
    let shown = "return getComputedStyle(document.querySelector('#menu')).display !== 'none'";
    assert_eq!(
        c.execute(shown, vec![]).await.unwrap(),
        serde_json::json!(false)
    );
    click(&c, "#menu-button").await;
    assert_eq!(
        c.execute(shown, vec![]).await.unwrap(),
        serde_json::json!(true)
    );
    click(&c, "#menu-button").await;

    // The manager's queue.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &app, "manager@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/manage/reservations", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "王研究员").await;
    assert!(!scrolls_sideways(&c).await, "the queue scrolls sideways");
    let approve = c
        .execute("return document.querySelector(\"#data form[action$='/approve'] button\").getBoundingClientRect().height", vec![])
        .await
        .unwrap();
    assert!(
        approve.as_f64().unwrap() >= 44.0,
        "批准 is {approve}px high"
    );
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_researcher_sends_samples_and_asks_for_staff_to_operate() {
    let now = common::beijing(2026, 11, 27, 10, 0);
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::ManualClock::at(now),
        None,
    )
    .await;
    let id = app.open_instrument().await;
    let driver = start_driver();
    let c = browser(&driver).await;
    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;

    // 送样 from the instrument's page.
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    click(&c, "#send-samples").await;
    wait_text(&c, "h1", "送样").await;
    fill(&c, "#f-sample_count", "3").await;
    fill(&c, "#f-sample_description", "钢样 3 块，测表面形貌").await;
    set_value(&c, "#f-wanted_by", "2026-12-04").await;
    click(&c, "#f-result_delivery option[value='post']").await;
    click(&c, "#submit").await;
    wait_text(&c, "h1", "我的预约").await;
    wait_text(&c, "#notice", "已提交").await;
    wait_text(&c, "#data", "送样 3 个").await;

    // Machine time with the staff operating.
    c.goto(&format!("{}/instruments/{id}/book", app.address))
        .await
        .unwrap();
    wait_text(&c, "h1", "预约").await;
    set_value(&c, "#f-date", "2026-11-30").await;
    set_value(&c, "#f-start", "14:00").await;
    set_value(&c, "#f-end", "15:00").await;
    click(&c, "#f-staff_assist option[value='1']").await;
    click(&c, "#submit").await;
    wait_text(&c, "#notice", "已提交").await;
    c.delete_all_cookies().await.unwrap();

    // The manager sees both, accepts the samples with a test date.
    sign_in(&c, &app, "manager@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;
    c.goto(&format!("{}/manage/reservations", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "需要技术人员操作或指导").await;
    wait_text(&c, "#data", "送样 3 个").await;
    wait_text(&c, "#data", "结果纸质报告邮寄").await;
    set_value(&c, "#data input[name=planned_on]", "2026-12-01").await;
    click(&c, "#data form[action$='/accept'] button").await;
    c.goto(&format!("{}/manage/reservations?tab=in_use", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "已受理").await;

    // The manager sets the prices from the instrument's page; the page shows them.
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    click(&c, "#booking-settings").await;
    wait_text(&c, "h1", "预约设置").await;
    fill(&c, "#f-own_hour_fen", "120").await;
    fill(&c, "#f-academic_hour_fen", "255.5").await;
    click(&c, "#submit").await;
    wait_text(&c, "#price", "120.00 元/小时").await;
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_client_rates_a_service_and_the_instrument_page_shows_it() {
    let now = common::beijing(2026, 11, 30, 18, 0);
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::ManualClock::at(now),
        None,
    )
    .await;
    let id = app.open_instrument().await;
    let record = crate::evaluation::service_for_researcher(&app, id, "2026-11-30").await;
    let driver = start_driver();
    let c = browser(&driver).await;
    sign_in(&c, &app, "researcher@yiqi.demo", yiqi::seed::DEMO_PASSWORD).await;

    // From the list of their services, the client opens the form and rates.
    c.goto(&format!("{}/me/services", app.address))
        .await
        .unwrap();
    click(&c, &format!("a[href='/me/services/{record}/rate']")).await;
    wait_text(&c, "h1", "评价这次服务").await;
    click(&c, "#f-overall option[value='satisfied']").await;
    click(&c, "#f-timeliness option[value='neutral']").await;
    fill(&c, "#f-comment", "预约顺利，结果出得快").await;
    click(&c, "#submit").await;
    wait_text(&c, "#notice", "评价已保存").await;
    wait_text(&c, "#data", "修改评价").await;

    // The instrument's page shows it, the rater by organisation only.
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    wait_text(&c, "#ratings", "预约顺利，结果出得快").await;
    wait_text(&c, "#ratings", "基本满意").await;
    let shown = text(&c, "#ratings").await;
    assert!(
        shown.contains("用户") && !shown.contains("王研究员"),
        "{shown}"
    );
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_complaint_goes_from_filing_to_the_decision_and_the_confirmation() {
    let now = common::beijing(2026, 11, 30, 18, 0);
    let app = TestApp::spawn_full(
        TestDb::sqlite().seeded(),
        yiqi::clock::ManualClock::at(now),
        None,
    )
    .await;
    let id = app.open_instrument().await;
    let driver = start_driver();
    let c = browser(&driver).await;
    let password = yiqi::seed::DEMO_PASSWORD;
    sign_in(&c, &app, "researcher@yiqi.demo", password).await;
    // From the instrument's page.
    c.goto(&format!("{}/instruments/{id}", app.address))
        .await
        .unwrap();
    click(&c, "#complain").await;
    wait_text(&c, "h1", "投诉").await;
    click(&c, "#f-category option[value='refused']").await;
    fill(&c, "#f-description", "多次预约均被无理由拒绝").await;
    fill(&c, "#f-request", "说明拒绝的原因").await;
    click(&c, "#submit").await;
    wait_text(&c, "#notice", "投诉已提交").await;
    let address = c.current_url().await.unwrap();
    let complaint = address.path().to_owned();
    sign_out(&c).await;

    // Each party takes its step on the complaint's page.
    let take =
        |email: &'static str, step: &'static str, text: &'static str, shows: &'static str| {
            let c = &c;
            let app = &app;
            let complaint = complaint.clone();
            async move {
                sign_in(c, app, email, password).await;
                c.goto(&format!("{}{complaint}", app.address))
                    .await
                    .unwrap();
                if !text.is_empty() {
                    fill(c, &format!("#t-{step}"), text).await;
                }
                click(c, &format!("#step-{step} button")).await;
                wait_text(c, "#status", shows).await;
                sign_out(c).await;
            }
        };
    take("admin@yiqi.demo", "accept", "", "待单位答复").await;
    take(
        "unit-admin@yiqi.demo",
        "answer",
        "当日机时已满，已联系用户改约",
        "单位已答复",
    )
    .await;
    take(
        "researcher@yiqi.demo",
        "escalate",
        "并未联系过我",
        "待平台裁定",
    )
    .await;
    take(
        "admin@yiqi.demo",
        "partly_uphold",
        "未及时说明拒绝原因",
        "待单位整改",
    )
    .await;
    take(
        "unit-admin@yiqi.demo",
        "rectify",
        "已制定拒绝预约须说明理由的规定",
        "待确认整改",
    )
    .await;
    take("researcher@yiqi.demo", "confirm", "", "已办结").await;

    // The complainant's page tells the whole story.
    sign_in(&c, &app, "researcher@yiqi.demo", password).await;
    c.goto(&format!("{}{complaint}", app.address))
        .await
        .unwrap();
    wait_text(&c, "#decision", "部分成立").await;
    let history = text(&c, "#history").await;
    for step in [
        "提交投诉",
        "受理",
        "单位答复",
        "申请平台裁定",
        "裁定部分成立",
        "报告整改",
        "确认整改",
    ] {
        assert!(history.contains(step), "{step} in {history}");
    }
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_units_notice_with_a_file_is_approved_mailed_and_unsubscribed_in_one_click() {
    let smtp = common::smtp::SmtpServer::start();
    let clock = yiqi::clock::ManualClock::at(common::beijing(2026, 12, 7, 9, 0));
    let app = TestApp::spawn_full(TestDb::sqlite().seeded(), clock.clone(), Some(smtp.port)).await;
    let password = yiqi::seed::DEMO_PASSWORD;
    let driver = start_driver();
    let c = browser(&driver).await;

    // A researcher follows the platform's notices by immediate e-mail.
    sign_in(&c, &app, "researcher@yiqi.demo", password).await;
    c.goto(&format!("{}/me/subscriptions/new", app.address))
        .await
        .unwrap();
    click(&c, "#f-scope option[value='platform']").await;
    click(&c, "#f-kind option[value='notice']").await;
    click(&c, "#f-mode option[value='immediate']").await;
    click(&c, "#submit").await;
    wait_text(&c, "main", "平台 · 通知公告").await;
    sign_out(&c).await;

    // The unit's admin writes a notice, attaches a PDF and submits it.
    sign_in(&c, &app, "unit-admin@yiqi.demo", password).await;
    c.goto(&format!("{}/manage/articles/new", app.address))
        .await
        .unwrap();
    click(&c, "#f-kind option[value='notice']").await;
    click(&c, "#f-scope option[value='unit:1']").await;
    fill(&c, "#f-title", "场发射电镜开放机时调整通知").await;
    fill(&c, "#f-body", "自下周起，**周六**也开放预约。详见附件。").await;
    click(&c, "#submit").await;
    wait_text(&c, "h1", "场发射电镜开放机时调整通知").await;
    let article = c.current_url().await.unwrap().path().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("开放时间表.pdf");
    std::fs::write(
        &pdf,
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
    )
    .unwrap();
    c.find(Locator::Css("#upload input[type=file]"))
        .await
        .unwrap()
        .send_keys(pdf.to_str().unwrap())
        .await
        .unwrap();
    click(&c, "#upload button").await;
    wait_text(&c, "#files", "开放时间表.pdf").await;
    click(&c, "#step-submit button").await;
    wait_text(&c, "#status", "待审核").await;
    sign_out(&c).await;

    // The platform's admin approves it: it is on the home page, its file for everyone.
    clock.advance(chrono::Duration::minutes(30));
    sign_in(&c, &app, "admin@yiqi.demo", password).await;
    c.goto(&format!("{}{article}", app.address)).await.unwrap();
    click(&c, "#step-publish button").await;
    // Published: the page comes back without its state tag.
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&c, "#status").await > 0 {
        assert!(Instant::now() < deadline, "still not published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sign_out(&c).await;
    c.goto(&app.address).await.unwrap();
    wait_text(&c, "main", "场发射电镜开放机时调整通知").await;
    c.goto(&format!("{}{article}", app.address)).await.unwrap();
    let href = c
        .find(Locator::Css("#files a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let file = app.get(&href).await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");

    // The subscriber hears of it, and leaves with one click on the e-mail's link.
    let mut conn = app.db.connect();
    use yiqi::clock::Clock;
    yiqi::publishing::subscriptions::service::announce(&mut conn, clock.now()).unwrap();
    let mail = smtp
        .wait_for("researcher@yiqi.demo", "场发射电镜开放机时调整通知")
        .await;
    let link = mail.header("List-Unsubscribe");
    let path = &link[link.find("/unsubscribe/").unwrap()..link.len() - 1];
    assert!(
        mail.part("text/plain").contains(path),
        "the link is in the text too"
    );
    c.goto(&format!("{}{path}", app.address)).await.unwrap();
    wait_text(&c, "main", "平台 · 通知公告").await;
    click(&c, "#submit").await;
    wait_text(&c, "h1", "已退订").await;
    let researcher = app.token("researcher@yiqi.demo").await;
    assert!(app
        .json_as("/api/v1/subscriptions", &researcher)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs chromedriver: apt-get install chromium chromium-driver"
)]
async fn an_innovation_voucher_goes_from_application_to_payment() {
    use serde_json::json;
    let clock = yiqi::clock::ManualClock::at(common::beijing(2026, 11, 28, 10, 0));
    let app = TestApp::spawn_full(TestDb::sqlite().seeded(), clock.clone(), None).await;
    let password = yiqi::seed::DEMO_PASSWORD;
    // The demo company B's application waits; it withdraws it to apply again on the page.
    let company = app.token("company-b@yiqi.demo").await;
    let mine = app.json_as("/api/v1/vouchers?mine=true", &company).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/vouchers/{}/withdraw", mine[0]["id"]),
            Some(&company),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let instrument = app.json_as("/api/v1/voucher-uses", &unit_admin).await[0]["instrument_id"]
        .as_i64()
        .unwrap();
    let driver = start_driver();
    let c = browser(&driver).await;

    // The company applies for a quota from the programmes' list.
    sign_in(&c, &app, "company-b@yiqi.demo", password).await;
    c.goto(&format!("{}/vouchers", app.address)).await.unwrap();
    wait_text(&c, "#data", "长春新区2026年度科技创新券").await;
    click(&c, "#data a.button").await;
    wait_text(&c, "h1", "申领创新券").await;
    fill(&c, "#f-requested_fen", "8000").await;
    fill(&c, "#f-need", "碳纤维原丝的拉伸强度测试").await;
    click(&c, "#submit").await;
    wait_text(&c, "#notice", "申请已提交").await;
    let voucher = c.current_url().await.unwrap().path().to_owned();
    sign_out(&c).await;

    // The bureau approves it from its queue.
    sign_in(&c, &app, "issuer@yiqi.demo", password).await;
    c.goto(&format!("{}/issuer/vouchers", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "吉林碳谷碳纤维股份有限公司").await;
    c.goto(&format!("{}{voucher}", app.address)).await.unwrap();
    click(&c, "#step-approve button").await;
    wait_text(&c, "#status", "已发放").await;
    wait_text(&c, "#available", "8000.00").await;
    sign_out(&c).await;

    // The company sends samples and pays with the voucher.
    sign_in(&c, &app, "company-b@yiqi.demo", password).await;
    c.goto(&format!("{}/instruments/{instrument}/samples", app.address))
        .await
        .unwrap();
    wait_text(&c, "h1", "送样").await;
    fill(&c, "#f-sample_count", "2").await;
    fill(&c, "#f-sample_description", "碳纤维原丝 2 束").await;
    c.find(Locator::Css("#f-voucher_id option:nth-child(2)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "#submit").await;
    wait_text(&c, "#notice", "已提交").await;
    sign_out(&c).await;

    // The unit confirms the amount and serves the order.
    sign_in(&c, &app, "unit-admin@yiqi.demo", password).await;
    c.goto(&format!("{}/manage/vouchers", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "吉林碳谷碳纤维股份有限公司").await;
    click(&c, "#data a").await;
    wait_text(&c, "h1", "创新券使用").await;
    let use_page = c.current_url().await.unwrap().path().to_owned();
    click(&c, "#step-confirm button").await;
    wait_text(&c, "#status", "已确认").await;
    let reservation = app
        .json_as("/api/v1/voucher-uses?status=confirmed", &unit_admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["company"] == "吉林碳谷碳纤维股份有限公司")
        .unwrap()["reservation_id"]
        .as_i64()
        .unwrap();
    for (step, body) in [
        ("accept", json!({"planned_on": "2026-12-01"})),
        ("start-test", json!({})),
        ("report", json!({})),
        ("complete", json!({"machine_minutes": 90})),
    ] {
        let (status, r) = app
            .post(
                &format!("/api/v1/reservations/{reservation}/{step}"),
                Some(&unit_admin),
                body,
            )
            .await;
        assert_eq!(status, 200, "{step}: {r}");
    }

    // It uploads the contract, the invoice and the payment proof, and claims.
    c.goto(&format!("{}{use_page}", app.address)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (kind, name) in [
        ("contract", "技术服务合同.pdf"),
        ("invoice", "发票.pdf"),
        ("payment", "付款回单.pdf"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
        )
        .unwrap();
        c.find(Locator::Css(&format!("#upload-{kind} input[type=file]")))
            .await
            .unwrap()
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
        click(&c, &format!("#upload-{kind} button")).await;
        wait_text(&c, "#files", name).await;
    }
    click(&c, "#step-claim button").await;
    wait_text(&c, "#status", "兑付待审核").await;
    sign_out(&c).await;

    // The bureau approves the redemption: it is on the public notice; paid when it ends.
    sign_in(&c, &app, "issuer@yiqi.demo", password).await;
    c.goto(&format!("{}/issuer/vouchers?tab=claims", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "吉林碳谷碳纤维股份有限公司").await;
    c.goto(&format!("{}{use_page}", app.address)).await.unwrap();
    click(&c, "#step-approve button").await;
    wait_text(&c, "#status", "公示").await;
    c.goto(&format!("{}/vouchers/notice", app.address))
        .await
        .unwrap();
    wait_text(&c, "#data", "吉林碳谷碳纤维股份有限公司").await;
    c.goto(&format!("{}{use_page}", app.address)).await.unwrap();
    click(&c, "#step-pay button").await;
    wait_text(&c, "#form-error", "公示期").await;
    clock.advance(chrono::Duration::days(8));
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &app, "issuer@yiqi.demo", password).await;
    c.goto(&format!("{}{use_page}", app.address)).await.unwrap();
    click(&c, "#step-pay button").await;
    wait_text(&c, "#status", "已拨付").await;
    c.close().await.unwrap();
}
