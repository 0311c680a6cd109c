//! Moving a platform that outgrew SQLite to PostgreSQL (`yiqi copy-data`): every table, row
//! for row with its ids, in one PostgreSQL transaction (all or nothing), in foreign-key order;
//! then the identity sequences are set past the copied ids and the usage rollups are checked
//! against a rebuild from the service records.
//!
//! The tables and columns are read from the migrated target, so a new migration needs no change
//! here. SQLite writes each row as PostgreSQL literals itself (`quote()`; booleans, stored as
//! 0/1, as `true`/`false`), so no value passes through a Rust type that could bend it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::{DbConnection, Target};

/// Rows copied per statement.
const BATCH: i64 = 2_000;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_identity: String,
    #[diesel(sql_type = Nullable<Text>)]
    column_default: Option<String>,
}

#[derive(QueryableByName)]
struct Edge {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Literal {
    #[diesel(sql_type = BigInt)]
    row_id: i64,
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = Nullable<BigInt>)]
    m: Option<i64>,
}

/// One table as copied: its name and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub rows: i64,
}

/// What `copy_data` did.
#[derive(Debug, Clone)]
pub struct Report {
    pub tables: Vec<Copied>,
    /// Whether the copied usage rollups equalled a rebuild from the service records (when
    /// not, the rebuilt ones are kept).
    pub rollups_equal: bool,
}

const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// Tables only a platform in use has rows in: the target must have none.
const PLATFORM_TABLES: &[&str] = &["users", "units", "instruments", "reservations"];

/// A column to copy: its name, its PostgreSQL type, and whether a sequence numbers it.
struct Col {
    name: String,
    data_type: String,
    numbered: bool,
}

/// A table to copy and its columns.
struct Table {
    name: String,
    columns: Vec<Col>,
}

