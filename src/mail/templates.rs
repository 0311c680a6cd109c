//! E-mail bodies: every kind has an HTML and a text template over one shared layout
//! (`templates/mail/`). User data is escaped in the HTML part by askama.

use askama::Template;

use super::model::Message;
use crate::error::AppResult;

/// The name every message is signed with.
pub const PLATFORM: &str = "吉林省大型科研仪器开放共享平台";

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
        subject: format!("【{PLATFORM}】测试邮件 Test message"),
        text: TestText {
            platform: PLATFORM,
            name,
        }
        .render()?,
        html: TestHtml {
            platform: PLATFORM,
            name,
        }
        .render()?,
        related: None,
    })
}
