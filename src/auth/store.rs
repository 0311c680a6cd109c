//! The account a token speaks for: the columns of `users` that decide who is asking.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{instrument_managers, users};
use crate::db::DbConnection;
use crate::types::{InstrumentId, OrganisationId, UnitId, UserId};

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

/// Read on every request that carries a token, so it runs on the backend's own connection.
pub fn find_account(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<AccountRow>> {
    crate::db::per_backend!(conn, |conn| users::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional())
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
