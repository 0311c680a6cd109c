//! Subscriptions' and deliveries' SQL.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{article_deliveries, articles, subscriptions};
use crate::db::DbConnection;
use crate::publishing::model::{ArticleRow, ArticleStatus, Scope};

use crate::types::{ArticleId, SubscriptionId, UserId};

/// Adds a subscription (when the person holds fewer than `most`), or changes the mode of
/// the same one: its id and whether it is new; `None` when it would be one too many.
pub fn upsert(
    conn: &mut DbConnection,
    new: &NewSubscription,
    most: usize,
) -> QueryResult<Option<(SubscriptionId, bool)>> {
    let same = subscriptions::table
        .filter(subscriptions::user_id.eq(new.user_id))
        .filter(subscriptions::kind.eq(&new.kind))
        .filter(subscriptions::scope.eq(new.scope))
        .filter(subscriptions::scope_id.eq(new.scope_id))
        .select(subscriptions::id)
        .first::<SubscriptionId>(conn)
        .optional()?;
    if let Some(id) = same {
        diesel::update(subscriptions::table.find(id))
            .set(subscriptions::mode.eq(new.mode))
            .execute(conn)?;
        return Ok(Some((id, false)));
    }
    if of_user(conn, new.user_id)?.len() >= most {
        return Ok(None);
    }
    let id = diesel::insert_into(subscriptions::table)
        .values(new)
        .returning(subscriptions::id)
        .get_result(conn)?;
    Ok(Some((id, true)))
}

pub fn find(conn: &mut DbConnection, id: SubscriptionId) -> QueryResult<Option<SubscriptionRow>> {
    subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_token(conn: &mut DbConnection, token: &str) -> QueryResult<Option<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::token.eq(token))
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

pub fn of_user(conn: &mut DbConnection, user: UserId) -> QueryResult<Vec<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user))
        .order(subscriptions::id)
        .select(SubscriptionRow::as_select())
        .load(conn)
}

/// Ends a subscription: what it was still waiting to send goes, what it sent stays (its row
/// loses the subscription, so the person is not told of those articles again).
pub fn delete(conn: &mut DbConnection, id: SubscriptionId) -> QueryResult<usize> {
    use article_deliveries as d;
    diesel::delete(
        d::table
            .filter(d::subscription_id.eq(id))
            .filter(d::sent_at.is_null()),
    )
    .execute(conn)?;
    diesel::delete(subscriptions::table.find(id)).execute(conn)
}

/// Forgets that a person was told of an article (it left the digest unsent: withdrawn or
/// ended), so they hear of it if it comes back.
pub fn forget(conn: &mut DbConnection, article: ArticleId, user: UserId) -> QueryResult<usize> {
    use article_deliveries as d;
    diesel::delete(d::table.find((article, user))).execute(conn)
}

/// Marks the article untold: its audience grew (submitted onto the unit's pages, published
/// platform-wide).
pub fn reset_announcement(conn: &mut DbConnection, id: ArticleId) -> QueryResult<usize> {
    diesel::update(articles::table.find(id))
        .set(articles::announced_at.eq(None::<NaiveDateTime>))
        .execute(conn)
}

/// Public articles nobody has been told of yet (a unit's is public once submitted).
pub fn unannounced(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ArticleRow>> {
    articles::table
        .filter(articles::announced_at.is_null())
        .filter(articles::publish_at.le(now))
        .filter(articles::ends_at.is_null().or(articles::ends_at.gt(now)))
        .filter(
            articles::status
                .eq(ArticleStatus::Published)
                .or(articles::status
                    .eq(ArticleStatus::Submitted)
                    .and(articles::scope.eq(Scope::Unit))),
        )
        .order(articles::publish_at)
        .limit(limit)
        .select(ArticleRow::as_select())
        .load(conn)
}

/// Marks the article told if it is still untold and public: 0 when another instance did it
/// first, or it was withdrawn meanwhile.
pub fn claim_announcement(
    conn: &mut DbConnection,
    id: ArticleId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        articles::table
            .find(id)
            .filter(articles::announced_at.is_null())
            .filter(articles::publish_at.le(now))
            .filter(
                articles::status
                    .eq(ArticleStatus::Published)
                    .or(articles::status
                        .eq(ArticleStatus::Submitted)
                        .and(articles::scope.eq(Scope::Unit))),
            ),
    )
    .set(articles::announced_at.eq(now))
    .execute(conn)
}

/// The subscriptions that may cover an article (`SubscriptionRow::covers` decides), the
/// immediate ones first so a person following it both ways hears of it at once.
pub fn candidates(conn: &mut DbConnection, a: &ArticleRow) -> QueryResult<Vec<SubscriptionRow>> {
    let ids = [
        Some(0),
        a.sub_platform_id.map(|s| s.0),
        a.unit_id.map(|u| u.0),
    ];
    let rows = subscriptions::table
        .filter(subscriptions::kind.eq_any([ALL_KINDS, a.kind.code()]))
        .filter(subscriptions::scope_id.eq_any(ids.into_iter().flatten()))
        .order((subscriptions::mode.desc(), subscriptions::id))
        .select(SubscriptionRow::as_select())
        .load::<SubscriptionRow>(conn)?;
    Ok(rows.into_iter().filter(|s| s.covers(a)).collect())
}

/// Records that `sub`'s owner hears of the article (sent now, or waiting for the digest):
/// false if they were told already, through another subscription.
pub fn deliver(
    conn: &mut DbConnection,
    article: ArticleId,
    sub: &SubscriptionRow,
    now: NaiveDateTime,
    sent: bool,
) -> QueryResult<bool> {
    use article_deliveries as d;
    let n = crate::db::per_backend!(conn, |c| diesel::insert_into(d::table)
        .values((
            d::article_id.eq(article),
            d::user_id.eq(sub.user_id),
            d::subscription_id.eq(Some(sub.id)),
            d::queued_at.eq(now),
            d::sent_at.eq(sent.then_some(now)),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Daily subscriptions with articles waiting from before `cutoff`.
pub fn digests_due(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
) -> QueryResult<Vec<SubscriptionId>> {
    let ids: Vec<Option<SubscriptionId>> = article_deliveries::table
        .filter(article_deliveries::sent_at.is_null())
        .filter(article_deliveries::queued_at.lt(cutoff))
        .select(article_deliveries::subscription_id)
        .distinct()
        .order(article_deliveries::subscription_id)
        .load(conn)?;
    Ok(ids.into_iter().flatten().collect())
}

/// Takes a digest's waiting articles, marking them sent: empty when another instance took
/// them first (the condition is re-checked under the rows' locks).
pub fn take_digest(
    conn: &mut DbConnection,
    sub: SubscriptionId,
    cutoff: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Vec<ArticleId>> {
    use article_deliveries as d;
    diesel::update(
        d::table
            .filter(d::subscription_id.eq(Some(sub)))
            .filter(d::sent_at.is_null())
            .filter(d::queued_at.lt(cutoff)),
    )
    .set(d::sent_at.eq(now))
    .returning(d::article_id)
    .get_results(conn)
}
