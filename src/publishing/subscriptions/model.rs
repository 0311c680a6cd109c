//! Subscriptions as stored and shown.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::subscriptions;
use crate::publishing::model::{ArticleKind, ArticleRow, ArticleStatus, Scope};
use crate::types::{code_enum, SubscriptionId, UserId};

code_enum! {
    /// How a subscriber hears of a new article.
    pub enum Delivery {
        Immediate = "immediate" / "即时邮件",
        Daily = "daily" / "每日摘要（北京时间 8:00）",
    }
}

/// The stored value of "every kind".
pub const ALL_KINDS: &str = "all";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
pub struct SubscriptionRow {
    pub id: SubscriptionId,
    pub user_id: UserId,
    /// An article kind's code, or `all`.
    pub kind: String,
    pub scope: Scope,
    /// The sub-platform's or unit's id; 0 platform-wide.
    pub scope_id: i64,
    pub mode: Delivery,
    pub token: String,
    pub created_at: NaiveDateTime,
}

impl SubscriptionRow {
    pub fn kind(&self) -> Option<ArticleKind> {
        ArticleKind::from_code(&self.kind)
    }

    /// Whether a public article belongs to the list this follows: the platform-wide lists
    /// hold what the platform published, a sub-platform's its published articles, a unit's
    /// also what it sent to the platform (as `store::public` lists them).
    pub fn covers(&self, a: &ArticleRow) -> bool {
        let kind = self.kind == ALL_KINDS || self.kind == a.kind.code();
        let published = a.status == ArticleStatus::Published;
        kind && match self.scope {
            Scope::Platform => published,
            Scope::SubPlatform => {
                published && a.sub_platform_id.map(|s| s.0) == Some(self.scope_id)
            }
            Scope::Unit => a.unit_id.map(|u| u.0) == Some(self.scope_id),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct NewSubscription {
    pub user_id: UserId,
    pub kind: String,
    pub scope: Scope,
    pub scope_id: i64,
    pub mode: Delivery,
    pub token: String,
    pub created_at: NaiveDateTime,
}

/// Body of `POST /api/v1/subscriptions`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// `all` (the default) or one kind: `news`, `notice`, `policy`, `training`, `case`.
    pub kind: Option<String>,
    /// `platform` (the platform-wide lists, the default), `sub_platform` or `unit` (with
    /// `scope_id`).
    pub scope: Option<String>,
    /// The sub-platform's or unit's id.
    pub scope_id: Option<i64>,
    /// `immediate` (the default) or `daily`.
    pub mode: Option<String>,
}

/// A subscription as its owner sees it (never with its token).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: SubscriptionId,
    /// `all` or a kind's code.
    pub kind: String,
    pub kind_label: &'static str,
    pub scope: Scope,
    pub scope_id: Option<i64>,
    /// 平台, or the sub-platform's or unit's name.
    pub scope_name: String,
    pub mode: Delivery,
    pub mode_label: &'static str,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// What it follows, in words: 「某单位 · 通知公告」.
    pub fn describe(&self) -> String {
        format!("{} · {}", self.scope_name, self.kind_label)
    }
}
