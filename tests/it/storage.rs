//! The storage layer on both backends: connection settings, transactions and how database
//! errors reach a client.

use crate::common;

use chrono::NaiveDateTime;
use common::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use yiqi::db::schema::{sub_platforms, units};
use yiqi::error::AppError;
use yiqi::navigation::model::SubPlatformRow;
use yiqi::types::{SubPlatformId, UnitId};

on_both_backends!(
    database_errors_become_problems_not_500s,
    a_failed_write_transaction_leaves_nothing_behind,
    concurrent_writers_keep_their_own_outcome,
    an_unknown_code_in_the_database_is_an_error_not_a_default,
    requests_waiting_for_a_connection_get_it_in_the_order_they_asked
);

fn sub_platform(id: i64, name: &str) -> SubPlatformRow {
    SubPlatformRow {
        id: SubPlatformId(id),
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
    assert_eq!(
        (err.code().as_str(), err.problem().status),
        ("already_exists", 409)
    );

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
        (err.code().as_str(), err.problem().status),
        ("reference_conflict", 409)
    );

    let too_long = insert(&mut conn, &sub_platform(3, &"长".repeat(101))).unwrap_err();
    let err = AppError::from(too_long);
    assert_eq!(
        (err.code().as_str(), err.problem().status),
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

/// Forty writers at once through the pool (on SQLite they share transactions: group
/// commit): each one's work is kept or taken back on its own, and every "done" is durable.
async fn concurrent_writers_keep_their_own_outcome(db: TestDb) {
    let mut conn = db.connect();
    yiqi::db::migrate(&mut conn).unwrap();
    let (pool, _) = yiqi::db::connect_pool(&db.url, 8, std::time::Duration::from_secs(5)).unwrap();
    let tasks: Vec<_> = (1..=40)
        .map(|i| {
            let pool = pool.clone();
            actix_web::rt::spawn(async move {
                yiqi::db::run(&pool, move |conn| {
                    yiqi::db::write_tx(conn, |c| {
                        insert(c, &sub_platform(i, &format!("子平台 {i}")))?;
                        if i % 4 == 0 {
                            return Err(AppError::invalid("name", "changed my mind"));
                        }
                        // A nested transaction inside the group is a savepoint of its own.
                        let _ = yiqi::db::write_tx(c, |c| -> Result<(), AppError> {
                            insert(c, &sub_platform(1000 + i, &format!("副本 {i}")))?;
                            Err(AppError::invalid("name", "not this one"))
                        });
                        Ok(i)
                    })
                })
                .await
            })
        })
        .collect();
    let mut done = Vec::new();
    for task in tasks {
        if let Ok(i) = task.await.unwrap() {
            done.push(i);
            // Told "done": a fresh connection sees it at once.
            let mut other = db.connect();
            let seen: i64 = sub_platforms::table
                .filter(sub_platforms::id.eq(i))
                .count()
                .get_result(&mut other)
                .unwrap();
            assert_eq!(seen, 1, "writer {i} returned before its work was committed");
        }
    }
    assert_eq!(done.len(), 30);
    let mut ids: Vec<i64> = sub_platforms::table
        .select(sub_platforms::id)
        .order(sub_platforms::id)
        .load(&mut conn)
        .unwrap();
    ids.sort();
    done.sort();
    assert_eq!(ids, done, "only the writers that succeeded left rows");
}

#[actix_web::test]
async fn the_sqlite_log_is_copied_back_and_started_again() {
    let db = TestDb::sqlite();
    let mut conn = db.connect();
    yiqi::db::migrate(&mut conn).unwrap();
    let (pool, _) = yiqi::db::connect_pool(&db.url, 2, std::time::Duration::from_secs(5)).unwrap();
    let write = |from: i64, n: i64| {
        let pool = pool.clone();
        async move {
            yiqi::db::run(&pool, move |conn| {
                for i in from..from + n {
                    yiqi::db::write_tx(conn, |c| {
                        insert(c, &sub_platform(i, &format!("子平台 {i}"))).map_err(AppError::from)
                    })?;
                }
                Ok(())
            })
            .await
            .unwrap()
        }
    };
    let checkpoint = || {
        let pool = pool.clone();
        async move {
            yiqi::db::run(&pool, |c| Ok(yiqi::db::checkpoint(c)?))
                .await
                .unwrap()
        }
    };
    checkpoint().await;
    write(1, 200).await;
    let big = checkpoint().await;
    assert!(big >= 200, "200 commits, {big} pages in the log");
    // Everything was copied back: the next writer starts the log from the beginning.
    write(1000, 1).await;
    let small = checkpoint().await;
    assert!(
        small < 10,
        "the log grew on ({small} pages) instead of starting again"
    );
    let n: i64 = sub_platforms::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 201);
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
        // Built with the planner stability guarantee (.cargo/config.toml): without it every
        // `LIMIT ?` statement is prepared again at each use.
        let qpsg = diesel::sql_query(
            "SELECT compile_options AS value FROM pragma_compile_options() \
             WHERE compile_options = 'ENABLE_QPSG'",
        )
        .load::<Pragma>(&mut **conn)
        .unwrap();
        assert_eq!(qpsg.len(), 1);
    }
}