/// The tables of the target's current schema with their columns (not the generated ones,
/// which PostgreSQL computes itself), parents before children.
fn target_tables(pg: &mut PgConnection) -> anyhow::Result<Vec<Table>> {
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                c.data_type::text AS data_type, c.is_identity::text AS is_identity, \
                c.column_default::text AS column_default \
         FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.is_generated <> 'ALWAYS' \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .load(pg)?;
    let mut tables: BTreeMap<String, Vec<Col>> = BTreeMap::new();
    for c in columns {
        if c.table_name == MIGRATIONS_TABLE {
            continue;
        }
        let numbered = c.is_identity == "YES"
            || c.column_default
                .as_deref()
                .is_some_and(|d| d.starts_with("nextval("));
        tables.entry(c.table_name).or_default().push(Col {
            name: c.column_name,
            data_type: c.data_type,
            numbered,
        });
    }
    let edges: Vec<Edge> = diesel::sql_query(
        "SELECT child.relname::text AS child, parent.relname::text AS parent \
         FROM pg_constraint k \
         JOIN pg_class child ON child.oid = k.conrelid \
         JOIN pg_class parent ON parent.oid = k.confrelid \
         JOIN pg_namespace n ON n.oid = child.relnamespace \
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .load(pg)?;
    // Depth-first: each table after the tables it references (a table referencing itself
    // keeps its rows in id order, parents first).
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &edges {
        if e.child != e.parent {
            parents.entry(&e.child).or_default().insert(&e.parent);
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    fn visit<'a>(
        t: &'a str,
        parents: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        seen: &mut BTreeSet<&'a str>,
        order: &mut Vec<String>,
    ) {
        if !seen.insert(t) {
            return;
        }
        for p in parents.get(t).into_iter().flatten() {
            visit(p, parents, seen, order);
        }
        order.push(t.to_owned());
    }
    for t in tables.keys() {
        visit(t, &parents, &mut seen, &mut order);
    }
    Ok(order
        .into_iter()
        .filter_map(|name| tables.remove(&name).map(|columns| Table { name, columns }))
        .collect())
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQLite expression that writes one column as a PostgreSQL literal.
fn literal(column: &str, data_type: &str) -> String {
    let c = ident(column);
    if data_type == "boolean" {
        format!("CASE WHEN {c} IS NULL THEN 'NULL' WHEN {c} THEN 'true' ELSE 'false' END")
    } else {
        format!("quote({c})")
    }
}

/// Copies every table of the SQLite database at `from` into the PostgreSQL database at `to`
/// (migrated first; refused unless empty).
pub fn copy_data(from: &str, to: &str) -> anyhow::Result<Report> {
    let Target::Sqlite { path, .. } = Target::parse(from)? else {
        anyhow::bail!("--from must be a SQLite database (sqlite://PATH)");
    };
    anyhow::ensure!(
        std::path::Path::new(&path).is_file(),
        "--from: no SQLite database at {path}"
    );
    anyhow::ensure!(
        matches!(Target::parse(to)?, Target::Postgres(_)),
        "--to must be a PostgreSQL database (postgres://…)"
    );
    let mut source = super::connect(from)?;
    let migrated = super::migrate(&mut source)?;
    anyhow::ensure!(
        migrated == 0,
        "--from was {migrated} migration(s) behind; it is migrated now, run copy-data again"
    );
    let mut target = super::connect(to)?;
    super::migrate(&mut target)?;
    let (DbConnection::Sqlite(sqlite), DbConnection::Pg(pg)) = (&mut source, &mut target) else {
        anyhow::bail!("--from must be SQLite and --to PostgreSQL");
    };
    let tables = target_tables(pg)?;
    let count = |pg: &mut PgConnection, table: &str| -> anyhow::Result<i64> {
        let n: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {}", ident(table)))
            .get_result(pg)?;
        Ok(n.n)
    };
    // A platform holds accounts and units; what else a fresh database holds came with the
    // migrations (the national classification, the holiday table) and is replaced by the
    // source's own rows.
    for table in PLATFORM_TABLES {
        let n = count(pg, table)?;
        anyhow::ensure!(
            n == 0,
            "--to is not empty ({table} has {n} rows): copy into a fresh database"
        );
    }
    let mut seeded = Vec::new();
    for table in &tables {
        if count(pg, &table.name)? > 0 {
            seeded.push(table.name.clone());
        }
    }
    // The source is read in one transaction: a copy of one instant even if something writes.
    sqlite.batch_execute("BEGIN")?;
    let copied = pg.transaction(|pg| -> anyhow::Result<Vec<Copied>> {
        for table in seeded.iter().rev() {
            pg.batch_execute(&format!("DELETE FROM {}", ident(table)))?;
        }
        let mut copied = Vec::new();
        for table in &tables {
            copied.push(copy_table(sqlite, pg, table)?);
        }
        set_sequences(pg, &tables)?;
        Ok(copied)
    });
    sqlite.batch_execute("COMMIT")?;
    let tables = copied?;
    let rollups_equal = rollups_equal_a_rebuild(&mut target)?;
    Ok(Report {
        tables,
        rollups_equal,
    })
}

fn copy_table(
    sqlite: &mut SqliteConnection,
    pg: &mut PgConnection,
    table: &Table,
) -> anyhow::Result<Copied> {
    let Table {
        name: table,
        columns,
    } = table;
    let names: Vec<String> = columns.iter().map(|c| ident(&c.name)).collect();
    let row = columns
        .iter()
        .map(|c| literal(&c.name, &c.data_type))
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    let read = format!(
        "SELECT rowid AS row_id, {row} AS v FROM {t} WHERE rowid > ? ORDER BY rowid LIMIT {BATCH}",
        t = ident(table)
    );
    let mut after = i64::MIN;
    let mut rows = 0;
    loop {
        let batch: Vec<Literal> = diesel::sql_query(&read)
            .bind::<BigInt, _>(after)
            .load(sqlite)
            .with_context(|| format!("reading {table} from SQLite (its columns differ?)"))?;
        let Some(last) = batch.last() else { break };
        after = last.row_id;
        let values: Vec<String> = batch.iter().map(|r| format!("({})", r.v)).collect();
        pg.batch_execute(&format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES {}",
            ident(table),
            names.join(", "),
            values.join(", ")
        ))
        .with_context(|| format!("writing {table} to PostgreSQL"))?;
        rows += batch.len() as i64;
    }
    Ok(Copied {
        table: table.clone(),
        rows,
    })
}

/// Identity columns continue after the largest copied id.
fn set_sequences(pg: &mut PgConnection, tables: &[Table]) -> anyhow::Result<()> {
    for Table {
        name: table,
        columns,
    } in tables
    {
        for column in columns.iter().filter(|c| c.numbered).map(|c| &c.name) {
            let max: Max = diesel::sql_query(format!(
                "SELECT MAX({}) AS m FROM {}",
                ident(column),
                ident(table)
            ))
            .get_result(pg)?;
            if let Some(m) = max.m {
                let seq: Vec<Name> =
                    diesel::sql_query("SELECT pg_get_serial_sequence($1, $2) AS name")
                        .bind::<Text, _>(ident(table))
                        .bind::<Text, _>(column)
                        .load(pg)?;
                if let Some(seq) = seq.first() {
                    diesel::sql_query("SELECT setval($1::regclass, $2) AS n")
                        .bind::<Text, _>(&seq.name)
                        .bind::<BigInt, _>(m)
                        .execute(pg)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether the usage rollups as copied equal a rebuild from the copied service records; a
/// difference means the SQLite rollups had drifted, and the rebuilt ones are kept.
fn rollups_equal_a_rebuild(target: &mut DbConnection) -> anyhow::Result<bool> {
    const ROLLUPS: &[&str] = &[
        "usage_monthly",
        "usage_yearly",
        "usage_unit_monthly",
        "usage_clients",
        "usage_platform_clients",
        "usage_instrument_clients",
        "usage_instrument_client_counts",
    ];
    let DbConnection::Pg(pg) = target else {
        return Ok(true);
    };
    let snapshot = |pg: &mut PgConnection| -> anyhow::Result<Vec<String>> {
        let mut all = Vec::new();
        for t in ROLLUPS {
            let rows: Vec<Name> = diesel::sql_query(format!(
                "SELECT r::text AS name FROM {t} r ORDER BY r::text"
            ))
            .load(pg)?;
            all.extend(rows.into_iter().map(|r| format!("{t} {}", r.name)));
        }
        Ok(all)
    };
    let copied = snapshot(pg)?;
    crate::usage::store::rebuild_rollups(target)?;
    let DbConnection::Pg(pg) = target else {
        return Ok(true);
    };
    Ok(snapshot(pg)? == copied)
}
