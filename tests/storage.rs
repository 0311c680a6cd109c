//! The storage layer on both backends: connection settings, transactions and how database
//! errors reach a client.

mod common;

use chrono::NaiveDateTime;
use common::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use yiqi::db::schema::{sub_platforms, units};
use yiqi::error::AppError;
use yiqi::navigation::model::SubPlatformRow;

on_both_backends!(
    database_errors_become_problems_not_500s,
    a_failed_write_transaction_leaves_nothing_behind
);

fn sub_platform(id: i64, name: &str) -> SubPlatformRow {
    SubPlatformRow {
        id,
        name: name.to_owned(),
        description: String::new(),
        sort_order: 0,
        created_at: NaiveDateTime::default(),
    }
}

fn insert(conn: &mut yiqi::db::DbConnection, row: &SubPlatformRow) -> QueryResult<usize> {
    diesel::insert_into(sub_platforms::table)
        .values(row)
        .execute(conn)
}

async fn database_errors_become_problems_not_500s(db: TestDb) {
    let mut conn = db.connect();
    yiqi::db::migrate(&mut conn).unwrap();
    insert(&mut conn, &sub_platform(1, "分析测试子平台")).unwrap();

    let dup = insert(&mut conn, &sub_platform(2, "分析测试子平台")).unwrap_err();
    let err = AppError::from(dup);
    assert_eq!((err.code(), err.problem().status), ("already_exists", 409));

    let orphan = diesel::insert_into(units::table)
        .values((
            units::sub_platform_id.eq(999),
            units::name.eq("无主单位"),
            units::short_name.eq("无主"),
            units::kind.eq("other"),
            units::city.eq("长春"),
            units::created_at.eq(NaiveDateTime::default()),
        ))
        .execute(&mut conn)
        .unwrap_err();
    let err = AppError::from(orphan);
    assert_eq!(
        (err.code(), err.problem().status),
        ("reference_conflict", 409)
    );

    let too_long = insert(&mut conn, &sub_platform(3, &"长".repeat(101))).unwrap_err();
    let err = AppError::from(too_long);
    assert_eq!(
        (err.code(), err.problem().status),
        ("validation_failed", 422)
    );
    // Nothing of the failed statements was written.
    let n: i64 = sub_platforms::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 1);
    // No SQL in what a client sees.
    assert!(!err.problem().detail.to_lowercase().contains("insert"));
}

async fn a_failed_write_transaction_leaves_nothing_behind(db: TestDb) {
    let mut conn = db.connect();
    yiqi::db::migrate(&mut conn).unwrap();
    let result: Result<(), AppError> = yiqi::db::write_tx(&mut conn, |c| {
        insert(c, &sub_platform(1, "甲"))?;
        insert(c, &sub_platform(2, "乙"))?;
        Err(AppError::invalid("name", "changed my mind"))
    });
    assert!(result.is_err());
    let n: i64 = sub_platforms::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 0);
    // The connection is usable afterwards, and a good transaction commits.
    yiqi::db::write_tx(&mut conn, |c| insert(c, &sub_platform(1, "甲")).map(drop)).unwrap();
    let n: i64 = sub_platforms::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 1);
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct PragmaInt {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[test]
fn every_pooled_sqlite_connection_has_the_pragmas() {
    let db = TestDb::sqlite();
    let (pool, _) = yiqi::db::connect_pool(&db.url, 3, std::time::Duration::from_secs(5)).unwrap();
    let conns: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    for mut conn in conns {
        let int = |conn: &mut yiqi::db::DbConnection, p: &str, column: &str| -> i64 {
            diesel::sql_query(format!("SELECT {column} AS value FROM pragma_{p}()"))
                .get_result::<PragmaInt>(conn)
                .unwrap()
                .value
        };
        assert_eq!(int(&mut conn, "foreign_keys", "foreign_keys"), 1);
        assert_eq!(int(&mut conn, "busy_timeout", "timeout"), 5000);
        assert_eq!(int(&mut conn, "synchronous", "synchronous"), 1, "NORMAL");
        let mode = diesel::sql_query("SELECT journal_mode AS value FROM pragma_journal_mode()")
            .get_result::<Pragma>(&mut **conn)
            .unwrap()
            .value;
        assert_eq!(mode, "wal");
    }
}
