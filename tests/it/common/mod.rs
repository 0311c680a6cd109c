//! The test harness: a real database per test (a SQLite file in a temporary directory, or a
//! fresh schema on the PostgreSQL server named by TEST_DATABASE_URL), the real server on a
//! random port, and an HTTP client.

pub mod smtp;

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use yiqi::config::{Secret, Settings};
use yiqi::db;

/// Generates one test per backend from `async fn NAME(db: TestDb)` functions in the same file.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::common::TestDb::sqlite()).await
                }
            )+
        }
        mod postgres {
            $(
                #[actix_web::test]
                #[cfg_attr(not(pg_tests), ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)")]
                async fn $name() {
                    super::$name($crate::common::TestDb::postgres()).await
                }
            )+
        }
    };
}

/// A database of its own for one test; a PostgreSQL schema is dropped when the test ends.
pub struct TestDb {
    pub url: String,
    pub backend: db::Backend,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("yiqi.db").display());
        TestDb {
            url,
            backend: db::Backend::Sqlite,
            _dir: Some(dir),
            pg_schema: None,
        }
    }

    pub fn postgres() -> TestDb {
        let base = std::env::var("TEST_DATABASE_URL")
            .expect("the PostgreSQL tests were compiled with TEST_DATABASE_URL set; set it again");
        let schema = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut conn = admin(&base);
        // btree_gist (the reservations' exclusion constraint) lives in `public`, shared by the
        // test schemas, so dropping one test's schema never drops it under another's feet.
        static EXTENSION: std::sync::Once = std::sync::Once::new();
        EXTENSION.call_once(|| {
            let _ = conn.batch_execute("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public");
        });
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create a test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema},public");
        TestDb {
            url,
            backend: db::Backend::Postgres,
            _dir: None,
            pg_schema: Some((base, schema)),
        }
    }

    /// A connection of the kind the service uses.
    /// A database the test manages itself (a private PostgreSQL server, a file it made).
    pub fn external(url: String, backend: db::Backend) -> TestDb {
        TestDb {
            url,
            backend,
            _dir: None,
            pg_schema: None,
        }
    }

    /// The same database for a second server (the first keeps ownership and cleans up).
    pub fn alias(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            backend: self.backend,
            _dir: None,
            pg_schema: None,
        }
    }

    pub fn connect(&self) -> db::DbConnection {
        db::connect(&self.url).expect("connect to the test database")
    }

    /// Migrates and loads the demo platform at scale 1 (its recent history ends the day before
    /// [`demo_today`]).
    pub fn seeded(self) -> TestDb {
        let mut conn = self.connect();
        db::migrate(&mut conn).expect("migrate");
        yiqi::seed::demo(&mut conn, 1, demo_today(), None).expect("seed the demo platform");
        self
    }
}

