//! 评价: the client of a service rates it once, within a window, and may change it for a few
//! days; the host unit answers once, in public; a low rating reaches the unit at once.

use chrono::{DateTime, Datelike, Duration, Utc};

use super::model::*;
use super::store;
use crate::audit::{self, Target};
use crate::auth::Principal;
use crate::clock::naive;
use crate::config::EvaluationSettings;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail;
use crate::mail::templates::{page_url, Notice};
use crate::navigation::service::instrument_to_run;
use crate::navigation::store as catalogue;
use crate::types::{InstrumentId, RatingId, ServiceRecordId};
use crate::usage::model::ServiceRecordRow;
use crate::usage::service::local_day;
use crate::usage::store as records;
use crate::users::store as people;
use crate::validate;

/// Ratings shown on an instrument's page.
pub const RECENT: i64 = 10;

fn no_record() -> AppError {
    AppError::NotFound {
        what: "service record",
    }
}

/// The record, if `who` is its client; anyone else learns nothing of it (404).
fn own_record(
    conn: &mut DbConnection,
    who: &Principal,
    id: ServiceRecordId,
) -> AppResult<ServiceRecordRow> {
    records::find(conn, id)?
        .filter(|r| r.client_user_id == Some(who.id))
        .ok_or_else(no_record)
}

fn level(field: &str, code: &str) -> AppResult<Level> {
    Level::from_code(code).ok_or_else(|| {
        AppError::invalid(field, format!("请选择满意程度 (one of {})", Level::codes()))
    })
}

fn scores(input: &RatingInput) -> AppResult<Scores> {
    Ok(Scores {
        overall: level("overall", &input.overall)?,
        attitude: level("attitude", &input.attitude)?,
        quality: level("quality", &input.quality)?,
        timeliness: level("timeliness", &input.timeliness)?,
        price: level("price", &input.price)?,
        condition: level("condition", &input.condition)?,
    })
}

/// The client rates their service, once, within `rating_window_days` of it.
pub fn rate(
    conn: &mut DbConnection,
    who: &Principal,
    record_id: ServiceRecordId,
    input: RatingInput,
    settings: &EvaluationSettings,
    now: DateTime<Utc>,
) -> AppResult<Rating> {
    let record = own_record(conn, who, record_id)?;
    let last_day = record.served_on + Duration::days(settings.rating_window_days);
    if local_day(now) > last_day {
        return Err(AppError::conflict(
            ErrorCode::RatingWindowClosed,
            format!(
                "评价期限已过（服务后 {} 天内，截至 {}） (the time to rate this service has passed)",
                settings.rating_window_days,
                last_day.format("%Y年%-m月%-d日")
            ),
        ));
    }
    let s = scores(&input)?;
    let comment = validate::text("comment", &input.comment, 0, 500)?;
    let already = || {
        AppError::conflict(
            ErrorCode::AlreadyRated,
            format!(
                "您已评价过这次服务，可在评价后 {} 天内修改 (this service is rated already)",
                settings.rating_edit_days
            ),
        )
    };
    if store::of_record(conn, record_id)?.is_some() {
        return Err(already());
    }
    let id = db::write_tx(conn, |c| -> AppResult<RatingId> {
        let id = store::insert(
            c,
            &NewRating {
                service_record_id: record.id,
                instrument_id: record.instrument_id,
                rater_id: who.id,
                overall: s.overall,
                attitude: s.attitude,
                quality: s.quality,
                timeliness: s.timeliness,
                price: s.price,
                condition: s.condition,
                comment: comment.clone(),
                created_at: naive(now),
                updated_at: naive(now),
            },
        )
        .map_err(|e| match e {
            // A second tab or a double click: the first one stands.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => already(),
            e => e.into(),
        })?;
        store::count_one(c, record.instrument_id, record.served_on.year(), s.overall)?;
        if s.overall.low() {
            tell_the_unit(c, who, &record, s.overall, &comment, now)?;
        }
        crate::cache::changed(c, crate::cache::Topic::Ratings)?;
        Ok(id)
    })?;
    // The statistics carry satisfaction: their cache starts over.
    crate::usage::service::note_write();
    found(conn, id)
}

