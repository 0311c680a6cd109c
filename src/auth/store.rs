//! The account a token speaks for: the columns of `users` that decide who is asking.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{instrument_managers, organisations, users};
use crate::db::DbConnection;
use crate::navigation::model::UnitKind;
use crate::types::{InstrumentId, OrganisationId, UnitId, UserId};
use crate::users::model::Affiliation;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct AccountRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: crate::auth::Role,
    pub unit_id: Option<UnitId>,
    pub organisation_id: Option<OrganisationId>,
    pub email_verified_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub tokens_valid_after: NaiveDateTime,
    pub voucher_issuer_id: Option<OrganisationId>,
}

/// Read on every request that carries a token, so it runs on the backend's own connection;
/// with the account, its organisation's kind and host unit (for the price tier).
pub fn find_account(
    conn: &mut DbConnection,
    id: UserId,
) -> QueryResult<Option<(AccountRow, Option<Affiliation>)>> {
    let row = crate::db::per_backend!(conn, |conn| users::table
        .left_join(organisations::table)
        .filter(users::id.eq(id))
        .select((
            AccountRow::as_select(),
            organisations::kind.nullable(),
            organisations::unit_id.nullable(),
        ))
        .first::<(AccountRow, Option<UnitKind>, Option<UnitId>)>(conn)
        .optional())?;
    Ok(row.map(|(account, kind, unit)| (account, kind.map(|kind| Affiliation { kind, unit }))))
}

pub fn managed_instruments(
    conn: &mut DbConnection,
    user: UserId,
) -> QueryResult<Vec<InstrumentId>> {
    instrument_managers::table
        .filter(instrument_managers::user_id.eq(user))
        .select(instrument_managers::instrument_id)
        .order(instrument_managers::instrument_id)
        .load(conn)
}

// --- rate-limit windows ----------------------------------------------------------------------

use crate::db::schema::rate_limits;

/// The windows still open at `now` among `keys`: (key, attempts, expires_at).
pub fn open_windows(
    conn: &mut DbConnection,
    keys: &[String],
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, i32, NaiveDateTime)>> {
    rate_limits::table
        .filter(rate_limits::key.eq_any(keys))
        .filter(rate_limits::expires_at.gt(now))
        .select((
            rate_limits::key,
            rate_limits::attempts,
            rate_limits::expires_at,
        ))
        .load(conn)
}

/// Deletes up to `batch` windows that ran out by `now`. On PostgreSQL the rows a request is
/// counting at that moment are skipped, not waited for, so a sweep never deadlocks with it.
pub fn sweep_windows(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Timestamp};
    let sql = match conn {
        DbConnection::Pg(_) => {
            "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits \
             WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)"
        }
        DbConnection::Sqlite(_) => {
            "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits \
             WHERE expires_at <= ? LIMIT ?)"
        }
    };
    diesel::sql_query(sql)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(batch)
        .execute(conn)
}

/// One more attempt in `key`'s window; a window that ran out by `now` (or none) starts again
/// with this attempt, ending at `expires_at`. The row lock orders instances counting one key.
pub fn count_attempt(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    use diesel::dsl::case_when;
    use diesel::upsert::excluded;
    crate::db::per_backend!(conn, |c| diesel::insert_into(rate_limits::table)
        .values((
            rate_limits::key.eq(key),
            rate_limits::attempts.eq(1),
            rate_limits::expires_at.eq(expires_at),
        ))
        .on_conflict(rate_limits::key)
        .do_update()
        .set((
            rate_limits::attempts.eq(case_when(
                rate_limits::expires_at.le(now),
                1.into_sql::<diesel::sql_types::Integer>(),
            )
            .otherwise(rate_limits::attempts + 1)),
            rate_limits::expires_at.eq(case_when(
                rate_limits::expires_at.le(now),
                excluded(rate_limits::expires_at),
            )
            .otherwise(rate_limits::expires_at)),
        ))
        .execute(c))
    .map(drop)
}

pub fn forget_window(conn: &mut DbConnection, key: &str) -> QueryResult<usize> {
    diesel::delete(rate_limits::table.filter(rate_limits::key.eq(key))).execute(conn)
}
