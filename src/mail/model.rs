//! Outbox rows and the message a caller enqueues.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::mail_outbox;
use crate::types::{code_enum, MessageId};

code_enum! {
    /// Where a message is on its way out.
    pub enum OutboxStatus {
        Queued = "queued" / "待发送",
        Sending = "sending" / "发送中",
        Sent = "sent" / "已发送",
        Dead = "dead" / "发送失败",
    }
}

/// An e-mail ready to be queued: both parts rendered, recipients known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The template it came from, e.g. `test`, `reservation_approved`.
    pub kind: &'static str,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the message is about, e.g. `("reservation", 42)`.
    pub related: Option<(&'static str, i64)>,
    /// A subscription's one-click unsubscribe address (RFC 8058), sent as `List-Unsubscribe`.
    pub list_unsubscribe: Option<String>,
}

#[derive(Debug, Insertable)]
// None is NULL (these columns default to NULL): one SQL text whatever is set, so the
// statement stays prepared instead of being rebuilt per insert.
#[diesel(table_name = mail_outbox, treat_none_as_default_value = false)]
pub struct NewOutboxRow {
    pub kind: String,
    pub recipients: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub related_type: Option<String>,
    pub related_id: Option<i64>,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub list_unsubscribe: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = mail_outbox)]
pub struct OutboxRow {
    pub id: MessageId,
    pub kind: String,
    pub recipients: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub related_type: Option<String>,
    pub related_id: Option<i64>,
    pub status: OutboxStatus,
    pub attempts: i32,
    #[serde(with = "crate::types::utc")]
    pub next_attempt_at: NaiveDateTime,
    #[serde(default, with = "crate::types::utc::option")]
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
    #[serde(default, with = "crate::types::utc::option")]
    pub sent_at: Option<NaiveDateTime>,
    /// Holds the subscriber's secret: not shown, not even to admins.
    #[serde(skip)]
    pub list_unsubscribe: Option<String>,
}

/// The secrets e-mails carry (a sign-in link's token, a one-click unsubscribe link) are for
/// their recipient: whoever reads the queue sees `…` in their place.
pub fn redact(text: &str) -> String {
    const MARKERS: [&str; 2] = ["token=", "/unsubscribe/"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, marker)) = MARKERS
        .iter()
        .filter_map(|m| rest.find(m).map(|i| (i, *m)))
        .min_by_key(|(i, _)| *i)
    {
        let end = at + marker.len();
        out.push_str(&rest[..end]);
        rest = &rest[end..];
        let secret = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        if secret > 0 {
            out.push('…');
        }
        rest = &rest[secret..];
    }
    out.push_str(rest);
    out
}

impl OutboxRow {
    /// The row as the queue's readers see it: secrets in the bodies replaced ([`redact`]).
    pub fn redacted(mut self) -> OutboxRow {
        self.body_text = redact(&self.body_text);
        self.body_html = redact(&self.body_html);
        self
    }

    pub fn recipients(&self) -> Vec<String> {
        serde_json::from_str(&self.recipients).unwrap_or_default()
    }
}

/// The queue at a glance, for operators and `/ready`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueStatus {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub dead: i64,
    #[serde(default, with = "crate::types::utc::option")]
    pub oldest_queued_at: Option<NaiveDateTime>,
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn links_lose_their_secrets() {
        assert_eq!(
            redact("重置：https://x.cn/password-reset/confirm?token=AbC-_9z 过期"),
            "重置：https://x.cn/password-reset/confirm?token=… 过期"
        );
        assert_eq!(
            redact("<a href=\"/unsubscribe/Qw_e\">退订</a> /unsubscribe/ 与 token="),
            "<a href=\"/unsubscribe/…\">退订</a> /unsubscribe/ 与 token="
        );
    }
}
