//! The outbox and the sender against a real SMTP server on loopback, on both backends.
//! Time is a `ManualClock`: retries and leases are tested at chosen instants, never by sleeping.

use crate::common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::smtp::{Reply, SmtpServer};
use common::TestDb;
use yiqi::clock::{Clock, ManualClock};
use yiqi::config::{MailSettings, MailTransportKind, SmtpSecurity};
use yiqi::db::{self, Pool};
use yiqi::error::AppError;
use yiqi::mail::{self, model::OutboxStatus, sender::Sender, store, templates};
use yiqi::types::MessageId;

on_both_backends!(
    committed_mail_is_sent_once_and_rolled_back_mail_never,
    smtp_down_at_enqueue_delivers_once_it_is_up,
    temporary_rejections_are_retried,
    a_permanent_rejection_is_dead_with_its_error_until_retried,
    repeated_temporary_failures_end_dead_after_max_attempts,
    a_crash_while_sending_is_delivered_after_the_lease,
);

fn mail_settings(port: u16) -> MailSettings {
    let mut m = common::settings(&TestDb::sqlite()).mail;
    m.transport = MailTransportKind::Smtp;
    m.smtp_host = "127.0.0.1".into();
    m.smtp_port = port;
    m.smtp_security = SmtpSecurity::None;
    m.smtp_timeout_secs = 5;
    m.max_attempts = 3;
    m.backoff_base_secs = 30;
    m.backoff_max_secs = 3600;
    m.lease_secs = 300;
    m.rate_per_sec = 0;
    m
}

struct Rig {
    pool: Pool,
    clock: Arc<ManualClock>,
    sender: Sender,
    _db: TestDb,
}

fn rig(db: TestDb, port: u16) -> Rig {
    let (pool, _) = db::connect_pool(&db.url, 4, std::time::Duration::from_secs(10)).unwrap();
    db::migrate(&mut pool.get().unwrap()).unwrap();
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 28, 8, 0, 0).unwrap());
    let sender = Sender::from_settings(&mail_settings(port), clock.clone()).unwrap();
    Rig {
        pool,
        clock,
        sender,
        _db: db,
    }
}

impl Rig {
    fn enqueue(&self, to: &str, name: &str) {
        let message = templates::test_message(to, name).unwrap();
        let now = self.clock.now_naive();
        let mut conn = self.pool.get().unwrap();
        db::write_tx(&mut conn, |c| mail::enqueue(c, &message, now)).unwrap();
    }

    fn row(&self, id: i64) -> mail::model::OutboxRow {
        store::find(&mut self.pool.get().unwrap(), MessageId(id))
            .unwrap()
            .unwrap()
    }
}

async fn committed_mail_is_sent_once_and_rolled_back_mail_never(db: TestDb) {
    let smtp = SmtpServer::start();
    let rig = rig(db, smtp.port);
    let hostile = "<script>alert(1)</script> & 王老师";
    rig.enqueue("researcher@example.cn", hostile);
    // The same, in a transaction that rolls back after the enqueue.
    let message = templates::test_message("nobody@example.cn", "回滚").unwrap();
    let now = rig.clock.now_naive();
    let rolled_back: Result<(), AppError> = db::write_tx(&mut rig.pool.get().unwrap(), |c| {
        mail::enqueue(c, &message, now)?;
        Err(AppError::invalid("slot", "taken meanwhile"))
    });
    assert!(rolled_back.is_err());

    let first = rig.sender.send_due(&rig.pool).await.unwrap();
    assert_eq!((first.claimed, first.sent), (1, 1));
    let again = rig.sender.send_due(&rig.pool).await.unwrap();
    assert_eq!(again.claimed, 0, "a sent message is not sent again");

    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.to, vec!["researcher@example.cn".to_owned()]);
    assert_eq!(
        m.header("Subject"),
        "【吉林省大型科研仪器开放共享平台】测试邮件 Test message"
    );
    assert_eq!(m.header("Message-ID"), "<outbox-1@yiqi.localhost>");
    let text = m.part("text/plain");
    let html = m.part("text/html");
    assert!(
        text.contains(hostile),
        "the text part carries the name as written"
    );
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; 王老师"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "user data is escaped in HTML");
    assert!(html.contains("吉林省大型科研仪器开放共享平台") && html.contains("请勿直接回复"));

    let row = rig.row(1);
    assert_eq!(row.status, OutboxStatus::Sent);
    assert_eq!(row.sent_at, Some(rig.clock.now_naive()));
    let status = store::status(&mut rig.pool.get().unwrap()).unwrap();
    assert_eq!(
        (status.queued, status.sent),
        (0, 1),
        "the rolled-back message never existed"
    );
}

async fn smtp_down_at_enqueue_delivers_once_it_is_up(db: TestDb) {
    let port = SmtpServer::free_port();
    let rig = rig(db, port);
    rig.enqueue("a@example.cn", "甲");
    let r = rig.sender.send_due(&rig.pool).await.unwrap();
    assert_eq!((r.claimed, r.retried), (1, 1));
    let row = rig.row(1);
    assert_eq!((row.status.code(), row.attempts), ("queued", 1));
    assert!(row.last_error.is_some());
    assert!(row.next_attempt_at > rig.clock.now_naive());

    let smtp = SmtpServer::start_on(port);
    // Not due yet: nothing is tried before the backoff has passed.
    assert_eq!(rig.sender.send_due(&rig.pool).await.unwrap().claimed, 0);
    rig.clock.advance(Duration::seconds(40));
    let r = rig.sender.send_due(&rig.pool).await.unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(rig.row(1).status, OutboxStatus::Sent);
}

