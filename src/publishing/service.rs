//! 信息发布: platform admins write for every scope, a unit's admins for their unit. A unit's
//! article shows on the unit's pages once submitted and platform-wide once a platform admin
//! publishes it (or is returned with a reason). Drafts and returned articles are seen by their
//! author and the platform admins only; anyone else gets 404. Editing a visible article keeps
//! what it said before.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::files;
use super::model::*;
use super::render;
use super::store::{self, Filter, Listing};
use crate::audit::{self, Target};
use crate::auth::{allowed, authorize, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::page_url, templates::Notice};
use crate::navigation::store as catalogue;
use crate::types::{
    ArticleId, AttachmentId, InstrumentId, PageRequest, Paged, SubPlatformId, UnitId,
};
use crate::users::store as people;
use crate::validate;

/// How the platform's own articles are signed.
pub const PLATFORM: &str = "平台";

fn missing() -> AppError {
    AppError::NotFound { what: "article" }
}

/// Refuses a change made on a copy older than the row (`version`: its `updated_at` as read).
fn same_version(row: &ArticleRow, version: Option<&str>) -> AppResult<()> {
    let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let read = validate::instant("version", v)?;
    if read != row.updated_at.and_utc() {
        return Err(AppError::conflict(
            ErrorCode::EditConflict,
            "文章在您打开之后已被修改，请刷新页面查看最新内容后再操作 (changed since you read it)",
        ));
    }
    Ok(())
}

/// Who may write for a scope: the platform's admins for every one, a unit's admins for it.
fn write_action(row_unit: Option<UnitId>) -> Action {
    Action::Publish { unit: row_unit }
}

/// Whether `who` writes this article: its author while still allowed to write for its scope,
/// or a platform admin.
fn writes(who: &Principal, row: &ArticleRow) -> bool {
    allowed(who, Action::ApproveArticles)
        || (row.author_id == who.id && allowed(who, write_action(row.unit_id)))
}

/// An optional instant from 2000 to 2100 (a year 9999 sorts wrongly as SQLite text).
fn instant(field: &str, v: &Option<String>) -> AppResult<Option<NaiveDateTime>> {
    use chrono::Datelike;
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => {
            let at = validate::instant(field, t)?;
            if !(2000..=2100).contains(&at.year()) {
                return Err(AppError::invalid(
                    field,
                    "2000 年至 2100 年之间 (2000..=2100)",
                ));
            }
            Ok(Some(naive(at)))
        }
    }
}

/// The validated text fields, over what the row had (a patch leaves absent fields alone).
struct Fields {
    kind: ArticleKind,
    title: String,
    summary: String,
    body: String,
    publish_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    pinned: bool,
    event_at: Option<NaiveDateTime>,
    event_place: String,
    signup_limit: Option<i32>,
    /// Replaces the training's instruments when given.
    instruments: Option<Vec<InstrumentId>>,
}

/// Instruments a training may name.
const MAX_TRAINING_INSTRUMENTS: usize = 20;