/// A code the program does not know (a row written by a newer version, or by hand) must not
/// be read as some default kind or status.
async fn an_unknown_code_in_the_database_is_an_error_not_a_default(db: TestDb) {
    let mut conn = db.connect();
    yiqi::db::migrate(&mut conn).unwrap();
    insert(&mut conn, &sub_platform(1, "分析测试子平台")).unwrap();
    diesel::insert_into(units::table)
        .values((
            units::id.eq(7),
            units::sub_platform_id.eq(1),
            units::name.eq("吉林大学"),
            units::short_name.eq("吉大"),
            units::kind.eq(yiqi::navigation::model::UnitKind::University),
            units::city.eq("长春"),
            units::created_at.eq(NaiveDateTime::default()),
        ))
        .execute(&mut conn)
        .unwrap();
    let read = yiqi::navigation::store::find_unit(&mut conn, UnitId(7))
        .unwrap()
        .unwrap();
    assert_eq!(read.kind, yiqi::navigation::model::UnitKind::University);

    // Past the CHECK constraint that normally keeps such a code out.
    let bypass = match db.backend {
        yiqi::db::Backend::Sqlite => "PRAGMA ignore_check_constraints = ON",
        yiqi::db::Backend::Postgres => "ALTER TABLE units DROP CONSTRAINT units_kind_check",
    };
    diesel::sql_query(bypass).execute(&mut conn).unwrap();
    diesel::sql_query("UPDATE units SET kind = 'castle' WHERE id = 7")
        .execute(&mut conn)
        .unwrap();
    let err = yiqi::navigation::store::find_unit(&mut conn, UnitId(7)).unwrap_err();
    let detail = format!("{err:?}");
    assert!(
        detail.contains("kind") && detail.contains("castle"),
        "{detail}"
    );
    assert_eq!(AppError::from(err).problem().status, 500);
}

/// With every connection taken, requests get one in the order they asked for it (r2d2 alone
/// hands a freed connection to whichever waiter wakes first, which left some requests waiting
/// 20 times the median under load).
async fn requests_waiting_for_a_connection_get_it_in_the_order_they_asked(db: TestDb) {
    use std::sync::{Arc, Mutex};
    let (pool, _) = yiqi::db::connect_pool(&db.url, 1, std::time::Duration::from_secs(30)).unwrap();
    // The one connection is held until `release` is sent.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let holder = {
        let pool = pool.clone();
        tokio::spawn(async move {
            yiqi::db::run(&pool, move |_| {
                held.recv().ok();
                Ok(())
            })
            .await
        })
    };
    tokio::task::yield_now().await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiting = Vec::new();
    for n in 0..12 {
        let (pool, order) = (pool.clone(), order.clone());
        waiting.push(tokio::spawn(async move {
            yiqi::db::run(&pool, move |_| {
                order.lock().unwrap().push(n);
                Ok(())
            })
            .await
        }));
        // Each asks before the next one does.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
    }
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..12).collect::<Vec<_>>());
}
