//! E-mail bodies: every kind has an HTML and a text template over one shared layout
//! (`templates/mail/`). User data is escaped in the HTML part by askama.

use askama::Template;

use super::model::Message;
use crate::error::AppResult;

/// The name every message is signed with until the service sets `platform.name`.
const DEFAULT_PLATFORM: &str = "吉林省大型科研仪器开放共享平台";

static PLATFORM_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Signs every message with `platform.name` from the configuration. Set once, when the
/// service is built (messages are written deep inside services, which hold no settings); a
/// second service in the same process keeps the first one's name.
pub fn set_platform(name: &str) {
    let _ = PLATFORM_NAME.set(name.to_owned());
}

/// The name every message is signed with.
pub fn platform() -> &'static str {
    PLATFORM_NAME.get().map_or(DEFAULT_PLATFORM, String::as_str)
}

static PUBLIC_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Where the service is reached from outside (`server.public_url`), for links in messages
/// written deep inside services (a rating invitation is written with the service record).
pub fn set_public_url(url: &str) {
    let _ = PUBLIC_URL.set(url.trim_end_matches('/').to_owned());
}

/// The address of a page of the service, for a message's link.
pub fn page_url(path: &str) -> String {
    format!("{}{path}", PUBLIC_URL.get().map_or("", String::as_str))
}

#[derive(Template)]
#[template(path = "mail/test.html")]
struct TestHtml<'a> {
    platform: &'a str,
    name: &'a str,
}

#[derive(Template)]
#[template(path = "mail/test.txt")]
struct TestText<'a> {
    platform: &'a str,
    name: &'a str,
}

/// `yiqi mail test`: proves the mail settings from end to end.
pub fn test_message(to: &str, name: &str) -> AppResult<Message> {
    Ok(Message {
        kind: "test",
        to: vec![to.to_owned()],
        subject: format!("【{}】测试邮件 Test message", platform()),
        text: TestText {
            platform: platform(),
            name,
        }
        .render()?,
        html: TestHtml {
            platform: platform(),
            name,
        }
        .render()?,
        related: None,
        list_unsubscribe: None,
    })
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    platform: &'a str,
    name: &'a str,
    paragraphs: &'a [String],
    link: Option<(&'a str, &'a str)>,
    footer: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    platform: &'a str,
    name: &'a str,
    paragraphs: &'a [String],
    link: Option<(&'a str, &'a str)>,
    footer: &'a str,
}

/// A message to one person: a greeting, paragraphs, and optionally one link to act on.
/// Every account and qualification e-mail is one of these.
pub struct Notice<'a> {
    pub kind: &'static str,
    pub to: &'a str,
    pub name: &'a str,
    /// The subject after the platform's name.
    pub subject: &'a str,
    pub paragraphs: Vec<String>,
    pub link: Option<(&'a str, &'a str)>,
    pub footer: &'a str,
    pub related: Option<(&'static str, i64)>,
}

impl Notice<'_> {
    pub fn render(&self) -> AppResult<Message> {
        Ok(Message {
            kind: self.kind,
            to: vec![self.to.to_owned()],
            subject: format!("【{}】{}", platform(), self.subject),
            text: NoticeText {
                platform: platform(),
                name: self.name,
                paragraphs: &self.paragraphs,
                link: self.link,
                footer: self.footer,
            }
            .render()?,
            html: NoticeHtml {
                platform: platform(),
                name: self.name,
                paragraphs: &self.paragraphs,
                link: self.link,
                footer: self.footer,
            }
            .render()?,
            related: self.related,
            list_unsubscribe: None,
        })
    }
}