fn fields(input: &ArticleInput, base: Option<&ArticleRow>) -> AppResult<Fields> {
    let kind = match (&input.kind, base) {
        (Some(k), _) => ArticleKind::from_code(k).ok_or_else(|| {
            AppError::invalid(
                "kind",
                format!("文章类型 (one of {})", ArticleKind::codes()),
            )
        })?,
        (None, Some(b)) => b.kind,
        (None, None) => return Err(AppError::invalid("kind", "请选择文章类型 (required)")),
    };
    let text = |field: &str, v: &Option<String>, old: Option<&String>, min, max| match v {
        Some(v) => validate::text(field, v, min, max),
        None => match old {
            Some(o) => Ok(o.clone()),
            None => validate::text(field, "", min, max),
        },
    };
    let title = text("title", &input.title, base.map(|b| &b.title), 1, 100)?;
    let title = validate::line("title", &title, 1, 100)?;
    let summary = text("summary", &input.summary, base.map(|b| &b.summary), 0, 300)?;
    let body = text("body", &input.body, base.map(|b| &b.body), 0, 50_000)?;
    // Once out, an article keeps its date unless given another: emptying it must not take
    // it off every list.
    let out = base.is_some_and(|b| {
        matches!(
            b.status,
            ArticleStatus::Submitted | ArticleStatus::Published
        )
    });
    if out && base.is_some_and(|b| b.kind != kind) {
        return Err(AppError::invalid(
            "kind",
            "文章发出后不能更改类型 (fixed once submitted or published)",
        ));
    }
    let publish_at = match instant("publish_at", &input.publish_at)? {
        Some(t) => Some(t),
        None if input.publish_at.is_some() && !out => None,
        None => base.and_then(|b| b.publish_at),
    };
    let ends_at = match &input.ends_at {
        Some(_) => instant("ends_at", &input.ends_at)?,
        None => base.and_then(|b| b.ends_at),
    };
    if let (Some(p), Some(e)) = (publish_at, ends_at) {
        if e <= p {
            return Err(AppError::invalid(
                "ends_at",
                "结束时间须晚于发布时间 (after publish_at)",
            ));
        }
    }
    let event_at = match &input.event_at {
        Some(_) => instant("event_at", &input.event_at)?,
        None => base.and_then(|b| b.event_at),
    };
    let event_place = match &input.event_place {
        Some(p) => validate::line("event_place", p, 0, 100)?,
        None => base.map(|b| b.event_place.clone()).unwrap_or_default(),
    };
    let signup_limit = match input.signup_limit {
        Some(0) => None,
        Some(n) if (1..=100_000).contains(&n) => Some(n),
        Some(_) => {
            return Err(AppError::invalid(
                "signup_limit",
                "报名人数上限为 1 到 100000，不限填 0 (1..=100000, 0 for none)",
            ))
        }
        None => base.and_then(|b| b.signup_limit),
    };
    let instruments = match &input.instrument_ids {
        Some(ids) if ids.len() > MAX_TRAINING_INSTRUMENTS => {
            return Err(AppError::invalid(
                "instrument_ids",
                format!("at most {MAX_TRAINING_INSTRUMENTS}"),
            ))
        }
        Some(ids) => {
            let mut ids: Vec<InstrumentId> = ids.iter().copied().map(InstrumentId).collect();
            ids.sort_unstable_by_key(|i| i.0);
            ids.dedup();
            Some(ids)
        }
        None => None,
    };
    Ok(Fields {
        kind,
        title,
        summary,
        body,
        publish_at,
        ends_at,
        pinned: input.pinned.or(base.map(|b| b.pinned)).unwrap_or(false),
        event_at,
        event_place,
        signup_limit,
        instruments,
    })
}

/// The training's instruments exist.
fn check_instruments(conn: &mut DbConnection, ids: &Option<Vec<InstrumentId>>) -> AppResult<()> {
    for id in ids.iter().flatten() {
        if catalogue::find_instrument(conn, *id)?.is_none() {
            return Err(AppError::invalid(
                "instrument_ids",
                format!("没有仪器 #{id} (no such instrument)"),
            ));
        }
    }
    Ok(())
}

