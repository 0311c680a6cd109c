//! The command line and configuration contract, run as a user would: the real binary.

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn yiqi() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yiqi"));
    // Only what a test sets reaches the binary's configuration.
    for (key, _) in std::env::vars() {
        if key.starts_with("YIQI") || key == "DATABASE_URL" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run yiqi");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_wrong_database_url_prints_the_real_error() {
    let (ok, _, err) = run(yiqi()
        .arg("migrate")
        .env("DATABASE_URL", "postgres://127.0.0.1:1/nope"));
    assert!(!ok);
    assert!(err.contains("port 1 failed"), "{err}");
    assert!(
        err.contains("cannot connect to postgres://127.0.0.1:1/nope"),
        "{err}"
    );

    let (ok, _, err) = run(yiqi()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://localhost/yiqi"));
    assert!(!ok);
    assert!(err.contains("mysql:// is not supported"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("typo.db");
    let (ok, _, err) = run(yiqi().arg("migrate").env("DATABASE_URL", &bare));
    assert!(!ok);
    assert!(err.contains("write sqlite://"), "{err}");
    assert!(!bare.exists(), "a bare path must not create a database");
}

#[test]
fn unknown_configuration_keys_are_refused() {
    let (ok, _, err) = run(yiqi().arg("migrate").env("YIQI__SERVER__BINDD", "x"));
    assert!(!ok);
    assert!(err.contains("bindd"), "{err}");
    let (ok, _, err) = run(yiqi().arg("migrate").env("YIQI_ENV", "staging"));
    assert!(!ok);
    assert!(err.contains("staging"), "{err}");
}

#[test]
fn seed_demo_loads_an_empty_database_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d/yiqi.db").display());
    let (ok, out, err) = run(yiqi().args(["seed", "demo"]).env("DATABASE_URL", &url));
    assert!(ok, "{err}");
    assert!(
        out.contains("13 sub-platforms, 72 host units, 1940 instruments"),
        "{out}"
    );
    let (ok, _, err) = run(yiqi().args(["seed", "demo"]).env("DATABASE_URL", &url));
    assert!(!ok);
    assert!(err.contains("already holds"), "{err}");
    let (ok, out, _) = run(yiqi().arg("migrate").env("DATABASE_URL", &url));
    assert!(ok);
    assert!(out.contains("0 migration(s) applied"), "{out}");
    let (ok, _, err) = run(yiqi()
        .args(["seed", "demo", "--scale", "0"])
        .env("DATABASE_URL", &url));
    assert!(!ok);
    assert!(err.contains("--scale"), "{err}");

    // The national report of the province's 2018, from the command line.
    let out_dir = dir.path().join("nrii");
    let (ok, out, err) = run(yiqi()
        .args(["export", "nrii", "--year", "2018", "--out"])
        .arg(&out_dir)
        .env("DATABASE_URL", &url));
    assert!(ok, "{err}");
    assert!(out.contains("72 unit summaries"), "{out}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("nrii-all-2018.json")).unwrap())
            .unwrap();
    let services: i64 = json["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["services"].as_i64().unwrap())
        .sum();
    // The summaries cover what is reported: the 2018 services on large instruments.
    assert!(json["problems"].as_array().unwrap().is_empty());
    assert_eq!(
        services as usize,
        json["services"].as_array().unwrap().len()
    );
    assert!(services > 0 && services <= 78, "{services}");
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(out_dir.join("nrii-all-2018.xlsx")).unwrap();
    assert_eq!(
        book.worksheet_range("服务记录").unwrap().height(),
        json["services"].as_array().unwrap().len() + 1
    );
    let (ok, _, err) = run(yiqi()
        .args(["export", "nrii", "--year", "2018", "--unit", "999", "--out"])
        .arg(&out_dir)
        .env("DATABASE_URL", &url));
    assert!(!ok);
    assert!(err.contains("no such unit"), "{err}");
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the server answers /health.
pub(crate) fn wait_until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /health HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server on port {port} did not come up");
}

fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    (head.to_owned(), body.to_owned())
}

#[test]
fn serve_creates_migrates_and_seeds_an_empty_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/yiqi.db");
    let port = free_port();
    let _server = Server(
        yiqi()
            .current_dir(dir.path())
            .env("YIQI__SERVER__BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_up(port);
    assert!(
        db.exists(),
        "the default database is data/yiqi.db under the working directory"
    );
    let (head, body) = http_get(port, "/api/v1/stats");
    assert!(head.contains("200 OK"), "{head}");
    assert!(body.contains("\"instruments\":1940"), "{body}");
}

#[test]
fn production_logs_are_json_lines_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut child = yiqi()
        .current_dir(dir.path())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("YIQI_ENV", "production")
        .env("DATABASE_URL", &url)
        .env(
            "YIQI__AUTH__JWT_SECRET",
            "a-production-key-of-more-than-32-characters",
        )
        .env("YIQI__SERVER__PUBLIC_URL", "https://yiqi.example.cn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    wait_until_up(port);
    let (head, _) = http_get(port, "/api/v1/units?kind=palace");
    assert!(head.contains("400"), "{head}");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("x-request-id header")
        .trim()
        .to_owned();
    drop(server);
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v["level"].is_string());
    }
    let ours: Vec<&String> = lines.iter().filter(|l| l.contains(&id)).collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("request completed") && l.contains("400")),
        "{lines:#?}"
    );
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
fn secrets_never_reach_the_log() {
    let base = std::env::var("TEST_DATABASE_URL").unwrap();
    // Trust auth accepts any password, so a made-up one works and must never be printed.
    let rest = base.split_once("://").map_or(base.as_str(), |(_, r)| r);
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let with_password = format!("postgres://postgres:s3cr3t-pw@{host_and_db}");
    let port = free_port();
    // A working directory of its own: the search index and the mail files live under it, and
    // two servers sharing one index directory would fight over its writer.
    let dir = tempfile::tempdir().unwrap();
    let child = yiqi()
        .current_dir(dir.path())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &with_password)
        .env("YIQI__DEMO__SEED_ON_EMPTY", "false")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    wait_until_up(port);
    let _ = http_get(port, "/ready");
    let _ = server.0.kill();
    let out = server.0.wait_with_output_ref();
    assert!(out.contains("database connected"), "{out}");
    assert!(!out.contains("s3cr3t-pw"), "the password was logged");
}

