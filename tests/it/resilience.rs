//! The unlucky cases: the database going away under a running server.

use crate::common;

#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn a_postgres_restart_costs_no_500_and_heals_itself() {
    use common::{TestApp, TestDb};
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let db = TestDb::postgres().seeded();
    let base = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = format!("yiqi-restart-{}", std::process::id());
    let app = TestApp::spawn_with(db, |db| {
        let mut s = common::settings(db);
        s.database.url = yiqi::config::Secret::new(format!("{}&application_name={name}", db.url));
        s
    })
    .await;
    assert_eq!(
        app.get("/api/v1/instruments?per_page=1").await.status(),
        200
    );

    // What a server restart does to the service: every one of its connections dies.
    let mut admin = diesel::PgConnection::establish(&base).unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'"
        ))
        .unwrap();

    // Each dead connection may fail one request with a 503 (never a 500) before the pool
    // drops it; after that every request succeeds.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            app.get("/api/v1/instruments?per_page=1")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses[statuses.len() - 8..].iter().all(|&s| s == 200),
        "{statuses:?}"
    );
    let ready = app.json("/ready").await;
    assert_eq!(ready["status"], "ready");
}

// --- Faults an operator meets -------------------------------------------------------------

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use crate::cli::{free_port, wait_until_up, yiqi, Server};
use common::{TestApp, TestDb};

