//! The command line: `yiqi serve`, `yiqi migrate`, `yiqi seed demo`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Settings};
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
    /// Run pending database migrations and exit.
    Migrate,
    /// Load generated data.
    Seed {
        #[command(subcommand)]
        what: SeedWhat,
    },
}

#[derive(Subcommand)]
enum SeedWhat {
    /// The demo platform: 13 sub-platforms, 72 host units and 1,940 instruments times SCALE.
    Demo {
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=500))]
        scale: u32,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::load(&config::environment()).and_then(|settings| {
        telemetry::init(&settings.log);
        run(
            cli.command.unwrap_or(Command::Serve { bind: None }),
            settings,
        )
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
    match command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.server.bind = bind;
            }
            actix_web::rt::System::new().block_on(async {
                let app = Application::build(&settings)?;
                app.run_until_stopped().await.context("server failed")
            })
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
            let summary = seed::demo(&mut conn, scale)?;
            println!("demo platform loaded: {summary}");
            Ok(())
        }
    }
}

fn one_connection(settings: &Settings) -> anyhow::Result<db::DbConnection> {
    db::connect(settings.database.url.expose())
}
