//! Articles as stored and shown, and their life: the states and the steps between them live
//! here and nowhere else.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{article_attachments, article_revisions, articles};
use crate::types::{code_enum, ArticleId, AttachmentId, SubPlatformId, UnitId, UserId};

code_enum! {
    pub enum ArticleKind {
        News = "news" / "新闻动态",
        Notice = "notice" / "通知公告",
        Policy = "policy" / "政策法规",
        Training = "training" / "培训",
        Case = "case" / "共享案例",
    }
}

code_enum! {
    /// Whose article it is: the platform's, a sub-platform's or a unit's.
    pub enum Scope {
        Platform = "platform" / "平台",
        SubPlatform = "sub_platform" / "子平台",
        Unit = "unit" / "单位",
    }
}

code_enum! {
    /// `submitted`: a unit's article sent to the platform, on the unit's pages already.
    pub enum ArticleStatus {
        Draft = "draft" / "草稿",
        Submitted = "submitted" / "待审核",
        Published = "published" / "已发布",
        Returned = "returned" / "已退回",
    }
}

code_enum! {
    /// A unit's admin submits (to the platform, and onto the unit's pages); a platform admin
    /// publishes platform-wide, or returns a unit's article with a reason.
    pub enum ArticleStep {
        Submit = "submit" / "提交审核",
        Publish = "publish" / "发布",
        Return = "return" / "退回",
    }
}

/// The one table of transitions; `platform` is whether a platform admin takes the step.
pub fn next(from: ArticleStatus, step: ArticleStep, platform: bool) -> Option<ArticleStatus> {
    use ArticleStatus as S;
    use ArticleStep::*;
    Some(match (from, step, platform) {
        (S::Draft | S::Returned, Submit, false) => S::Submitted,
        (S::Draft | S::Returned | S::Submitted, Publish, true) => S::Published,
        (S::Submitted, Return, true) => S::Returned,
        _ => return None,
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles)]
pub struct ArticleRow {
    pub id: ArticleId,
    pub kind: ArticleKind,
    pub scope: Scope,
    pub sub_platform_id: Option<SubPlatformId>,
    pub unit_id: Option<UnitId>,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub status: ArticleStatus,
    pub return_reason: Option<String>,
    pub publish_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub pinned: bool,
    pub event_at: Option<NaiveDateTime>,
    pub event_place: String,
    pub signup_limit: Option<i32>,
    pub author_id: UserId,
    pub published_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When subscribers were told (NULL: not yet).
    pub announced_at: Option<NaiveDateTime>,
}

impl ArticleRow {
    /// Readable by everyone at `now`: published (or, for a unit's article, submitted: it is on
    /// the unit's pages at once) and its time has come.
    pub fn is_public(&self, now: NaiveDateTime) -> bool {
        let shown = match self.status {
            ArticleStatus::Published => true,
            ArticleStatus::Submitted => self.scope == Scope::Unit,
            _ => false,
        };
        shown && self.publish_at.is_some_and(|t| t <= now)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = articles, treat_none_as_default_value = false)]
pub struct NewArticle {
    pub kind: ArticleKind,
    pub scope: Scope,
    pub sub_platform_id: Option<SubPlatformId>,
    pub unit_id: Option<UnitId>,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub status: ArticleStatus,
    pub publish_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub pinned: bool,
    pub event_at: Option<NaiveDateTime>,
    pub event_place: String,
    pub signup_limit: Option<i32>,
    pub author_id: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = article_revisions)]
pub struct NewRevision {
    pub article_id: ArticleId,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub edited_by: UserId,
    pub edited_at: NaiveDateTime,
}

/// Body of `POST /api/v1/articles` and `PATCH /api/v1/articles/{id}` (on a patch, absent
/// fields stay as they are).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// `news`, `notice`, `policy`, `training` or `case`.
    pub kind: Option<String>,
    /// `platform`, `sub_platform` (with `sub_platform_id`) or `unit` (with `unit_id`); fixed
    /// once written.
    pub scope: Option<String>,
    pub sub_platform_id: Option<i64>,
    pub unit_id: Option<i64>,
    /// 1 to 100 characters.
    pub title: Option<String>,
    /// At most 300 characters.
    pub summary: Option<String>,
    /// Markdown, at most 50,000 characters; rendered on the server and cleaned (no scripts,
    /// no event attributes, no `javascript:` links).
    pub body: Option<String>,
    /// Show from this instant, RFC 3339 (default: when published; empty: the same).
    pub publish_at: Option<String>,
    /// Leave the lists after this instant, RFC 3339 (the address keeps working; empty: never).
    pub ends_at: Option<String>,
    /// Shown first in the lists.
    pub pinned: Option<bool>,
    /// Training: when it begins, RFC 3339 (sign-ups close then).
    pub event_at: Option<String>,
    /// Training: where (at most 100 characters).
    pub event_place: Option<String>,
    /// Training: how many may sign up (none or 0: no limit).
    pub signup_limit: Option<i32>,
    /// Training: the instruments it is about.
    pub instrument_ids: Option<Vec<i64>>,
    /// The article's `updated_at` as the caller last read it: if it changed since (another
    /// tab, another writer), `edit_conflict` and nothing is written.
    pub version: Option<String>,
}

