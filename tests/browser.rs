//! A person's walk through the catalogue in a real headless Chromium, driven over WebDriver.
//! Runs when chromedriver is installed (see build.rs); otherwise `cargo test` lists it as
//! ignored with the command that installs it.

mod common;

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
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900"
            ]
        }
    });
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