fn admin(url: &str) -> diesel::PgConnection {
    use diesel::Connection;
    diesel::PgConnection::establish(url).expect("connect to TEST_DATABASE_URL")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_schema {
            let mut conn = admin(base);
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Settings for a test server on `db`, on a random port, without the demo auto-seed.
pub fn settings(db: &TestDb) -> Settings {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut s = Settings::load_from("test", Vec::new()).expect("test settings");
    s.database.url = Secret::new(db.url.clone());
    // Each server its own attachment directory, so a test sees only the files it wrote.
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    s.publishing.attachment_dir = format!(
        "{}/test-attachments/{}-{n}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    s
}

/// The real server, started on a random port.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// Where this server keeps articles' attachments.
    pub attachment_dir: std::path::PathBuf,
    /// The metrics listener, when `server.metrics_bind` was set.
    pub metrics_address: Option<String>,
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, settings).await
    }

    pub async fn spawn_with(db: TestDb, configure: impl FnOnce(&TestDb) -> Settings) -> TestApp {
        Self::spawn_with_clock(db, configure, yiqi::clock::system()).await
    }

    /// The server reading time from `clock`, delivering mail to the SMTP server on
    /// `smtp_port` when one is given.
    pub async fn spawn_full(
        db: TestDb,
        clock: yiqi::clock::SharedClock,
        smtp_port: Option<u16>,
    ) -> TestApp {
        Self::spawn_with_clock(
            db,
            |db| {
                let mut s = settings(db);
                if let Some(port) = smtp_port {
                    s.mail.transport = yiqi::config::MailTransportKind::Smtp;
                    s.mail.smtp_host = "127.0.0.1".into();
                    s.mail.smtp_port = port;
                    s.mail.smtp_security = yiqi::config::SmtpSecurity::None;
                    s.mail.sender_enabled = true;
                    s.mail.poll_interval_ms = 20;
                }
                s
            },
            clock,
        )
        .await
    }

    pub async fn spawn_with_clock(
        db: TestDb,
        configure: impl FnOnce(&TestDb) -> Settings,
        clock: yiqi::clock::SharedClock,
    ) -> TestApp {
        let settings = configure(&db);
        drop(yiqi::telemetry::init(
            &settings.log,
            &settings.telemetry.otlp_endpoint,
        ));
        let app =
            yiqi::Application::build_with_clock(&settings, clock).expect("build the application");
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            metrics_address,
            attachment_dir: settings.publishing.attachment_dir.clone().into(),
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            db,
        }
    }

    /// The helpers over a server the test started as a process of its own (`yiqi serve`).
    pub fn remote(db: TestDb, port: u16) -> TestApp {
        TestApp {
            metrics_address: None,
            attachment_dir: std::path::PathBuf::new(),
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            db,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request")
    }

    /// GET that must answer 200 with JSON.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        let res = self.get(path).await;
        let status = res.status();
        let body = res.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("JSON body")
    }

    /// A verified account made for the test (`n` makes its address unique), signed in:
    /// (id, token).
    pub async fn fresh_account(
        &self,
        role: yiqi::auth::Role,
        unit: Option<i64>,
        n: u32,
    ) -> (i64, String) {
        let email = format!("fresh{n}@example.cn");
        let hash = yiqi::auth::password::hash("fixture password 123").unwrap();
        let id = yiqi::users::service::create_verified(
            &mut self.db.connect(),
            &yiqi::users::service::NewAccount {
                email: &email,
                name: "测试用户",
                role,
                unit: unit.map(yiqi::types::UnitId),
                organisation: None,
            },
            &hash,
            // Before any test's clock: an account made after the instant a token is issued
            // at refuses that token (its tokens_valid_after is later).
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        )
        .unwrap();
        let token = self.login(&email, "fixture password 123").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        (id.0, token)
    }

    /// GET with a bearer token that must answer 200 with JSON.
    pub async fn json_as(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = self.call("GET", path, Some(token), None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Any request with an optional bearer token and JSON body: (status, JSON body or Null).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call("POST", path, token, Some(body)).await
    }

    /// Signs in; returns the token pair (panics unless 200).
    pub async fn login(&self, email: &str, password: &str) -> serde_json::Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "login {email}: {body}");
        body
    }

    /// The first instrument of unit 1 (run by the demo's manager), opened for outside bookings
    /// and running normally: the instrument the booking tests book.
    pub async fn open_instrument(&self) -> i64 {
        let id = self.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0]["id"]
            .as_i64()
            .expect("an instrument of unit 1");
        self.open(id).await;
        id
    }

    /// Unit 1's administrator opens instrument `id` for outside bookings, running normally,
    /// for machine time and samples alike (the demo's own modes follow its type).
    pub async fn open(&self, id: i64) {
        let unit_admin = self.token("unit-admin@yiqi.demo").await;
        for (method, path, body) in [
            (
                "PATCH",
                format!("/api/v1/instruments/{id}"),
                serde_json::json!({"share_mode": "external", "run_status": "normal"}),
            ),
            (
                "PUT",
                format!("/api/v1/instruments/{id}/booking-settings"),
                serde_json::json!({"modes": "both"}),
            ),
        ] {
            let (status, body) = self
                .call(method, &path, Some(&unit_admin), Some(body))
                .await;
            assert_eq!(status, 200, "{method} {path}: {body}");
        }
    }

    /// The access token of a demo account.
    pub async fn token(&self, email: &str) -> String {
        self.login(email, yiqi::seed::DEMO_PASSWORD).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// GET that must fail with `status` and a problem document; returns the document.
    pub async fn problem(&self, path: &str, status: u16) -> serde_json::Value {
        let res = self.get(path).await;
        assert_eq!(res.status(), status, "GET {path}");
        let ctype = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(ctype, "application/problem+json", "GET {path}");
        let body: serde_json::Value = res.json().await.expect("problem JSON");
        assert_eq!(body["status"], status);
        body
    }
}

/// The day the test databases' demo history is generated for.
pub fn demo_today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 28).expect("a date")
}

/// A path for a route pattern of the route table, its parameters filled with plausible values.
pub fn concrete(pattern: &str) -> String {
    pattern
        .replace("{format}", "csv")
        .replace("{token}", "not-a-token")
        .replace("{step}", "cancel")
        .replace("{answer}", "accept")
        .replace("{file}", "app.css")
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "1".to_owned()
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A wall-clock time in Beijing, as the clock of a test.
pub fn beijing(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    yiqi::types::PLATFORM_ZONE
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&chrono::Utc)
}
