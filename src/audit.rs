//! The audit log: every administrative action, written in the action's own transaction
//! (who, what, when, before and after), readable by platform admins.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{audit_log, users};
use crate::db::{Db, DbConnection};
use crate::error::{AppError, AppResult};
use crate::types::{PageRequest, Paged, UserId};

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
struct NewEntry {
    actor_id: Option<UserId>,
    action: String,
    target_type: String,
    target_id: Option<i64>,
    before_json: Option<String>,
    after_json: Option<String>,
    at: NaiveDateTime,
}

/// What an audited action was done to.
#[derive(Debug, Clone, Copy)]
pub struct Target(pub &'static str, pub Option<i64>);

fn json(value: Option<&impl Serialize>) -> AppResult<Option<String>> {
    value
        .map(|v| serde_json::to_string(v).map_err(AppError::internal))
        .transpose()
}

/// Records an action; call it inside the transaction that does it.
pub fn record<B: Serialize, A: Serialize>(
    conn: &mut DbConnection,
    actor: Option<UserId>,
    action: &str,
    target: Target,
    before: Option<&B>,
    after: Option<&A>,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewEntry {
            actor_id: actor,
            action: action.to_owned(),
            target_type: target.0.to_owned(),
            target_id: target.1,
            before_json: json(before)?,
            after_json: json(after)?,
            at,
        })
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub actor: Option<Actor>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Actor {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<UserId>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub action: Option<String>,
}

fn filtered(f: &Filter) -> audit_log::BoxedQuery<'static, Db> {
    let mut q = audit_log::table.into_boxed();
    if let Some(a) = f.actor {
        q = q.filter(audit_log::actor_id.eq(a));
    }
    if let Some(t) = &f.target_type {
        q = q.filter(audit_log::target_type.eq(t.clone()));
    }
    if let Some(id) = f.target_id {
        q = q.filter(audit_log::target_id.eq(id));
    }
    if let Some(action) = &f.action {
        q = q.filter(audit_log::action.eq(action.clone()));
    }
    q
}

type Row = (
    i64,
    Option<i64>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// Newest first.
pub fn list(conn: &mut DbConnection, f: &Filter, page: PageRequest) -> AppResult<Paged<Entry>> {
    let rows: Vec<Row> = filtered(f)
        .select((
            audit_log::id,
            audit_log::actor_id,
            audit_log::action,
            audit_log::target_type,
            audit_log::target_id,
            audit_log::before_json,
            audit_log::after_json,
            audit_log::at,
        ))
        .order(audit_log::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered(f).count().get_result(conn)?;
    let actor_ids: Vec<i64> = rows.iter().filter_map(|r| r.1).collect();
    let actors: Vec<(i64, String, String)> = users::table
        .filter(users::id.eq_any(&actor_ids))
        .select((users::id, users::name, users::email))
        .load(conn)?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    let items = rows
        .into_iter()
        .map(
            |(id, actor, action, target_type, target_id, before, after, at)| Entry {
                id,
                actor: actor.and_then(|a| {
                    actors.iter().find(|x| x.0 == a).map(|x| Actor {
                        id: UserId(x.0),
                        name: x.1.clone(),
                        email: x.2.clone(),
                    })
                }),
                action,
                target_type,
                target_id,
                before: parse(before),
                after: parse(after),
                at: at.and_utc(),
            },
        )
        .collect();
    Ok(Paged::new(items, total, page))
}
