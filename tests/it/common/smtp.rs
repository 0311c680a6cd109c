//! A real SMTP server on loopback (mailin-embedded) that records what it receives and can be
//! told to refuse the next messages with a temporary (451) or permanent (550) reply.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mailin_embedded::response::{Response, OK};
use mailin_embedded::{Handler, Server, SslConfig};

#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Temporary,
    Permanent,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).expect("a parsable message")
    }

    pub fn header(&self, name: &str) -> String {
        use mailparse::MailHeaderMap;
        self.parsed()
            .headers
            .get_first_value(name)
            .unwrap_or_default()
    }

    /// The body of the first part of `mime` type (text/plain, text/html).
    pub fn part(&self, mime: &str) -> String {
        fn find(m: &mailparse::ParsedMail<'_>, mime: &str) -> Option<String> {
            if m.subparts.is_empty() {
                return (m.ctype.mimetype == mime).then(|| m.get_body().unwrap_or_default());
            }
            m.subparts.iter().find_map(|p| find(p, mime))
        }
        find(&self.parsed(), mime).unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

#[derive(Clone)]
struct Recorder {
    shared: Arc<Mutex<Shared>>,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl Handler for Recorder {
    // Refusals come at RCPT, as greylisting (451) and unknown mailboxes (550) do in practice.
    // (mailin keeps a session in its DATA state after a refused end-of-data, so refusing
    // there would wedge the connection instead of testing the sender.)
    fn rcpt(&mut self, _to: &str) -> Response {
        let mut shared = self.shared.lock().unwrap();
        match shared.script.pop_front() {
            Some(Reply::Temporary) => {
                Response::custom(451, "4.7.1 greylisted, try again later".to_owned())
            }
            Some(Reply::Permanent) => Response::custom(550, "5.1.1 no such mailbox".to_owned()),
            None => OK,
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.buf.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.shared.lock().unwrap().received.push(Received {
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.buf),
        });
        OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpServer {
    /// A port nobody listens on yet: `start_on` it later to play "SMTP is down, then up".
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub fn start() -> SmtpServer {
        Self::start_on(0)
    }

    pub fn start_on(port: u16) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the SMTP port");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Recorder {
            shared: shared.clone(),
            to: Vec::new(),
            buf: Vec::new(),
        };
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            server
                .with_name("smtp.test")
                .with_num_threads(64)
                .with_ssl(SslConfig::None)
                .expect("no TLS")
                .with_tcp_listener(listener);
            let _ = server.serve();
        });
        SmtpServer { port, shared }
    }

    /// The next messages get these replies instead of being accepted.
    pub fn refuse_next(&self, replies: &[Reply]) {
        self.shared
            .lock()
            .unwrap()
            .script
            .extend(replies.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }
}

impl SmtpServer {
    /// Waits (up to 15 s) until a message to `to` whose subject contains `subject` arrives.
    /// The sender delivers in the background, so this polls what the server received.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Received {
        self.wait_for_count(to, subject, 1).await.remove(0)
    }

    /// Waits until `n` such messages have arrived; returns them in order of arrival.
    pub async fn wait_for_count(&self, to: &str, subject: &str, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let found: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t == to) && m.header("Subject").contains(subject))
                .collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not {n} mail(s) to {to} about {subject}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The first https?:// link in a message's text part that contains `path`.
    pub fn link(m: &Received, path: &str) -> String {
        m.part("text/plain")
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(path))
            .unwrap_or_else(|| panic!("no link to {path} in {}", m.part("text/plain")))
            .to_owned()
    }
}
