//! The command line: `yiqi serve`, `yiqi migrate`, `yiqi seed demo`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Settings};
use crate::mail::model::OutboxStatus;
use crate::types::MessageId;
use crate::{db, seed, telemetry, Application};

#[derive(Parser)]
#[command(
    name = "yiqi",
    version,
    about = "仪器共享平台 — booking service for shared research instruments"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the API (the default).
    Serve {
        /// Listen address, e.g. 127.0.0.1:8080 (overrides YIQI__SERVER__BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Ask the running service's /health on `server.bind` (for container health checks):
    /// exit 0 when it answers 200.
    Health,
    /// Run pending database migrations and exit.
    Migrate,
    /// SQLite: write a consistent copy of the database to FILE, even while the service runs.
    Backup {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Move a whole platform from SQLite to an empty PostgreSQL database: every table with its
    /// ids, in one transaction; prints the rows copied per table.
    CopyData {
        /// sqlite://PATH
        #[arg(long)]
        from: String,
        /// postgres://… (migrated here; must be empty)
        #[arg(long)]
        to: String,
    },
    /// SQLite: put the copy FILE in place of the database (refused while it is in use; the
    /// replaced database is kept beside it).
    Restore { file: std::path::PathBuf },
    /// Load generated data.
    Seed {
        #[command(subcommand)]
        what: SeedWhat,
    },
    /// Accounts.
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// The machine-hour log.
    Usage {
        #[command(subcommand)]
        what: UsageCommand,
    },
    /// The e-mail outbox.
    Mail {
        #[command(subcommand)]
        what: MailCommand,
    },
    /// The full-text search index.
    Search {
        #[command(subcommand)]
        what: SearchCommand,
    },
    /// Reports to hand in.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// The year for the national reporting interface (数据报送): writes
    /// nrii-{UNIT|all}-{YEAR}.json and .xlsx into DIR and lists the records held back.
    Nrii {
        #[arg(long)]
        year: i32,
        /// One host unit (default: every unit).
        #[arg(long)]
        unit: Option<i64>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Build the index under `search.index_dir` again from the database (stop the service
    /// that uses the same directory first: the index takes one writer).
    Rebuild,
}

#[derive(Subcommand)]
enum MailCommand {
    /// Deliver every due message now, then exit (for operators who prefer cron).
    SendPending,
    /// Counts by status, the oldest queued message, and the dead ones with their errors.
    Status,
    /// Put a dead message (or, with --dead, every dead message) back in the queue.
    Retry {
        id: Option<MessageId>,
        #[arg(long, conflicts_with = "id")]
        dead: bool,
    },
    /// Queue a test message to ADDRESS, to check the mail settings end to end.
    Test {
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "管理员")]
        name: String,
    },
}

#[derive(Subcommand)]
enum UsageCommand {
    /// Recompute the monthly rollups from the service records (after a bulk load or a restore).
    RebuildRollups,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a verified account (bootstrap the first platform admin, add staff).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// researcher | instrument_manager | unit_admin | platform_admin
        #[arg(long)]
        role: String,
        /// The host unit of an instrument_manager or unit_admin.
        #[arg(long)]
        unit: Option<i64>,
        /// The organisation of a researcher (an id from /api/v1/organisations).
        #[arg(long)]
        organisation: Option<i64>,
        /// Read the password from standard input (one line), never from the command line.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum SeedWhat {
    /// The demo platform: 13 sub-platforms, 72 host units and 1,940 instruments times SCALE.
    Demo {
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=500))]
        scale: u32,
    },
    /// Add RECORDS generated service records over the YEARS before today to a seeded
    /// database, then rebuild the rollups (load work: `--records 10000000`).
    History {
        #[arg(long)]
        records: usize,
        #[arg(long, default_value_t = 9)]
        years: i64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { bind: None });
    let result = Settings::load(&config::environment()).and_then(|settings| {
        // Only the service exports traces; a command (`yiqi health` every few seconds in the
        // container) builds no exporter.
        let endpoint = match command {
            Command::Serve { .. } => settings.telemetry.otlp_endpoint.as_str(),
            _ => "",
        };
        let _telemetry = telemetry::init(&settings.log, endpoint);
        run(command, settings)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("yiqi: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, mut settings: Settings) -> anyhow::Result<()> {
    crate::mail::templates::set_platform(&settings.platform.name);
    match command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.server.bind = bind;
            }
            if settings.auth.jwt_secret.expose() == config::COMPOSE_DEMO_JWT_SECRET {
                tracing::warn!(
                    "auth.jwt_secret is the compose demo's public key: anyone can sign sessions; \
                     set YIQI__AUTH__JWT_SECRET to a key of your own before real use"
                );
            }
            actix_web::rt::System::new().block_on(async {
                let app = Application::build(&settings)?;
                app.run_until_stopped().await.context("server failed")
            })
        }
        Command::Health => health(&settings.server.bind),
        Command::Backup { out } => {
            let mut conn = one_connection(&settings)?;
            let started = std::time::Instant::now();
            let bytes = db::backup::backup(&mut conn, &out)?;
            println!(
                "wrote {} ({:.1} MB in {:.1} s), integrity ok",
                out.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::CopyData { from, to } => {
            let started = std::time::Instant::now();
            let report = db::copy::copy_data(&from, &to)?;
            let mut total = 0;
            for t in &report.tables {
                println!("{:>10}  {}", t.rows, t.table);
                total += t.rows;
            }
            println!(
                "{total} rows in {} tables copied in {:.1} s; sequences set after the copied ids",
                report.tables.len(),
                started.elapsed().as_secs_f64()
            );
            if report.rollups_equal {
                println!("usage rollups: equal to a rebuild from the service records");
            } else {
                println!(
                    "usage rollups: the copied ones differed from a rebuild from the service \
                     records; the rebuilt ones are kept"
                );
            }
            Ok(())
        }
        Command::Restore { file } => {
            let replaced = db::backup::restore(
                &file,
                settings.database.url.expose(),
                crate::clock::system().now(),
            )?;
            println!("restored {}, integrity ok", file.display());
            if let Some(old) = replaced {
                println!("the database it replaced is kept as {}", old.display());
            }
            Ok(())
        }
        Command::Migrate => {
            let mut conn = one_connection(&settings)?;
            let ran = db::migrate(&mut conn)?;
            println!("{ran} migration(s) applied");
            Ok(())
        }
        Command::Seed {
            what: SeedWhat::Demo { scale },
        } => {
            let mut conn = one_connection(&settings)?;
            db::migrate(&mut conn)?;
            anyhow::ensure!(
                seed::is_empty(&mut conn)?,
                "the database already holds a catalogue; seed an empty database"
            );
            let today = crate::usage::service::local_day(crate::clock::system().now());
            let files = std::path::Path::new(&settings.publishing.attachment_dir);
            let summary = seed::demo(&mut conn, scale, today, Some(files))?;
            println!("demo platform loaded: {summary}");
            Ok(())
        }
        Command::Seed {
            what: SeedWhat::History { records, years },
        } => {
            let mut conn = one_connection(&settings)?;
            db::migrate(&mut conn)?;
            anyhow::ensure!(!seed::is_empty(&mut conn)?, "seed the demo platform first");
            let today = crate::usage::service::local_day(crate::clock::system().now());
            let written = seed::history::synthetic(
                &mut conn,
                &mut seed::Rng(records as u64 ^ 0x6869_7374),
                records,
                today - chrono::Duration::days(365 * years.max(1)),
                today - chrono::Duration::days(1),
                crate::clock::system().now_naive(),
            )?;
            crate::usage::store::rebuild_rollups(&mut conn)?;
            rollups_changed(&mut conn)?;
            db::analyze(&mut conn)?;
            println!("{written} service records added, rollups rebuilt");
            Ok(())
        }
        Command::Usage {
            what: UsageCommand::RebuildRollups,
        } => {
            let mut conn = one_connection(&settings)?;
            db::migrate(&mut conn)?;
            crate::usage::store::rebuild_rollups(&mut conn)?;
            rollups_changed(&mut conn)?;
            println!("rollups rebuilt from the service records");
            Ok(())
        }
        Command::Mail { what } => mail(what, &settings),
        Command::Export {
            what: ExportCommand::Nrii { year, unit, out },
        } => {
            let mut conn = one_connection(&settings)?;
            db::migrate(&mut conn)?;
            let unit = unit.map(crate::types::UnitId);
            if let Some(u) = unit {
                anyhow::ensure!(
                    crate::navigation::store::find_unit(&mut conn, u)?.is_some(),
                    "--unit {}: no such unit",
                    u.0
                );
            }
            let started = std::time::Instant::now();
            let report = crate::usage::nrii::build(&mut conn, unit, year, &settings.evaluation)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            for format in ["json", "xlsx"] {
                let file = match crate::usage::nrii::report(&report, format) {
                    Ok(file) => file,
                    // Too large for a workbook: the JSON stands alone.
                    Err(e) if format == "xlsx" => {
                        println!("no workbook: {e}");
                        continue;
                    }
                    Err(e) => return Err(anyhow::anyhow!("{e}")),
                };
                let path = out.join(&file.file_name);
                std::fs::write(&path, &file.body)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            println!(
                "{} instruments, {} service records, {} unit summaries in {:.1} s",
                report.instruments.len(),
                report.services.len(),
                report.summaries.len(),
                started.elapsed().as_secs_f64()
            );
            if !report.problems.is_empty() {
                println!(
                    "{} problems: the records concerned are held back (sheet 问题):",
                    report.problems.len()
                );
                for p in report.problems.iter().take(20) {
                    println!("  {} {} {}: {}", p.record, p.id, p.field, p.message);
                }
            }
            Ok(())
        }
        Command::Search {
            what: SearchCommand::Rebuild,
        } => {
            anyhow::ensure!(
                !settings.search.index_dir.is_empty(),
                "search.index_dir is empty: the index lives in memory and is built on start"
            );
            let mut conn = one_connection(&settings)?;
            db::migrate(&mut conn)?;
            let categories = std::sync::Arc::new(
                crate::navigation::service::Categories::load(&mut conn)
                    .map_err(|e| anyhow::anyhow!("cannot load the categories: {e}"))?,
            );
            let started = std::time::Instant::now();
            let search = crate::search::service::Search::open(
                &settings.search,
                categories,
                crate::clock::system(),
            )?;
            let n = search
                .rebuild(&mut conn)
                .map_err(|e| anyhow::anyhow!("cannot build the index: {e}"))?;
            println!(
                "search index built: {n} instruments in {:.1} s ({})",
                started.elapsed().as_secs_f64(),
                settings.search.index_dir
            );
            Ok(())
        }
        Command::User {
            what:
                UserCommand::Add {
                    email,
                    name,
                    role,
                    unit,
                    organisation,
                    password_stdin: _,
                },
        } => {
            use crate::auth::{password, Role};
            use crate::types::{OrganisationId, UnitId};
            let role = Role::from_code(&role)
                .ok_or_else(|| anyhow::anyhow!("--role {role}: use one of {}", Role::codes()))?;
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let pw = line.trim_end_matches(['\n', '\r']);
            password::check_new("password", pw, &email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = password::hash(pw).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut conn = one_connection(&settings)?;
            db::migrate(&mut conn)?;
            let now = crate::clock::system().now_naive();
            let id = db::write_tx(&mut conn, |c| {
                let account = crate::users::service::NewAccount {
                    email: &email,
                    name: &name,
                    role,
                    unit: unit.map(UnitId),
                    organisation: organisation.map(OrganisationId),
                };
                crate::users::service::create_verified(c, &account, &hash, now)
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("user #{id} {email} ({}) created, verified", role.code());
            Ok(())
        }
    }
}

fn mail(command: MailCommand, settings: &Settings) -> anyhow::Result<()> {
    use crate::mail::{self, sender::Sender, store};
    let clock = crate::clock::system();
    let mut conn = one_connection(settings)?;
    db::migrate(&mut conn)?;
    match command {
        MailCommand::SendPending => {
            drop(conn);
            let (pool, _) = db::connect_pool(
                settings.database.url.expose(),
                2,
                std::time::Duration::from_secs(settings.database.pool_timeout_secs),
            )?;
            // The SMTP transport's connection pool needs the async runtime to exist when it
            // is built, so the sender is made inside it.
            let report = actix_web::rt::System::new().block_on(async {
                let sender = Sender::from_settings(&settings.mail, clock)?;
                sender
                    .send_all_due(&pool)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })?;
            println!(
                "sent {}, to retry later {}, dead {}",
                report.sent, report.retried, report.dead
            );
        }
        MailCommand::Status => {
            let s = store::status(&mut conn)?;
            println!(
                "queued {}  sending {}  sent {}  dead {}",
                s.queued, s.sending, s.sent, s.dead
            );
            if let Some(t) = s.oldest_queued_at {
                println!("oldest queued since {} UTC", t.format("%Y-%m-%d %H:%M:%S"));
            }
            for row in store::dead(&mut conn, 100)? {
                println!(
                    "dead #{} [{}] to {} after {} attempt(s): {}",
                    row.id,
                    row.kind,
                    row.recipients().join(", "),
                    row.attempts,
                    row.last_error.as_deref().unwrap_or("")
                );
            }
        }
        MailCommand::Retry { id, dead } => {
            anyhow::ensure!(id.is_some() || dead, "name a message ID, or --dead for all");
            if let Some(id) = id {
                let row = store::find(&mut conn, id)?
                    .ok_or_else(|| anyhow::anyhow!("no message #{id} in the outbox"))?;
                anyhow::ensure!(
                    row.status == OutboxStatus::Dead,
                    "message #{id} is {}, not dead: nothing to retry",
                    row.status
                );
            }
            let n = store::requeue_dead(&mut conn, id, clock.now_naive())?;
            println!("{n} message(s) queued again");
        }
        MailCommand::Test { to, name } => {
            let message =
                mail::templates::test_message(&to, &name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let now = clock.now_naive();
            db::write_tx(&mut conn, |c| mail::enqueue(c, &message, now))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("test message to {to} queued");
        }
    }
    Ok(())
}

fn one_connection(settings: &Settings) -> anyhow::Result<db::DbConnection> {
    db::connect(settings.database.url.expose())
}

/// GET /health on the bound address (an unspecified address is asked on loopback).
fn health(bind: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;
    let mut addr: SocketAddr = bind
        .parse()
        .with_context(|| format!("server.bind {bind:?} is not an address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("nothing answers on {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.lines().next().unwrap_or_default();
    anyhow::ensure!(status.contains(" 200 "), "/health answered {status:?}");
    println!("ok");
    Ok(())
}

/// Tells running instances that the rollups (usage and rating counts) were rewritten, so they
/// drop the statistics and rating summaries they keep.
fn rollups_changed(conn: &mut db::DbConnection) -> anyhow::Result<()> {
    use crate::cache::{changed, Topic};
    changed(conn, Topic::Usage)?;
    changed(conn, Topic::Ratings)?;
    Ok(())
}