/// Writes a draft.
pub fn create(
    conn: &mut DbConnection,
    who: &Principal,
    input: ArticleInput,
    now: DateTime<Utc>,
) -> AppResult<Article> {
    let scope = input
        .scope
        .as_deref()
        .and_then(Scope::from_code)
        .ok_or_else(|| AppError::invalid("scope", format!("one of {}", Scope::codes())))?;
    let (sub_platform, unit) = match scope {
        Scope::Platform => (None, None),
        Scope::SubPlatform => {
            let id = SubPlatformId(input.sub_platform_id.unwrap_or(0));
            catalogue::find_sub_platform(conn, id)?.ok_or_else(|| {
                AppError::invalid("sub_platform_id", "没有这个子平台 (no such sub-platform)")
            })?;
            (Some(id), None)
        }
        Scope::Unit => {
            let id = UnitId(input.unit_id.unwrap_or(0));
            catalogue::find_unit(conn, id)?
                .ok_or_else(|| AppError::invalid("unit_id", "没有这个单位 (no such unit)"))?;
            (None, Some(id))
        }
    };
    authorize(who, write_action(unit))?;
    let f = fields(&input, None)?;
    check_instruments(conn, &f.instruments)?;
    let id = db::write_tx(conn, |c| -> AppResult<ArticleId> {
        let id = store::insert(
            c,
            &NewArticle {
                kind: f.kind,
                scope,
                sub_platform_id: sub_platform,
                unit_id: unit,
                title: f.title,
                summary: f.summary,
                body: f.body,
                status: ArticleStatus::Draft,
                publish_at: f.publish_at,
                ends_at: f.ends_at,
                pinned: f.pinned,
                event_at: f.event_at,
                event_place: f.event_place.clone(),
                signup_limit: f.signup_limit,
                author_id: who.id,
                created_at: naive(now),
                updated_at: naive(now),
            },
        )?;
        if let Some(ids) = &f.instruments {
            store::set_instruments(c, id, ids)?;
        }
        Ok(id)
    })?;
    get(conn, Some(who), id, now)
}

/// Changes an article; a visible one keeps what it said before as a revision.
pub fn edit(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    input: ArticleInput,
    now: DateTime<Utc>,
) -> AppResult<Article> {
    let before = readable(conn, Some(who), id, now)?;
    if !writes(who, &before) {
        return Err(AppError::forbidden(
            "只有作者和平台管理员可以修改 (not the caller's article)",
        ));
    }
    if input.scope.is_some() || input.unit_id.is_some() || input.sub_platform_id.is_some() {
        return Err(AppError::invalid(
            "scope",
            "发布范围写定后不能修改 (fixed once written)",
        ));
    }
    same_version(&before, input.version.as_deref())?;
    let f = fields(&input, Some(&before))?;
    check_instruments(conn, &f.instruments)?;
    let mut row = before.clone();
    row.kind = f.kind;
    row.title = f.title;
    row.summary = f.summary;
    row.body = f.body;
    row.publish_at = f.publish_at;
    row.ends_at = f.ends_at;
    row.pinned = f.pinned;
    row.event_at = f.event_at;
    row.event_place = f.event_place;
    row.signup_limit = f.signup_limit;
    row.updated_at = naive(now);
    let changed_text =
        row.title != before.title || row.summary != before.summary || row.body != before.body;
    // A unit's change to what the platform approved goes back to the platform (it stays on
    // the unit's pages meanwhile); the platform's own edits stand.
    if needs_review(who, &before) {
        row.status = ArticleStatus::Submitted;
        row.published_at = None;
    }
    db::write_tx(conn, |c| -> AppResult<()> {
        if store::update(c, &row, &before)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::EditConflict,
                "文章已被他人修改，请刷新后再改 (changed meanwhile)",
            ));
        }
        if let Some(ids) = &f.instruments {
            store::set_instruments(c, id, ids)?;
        }
        if changed_text && before.is_public(naive(now)) {
            store::insert_revision(
                c,
                &NewRevision {
                    article_id: id,
                    title: before.title.clone(),
                    summary: before.summary.clone(),
                    body: before.body.clone(),
                    edited_by: who.id,
                    edited_at: naive(now),
                },
            )?;
        }
        Ok(())
    })?;
    get(conn, Some(who), id, now)
}