/// Body of `POST /api/v1/articles/{id}/{step}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleStepInput {
    /// `return`: why (1 to 500 characters).
    #[serde(default)]
    pub reason: String,
    /// The article's `updated_at` as the caller last read it: approving or returning a text
    /// that changed since is `edit_conflict`.
    pub version: Option<String>,
}

/// An article as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Article {
    pub id: ArticleId,
    pub kind: ArticleKind,
    pub kind_label: &'static str,
    pub scope: Scope,
    pub sub_platform_id: Option<SubPlatformId>,
    pub unit_id: Option<UnitId>,
    /// Who publishes it: 平台, the sub-platform's or the unit's name.
    pub publisher: String,
    pub author_id: UserId,
    pub title: String,
    pub summary: String,
    /// The Markdown as written (empty in lists).
    pub body: String,
    /// The body rendered and cleaned (empty in lists).
    pub body_html: String,
    pub status: ArticleStatus,
    pub status_label: &'static str,
    pub return_reason: Option<String>,
    pub publish_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub pinned: bool,
    pub updated_at: DateTime<Utc>,
    /// Earlier versions kept (on a single article for its writers).
    pub revisions: i64,
    /// Training: when and where, the instruments, the places and who took them.
    pub training: Option<Training>,
    /// Its files (on a single article).
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = article_attachments)]
pub struct AttachmentRow {
    pub id: AttachmentId,
    pub article_id: ArticleId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: UserId,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = article_attachments)]
pub struct NewAttachment {
    pub article_id: ArticleId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: UserId,
    pub created_at: NaiveDateTime,
}

/// A file of an article, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: AttachmentId,
    /// The name it was uploaded with (without any path).
    pub name: String,
    /// Found from its bytes.
    pub content_type: String,
    pub size: i64,
    /// Where to download it over the API (`Content-Disposition: attachment` with the name);
    /// the pages link `/articles/{id}/files/{file}`, which reads the session cookie.
    pub url: String,
}

impl Attachment {
    pub fn of(r: AttachmentRow) -> Attachment {
        Attachment {
            url: format!("/api/v1/articles/{}/attachments/{}", r.article_id, r.id),
            id: r.id,
            name: r.name,
            content_type: r.content_type,
            size: r.size,
        }
    }

    /// The size as a person reads it: 1.2 MB, 350 KB.
    pub fn size_label(&self) -> String {
        match self.size {
            n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
            n => format!("{} KB", (n + 1023) / 1024),
        }
    }
}

/// What a training announcement adds (on a single article).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Training {
    pub event_at: Option<DateTime<Utc>>,
    pub place: String,
    /// (id, name) of the instruments it is about.
    pub instruments: Vec<TrainingInstrument>,
    pub signup_limit: Option<i32>,
    /// Places taken.
    pub signups: i64,
    /// Whether the caller holds one.
    pub signed_up: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainingInstrument {
    pub id: crate::types::InstrumentId,
    pub name: String,
}

impl Article {
    /// The day it is out, Beijing time ("2026年12月7日"), or nothing before it is scheduled.
    pub fn date(&self) -> String {
        self.publish_at
            .map(crate::types::local_date)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ArticleStatus as S;
    use ArticleStep::*;

    #[test]
    fn a_units_article_goes_through_the_platform() {
        assert_eq!(next(S::Draft, Submit, false), Some(S::Submitted));
        assert_eq!(next(S::Submitted, Publish, true), Some(S::Published));
        assert_eq!(next(S::Submitted, Return, true), Some(S::Returned));
        assert_eq!(next(S::Returned, Submit, false), Some(S::Submitted));
        // The unit cannot publish platform-wide, nor the platform return what is not submitted.
        assert_eq!(next(S::Submitted, Publish, false), None);
        assert_eq!(next(S::Draft, Return, true), None);
        assert_eq!(next(S::Published, Submit, false), None);
    }
}