/// A PostgreSQL server of the test's own (initdb in a temporary directory, a free port), so
/// it can be stopped and started without disturbing the tests that share TEST_DATABASE_URL's.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    /// initdb refuses to run as root: then the programs run as the `postgres` account.
    as_postgres: bool,
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        // Debian keeps the server programs out of PATH, in /usr/lib/postgresql/VERSION/bin.
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .collect();
        found.sort();
        let bin = found
            .pop()
            .expect("PostgreSQL's server programs in /usr/lib/postgresql/*/bin");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let dir = tempfile::tempdir().unwrap();
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let pg = PrivatePostgres {
            dir,
            port: free_port(),
            bin,
            as_postgres: root,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        pg.start_server();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(program));
            c
        } else {
            Command::new(self.bin.join(program))
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start_server(&self) {
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// A clean stop: PostgreSQL ends every session and refuses connections until started.
    fn stop_server(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

/// Opens unit 1's first `count` instruments for load: every hour of every day, no approval,
/// no notice, 30-minute slots. One per load worker, as a person may hold at most 100 active
/// bookings of one instrument.
async fn open_for_load(app: &TestApp, count: usize) -> Vec<i64> {
    let page = app
        .json(&format!("/api/v1/instruments?unit=1&per_page={count}"))
        .await;
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), count);
    let manager = app.token("unit-admin@yiqi.demo").await;
    let all_day: serde_json::Map<String, Value> = (1..=7)
        .map(|d| (d.to_string(), json!([[0, 1440]])))
        .collect();
    for &id in &ids {
        app.open(id).await;
        let (status, body) = app
            .call(
                "PUT",
                &format!("/api/v1/instruments/{id}/booking-settings"),
                Some(&manager),
                Some(json!({
                    "approval_required": false, "slot_minutes": 30, "min_minutes": 30,
                    "max_minutes": 480, "horizon_days": 365, "notice_minutes": 0,
                    "max_active_per_user": 100, "opening_hours": all_day
                })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    ids
}

/// The `n`-th 30-minute slot from three days ahead (local midnight), for load bookings.
fn slot(n: usize) -> (String, String) {
    let day = (Utc::now() + chrono::Duration::days(3)).with_timezone(&yiqi::types::PLATFORM_ZONE);
    let midnight = yiqi::types::PLATFORM_ZONE
        .from_local_datetime(&day.date_naive().and_hms_opt(0, 0, 0).unwrap())
        .unwrap();
    let start = midnight + chrono::Duration::minutes(30 * n as i64);
    (
        start.to_rfc3339(),
        (start + chrono::Duration::minutes(30)).to_rfc3339(),
    )
}

/// What one request of a load got: its status (None: no answer, the connection failed), the
/// booking's id on 201, and whether a 503 was a proper problem with `Retry-After`.
#[derive(Debug, Clone)]
struct Outcome {
    sent: Instant,
    took: Duration,
    status: Option<u16>,
    /// A booking's slot and instrument.
    slot: Option<(usize, i64)>,
    id: Option<i64>,
    well_formed_503: bool,
}

/// Books slot `n` with `Idempotency-Key: slot-n` (a retry of the same slot is the same
/// request).
async fn book(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    instrument: i64,
    n: usize,
) -> Outcome {
    let (starts, ends) = slot(n);
    let sent = Instant::now();
    let res = client
        .post(format!("{address}/api/v1/reservations"))
        .bearer_auth(token)
        .header("Idempotency-Key", format!("slot-{n}"))
        .json(&json!({"instrument_id": instrument, "kind": "machine_time", "starts_at": starts, "ends_at": ends}))
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    outcome(sent, res, Some((n, instrument))).await
}

async fn outcome(
    sent: Instant,
    res: reqwest::Result<reqwest::Response>,
    slot: Option<(usize, i64)>,
) -> Outcome {
    let Ok(res) = res else {
        return Outcome {
            sent,
            took: sent.elapsed(),
            status: None,
            slot,
            id: None,
            well_formed_503: false,
        };
    };
    let status = res.status().as_u16();
    let problem = res
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json");
    let retry = res.headers().contains_key("retry-after");
    let body: Value = res.json().await.unwrap_or(Value::Null);
    Outcome {
        sent,
        took: sent.elapsed(),
        status: Some(status),
        slot,
        id: if status == 201 {
            body["id"].as_i64()
        } else {
            None
        },
        well_formed_503: status == 503 && problem && retry && body["status"] == 503,
    }
}

/// A load running in the background: a loop per instrument that books its own slots back to
/// back (with `browse`, reading a page and pausing between bookings) until stopped; every
/// outcome is logged.
struct Load {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Outcome>>>,
    workers: Vec<actix_web::rt::task::JoinHandle<()>>,
}

impl Load {
    fn start(app: &TestApp, token: &str, instruments: &[i64], browse: bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let count = instruments.len();
        let workers = (0..count)
            .map(|w| {
                let instrument = instruments[w];
                let (client, address, token) =
                    (app.client.clone(), app.address.clone(), token.to_owned());
                let (stop, log) = (stop.clone(), log.clone());
                actix_web::rt::spawn(async move {
                    // Like a client, a worker sends a booking that got no answer or a 503 again
                    // (same key) and moves to its next slot once one was answered.
                    let mut n = w;
                    while !stop.load(Ordering::Relaxed) {
                        let o = book(&client, &address, &token, instrument, n).await;
                        let answered = matches!(o.status, Some(200 | 201));
                        log.lock().unwrap().push(o);
                        if answered {
                            n += count;
                        } else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        if browse {
                            let sent = Instant::now();
                            let res = client
                                .get(format!("{address}/api/v1/instruments/{instrument}"))
                                .timeout(Duration::from_secs(60))
                                .send()
                                .await;
                            let o = outcome(sent, res, None).await;
                            log.lock().unwrap().push(o);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                })
            })
            .collect();
        Load { stop, log, workers }
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.log.lock().unwrap().clone()
    }

    /// The ids of the bookings answered 201 so far.
    fn answered(&self) -> Vec<i64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|o| o.id)
            .collect()
    }

    async fn until_answered(&self, n: usize) {
        while self.answered().len() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the workers after their request in flight; every outcome.
    async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let outcomes = self.log.clone();
        for w in self.workers {
            w.await.unwrap();
        }
        let log = outcomes.lock().unwrap().clone();
        log
    }
}

/// After the fault: every slot tried whose booking got no 201 is sent again with its key, so
/// each slot must end with exactly one booking; then the database must hold every booking that
/// was answered 201, each once, and nothing else.
async fn every_answered_booking_is_there_once(app: &TestApp, token: &str, log: &[Outcome]) {
    let tried: std::collections::BTreeSet<(usize, i64)> =
        log.iter().filter_map(|o| o.slot).collect();
    let answered: std::collections::BTreeMap<usize, i64> = log
        .iter()
        .filter_map(|o| Some((o.slot?.0, o.id?)))
        .collect();
    let instruments: std::collections::BTreeSet<String> =
        tried.iter().map(|(_, i)| i.to_string()).collect();
    for &(n, instrument) in &tried {
        let o = book(&app.client, &app.address, token, instrument, n).await;
        assert!(
            matches!(o.status, Some(200 | 201)),
            "slot {n} sent again: {o:?}"
        );
        if let Some(&id) = answered.get(&n) {
            assert_eq!(o.id.or(Some(id)), Some(id), "slot {n} was booked twice");
        }
    }
    let mut conn = app.db.connect();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        idempotency_key: Option<String>,
    }
    use diesel::RunQueryDsl;
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT id, idempotency_key FROM reservations WHERE instrument_id IN ({}) \
         AND idempotency_key LIKE 'slot-%'",
        instruments.into_iter().collect::<Vec<_>>().join(", ")
    ))
    .load(&mut conn)
    .unwrap();
    let ids: std::collections::BTreeSet<i64> = rows.iter().map(|r| r.id).collect();
    for (n, id) in &answered {
        assert!(
            ids.contains(id),
            "booking {id} (slot {n}) was answered 201 and is gone"
        );
    }
    let keys: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.idempotency_key.as_deref())
        .collect();
    assert_eq!(rows.len(), keys.len(), "a slot booked twice");
    assert_eq!(rows.len(), tried.len(), "one booking per slot tried");
}