async fn temporary_rejections_are_retried(db: TestDb) {
    let smtp = SmtpServer::start();
    smtp.refuse_next(&[Reply::Temporary, Reply::Temporary]);
    let rig = rig(db, smtp.port);
    rig.enqueue("b@example.cn", "乙");
    for round in 1..=2 {
        let r = rig.sender.send_due(&rig.pool).await.unwrap();
        assert_eq!(r.retried, 1, "round {round}");
        assert!(rig.row(1).last_error.unwrap().contains("451"));
        rig.clock.advance(Duration::hours(1));
    }
    let r = rig.sender.send_due(&rig.pool).await.unwrap();
    assert_eq!(r.sent, 1);
    let row = rig.row(1);
    assert_eq!((row.status.code(), row.attempts), ("sent", 3));
    assert_eq!(smtp.received().len(), 1);
}

async fn a_permanent_rejection_is_dead_with_its_error_until_retried(db: TestDb) {
    let smtp = SmtpServer::start();
    smtp.refuse_next(&[Reply::Permanent]);
    let rig = rig(db, smtp.port);
    rig.enqueue("gone@example.cn", "丙");
    let r = rig.sender.send_due(&rig.pool).await.unwrap();
    assert_eq!(r.dead, 1, "a 5xx is final: no retries");
    let row = rig.row(1);
    assert_eq!(row.status, OutboxStatus::Dead);
    assert!(
        row.last_error.as_deref().unwrap().contains("550"),
        "{:?}",
        row.last_error
    );
    rig.clock.advance(Duration::days(1));
    assert_eq!(rig.sender.send_due(&rig.pool).await.unwrap().claimed, 0);

    // An operator fixes the cause and puts it back.
    let now = rig.clock.now_naive();
    assert_eq!(
        store::requeue_dead(&mut rig.pool.get().unwrap(), Some(MessageId(1)), now).unwrap(),
        1
    );
    assert_eq!(rig.sender.send_due(&rig.pool).await.unwrap().sent, 1);
    assert_eq!(smtp.received().len(), 1);
}

async fn repeated_temporary_failures_end_dead_after_max_attempts(db: TestDb) {
    let port = SmtpServer::free_port(); // and it never comes up
    let rig = rig(db, port);
    rig.enqueue("c@example.cn", "丁");
    for attempt in 1..=3 {
        let r = rig.sender.send_due(&rig.pool).await.unwrap();
        assert_eq!(r.claimed, 1, "attempt {attempt}");
        rig.clock.advance(Duration::hours(2));
    }
    let row = rig.row(1);
    assert_eq!((row.status.code(), row.attempts), ("dead", 3));
    assert!(row.last_error.is_some());
    assert_eq!(rig.sender.send_due(&rig.pool).await.unwrap().claimed, 0);
}

async fn a_crash_while_sending_is_delivered_after_the_lease(db: TestDb) {
    let smtp = SmtpServer::start();
    let rig = rig(db, smtp.port);
    rig.enqueue("d@example.cn", "戊");
    // A sender claims the message and dies before it reports back.
    let now = rig.clock.now_naive();
    let claimed = yiqi::mail::store::claim_due(
        &mut rig.pool.get().unwrap(),
        now,
        now + Duration::minutes(5),
        10,
    )
    .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(rig.row(1).status, OutboxStatus::Sending);
    // While the lease holds, nobody else takes it.
    assert_eq!(rig.sender.send_due(&rig.pool).await.unwrap().claimed, 0);
    rig.clock.advance(Duration::minutes(6));
    assert_eq!(rig.sender.send_due(&rig.pool).await.unwrap().sent, 1);
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(rig.row(1).attempts, 2);
}

#[actix_web::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
async fn two_senders_on_postgres_never_send_the_same_message_twice() {
    let smtp = SmtpServer::start();
    let db = TestDb::postgres();
    let a = rig(db, smtp.port);
    // A second instance: its own pool and sender on the same database.
    let (pool_b, _) = db::connect_pool(&a._db.url, 4, std::time::Duration::from_secs(10)).unwrap();
    let b = Sender::from_settings(&mail_settings(smtp.port), a.clock.clone()).unwrap();
    const N: usize = 300;
    for i in 0..N {
        a.enqueue(&format!("user{i}@example.cn"), "并发");
    }
    let (ra, rb) = tokio::join!(a.sender.send_all_due(&a.pool), b.send_all_due(&pool_b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.sent + rb.sent, N);
    assert!(ra.sent > 0 && rb.sent > 0, "both took part: {ra:?} {rb:?}");
    let mut ids: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!(ids.len(), N);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "no message went out twice");
}

#[actix_web::test]
async fn the_sender_inside_serve_delivers_while_requests_go_on() {
    let smtp = SmtpServer::start();
    let app = common::TestApp::spawn_with(TestDb::sqlite().seeded(), |db| {
        let mut s = common::settings(db);
        s.mail = mail_settings(smtp.port);
        s.mail.sender_enabled = true;
        s.mail.poll_interval_ms = 20;
        s
    })
    .await;
    let ready = app.json("/ready").await;
    assert_eq!(ready["mail"]["sender_running"], true);
    assert!(ready["mail"]["last_sent_at"].is_null());

    let message = templates::test_message("e@example.cn", "己").unwrap();
    let mut conn = app.db.connect();
    db::write_tx(&mut conn, |c| {
        mail::enqueue(c, &message, yiqi::clock::system().now_naive())
    })
    .unwrap();
    // The background loop picks it up on its own; poll what the SMTP server got.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while smtp.received().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sender never delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ready = app.json("/ready").await;
    assert_eq!(ready["mail"]["queued"], 0);
    assert!(ready["mail"]["last_sent_at"].is_string(), "{ready}");
}
