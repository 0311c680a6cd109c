//! The ratings' SQL.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Level, NewRating, RatingRow, Scores};
use crate::db::schema::{organisations, rating_counts, ratings, users};
use crate::db::DbConnection;
use crate::types::{InstrumentId, RatingId, ServiceRecordId, UserId};

pub fn insert(conn: &mut DbConnection, row: &NewRating) -> QueryResult<RatingId> {
    diesel::insert_into(ratings::table)
        .values(row)
        .returning(ratings::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: RatingId) -> QueryResult<Option<RatingRow>> {
    ratings::table
        .find(id)
        .select(RatingRow::as_select())
        .first(conn)
        .optional()
}

pub fn of_record(
    conn: &mut DbConnection,
    record: ServiceRecordId,
) -> QueryResult<Option<RatingRow>> {
    ratings::table
        .filter(ratings::service_record_id.eq(record))
        .select(RatingRow::as_select())
        .first(conn)
        .optional()
}

/// Which of `records` are rated already.
pub fn rated_among(
    conn: &mut DbConnection,
    records: &[ServiceRecordId],
) -> QueryResult<Vec<ServiceRecordId>> {
    ratings::table
        .filter(ratings::service_record_id.eq_any(records))
        .select(ratings::service_record_id)
        .load(conn)
}

pub fn update_scores(
    conn: &mut DbConnection,
    id: RatingId,
    s: &Scores,
    comment: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(ratings::table.find(id))
        .set((
            ratings::overall.eq(s.overall),
            ratings::attitude.eq(s.attitude),
            ratings::quality.eq(s.quality),
            ratings::timeliness.eq(s.timeliness),
            ratings::price.eq(s.price),
            ratings::condition.eq(s.condition),
            ratings::comment.eq(comment),
            ratings::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Sets the reply unless there is one: 0 rows when another came first.
pub fn set_reply(
    conn: &mut DbConnection,
    id: RatingId,
    reply: &str,
    by: UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(ratings::table.find(id).filter(ratings::reply.is_null()))
        .set((
            ratings::reply.eq(Some(reply)),
            ratings::replied_by.eq(Some(by)),
            ratings::replied_at.eq(Some(now)),
        ))
        .execute(conn)
}

/// How many ratings of the instrument gave each overall level, from the kept counts (a few
/// rows per year of service).
pub fn level_counts(
    conn: &mut DbConnection,
    instrument: InstrumentId,
) -> QueryResult<Vec<(Level, i64)>> {
    let rows: Vec<(Level, i64)> = rating_counts::table
        .filter(rating_counts::instrument_id.eq(instrument))
        .filter(rating_counts::ratings.gt(0))
        .select((rating_counts::overall, rating_counts::ratings))
        .load(conn)?;
    let mut by_level: Vec<(Level, i64)> = Vec::new();
    for (level, n) in rows {
        match by_level.iter_mut().find(|(l, _)| *l == level) {
            Some(e) => e.1 += n,
            None => by_level.push((level, n)),
        }
    }
    Ok(by_level)
}

/// Counts one more rating of the instrument's service in `year` at `level`, inside the
/// rating's transaction.
pub fn count_one(
    conn: &mut DbConnection,
    instrument: InstrumentId,
    year: i32,
    level: Level,
) -> QueryResult<()> {
    use rating_counts as k;
    crate::db::per_backend!(conn, |c| diesel::insert_into(k::table)
        .values((
            k::instrument_id.eq(instrument),
            k::year.eq(year),
            k::overall.eq(level),
            k::ratings.eq(1_i64),
        ))
        .on_conflict((k::instrument_id, k::year, k::overall))
        .do_update()
        .set(k::ratings.eq(k::ratings + 1_i64))
        .execute(c))?;
    Ok(())
}

/// Counts one rating fewer at `level` (a rating changed away from it); the row exists, since
/// that rating was counted there.
pub fn uncount_one(
    conn: &mut DbConnection,
    instrument: InstrumentId,
    year: i32,
    level: Level,
) -> QueryResult<()> {
    use rating_counts as k;
    diesel::update(
        k::table
            .filter(k::instrument_id.eq(instrument))
            .filter(k::year.eq(year))
            .filter(k::overall.eq(level)),
    )
    .set(k::ratings.eq(k::ratings - 1_i64))
    .execute(conn)?;
    Ok(())
}

/// The instrument's latest ratings with the rater's organisation, newest first.
pub fn recent(
    conn: &mut DbConnection,
    instrument: InstrumentId,
    limit: i64,
) -> QueryResult<Vec<(RatingRow, Option<String>)>> {
    ratings::table
        .inner_join(users::table)
        .left_join(organisations::table.on(organisations::id.nullable().eq(users::organisation_id)))
        .filter(ratings::instrument_id.eq(instrument))
        // Ids grow with time: newest first along the (instrument_id, id) index.
        .order(ratings::id.desc())
        .limit(limit)
        .select((RatingRow::as_select(), organisations::name.nullable()))
        .load(conn)
}

/// Ratings of the instruments `scope` (all when `None`), newest first: the staff's list.
pub fn for_staff(
    conn: &mut DbConnection,
    scope: Option<Vec<i64>>,
    limit: i64,
) -> QueryResult<Vec<RatingRow>> {
    let mut q = ratings::table
        .select(RatingRow::as_select())
        .order((ratings::created_at.desc(), ratings::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(ids) = scope {
        q = q.filter(ratings::instrument_id.eq_any(ids));
    }
    q.load(conn)
}