trait ReadAll {
    fn wait_with_output_ref(&mut self) -> String;
}

impl ReadAll for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut all = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = o.read_to_string(&mut all);
        }
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut all);
        }
        all
    }
}

#[test]
fn mail_commands_queue_send_retry_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let maildir = dir.path().join("mail");
    let mail = |args: &[&str]| {
        run(yiqi()
            .arg("mail")
            .args(args)
            .env("DATABASE_URL", &url)
            .env("YIQI__MAIL__FILE_DIR", &maildir))
    };
    let (ok, out, err) = mail(&["test", "--to", "ops@example.cn"]);
    assert!(ok, "{err}");
    assert!(out.contains("queued"), "{out}");
    let (_, out, _) = mail(&["status"]);
    assert!(out.contains("queued 1"), "{out}");
    let (ok, out, err) = mail(&["send-pending"]);
    assert!(ok, "{err}");
    assert!(out.contains("sent 1"), "{out}");
    let files: Vec<_> = std::fs::read_dir(&maildir).unwrap().collect();
    assert_eq!(files.len(), 1, "one .eml file");
    let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(
        eml.contains("outbox-1@") && eml.contains("ops@example.cn"),
        "{eml}"
    );
    let (_, out, _) = mail(&["status"]);
    assert!(out.contains("queued 0") && out.contains("sent 1"), "{out}");
    let (ok, _, err) = mail(&["retry", "1"]);
    assert!(!ok && err.contains("not dead"), "{err}");
    let (ok, _, err) = mail(&["retry", "99"]);
    assert!(!ok && err.contains("no message #99"), "{err}");
    let (ok, out, _) = mail(&["retry", "--dead"]);
    assert!(ok && out.contains("0 message(s)"), "{out}");
}