/// Submits, publishes or returns an article (see [`next`]).
pub fn step(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    step: ArticleStep,
    input: ArticleStepInput,
    now: DateTime<Utc>,
) -> AppResult<Article> {
    let before = readable(conn, Some(who), id, now)?;
    let platform = allowed(who, Action::ApproveArticles);
    match step {
        ArticleStep::Submit if !writes(who, &before) => {
            return Err(AppError::forbidden(
                "只有作者可以提交 (not the caller's article)",
            ))
        }
        ArticleStep::Publish | ArticleStep::Return if !platform => {
            return Err(AppError::forbidden(
                "平台管理员审核后发布 (the platform's admins publish platform-wide)",
            ))
        }
        _ => {}
    }
    if step == ArticleStep::Submit && before.scope != Scope::Unit {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "平台和子平台的文章由平台管理员直接发布 (publish it instead)",
        ));
    }
    same_version(&before, input.version.as_deref())?;
    let Some(to) = next(before.status, step, platform) else {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "文章当前为「{}」，不能{} (the step does not apply now)",
                before.status.label_zh(),
                step.label_zh()
            ),
        ));
    };
    let reason = if step == ArticleStep::Return {
        Some(validate::text("reason", &input.reason, 1, 500)?)
    } else {
        None
    };
    let mut row = before.clone();
    row.status = to;
    row.updated_at = naive(now);
    row.return_reason = reason.clone();
    // Out now, or at its scheduled time; approving a unit's article dates it on the platform
    // lists from the approval, not from its submission.
    if matches!(step, ArticleStep::Submit | ArticleStep::Publish) {
        let at = before.publish_at.map_or(naive(now), |t| t.max(naive(now)));
        row.publish_at = Some(at);
        if row.ends_at.is_some_and(|e| e <= at) {
            return Err(AppError::invalid(
                "ends_at",
                "下线时间已过，请先修改 (ends_at has passed: change it first)",
            ));
        }
    }
    if step == ArticleStep::Publish {
        row.published_at = Some(naive(now));
    }
    db::write_tx(conn, |c| -> AppResult<()> {
        if store::update(c, &row, &before)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::EditConflict,
                "文章已被他人处理 (changed meanwhile)",
            ));
        }
        // Out to a wider audience: the subscribers' job tells those who have not heard of it.
        if matches!(step, ArticleStep::Submit | ArticleStep::Publish) {
            super::subscriptions::store::reset_announcement(c, id)?;
        }
        audit::record(
            c,
            Some(who.id),
            &format!("article.{}", step.code()),
            Target("article", Some(id.0)),
            Some(&before.status),
            Some(&to),
            naive(now),
        )?;
        tell(c, &row, step, reason.as_deref(), now)
    })?;
    get(conn, Some(who), id, now)
}

/// Submitting tells the platform's admins; returning or publishing a unit's article tells its
/// author.
fn tell(
    conn: &mut DbConnection,
    row: &ArticleRow,
    step: ArticleStep,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let link = page_url(&format!("/articles/{}", row.id));
    let (to, subject, text) = match step {
        ArticleStep::Submit => (
            people::admins(conn, None)?,
            format!("待审核文章：{}", row.title),
            "一个单位提交了文章，请审核后发布到平台，或说明理由退回。".to_owned(),
        ),
        ArticleStep::Return => (
            author(conn, row)?,
            format!("文章被退回：{}", row.title),
            format!("退回理由：{}", reason.unwrap_or_default()),
        ),
        ArticleStep::Publish if row.scope == Scope::Unit => (
            author(conn, row)?,
            format!("文章已发布到平台：{}", row.title),
            "平台管理员已审核通过，文章已在平台栏目中发布。".to_owned(),
        ),
        ArticleStep::Publish => return Ok(()),
    };
    for (email, name) in to {
        mail::enqueue(
            conn,
            &Notice {
                kind: "article",
                to: &email,
                name: &name,
                subject: &subject,
                paragraphs: vec![text.clone()],
                link: Some(("查看文章", &link)),
                footer: "",
                related: Some(("article", row.id.0)),
            }
            .render()?,
            naive(now),
        )?;
    }
    Ok(())
}

fn author(conn: &mut DbConnection, row: &ArticleRow) -> AppResult<Vec<(String, String)>> {
    Ok(people::find_user(conn, row.author_id)?
        .map(|u| vec![(u.email, u.name)])
        .unwrap_or_default())
}

/// The article if `who` may read it now: public, or theirs to write; else 404.
fn readable(
    conn: &mut DbConnection,
    who: Option<&Principal>,
    id: ArticleId,
    now: DateTime<Utc>,
) -> AppResult<ArticleRow> {
    store::find(conn, id)?
        .filter(|r| r.is_public(naive(now)) || who.is_some_and(|w| writes(w, r)))
        .ok_or_else(missing)
}