/// The rater changes their rating within `rating_edit_days` of giving it.
pub fn edit(
    conn: &mut DbConnection,
    who: &Principal,
    record_id: ServiceRecordId,
    input: RatingInput,
    settings: &EvaluationSettings,
    now: DateTime<Utc>,
) -> AppResult<Rating> {
    let record = own_record(conn, who, record_id)?;
    let rating = store::of_record(conn, record_id)?.ok_or(AppError::NotFound { what: "rating" })?;
    let until = rating.created_at.and_utc() + Duration::days(settings.rating_edit_days);
    if now > until {
        return Err(AppError::conflict(
            ErrorCode::RatingLocked,
            format!(
                "评价只能在提交后 {} 天内修改 (a rating can be changed for {} days)",
                settings.rating_edit_days, settings.rating_edit_days
            ),
        ));
    }
    let s = scores(&input)?;
    let comment = validate::text("comment", &input.comment, 0, 500)?;
    db::write_tx(conn, |c| -> AppResult<()> {
        // Re-read under the write lock: two tabs editing at once count each change once.
        let before = store::find(c, rating.id)?.ok_or(AppError::NotFound { what: "rating" })?;
        store::update_scores(c, rating.id, &s, &comment, naive(now))?;
        if before.overall != s.overall {
            let year = record.served_on.year();
            store::uncount_one(c, record.instrument_id, year, before.overall)?;
            store::count_one(c, record.instrument_id, year, s.overall)?;
        }
        // Only a rating that turns low is news to the unit.
        if s.overall.low() && !before.overall.low() {
            tell_the_unit(c, who, &record, s.overall, &comment, now)?;
        }
        crate::cache::changed(c, crate::cache::Topic::Ratings)?;
        Ok(())
    })?;
    crate::usage::service::note_write();
    found(conn, rating.id)
}

/// The client's rating of their service, if they gave one.
pub fn mine(
    conn: &mut DbConnection,
    who: &Principal,
    record_id: ServiceRecordId,
) -> AppResult<Option<Rating>> {
    own_record(conn, who, record_id)?;
    Ok(store::of_record(conn, record_id)?.map(Rating::from))
}

/// The host unit answers a rating, once and in public; the rater is told.
pub fn reply(
    conn: &mut DbConnection,
    who: &Principal,
    id: RatingId,
    input: ReplyInput,
    now: DateTime<Utc>,
) -> AppResult<Rating> {
    let rating = store::find(conn, id)?.ok_or(AppError::NotFound { what: "rating" })?;
    let inst = instrument_to_run(conn, who, rating.instrument_id, || AppError::NotFound {
        what: "rating",
    })?;
    let text = validate::text("reply", &input.reply, 1, 500)?;
    db::write_tx(conn, |c| -> AppResult<()> {
        if store::set_reply(c, id, &text, who.id, naive(now))? == 0 {
            return Err(AppError::conflict(
                ErrorCode::AlreadyReplied,
                "这条评价已经回复过 (the unit has answered this rating already)",
            ));
        }
        audit::record(
            c,
            Some(who.id),
            "rating.reply",
            Target("rating", Some(id.0)),
            None::<&()>,
            Some(&text),
            naive(now),
        )?;
        if let Some(rater) = people::find_user(c, rating.rater_id)? {
            mail::enqueue(
                c,
                &Notice {
                    kind: "rating_replied",
                    to: &rater.email,
                    name: &rater.name,
                    subject: &format!("{} 回复了您的评价", inst.name_zh),
                    paragraphs: vec![format!("{}：{text}", inst.name_zh)],
                    link: Some(("查看评价", &page_url(&format!("/instruments/{}", inst.id)))),
                    footer: "",
                    related: Some(("rating", id.0)),
                }
                .render()?,
                naive(now),
            )?;
        }
        crate::cache::changed(c, crate::cache::Topic::Ratings)?;
        Ok(())
    })?;
    found(conn, id)
}