/// PostgreSQL stopped for three seconds under a load of bookings and reads: requests during
/// the outage get a 503 problem with `Retry-After`, at once rather than after the pool's
/// time-out (20 s here), never a 500 or a hang; the service heals by itself when PostgreSQL is
/// back; no answered booking is lost and none is made twice.
#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn a_postgres_outage_answers_503_at_once_and_heals_itself() {
    let pg = PrivatePostgres::start();
    let db = TestDb::external(pg.url(), yiqi::db::Backend::Postgres).seeded();
    let timeout = Duration::from_secs(20);
    let app = TestApp::spawn_with(db, |db| {
        let mut s = common::settings(db);
        s.database.pool_timeout_secs = timeout.as_secs();
        s
    })
    .await;
    let instruments = open_for_load(&app, 4).await;
    let token = app.token("researcher@yiqi.demo").await;
    let (down, up, log) = {
        let load = Load::start(&app, &token, &instruments, true);
        tokio::time::sleep(Duration::from_millis(800)).await;
        let pg = &pg;
        std::thread::scope(|s| s.spawn(|| pg.stop_server()).join().unwrap());
        let down = Instant::now();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let up = Instant::now();
        std::thread::scope(|s| s.spawn(|| pg.start_server()).join().unwrap());
        // Healed: a request sent after PostgreSQL came back succeeds, without a restart.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healed = load
                .outcomes()
                .iter()
                .filter(|o| o.sent > up && matches!(o.status, Some(200 | 201)))
                .count();
            if healed >= 20 {
                break;
            }
            assert!(Instant::now() < deadline, "the service did not heal");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (down, up, load.stop().await)
    };
    let during: Vec<&Outcome> = log
        .iter()
        .filter(|o| o.sent > down && o.sent < up)
        .collect();
    assert!(!during.is_empty());
    for o in &log {
        assert!(
            matches!(o.status, Some(200 | 201 | 503)),
            "only success or 503, never a 500 or a dropped connection: {o:?}"
        );
        assert!(o.status != Some(503) || o.well_formed_503, "{o:?}");
        assert!(
            o.took < timeout,
            "answered within the pool's time-out: {o:?}"
        );
    }
    assert!(
        during
            .iter()
            .filter(|o| o.slot.is_some())
            .all(|o| o.status == Some(503)),
        "every booking during the outage got its 503: {during:?}"
    );
    assert_eq!(app.json("/ready").await["status"], "ready");
    every_answered_booking_is_there_once(&app, &token, &log).await;
}

/// `yiqi serve` as a process of its own on `db`, on a free port.
fn serve(db: &TestDb, dir: &std::path::Path) -> (Server, u16) {
    serve_with(db, dir, &[])
}