/// One article, rendered.
pub fn get(
    conn: &mut DbConnection,
    who: Option<&Principal>,
    id: ArticleId,
    now: DateTime<Utc>,
) -> AppResult<Article> {
    let row = readable(conn, who, id, now)?;
    let revisions = match who {
        Some(w) if writes(w, &row) => store::revisions(conn, id)?,
        _ => 0,
    };
    let training = if row.kind == ArticleKind::Training {
        Some(Training {
            event_at: row.event_at.map(|t| t.and_utc()),
            place: row.event_place.clone(),
            instruments: store::instruments_of(conn, id)?
                .into_iter()
                .map(|(id, name)| TrainingInstrument { id, name })
                .collect(),
            signup_limit: row.signup_limit,
            signups: store::signups(conn, id)?,
            signed_up: match who {
                Some(w) => store::signed_up(conn, id, w.id)?,
                None => false,
            },
        })
    } else {
        None
    };
    let attachments = store::attachments_of(conn, id)?
        .into_iter()
        .map(Attachment::of)
        .collect();
    let mut a = shown_one(conn, row, true)?;
    a.revisions = revisions;
    a.training = training;
    a.attachments = attachments;
    Ok(a)
}

/// Files an article may carry.
pub const MAX_ATTACHMENTS: i64 = 20;

/// The article if `who` writes it (checked before an upload is read), else 404 or 403.
pub fn writable(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    now: DateTime<Utc>,
) -> AppResult<ArticleRow> {
    let row = readable(conn, Some(who), id, now)?;
    if !writes(who, &row) {
        return Err(AppError::forbidden(
            "只有作者和平台管理员可以修改 (not the caller's article)",
        ));
    }
    Ok(row)
}

/// Refuses a file beyond the article's [`MAX_ATTACHMENTS`] (checked before an upload is read,
/// and again under the article's lock).
pub fn room_for_a_file(conn: &mut DbConnection, id: ArticleId) -> AppResult<()> {
    if store::attachments_of(conn, id)?.len() as i64 >= MAX_ATTACHMENTS {
        return Err(AppError::invalid(
            "file",
            format!("每篇文章最多 {MAX_ATTACHMENTS} 个附件 (at most {MAX_ATTACHMENTS} files)"),
        ));
    }
    Ok(())
}

/// A unit's change to what the platform approved goes back to the platform; the platform's
/// own changes stand.
fn needs_review(who: &Principal, row: &ArticleRow) -> bool {
    !allowed(who, Action::ApproveArticles)
        && row.status == ArticleStatus::Published
        && row.scope == Scope::Unit
}

/// A file checked and kept, ready to be attached.
pub struct Received {
    pub name: String,
    pub content_type: &'static str,
    pub size: i64,
    pub sha256: String,
}

/// Checks an upload's name and type (from its bytes) and keeps its bytes under `dir`.
pub fn receive(dir: &std::path::Path, upload: &files::Upload) -> AppResult<Received> {
    let name = files::clean_name(&upload.name)?;
    let content_type = files::kind_of(&name, &upload.bytes)?;
    let sha256 = files::digest(&upload.bytes);
    files::store(dir, &sha256, &upload.bytes)?;
    Ok(Received {
        name,
        content_type,
        size: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
        sha256,
    })
}

/// Attaches a received file to the article.
pub fn attach(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    file: Received,
    now: DateTime<Utc>,
) -> AppResult<Attachment> {
    let article = writable(conn, who, id, now)?;
    let row = db::write_tx(conn, |c| -> AppResult<AttachmentRow> {
        store::lock(c, id)?;
        room_for_a_file(c, id)?;
        store::touch(c, id, naive(now), needs_review(who, &article))?;
        let new = NewAttachment {
            article_id: id,
            name: file.name,
            content_type: file.content_type.to_owned(),
            size: file.size,
            sha256: file.sha256,
            uploaded_by: who.id,
            created_at: naive(now),
        };
        let aid = store::insert_attachment(c, &new)?;
        store::find_attachment(c, id, aid)?.ok_or_else(missing)
    })?;
    Ok(Attachment::of(row))
}