/// Instruments' rating summaries, read on every view of an instrument's page. A rating or a
/// reply taken here invalidates them at once; other instances' show within the ttl.
pub type SummaryCache = crate::cache::Cache<i64, std::sync::Arc<RatingSummary>>;

/// Instruments remembered at most; past it the map starts afresh.
pub const MAX_CACHED_SUMMARIES: usize = 100_000;

/// The instrument's summary, from the cache while fresh.
pub fn cached_summary(
    conn: &mut DbConnection,
    cache: &SummaryCache,
    instrument: InstrumentId,
) -> AppResult<std::sync::Arc<RatingSummary>> {
    if let Some(s) = cache.fresh(&instrument.0) {
        return Ok(s);
    }
    let generation = cache.generation();
    let s = std::sync::Arc::new(summary(conn, instrument)?);
    cache.put_computed(instrument.0, s.clone(), generation);
    Ok(s)
}

/// What an instrument's clients said, for everyone.
pub fn summary(conn: &mut DbConnection, instrument: InstrumentId) -> AppResult<RatingSummary> {
    let counts = store::level_counts(conn, instrument)?;
    let recent = store::recent(conn, instrument, RECENT)?
        .into_iter()
        .map(|(r, org)| PublicRating {
            id: r.id,
            overall: r.overall,
            overall_label: r.overall.label_zh(),
            comment: r.comment,
            rater: match org {
                Some(o) if !o.is_empty() => format!("{o} 用户"),
                _ => "用户".to_owned(),
            },
            reply: r.reply,
            created_at: r.created_at.and_utc(),
        })
        .collect();
    Ok(RatingSummary::from_counts(&counts, recent))
}

/// The ratings of the instruments the person runs (all of them for the platform), newest
/// first: what the unit answers from.
pub fn for_staff(conn: &mut DbConnection, who: &Principal, limit: i64) -> AppResult<Vec<Rating>> {
    let scope = crate::usage::service::staff_scope(conn, who)?;
    Ok(store::for_staff(conn, scope, limit)?
        .into_iter()
        .map(Rating::from)
        .collect())
}

/// Which of `records` are rated: the client's list shows 评价 or 已评价.
pub fn rated_among(
    conn: &mut DbConnection,
    records: &[ServiceRecordId],
) -> AppResult<Vec<ServiceRecordId>> {
    Ok(store::rated_among(conn, records)?)
}

/// A rating at 不满意 or worse reaches the unit's administrators and the instrument's managers.
fn tell_the_unit(
    conn: &mut DbConnection,
    who: &Principal,
    record: &ServiceRecordRow,
    overall: Level,
    comment: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(inst) = catalogue::find_instrument(conn, record.instrument_id)? else {
        return Ok(());
    };
    let mut paragraphs = vec![format!(
        "{} 对 {}（{}）的服务评价为「{}」。",
        who.name,
        inst.name_zh,
        record.served_on.format("%Y年%-m月%-d日"),
        overall.label_zh()
    )];
    if !comment.is_empty() {
        paragraphs.push(format!("评价内容：{comment}"));
    }
    paragraphs.push("请尽快了解情况，并可在评价下公开回复。".to_owned());
    for (email, name) in people::staff_to_notify(conn, inst.unit_id, inst.id)? {
        mail::enqueue(
            conn,
            &Notice {
                kind: "rating_low",
                to: &email,
                name: &name,
                subject: &format!("收到「{}」评价：{}", overall.label_zh(), inst.name_zh),
                paragraphs: paragraphs.clone(),
                link: Some(("查看并回复", &page_url("/manage/ratings"))),
                footer: "您收到此邮件，是因为您负责这台仪器或是本单位管理员。",
                related: Some(("service_record", record.id.0)),
            }
            .render()?,
            naive(now),
        )?;
    }
    Ok(())
}

fn found(conn: &mut DbConnection, id: RatingId) -> AppResult<Rating> {
    store::find(conn, id)?
        .map(Rating::from)
        .ok_or(AppError::NotFound { what: "rating" })
}