#[test]
fn a_sender_killed_mid_send_delivers_after_a_restart() {
    use common::smtp::SmtpServer;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    // An SMTP server that accepts the connection and then says nothing: the sender hangs
    // with the message claimed, and is killed there.
    let blackhole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_port = blackhole.local_addr().unwrap().port();
    let (ok, _, err) = run(yiqi()
        .args(["mail", "test", "--to", "k@example.cn"])
        .env("DATABASE_URL", &url));
    assert!(ok, "{err}");
    let smtp_env = |cmd: &mut Command, port: u16| {
        cmd.env("DATABASE_URL", &url)
            .env("YIQI__MAIL__TRANSPORT", "smtp")
            .env("YIQI__MAIL__SMTP_PORT", port.to_string())
            .env("YIQI__MAIL__SMTP_TIMEOUT_SECS", "60");
    };
    let mut cmd = yiqi();
    // Its lease on the message runs out at once, so the restart below need not wait for it.
    cmd.args(["mail", "send-pending"])
        .env("YIQI__MAIL__LEASE_SECS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    smtp_env(&mut cmd, hole_port);
    let child = cmd.spawn().unwrap();
    let mut sender = Server(child);
    let (_held, _) = blackhole.accept().unwrap(); // it is talking to us now, message claimed
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out, _) = run(yiqi().args(["mail", "status"]).env("DATABASE_URL", &url));
        if out.contains("sending 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the message was never claimed: {out}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sender.0.kill().unwrap(); // SIGKILL: no clean-up runs
    let _ = sender.0.wait();

    let smtp = SmtpServer::start();
    let mut cmd = yiqi();
    cmd.args(["mail", "send-pending"]);
    smtp_env(&mut cmd, smtp.port);
    let (ok, out, err) = run(&mut cmd);
    assert!(ok, "{err}");
    assert!(out.contains("sent 1"), "{out}");
    assert_eq!(smtp.received().len(), 1);
}

/// `KEY=value` lines of an env file (comments and blank lines skipped), as compose reads them.
fn env_file(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `docker compose up` as README says, where no container engine runs: the binary started
/// with exactly the environment the compose file gives it, against this machine's PostgreSQL
/// and a mail catcher (the compose file's `db` and `mail` hosts are the only values replaced,
/// and the listen port, so tests can run side by side).
#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn the_compose_demo_starts_with_the_compose_files_environment() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    assert!(
        compose.contains("env_file: config/compose.env"),
        "the yiqi service takes its environment from config/compose.env"
    );
    let env = env_file(&root.join("config/compose.env"));
    let value = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("compose.env sets {key}"))
    };
    assert_eq!(value("YIQI_ENV"), "production");
    assert_eq!(
        value("YIQI__AUTH__JWT_SECRET"),
        yiqi::config::COMPOSE_DEMO_JWT_SECRET
    );
    assert!(value("DATABASE_URL").contains("@db:5432/"));
    assert_eq!(value("YIQI__MAIL__SMTP_HOST"), "mail");
    assert_eq!(value("YIQI__MAIL__SMTP_PORT"), "1025");

    let db = common::TestDb::postgres();
    let smtp = common::smtp::SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = yiqi();
    for (key, v) in &env {
        let v = match key.as_str() {
            "DATABASE_URL" => db.url.clone(),
            "YIQI__MAIL__SMTP_HOST" => "127.0.0.1".to_owned(),
            "YIQI__MAIL__SMTP_PORT" => smtp.port.to_string(),
            _ => v.clone(),
        };
        cmd.env(key, v);
    }
    cmd.current_dir(dir.path())
        .env("YIQI__SERVER__BIND", format!("127.0.0.1:{port}"));
    let log = dir.path().join("yiqi.log");
    let _server = Server(
        cmd.stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_up(port);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("compose demo's public key"),
        "the public demo key is warned about: {logged}"
    );

    // The container's health check is the binary asking itself, with the same environment.
    let mut check = yiqi();
    check.arg("health");
    for (key, v) in &env {
        check.env(key, v);
    }
    let (ok, out, err) = run(check.env("YIQI__SERVER__BIND", format!("0.0.0.0:{port}")));
    assert!(ok, "{out}{err}");
    let (ok, _, err) = run(yiqi()
        .args(["health"])
        .env("YIQI__SERVER__BIND", format!("127.0.0.1:{}", free_port())));
    assert!(!ok && err.contains("nothing answers"), "{err}");

    // The demo is there, and signing in on http://localhost keeps the session: the cookies
    // carry no Secure flag a browser would refuse over plain http.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let stats: serde_json::Value = client
        .get(format!("{base}/api/v1/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["instruments"], 1940, "{stats}");
    let set_cookies = |res: &reqwest::Response| -> Vec<String> {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    let form = client.get(format!("{base}/login")).send().await.unwrap();
    let mut cookies = set_cookies(&form);
    let csrf = cookies
        .iter()
        .find_map(|c| c.strip_prefix("yiqi_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_owned();
    let res = client
        .post(format!("{base}/login"))
        .header("Cookie", format!("yiqi_csrf={csrf}"))
        .form(&[
            ("email", "researcher@yiqi.demo"),
            ("password", yiqi::seed::DEMO_PASSWORD),
            ("csrf", &csrf),
            ("next", "/me"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    cookies.extend(set_cookies(&res));
    assert!(
        cookies
            .iter()
            .all(|c| !c.to_ascii_lowercase().contains("secure")),
        "{cookies:?}"
    );
    let session: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let me = client
        .get(format!("{base}/me"))
        .header("Cookie", session.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(me.text().await.unwrap().contains("researcher@yiqi.demo"));

    // E-mail reaches the catcher, with links to the public URL.
    let res = client
        .post(format!("{base}/api/v1/auth/password-reset"))
        .json(&serde_json::json!({"email": "researcher@yiqi.demo"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let mail = smtp.wait_for("researcher@yiqi.demo", "").await;
    assert!(
        mail.part("text/plain").contains("http://localhost:8080/"),
        "{}",
        mail.part("text/plain")
    );
}