/// Takes a file off the article.
pub fn detach(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    file: AttachmentId,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let article = writable(conn, who, id, now)?;
    db::write_tx(conn, |c| -> AppResult<()> {
        if store::delete_attachment(c, id, file)? == 0 {
            return Err(AppError::NotFound { what: "attachment" });
        }
        store::touch(c, id, naive(now), needs_review(who, &article))?;
        Ok(())
    })
}

/// A file of an article `who` may read, with where its bytes are.
pub fn attachment(
    conn: &mut DbConnection,
    who: Option<&Principal>,
    id: ArticleId,
    file: AttachmentId,
    now: DateTime<Utc>,
) -> AppResult<AttachmentRow> {
    readable(conn, who, id, now)?;
    store::find_attachment(conn, id, file)?.ok_or(AppError::NotFound { what: "attachment" })
}

/// A training everyone may read now, or 404.
fn public_training(
    conn: &mut DbConnection,
    id: ArticleId,
    now: DateTime<Utc>,
) -> AppResult<ArticleRow> {
    store::find(conn, id)?
        .filter(|r| r.is_public(naive(now)) && r.kind == ArticleKind::Training)
        .ok_or(AppError::NotFound { what: "training" })
}

/// A signed-in, verified person takes a place in a published training, before it begins and
/// while places are left; once (a double click signs up once).
pub fn sign_up(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    now: DateTime<Utc>,
) -> AppResult<Article> {
    let row = public_training(conn, id, now)?;
    authorize(who, Action::Apply)?;
    if row.event_at.is_some_and(|t| t <= naive(now)) {
        return Err(AppError::conflict(
            ErrorCode::SignupClosed,
            "培训已开始，报名已截止 (the training has begun)",
        ));
    }
    let taken = || {
        AppError::conflict(
            ErrorCode::AlreadySignedUp,
            "您已报名这次培训 (signed up already)",
        )
    };
    db::write_tx(conn, |c| -> AppResult<()> {
        store::lock(c, id)?;
        // Read again under the lock: the limit or the time may have changed meanwhile.
        let row = public_training(c, id, now)?;
        if row.event_at.is_some_and(|t| t <= naive(now)) {
            return Err(AppError::conflict(
                ErrorCode::SignupClosed,
                "培训已开始，报名已截止 (the training has begun)",
            ));
        }
        if store::signed_up(c, id, who.id)? {
            return Err(taken());
        }
        if let Some(limit) = row.signup_limit {
            if store::signups(c, id)? >= i64::from(limit) {
                return Err(AppError::conflict(
                    ErrorCode::TrainingFull,
                    format!("报名人数已满（{limit} 人） (every place is taken)"),
                ));
            }
        }
        store::sign_up(c, id, who.id, naive(now)).map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => taken(),
            e => e.into(),
        })
    })?;
    get(conn, Some(who), id, now)
}

/// The person gives their place back, before the training begins.
pub fn cancel_signup(
    conn: &mut DbConnection,
    who: &Principal,
    id: ArticleId,
    now: DateTime<Utc>,
) -> AppResult<Article> {
    let row = public_training(conn, id, now)?;
    if row.event_at.is_some_and(|t| t <= naive(now)) {
        return Err(AppError::conflict(
            ErrorCode::SignupClosed,
            "培训已开始，不能取消报名 (the training has begun)",
        ));
    }
    if !db::write_tx(conn, |c| {
        Ok::<_, AppError>(store::cancel(c, id, who.id, naive(now))?)
    })? {
        return Err(AppError::NotFound { what: "sign-up" });
    }
    get(conn, Some(who), id, now)
}

/// A public list: platform-wide, a sub-platform's or a unit's.
pub fn list(
    conn: &mut DbConnection,
    listing: Listing,
    filter: &Filter,
    now: DateTime<Utc>,
    page: PageRequest,
) -> AppResult<Paged<Article>> {
    let (rows, total) = store::public(conn, listing, filter, naive(now), page)?;
    Ok(Paged::new(many(conn, rows, false)?, total, page))
}

