//! Subscribing, unsubscribing, and the two jobs that tell subscribers: `announce` (every
//! round: each newly public article, once per person, at once or queued for the digest) and
//! `send_digests` (the articles queued before 08:00 Beijing time, in one e-mail per
//! subscription). Both claim their work with conditional updates, so with several instances
//! each article is announced and each digest sent once.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::model::*;
use super::store;
use crate::auth::{authorize, tokens, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::mail::{self, templates::page_url, templates::Notice};
use crate::navigation::store as catalogue;
use crate::publishing::model::{ArticleKind, ArticleRow, Scope};
use crate::publishing::service::PLATFORM;
use crate::publishing::store as articles;
use crate::types::{local_date, SubscriptionId, PLATFORM_ZONE};
use crate::users::store as people;

/// Subscriptions one person may hold.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// Articles one round of `announce` takes (the next round takes the rest).
const ANNOUNCE_BATCH: i64 = 100;

/// Subscribes the caller (a verified account), or changes how an existing subscription to
/// the same list is delivered: the subscription, and whether it is new.
pub fn subscribe(
    conn: &mut DbConnection,
    who: &Principal,
    input: SubscriptionInput,
    now: DateTime<Utc>,
) -> AppResult<(Subscription, bool)> {
    authorize(who, Action::Apply)?;
    let kind = match input.kind.as_deref().map(str::trim) {
        None | Some("") | Some(ALL_KINDS) => ALL_KINDS.to_owned(),
        Some(k) => ArticleKind::from_code(k)
            .ok_or_else(|| {
                AppError::invalid("kind", format!("all, or one of {}", ArticleKind::codes()))
            })?
            .code()
            .to_owned(),
    };
    let scope = match input.scope.as_deref() {
        None | Some("") => Scope::Platform,
        Some(s) => Scope::from_code(s)
            .ok_or_else(|| AppError::invalid("scope", format!("one of {}", Scope::codes())))?,
    };
    let scope_id = match scope {
        Scope::Platform => 0,
        Scope::SubPlatform => {
            let id = crate::types::SubPlatformId(input.scope_id.unwrap_or(0));
            catalogue::find_sub_platform(conn, id)?.ok_or_else(|| {
                AppError::invalid("scope_id", "没有这个子平台 (no such sub-platform)")
            })?;
            id.0
        }
        Scope::Unit => {
            let id = crate::types::UnitId(input.scope_id.unwrap_or(0));
            catalogue::find_unit(conn, id)?
                .ok_or_else(|| AppError::invalid("scope_id", "没有这个单位 (no such unit)"))?;
            id.0
        }
    };
    let mode = match input.mode.as_deref() {
        None | Some("") => Delivery::Immediate,
        Some(m) => Delivery::from_code(m)
            .ok_or_else(|| AppError::invalid("mode", format!("one of {}", Delivery::codes())))?,
    };
    let (id, created) = db::write_tx(conn, |c| -> AppResult<(SubscriptionId, bool)> {
        store::upsert(
            c,
            &NewSubscription {
                user_id: who.id,
                kind,
                scope,
                scope_id,
                mode,
                token: tokens::random(),
                created_at: naive(now),
            },
            MAX_SUBSCRIPTIONS,
        )?
        .ok_or_else(|| {
            AppError::invalid(
                "scope",
                format!("最多订阅 {MAX_SUBSCRIPTIONS} 项 (at most {MAX_SUBSCRIPTIONS})"),
            )
        })
    })?;
    let row = store::find(conn, id)?.ok_or(AppError::NotFound {
        what: "subscription",
    })?;
    Ok((shown(conn, row)?, created))
}

/// The caller's subscriptions.
pub fn mine(conn: &mut DbConnection, who: &Principal) -> AppResult<Vec<Subscription>> {
    store::of_user(conn, who.id)?
        .into_iter()
        .map(|r| shown(conn, r))
        .collect()
}

/// Ends one of the caller's subscriptions (another's is 404).
pub fn remove(conn: &mut DbConnection, who: &Principal, id: SubscriptionId) -> AppResult<()> {
    let row = store::find(conn, id)?
        .filter(|r| r.user_id == who.id)
        .ok_or(AppError::NotFound {
            what: "subscription",
        })?;
    db::write_tx(conn, |c| Ok::<_, AppError>(store::delete(c, row.id)?))?;
    Ok(())
}

/// The subscription a link's token stands for (to show what the button undoes).
pub fn by_token(conn: &mut DbConnection, token: &str) -> AppResult<Subscription> {
    let row = store::by_token(conn, token)?.ok_or(AppError::NotFound {
        what: "subscription",
    })?;
    shown(conn, row)
}

/// One-click unsubscribe: the token alone undoes its subscription, and only that one. A
/// token already used (or unknown) undoes nothing and says so: `None` (a mail client may
/// post twice).
pub fn unsubscribe(conn: &mut DbConnection, token: &str) -> AppResult<Option<Subscription>> {
    let Some(row) = store::by_token(conn, token)? else {
        return Ok(None);
    };
    let sub = shown(conn, row)?;
    db::write_tx(conn, |c| Ok::<_, AppError>(store::delete(c, sub.id)?))?;
    Ok(Some(sub))
}

fn shown(conn: &mut DbConnection, r: SubscriptionRow) -> AppResult<Subscription> {
    let scope_name = match r.scope {
        Scope::Platform => PLATFORM.to_owned(),
        Scope::SubPlatform => {
            catalogue::find_sub_platform(conn, crate::types::SubPlatformId(r.scope_id))?
                .map(|s| s.name)
                .unwrap_or_default()
        }
        Scope::Unit => catalogue::find_unit(conn, crate::types::UnitId(r.scope_id))?
            .map(|u| u.name)
            .unwrap_or_default(),
    };
    Ok(Subscription {
        id: r.id,
        kind_label: r.kind().map_or("全部信息", ArticleKind::label_zh),
        kind: r.kind,
        scope: r.scope,
        scope_id: (r.scope != Scope::Platform).then_some(r.scope_id),
        scope_name,
        mode: r.mode,
        mode_label: r.mode.label_zh(),
        created_at: r.created_at.and_utc(),
    })
}

/// The one-click address of a subscription (RFC 8058), on this service.
pub fn unsubscribe_url(token: &str) -> String {
    page_url(&format!("/unsubscribe/{token}"))
}

/// The job: tells the subscribers of each article that became public since the last round.
/// Returns how many people were told or queued.
pub fn announce(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let mut told = 0;
    for row in store::unannounced(conn, naive(now), ANNOUNCE_BATCH)? {
        told += db::write_tx(conn, |c| -> AppResult<usize> {
            // Claimed only if still untold and public; read again after the claim, since a
            // step may have changed it since the list was read.
            if store::claim_announcement(c, row.id, naive(now))? == 0 {
                return Ok(0);
            }
            let Some(row) = articles::find(c, row.id)? else {
                return Ok(0);
            };
            let mut n = 0;
            for sub in store::candidates(c, &row)? {
                let immediate = sub.mode == Delivery::Immediate;
                if !store::deliver(c, row.id, &sub, naive(now), immediate)? {
                    continue;
                }
                if immediate {
                    tell_at_once(c, &row, &sub, now)?;
                }
                n += 1;
            }
            Ok(n)
        })?;
    }
    Ok(told)
}

/// What a subscription follows, in words, from its row.
fn followed(conn: &mut DbConnection, sub: &SubscriptionRow) -> AppResult<String> {
    Ok(shown(conn, sub.clone())?.describe())
}

/// Who publishes `a`, as its pages say it.
fn publisher(conn: &mut DbConnection, a: &ArticleRow) -> AppResult<String> {
    let names = crate::publishing::service::publishers(conn, std::slice::from_ref(a))?;
    Ok(names
        .into_iter()
        .next()
        .flatten()
        .unwrap_or_else(|| PLATFORM.to_owned()))
}

/// The subscriber, if they may still be written to (not disabled, address verified).
fn reachable(
    conn: &mut DbConnection,
    sub: &SubscriptionRow,
) -> AppResult<Option<crate::users::model::UserRow>> {
    Ok(people::find_user(conn, sub.user_id)?
        .filter(|u| u.disabled_at.is_none() && u.email_verified_at.is_some()))
}

fn footer(what: &str) -> String {
    format!(
        "您收到这封邮件，是因为订阅了「{what}」。不想再收到，请点击邮件中的退订链接，无需登录。"
    )
}

fn tell_at_once(
    conn: &mut DbConnection,
    a: &ArticleRow,
    sub: &SubscriptionRow,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(user) = reachable(conn, sub)? else {
        return Ok(());
    };
    let what = followed(conn, sub)?;
    let from = publisher(conn, a)?;
    let link = page_url(&format!("/articles/{}", a.id));
    let off = unsubscribe_url(&sub.token);
    let date = a
        .publish_at
        .map(|t| local_date(t.and_utc()))
        .unwrap_or_default();
    let mut paragraphs = vec![format!(
        "{from}于{date}发布了{}：「{}」",
        a.kind.label_zh(),
        a.title
    )];
    if !a.summary.is_empty() {
        paragraphs.push(a.summary.clone());
    }
    paragraphs.push(format!("退订：{off}"));
    let mut message = Notice {
        kind: "article_subscription",
        to: &user.email,
        name: &user.name,
        subject: &format!("{}：{}", a.kind.label_zh(), a.title),
        paragraphs,
        link: Some(("阅读全文", &link)),
        footer: &footer(&what),
        related: Some(("article", a.id.0)),
    }
    .render()?;
    message.list_unsubscribe = Some(off);
    mail::enqueue(conn, &message, naive(now))
}

/// The last 08:00 Beijing time at or before `now`: articles queued before it go in the
/// digest sent from it.
pub fn digest_cutoff(now: DateTime<Utc>) -> NaiveDateTime {
    let local = now.with_timezone(&PLATFORM_ZONE);
    let mut day = local.date_naive();
    if local.time() < chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default() {
        day = day.pred_opt().unwrap_or(day);
    }
    let eight = day.and_hms_opt(8, 0, 0).unwrap_or_default();
    // Beijing has no daylight saving time: 08:00 there is always 00:00 UTC.
    naive(
        eight
            .and_local_timezone(PLATFORM_ZONE)
            .single()
            .map_or(now, |t| t.with_timezone(&Utc)),
    )
}

/// The job: from 08:00 Beijing time, one e-mail per daily subscription with the articles
/// queued for it before then. Returns how many digests were sent.
pub fn send_digests(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let cutoff = digest_cutoff(now);
    let mut sent = 0;
    for id in store::digests_due(conn, cutoff)? {
        sent += db::write_tx(conn, |c| -> AppResult<usize> {
            let taken = store::take_digest(c, id, cutoff, naive(now))?;
            let Some(sub) = store::find(c, id)? else {
                return Ok(0);
            };
            // What is still public now: a notice withdrawn or ended overnight is left out, and
            // forgotten, so the person hears of it if it comes back.
            let mut items = Vec::new();
            for aid in taken {
                match articles::find(c, aid)?
                    .filter(|a| a.is_public(naive(now)) && a.ends_at.is_none_or(|e| e > naive(now)))
                {
                    Some(a) => items.push(a),
                    None => {
                        store::forget(c, aid, sub.user_id)?;
                    }
                }
            }
            if items.is_empty() {
                return Ok(0);
            }
            digest(c, &sub, &items, now)?;
            Ok(1)
        })?;
    }
    Ok(sent)
}

fn digest(
    conn: &mut DbConnection,
    sub: &SubscriptionRow,
    items: &[ArticleRow],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(user) = reachable(conn, sub)? else {
        return Ok(());
    };
    let what = followed(conn, sub)?;
    let off = unsubscribe_url(&sub.token);
    let mut paragraphs = vec![format!("「{what}」有 {} 篇新文章：", items.len())];
    let names = crate::publishing::service::publishers(conn, items)?;
    for (a, from) in items.iter().zip(names) {
        let from = from.unwrap_or_else(|| PLATFORM.to_owned());
        paragraphs.push(format!(
            "【{}】{}（{from}）{}",
            a.kind.label_zh(),
            a.title,
            page_url(&format!("/articles/{}", a.id))
        ));
    }
    paragraphs.push(format!("退订：{off}"));
    let list = page_url("/articles");
    let mut message = Notice {
        kind: "article_digest",
        to: &user.email,
        name: &user.name,
        subject: &format!("信息发布每日摘要（{}）", local_date(now)),
        paragraphs,
        link: Some(("查看信息发布", &list)),
        footer: &footer(&what),
        related: None,
    }
    .render()?;
    message.list_unsubscribe = Some(off);
    mail::enqueue(conn, &message, naive(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_digest_cutoff_is_the_last_eight_oclock_in_beijing() {
        let at = |d, h, m| {
            PLATFORM_ZONE
                .with_ymd_and_hms(2026, 12, d, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(digest_cutoff(at(8, 7, 59)), naive(at(7, 8, 0)));
        assert_eq!(digest_cutoff(at(8, 8, 0)), naive(at(8, 8, 0)));
        assert_eq!(digest_cutoff(at(8, 23, 30)), naive(at(8, 8, 0)));
    }
}
