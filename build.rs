//! Decides which parts of the integration suite run; the others are listed by `cargo test` as
//! ignored, with the reason, so nothing counts as passed that did not run:
//! - `pg_tests` when TEST_DATABASE_URL names a PostgreSQL server (`cargo test` alone runs the
//!   SQLite half);
//! - `browser_tests` when chromedriver is installed or YIQI_BROWSER_TESTS=1 demands them.
use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=YIQI_BROWSER_TESTS");
    println!("cargo::rerun-if-env-changed=CHROMEDRIVER");
    println!("cargo::rerun-if-changed=build.rs");

    let pg = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    if pg.starts_with("postgres://") || pg.starts_with("postgresql://") {
        println!("cargo::rustc-cfg=pg_tests");
    }

    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let demanded = std::env::var("YIQI_BROWSER_TESTS").is_ok_and(|v| v == "1");
    if demanded || Path::new(&driver).exists() {
        println!("cargo::rustc-cfg=browser_tests");
    }
}
