//! The counters in `cache_versions`.

use diesel::prelude::*;

use crate::db::schema::cache_versions as v;
use crate::db::DbConnection;

/// Moves `name`'s counter on (creating it at 1).
pub fn bump(conn: &mut DbConnection, name: &str) -> QueryResult<()> {
    crate::db::per_backend!(conn, |c| diesel::insert_into(v::table)
        .values((v::name.eq(name), v::version.eq(1_i64)))
        .on_conflict(v::name)
        .do_update()
        .set(v::version.eq(v::version + 1_i64))
        .execute(c))
    .map(drop)
}

pub fn versions(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    v::table.select((v::name, v::version)).load(conn)
}