/// The first `n` of a public list, without counting it (the home page's columns).
pub fn latest(
    conn: &mut DbConnection,
    listing: Listing,
    kind: ArticleKind,
    now: DateTime<Utc>,
    n: i64,
) -> AppResult<Vec<Article>> {
    let page = PageRequest {
        page: 1,
        per_page: n,
    };
    let rows = store::latest(conn, listing, &Filter::kind(Some(kind)), naive(now), page)?;
    many(conn, rows, false)
}

/// The latest `n` of a list with their bodies rendered: a feed's entries.
pub fn feed(
    conn: &mut DbConnection,
    listing: Listing,
    kind: Option<ArticleKind>,
    now: DateTime<Utc>,
    n: i64,
) -> AppResult<Vec<Article>> {
    let page = PageRequest {
        page: 1,
        per_page: n,
    };
    let rows = store::latest(conn, listing, &Filter::kind(kind), naive(now), page)?;
    many(conn, rows, true)
}

/// What the caller may edit: all for the platform's admins, their unit's for a unit's admins.
pub fn editable(
    conn: &mut DbConnection,
    who: &Principal,
    page: PageRequest,
) -> AppResult<Paged<Article>> {
    let unit = if allowed(who, Action::ApproveArticles) {
        None
    } else {
        match who.unit {
            Some(u) if allowed(who, write_action(Some(u))) => Some(u),
            _ => {
                return Err(AppError::forbidden(
                    "仅限单位管理员和平台管理员 (administrators only)",
                ))
            }
        }
    };
    // Another writer's drafts and returned articles stay theirs.
    let author = unit.map(|_| who.id);
    let (rows, total) = store::editable(conn, unit, author, page)?;
    Ok(Paged::new(many(conn, rows, false)?, total, page))
}

/// Articles as shown, their publishers' names read in one query per kind of publisher.
fn many(conn: &mut DbConnection, rows: Vec<ArticleRow>, whole: bool) -> AppResult<Vec<Article>> {
    let names = publishers(conn, &rows)?;
    Ok(rows
        .into_iter()
        .zip(names)
        .map(|(r, publisher)| shown(r, publisher, whole))
        .collect())
}

/// Who publishes each of `rows`: the sub-platform's or unit's name, or none for the platform;
/// read in one query per kind of publisher.
pub fn publishers(conn: &mut DbConnection, rows: &[ArticleRow]) -> AppResult<Vec<Option<String>>> {
    let (units, sub_platforms) = store::publishers(conn, rows)?;
    Ok(rows
        .iter()
        .map(|r| match (r.scope, r.sub_platform_id, r.unit_id) {
            (Scope::SubPlatform, Some(sp), _) => sub_platforms.get(&sp).cloned(),
            (Scope::Unit, _, Some(u)) => units.get(&u).cloned(),
            _ => None,
        })
        .collect())
}

fn shown_one(conn: &mut DbConnection, r: ArticleRow, whole: bool) -> AppResult<Article> {
    Ok(many(conn, vec![r], whole)?.remove(0))
}

/// `publisher`: the sub-platform's or unit's name (none: the platform).
fn shown(r: ArticleRow, publisher: Option<String>, whole: bool) -> Article {
    let publisher = publisher.unwrap_or_else(|| PLATFORM.to_owned());
    Article {
        id: r.id,
        kind: r.kind,
        kind_label: r.kind.label_zh(),
        scope: r.scope,
        sub_platform_id: r.sub_platform_id,
        unit_id: r.unit_id,
        publisher,
        author_id: r.author_id,
        title: r.title,
        summary: r.summary,
        body_html: if whole {
            render::markdown(&r.body)
        } else {
            String::new()
        },
        body: if whole { r.body } else { String::new() },
        status: r.status,
        status_label: r.status.label_zh(),
        return_reason: r.return_reason,
        publish_at: r.publish_at.map(|t| t.and_utc()),
        ends_at: r.ends_at.map(|t| t.and_utc()),
        pinned: r.pinned,
        updated_at: r.updated_at.and_utc(),
        revisions: 0,
        training: None,
        attachments: Vec::new(),
    }
}