/// [`serve`] with more settings (`YIQI__…` variables).
pub(crate) fn serve_with(
    db: &TestDb,
    dir: &std::path::Path,
    settings: &[(&str, &str)],
) -> (Server, u16) {
    let port = free_port();
    let server = Server(
        yiqi()
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", &db.url)
            .env("YIQI__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("YIQI__DEMO__SEED_ON_EMPTY", "false")
            .env("YIQI__MAIL__SENDER_ENABLED", "false")
            .env("YIQI__SEARCH__BUILD_ON_START", "false")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_up(port);
    (server, port)
}

on_both_backends!(killed_mid_load_keeps_every_answered_booking_once);

/// `kill -9` while eight clients book: after a restart every booking that was answered 201 is
/// in the database, and clients sending their unanswered requests again (same
/// `Idempotency-Key`) get one booking per slot, never two.
async fn killed_mid_load_keeps_every_answered_booking_once(db: TestDb) {
    let db = db.seeded();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = serve(&db, dir.path());
    let mut app = TestApp::remote(db, port);
    let instruments = open_for_load(&app, 8).await;
    let token = app.token("researcher@yiqi.demo").await;
    let load = Load::start(&app, &token, &instruments, false);
    load.until_answered(60).await;
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    let log = load.stop().await;
    assert!(
        log.iter().any(|o| o.status.is_none()),
        "the kill cut requests in flight"
    );
    let (_server, port) = serve(&app.db, dir.path());
    app.address = format!("http://127.0.0.1:{port}");
    every_answered_booking_is_there_once(&app, &token, &log).await;
}

/// SIGTERM with a request half sent: the listener closes at once, the request in flight
/// still gets its answer, and the process exits cleanly.
#[actix_web::test]
async fn sigterm_closes_the_listener_and_finishes_requests_in_flight() {
    use std::io::{Read, Write};
    let db = TestDb::sqlite().seeded();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = serve(&db, dir.path());
    let app = TestApp::remote(db, port);
    let instrument = open_for_load(&app, 1).await[0];
    let token = app.token("researcher@yiqi.demo").await;
    let (starts, ends) = slot(1);
    let body = json!({"instrument_id": instrument, "kind": "machine_time", "starts_at": starts, "ends_at": ends}).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/v1/reservations HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first.as_bytes()).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the server has the request's head

    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The listener closes: new connections are refused while the old one is still open.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener stayed open after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stream.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let id = serde_json::from_str::<Value>(answer.split_once("\r\n\r\n").unwrap().1).unwrap()["id"]
        .as_i64()
        .unwrap();
    use diesel::prelude::*;
    use yiqi::db::schema::reservations;
    let found: i64 = reservations::table
        .filter(reservations::id.eq(id))
        .count()
        .get_result(&mut app.db.connect())
        .unwrap();
    assert_eq!(found, 1);
}

/// `yiqi backup` while eight clients book, then `yiqi restore`: refused while the service
/// runs; afterwards the restored database passes its integrity check and holds every booking
/// that was answered 201 before the backup started.
#[actix_web::test]
async fn a_backup_under_load_restores_every_booking_answered_before_it() {
    let db = TestDb::sqlite().seeded();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = serve(&db, dir.path());
    let app = TestApp::remote(db, port);
    let instruments = open_for_load(&app, 8).await;
    let token = app.token("researcher@yiqi.demo").await;
    let load = Load::start(&app, &token, &instruments, false);
    load.until_answered(40).await;
    let before = load.answered();
    let file = dir.path().join("backups/copy.db");
    let mut backup = yiqi();
    backup
        .args(["backup", "--out"])
        .arg(&file)
        .env("DATABASE_URL", &app.db.url);
    let (ok, out, err) = actix_web::rt::task::spawn_blocking(move || crate::cli::run(&mut backup))
        .await
        .unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("integrity ok"), "{out}");
    let during = load.answered().len();
    load.stop().await;
    assert!(
        during > before.len(),
        "bookings went on while the copy was made"
    );

    let restore = || {
        let mut cmd = yiqi();
        cmd.arg("restore")
            .arg(&file)
            .env("DATABASE_URL", &app.db.url);
        crate::cli::run(&mut cmd)
    };
    let (ok, _, err) = restore();
    assert!(!ok && err.contains("in use"), "{err}");
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    server.0.wait().unwrap();
    let (ok, out, err) = restore();
    assert!(ok, "{out}{err}");
    assert!(out.contains("replaced is kept"), "{out}");

    yiqi::db::backup::check_file(std::path::Path::new(
        app.db.url.strip_prefix("sqlite://").unwrap(),
    ))
    .unwrap();
    use diesel::prelude::*;
    use yiqi::db::schema::reservations;
    let found: Vec<i64> = reservations::table
        .filter(reservations::id.eq_any(&before))
        .select(reservations::id)
        .load(&mut app.db.connect())
        .unwrap();
    assert_eq!(
        found.len(),
        before.len(),
        "every booking answered before the backup"
    );
}

/// The copies `yiqi serve` makes on its schedule: named by time, the newest `keep` kept, and
/// PostgreSQL pointed to its own tools.
#[test]
fn scheduled_backups_keep_the_newest() {
    let db = TestDb::sqlite().seeded();
    let dir = tempfile::tempdir().unwrap();
    let mut conn = db.connect();
    let mut made = Vec::new();
    for day in 1..=4 {
        let now = Utc.with_ymd_and_hms(2026, 12, day, 18, 0, 0).unwrap();
        made.push(yiqi::db::backup::scheduled(&mut conn, dir.path(), 2, now).unwrap());
    }
    let mut kept: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        ["yiqi-20261203T180000Z.db", "yiqi-20261204T180000Z.db"]
    );
    yiqi::db::backup::check_file(&made[3]).unwrap();
    // A copy never overwrites another.
    let again = yiqi::db::backup::backup(&mut conn, &made[3]).unwrap_err();
    assert!(again.to_string().contains("exists already"), "{again}");
}
