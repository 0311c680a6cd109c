//! Migrations: both backends build the same tables and columns, and every down undoes its up.

use crate::common;

use common::TestDb;
use diesel::prelude::*;
use diesel::sql_types::Text;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// (table, column) of the application's tables, sorted; migration bookkeeping left out.
fn columns(db: &TestDb) -> Vec<Column> {
    let mut conn = db.connect();
    let sql = match db.backend {
        yiqi::db::Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
               AND m.name <> '__diesel_schema_migrations'"
        }
        yiqi::db::Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'"
        }
    };
    let mut cols: Vec<Column> = diesel::sql_query(sql).load(&mut conn).expect("columns");
    cols.sort();
    cols
}

on_both_backends!(up_down_up_leaves_the_same_schema);

async fn up_down_up_leaves_the_same_schema(db: TestDb) {
    let mut conn = db.connect();
    assert!(yiqi::db::migrate(&mut conn).unwrap() > 0);
    let first = columns(&db);
    assert!(first
        .iter()
        .any(|c| c.table_name == "instruments" && c.column_name == "category_l1"));
    yiqi::db::revert_all(&mut conn).unwrap();
    assert!(columns(&db).is_empty(), "down left tables behind");
    yiqi::db::migrate(&mut conn).unwrap();
    assert_eq!(columns(&db), first);
    // Running again is a no-op.
    assert_eq!(yiqi::db::migrate(&mut conn).unwrap(), 0);
}

#[test]
fn both_backends_have_the_same_migration_names() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let sqlite = names("migrations/sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("migrations/postgres"));
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL half: run with TEST_DATABASE_URL=postgres://… (README, Test it)"
)]
fn both_backends_have_the_same_tables_and_columns() {
    let sqlite = TestDb::sqlite();
    let pg = TestDb::postgres();
    for db in [&sqlite, &pg] {
        yiqi::db::migrate(&mut db.connect()).unwrap();
    }
    assert_eq!(columns(&sqlite), columns(&pg));
}
