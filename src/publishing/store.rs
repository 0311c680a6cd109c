//! The articles' SQL.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{
    article_attachments, article_instruments, article_revisions, articles, instruments,
    training_signups,
};
use crate::db::DbConnection;
use crate::types::{
    ArticleId, AttachmentId, InstrumentId, PageRequest, SubPlatformId, UnitId, UserId,
};

pub fn insert(conn: &mut DbConnection, row: &NewArticle) -> QueryResult<ArticleId> {
    diesel::insert_into(articles::table)
        .values(row)
        .returning(articles::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: ArticleId) -> QueryResult<Option<ArticleRow>> {
    articles::table
        .find(id)
        .select(ArticleRow::as_select())
        .first(conn)
        .optional()
}

/// Writes the editable fields if nobody changed the row since `before` (its `updated_at` is
/// its version): 0 rows otherwise.
pub fn update(
    conn: &mut DbConnection,
    row: &ArticleRow,
    before: &ArticleRow,
) -> QueryResult<usize> {
    diesel::update(
        articles::table
            .find(row.id)
            .filter(articles::status.eq(before.status))
            .filter(articles::updated_at.eq(before.updated_at)),
    )
    .set((
        articles::kind.eq(row.kind),
        articles::title.eq(&row.title),
        articles::summary.eq(&row.summary),
        articles::body.eq(&row.body),
        articles::status.eq(row.status),
        articles::return_reason.eq(&row.return_reason),
        articles::publish_at.eq(row.publish_at),
        articles::ends_at.eq(row.ends_at),
        articles::pinned.eq(row.pinned),
        articles::event_at.eq(row.event_at),
        articles::event_place.eq(&row.event_place),
        articles::signup_limit.eq(row.signup_limit),
        articles::published_at.eq(row.published_at),
        articles::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
}

pub fn insert_revision(conn: &mut DbConnection, r: &NewRevision) -> QueryResult<()> {
    diesel::insert_into(article_revisions::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

pub fn revisions(conn: &mut DbConnection, id: ArticleId) -> QueryResult<i64> {
    article_revisions::table
        .filter(article_revisions::article_id.eq(id))
        .count()
        .get_result(conn)
}

/// Which public list.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    /// The platform-wide lists: published articles of every scope.
    Platform,
    /// A sub-platform's page: its published articles.
    SubPlatform(SubPlatformId),
    /// A unit's page: its articles published or sent to the platform.
    Unit(UnitId),
}

/// What a public list holds besides its listing: one kind, and words every article must
/// contain (in its title, summary or body).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<ArticleKind>,
    pub words: Vec<String>,
}

impl Filter {
    pub fn kind(kind: Option<ArticleKind>) -> Filter {
        Filter {
            kind,
            words: Vec::new(),
        }
    }

    /// A kind and what a person typed: up to five words, separated by spaces.
    pub fn search(kind: Option<ArticleKind>, q: Option<&str>) -> Filter {
        Filter {
            kind,
            words: q
                .unwrap_or_default()
                .split_whitespace()
                .take(5)
                .map(str::to_owned)
                .collect(),
        }
    }
}

diesel::define_sql_function! {
    /// SQL's `lower()`, the same on both backends for Latin letters.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

fn public_query<'a>(
    listing: Listing,
    f: &Filter,
    now: NaiveDateTime,
) -> articles::BoxedQuery<'a, crate::db::Db> {
    let mut q = articles::table
        .filter(articles::publish_at.le(now))
        .filter(articles::ends_at.is_null().or(articles::ends_at.gt(now)))
        .into_boxed();
    q = match listing {
        Listing::Platform => q.filter(articles::status.eq(ArticleStatus::Published)),
        Listing::SubPlatform(sp) => q
            .filter(articles::status.eq(ArticleStatus::Published))
            .filter(articles::sub_platform_id.eq(sp)),
        Listing::Unit(u) => q
            .filter(articles::unit_id.eq(u))
            .filter(articles::status.eq_any([ArticleStatus::Published, ArticleStatus::Submitted])),
    };
    if let Some(k) = f.kind {
        q = q.filter(articles::kind.eq(k));
    }
    // Latin letters in either case on both backends (PostgreSQL's LIKE minds case, SQLite's
    // does not).
    for w in &f.words {
        let pattern = format!("%{}%", crate::users::store::escape_like(&w.to_lowercase()));
        q = q.filter(
            lower(articles::title)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(articles::summary).like(pattern.clone()).escape('\\'))
                .or(lower(articles::body).like(pattern).escape('\\')),
        );
    }
    q
}

/// The public articles of `listing` at `now` (their time has come, not yet ended), pinned
/// first, newest first; with the total.
pub fn public(
    conn: &mut DbConnection,
    listing: Listing,
    f: &Filter,
    now: NaiveDateTime,
    page: PageRequest,
) -> QueryResult<(Vec<ArticleRow>, i64)> {
    let total = public_query(listing, f, now).count().get_result(conn)?;
    let rows = latest(conn, listing, f, now, page)?;
    Ok((rows, total))
}

/// A page of [`public`] without its total (the home page's columns, a feed).
pub fn latest(
    conn: &mut DbConnection,
    listing: Listing,
    f: &Filter,
    now: NaiveDateTime,
    page: PageRequest,
) -> QueryResult<Vec<ArticleRow>> {
    public_query(listing, f, now)
        .order((
            articles::pinned.desc(),
            articles::publish_at.desc(),
            articles::id.desc(),
        ))
        .limit(page.per_page)
        .offset(page.offset())
        .select(ArticleRow::as_select())
        .load(conn)
}

/// The names of the units and sub-platforms that publish `rows`, by id (one query each).
pub fn publishers(
    conn: &mut DbConnection,
    rows: &[ArticleRow],
) -> QueryResult<(
    std::collections::HashMap<UnitId, String>,
    std::collections::HashMap<SubPlatformId, String>,
)> {
    use crate::db::schema::{sub_platforms, units};
    let unit_ids: Vec<UnitId> = rows.iter().filter_map(|r| r.unit_id).collect();
    let sp_ids: Vec<SubPlatformId> = rows.iter().filter_map(|r| r.sub_platform_id).collect();
    let units = if unit_ids.is_empty() {
        Vec::new()
    } else {
        units::table
            .filter(units::id.eq_any(unit_ids))
            .select((units::id, units::name))
            .load::<(UnitId, String)>(conn)?
    };
    let sps = if sp_ids.is_empty() {
        Vec::new()
    } else {
        sub_platforms::table
            .filter(sub_platforms::id.eq_any(sp_ids))
            .select((sub_platforms::id, sub_platforms::name))
            .load::<(SubPlatformId, String)>(conn)?
    };
    Ok((units.into_iter().collect(), sps.into_iter().collect()))
}

/// The articles a writer sees in their list: a unit's (`Some`) or all (`None`), newest
/// first; with `author`, drafts and returned articles only if theirs.
pub fn editable(
    conn: &mut DbConnection,
    unit: Option<UnitId>,
    author: Option<UserId>,
    page: PageRequest,
) -> QueryResult<(Vec<ArticleRow>, i64)> {
    let query = || {
        let mut q = articles::table.into_boxed();
        if let Some(u) = unit {
            q = q.filter(articles::unit_id.eq(u));
        }
        if let Some(a) = author {
            q = q.filter(
                articles::author_id
                    .eq(a)
                    .or(articles::status.ne_all([ArticleStatus::Draft, ArticleStatus::Returned])),
            );
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order(articles::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .select(ArticleRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Serialises sign-ups for one training (PostgreSQL locks its row; SQLite's single writer
/// already does).
pub fn lock(conn: &mut DbConnection, id: ArticleId) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        articles::table
            .find(id)
            .select(articles::id)
            .for_update()
            .first::<ArticleId>(c)
            .optional()?;
    }
    Ok(())
}

/// The instruments a training is about, replaced.
pub fn set_instruments(
    conn: &mut DbConnection,
    id: ArticleId,
    ids: &[InstrumentId],
) -> QueryResult<()> {
    diesel::delete(article_instruments::table.filter(article_instruments::article_id.eq(id)))
        .execute(conn)?;
    for i in ids {
        diesel::insert_into(article_instruments::table)
            .values((
                article_instruments::article_id.eq(id),
                article_instruments::instrument_id.eq(*i),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn instruments_of(
    conn: &mut DbConnection,
    id: ArticleId,
) -> QueryResult<Vec<(InstrumentId, String)>> {
    article_instruments::table
        .inner_join(instruments::table)
        .filter(article_instruments::article_id.eq(id))
        .order(instruments::id)
        .select((instruments::id, instruments::name_zh))
        .load(conn)
}

/// Places taken.
pub fn signups(conn: &mut DbConnection, id: ArticleId) -> QueryResult<i64> {
    training_signups::table
        .filter(training_signups::article_id.eq(id))
        .filter(training_signups::cancelled_at.is_null())
        .count()
        .get_result(conn)
}

pub fn signed_up(conn: &mut DbConnection, id: ArticleId, user: UserId) -> QueryResult<bool> {
    Ok(training_signups::table
        .filter(training_signups::article_id.eq(id))
        .filter(training_signups::user_id.eq(user))
        .filter(training_signups::cancelled_at.is_null())
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

pub fn sign_up(
    conn: &mut DbConnection,
    id: ArticleId,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(training_signups::table)
        .values((
            training_signups::article_id.eq(id),
            training_signups::user_id.eq(user),
            training_signups::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Cancels the person's sign-up: whether there was one.
pub fn cancel(
    conn: &mut DbConnection,
    id: ArticleId,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    Ok(diesel::update(
        training_signups::table
            .filter(training_signups::article_id.eq(id))
            .filter(training_signups::user_id.eq(user))
            .filter(training_signups::cancelled_at.is_null()),
    )
    .set(training_signups::cancelled_at.eq(Some(now)))
    .execute(conn)?
        > 0)
}

pub fn insert_attachment(conn: &mut DbConnection, a: &NewAttachment) -> QueryResult<AttachmentId> {
    diesel::insert_into(article_attachments::table)
        .values(a)
        .returning(article_attachments::id)
        .get_result(conn)
}

/// An article's files, in the order they came.
pub fn attachments_of(conn: &mut DbConnection, id: ArticleId) -> QueryResult<Vec<AttachmentRow>> {
    article_attachments::table
        .filter(article_attachments::article_id.eq(id))
        .order(article_attachments::id)
        .select(AttachmentRow::as_select())
        .load(conn)
}

pub fn find_attachment(
    conn: &mut DbConnection,
    id: ArticleId,
    file: AttachmentId,
) -> QueryResult<Option<AttachmentRow>> {
    article_attachments::table
        .find(file)
        .filter(article_attachments::article_id.eq(id))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()
}

/// Takes a file off its article (its bytes stay: another row may share them).
pub fn delete_attachment(
    conn: &mut DbConnection,
    id: ArticleId,
    file: AttachmentId,
) -> QueryResult<usize> {
    diesel::delete(
        article_attachments::table
            .find(file)
            .filter(article_attachments::article_id.eq(id)),
    )
    .execute(conn)
}

/// Marks the article changed now (its files changed); with `review`, a unit's published
/// article goes back to the platform, as an edit of its text does.
pub fn touch(
    conn: &mut DbConnection,
    id: ArticleId,
    now: NaiveDateTime,
    review: bool,
) -> QueryResult<usize> {
    if review {
        diesel::update(
            articles::table
                .find(id)
                .filter(articles::status.eq(ArticleStatus::Published)),
        )
        .set((
            articles::status.eq(ArticleStatus::Submitted),
            articles::published_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    }
    diesel::update(articles::table.find(id))
        .set(articles::updated_at.eq(now))
        .execute(conn)
}
