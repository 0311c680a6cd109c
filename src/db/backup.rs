//! Copies of a SQLite database: a consistent snapshot taken while the service writes
//! (`VACUUM INTO` reads in one transaction, so writers go on and the copy is the database as
//! of one instant), the copies `yiqi serve` keeps on a schedule, and putting one back.
//! PostgreSQL has its own tools (`pg_dump`, point-in-time recovery): README, Operations.

use std::path::{Path, PathBuf};

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{DbConnection, Target};

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct Mode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

/// `PRAGMA integrity_check` of the SQLite file at `path`: Ok when it says "ok".
pub fn check_file(path: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::establish(&path.display().to_string())
        .with_context(|| format!("cannot open {}", path.display()))?;
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .with_context(|| format!("{} is not a readable SQLite database", path.display()))?;
    let report: Vec<String> = rows.into_iter().map(|r| r.integrity_check).collect();
    anyhow::ensure!(
        report == ["ok"],
        "{} fails its integrity check: {}",
        path.display(),
        report.join("; ")
    );
    Ok(())
}

/// Writes a consistent copy of the database `conn` is open on to `out` (which must not exist),
/// checks it, and returns its size in bytes. The copy is written under a temporary name and
/// renamed, so `out` never names half a copy.
pub fn backup(conn: &mut DbConnection, out: &Path) -> anyhow::Result<u64> {
    let DbConnection::Sqlite(conn) = conn else {
        anyhow::bail!(
            "yiqi backs up SQLite databases; on PostgreSQL use pg_dump (README, Operations)"
        );
    };
    anyhow::ensure!(!out.exists(), "{} exists already", out.display());
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let partial = with_suffix(out, ".partial");
    let _ = std::fs::remove_file(&partial);
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(partial.display().to_string())
        .execute(conn)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    check_file(&partial)?;
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(std::fs::metadata(out)?.len())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

const PREFIX: &str = "yiqi-";
const SUFFIX: &str = ".db";

/// The scheduled copy: `dir/yiqi-YYYYMMDDTHHMMSSZ.db` for `now`, then the oldest copies
/// beyond the newest `keep` are deleted (only files of that name). Returns the new file.
pub fn scheduled(
    conn: &mut DbConnection,
    dir: &Path,
    keep: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<PathBuf> {
    let out = dir.join(format!("{PREFIX}{}{SUFFIX}", now.format("%Y%m%dT%H%M%SZ")));
    backup(conn, &out)?;
    let mut copies: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    // The names sort by time.
    copies.sort();
    let excess = copies.len().saturating_sub(keep.max(1));
    for old in copies.into_iter().take(excess) {
        std::fs::remove_file(&old).with_context(|| format!("cannot delete {}", old.display()))?;
    }
    Ok(out)
}

/// Puts the copy `file` in place of the SQLite database at `url`, refusing while anything has
/// that database open. The database it replaces is kept beside it as `….replaced-TIME`, whose
/// path is returned.
pub fn restore(
    file: &Path,
    url: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<PathBuf>> {
    let Target::Sqlite { path, .. } = Target::parse(url)? else {
        anyhow::bail!("yiqi restores SQLite databases; on PostgreSQL use pg_restore or psql (README, Operations)");
    };
    let target = PathBuf::from(&path);
    anyhow::ensure!(file.is_file(), "no backup at {}", file.display());
    check_file(file)?;
    let mut replaced = None;
    if target.exists() {
        in_use_check(&target)?;
        let old = with_suffix(
            &target,
            &format!(".replaced-{}", now.format("%Y%m%dT%H%M%SZ")),
        );
        std::fs::rename(&target, &old)
            .with_context(|| format!("cannot move {} aside", target.display()))?;
        replaced = Some(old);
    }
    // What belonged to the old file must not be applied to the new one.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&target, suffix));
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let partial = with_suffix(&target, ".restoring");
    let _ = std::fs::remove_file(&partial);
    std::fs::copy(file, &partial).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    check_file(&target)?;
    Ok(replaced)
}

/// Refuses when another connection has the database open. Leaving WAL mode needs the only
/// connection: SQLite keeps WAL (and says so) while another one is open.
fn in_use_check(target: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::establish(&target.display().to_string())
        .with_context(|| format!("cannot open {}", target.display()))?;
    let refused = || {
        anyhow::anyhow!(
            "{} is in use (a running yiqi?): stop the service before restoring",
            target.display()
        )
    };
    let mode: Vec<Mode> = diesel::sql_query("PRAGMA journal_mode = DELETE")
        .load(&mut conn)
        .map_err(|_| refused())?;
    if mode.first().map(|m| m.journal_mode.as_str()) != Some("delete") {
        return Err(refused());
    }
    Ok(())
}
