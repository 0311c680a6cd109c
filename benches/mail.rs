//! Mail benchmark (run by hand): `cargo bench --bench mail [-- postgres://…]`.
//! 1. Enqueue cost: one outbox insert inside a write transaction, as a booking would do it.
//! 2. Sender throughput to a real SMTP server on loopback (mailin-embedded).

#[path = "../tests/it/common/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use std::time::{Duration, Instant};

use yiqi::clock;
use yiqi::config::{MailTransportKind, Settings, SmtpSecurity};
use yiqi::db;
use yiqi::mail::{self, sender::Sender, templates};

const ENQUEUES: usize = 5_000;
const SENDS: usize = 2_000;

fn main() {
    let pg = std::env::args().find(|a| a.starts_with("postgres://"));
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    )];
    if let Some(pg) = pg {
        urls.push(pg);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for url in urls {
        let label = if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        };
        let (pool, _) = db::connect_pool(&url, 4, Duration::from_secs(10)).unwrap();
        let mut conn = pool.get().unwrap();
        db::migrate(&mut conn).unwrap();
        let message = templates::test_message("bench@example.cn", "压测").unwrap();
        let clock = clock::system();

        // 1. Enqueue: its own write transaction each time, like a request.
        let start = Instant::now();
        for _ in 0..ENQUEUES {
            let now = clock.now_naive();
            db::write_tx(&mut conn, |c| mail::enqueue(c, &message, now)).unwrap();
        }
        let per = start.elapsed() / ENQUEUES as u32;
        println!(
            "{label}: enqueue as its own write transaction (commit included): {per:?} per message"
        );
        // What it adds to a transaction that commits anyway (a booking): the insert alone.
        let start = Instant::now();
        db::write_tx(&mut conn, |c| {
            for _ in 0..ENQUEUES {
                mail::enqueue(c, &message, clock.now_naive())?;
            }
            Ok::<(), yiqi::error::AppError>(())
        })
        .unwrap();
        let per = start.elapsed() / ENQUEUES as u32;
        println!("{label}: enqueue inside an open transaction: {per:?} per message");
        // Keep SENDS of this run's messages queued for the sender; drop the rest.
        use diesel::prelude::*;
        diesel::sql_query(format!(
            "DELETE FROM mail_outbox WHERE status <> 'queued' OR id > \
             (SELECT MIN(id) FROM mail_outbox WHERE status = 'queued') + {}",
            SENDS - 1
        ))
        .execute(&mut **conn)
        .unwrap();
        drop(conn);

        // 2. Throughput to loopback SMTP.
        // BENCH_SMTP_PORT: measure against another server already listening there instead.
        let external: Option<u16> = std::env::var("BENCH_SMTP_PORT")
            .ok()
            .and_then(|p| p.parse().ok());
        let server = smtp::SmtpServer::start();
        let mut settings = Settings::load_from("test", Vec::new()).unwrap().mail;
        settings.transport = MailTransportKind::Smtp;
        settings.smtp_host = "127.0.0.1".into();
        settings.smtp_port = external.unwrap_or(server.port);
        settings.smtp_security = SmtpSecurity::None;
        settings.rate_per_sec = 0;
        settings.batch_size = 100;
        let report = rt.block_on(async {
            let sender = Sender::from_settings(&settings, clock.clone()).unwrap();
            let start = Instant::now();
            let report = sender.send_all_due(&pool).await.unwrap();
            (report, start.elapsed())
        });
        let (report, took) = report;
        assert_eq!(report.sent, SENDS);
        if external.is_none() {
            assert_eq!(server.received().len(), SENDS);
        }
        println!(
            "{label}: sender: {} messages in {:.2} s = {:.0} messages/s",
            report.sent,
            took.as_secs_f64(),
            report.sent as f64 / took.as_secs_f64()
        );
    }
}
