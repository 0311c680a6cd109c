//! Layered settings: the embedded `config/default.toml`, then `config/{YIQI_ENV}.toml`
//! (also embedded, so the binary runs from any directory), then `YIQI__SECTION__KEY`
//! variables and `DATABASE_URL`. Unknown keys are rejected.

use std::fmt;

use serde::Deserialize;

const DEFAULT: &str = include_str!("../config/default.toml");
const PRODUCTION: &str = include_str!("../config/production.toml");
const TEST: &str = include_str!("../config/test.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub backup: BackupSettings,
    pub demo: DemoSettings,
    pub log: LogSettings,
    pub telemetry: TelemetrySettings,
    pub catalogue: CatalogueSettings,
    pub search: SearchSettings,
    pub reservations: ReservationSettings,
    pub usage: UsageSettings,
    pub evaluation: EvaluationSettings,
    pub publishing: PublishingSettings,
    pub vouchers: VoucherSettings,
    pub mail: MailSettings,
    pub auth: AuthSettings,
    pub platform: PlatformSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key of the access tokens (HS256).
    pub jwt_secret: Secret,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    pub verify_ttl_hours: i64,
    pub reset_ttl_minutes: i64,
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_address: u32,
    pub login_window_secs: i64,
    /// E-mails one address may be sent on request (registration, reset, a new verification
    /// link) per window, and requests of that kind one client may make.
    pub mail_max_per_email: u32,
    pub mail_max_per_address: u32,
    pub mail_window_secs: i64,
    /// Mark session cookies Secure (HTTPS only).
    pub secure_cookies: bool,
    /// Count sign-in failures against the address in `Forwarded` / `X-Forwarded-For` (behind a
    /// reverse proxy that sets it) instead of the connection's peer address.
    pub trust_forwarded_for: bool,
}

/// The development key shipped in default.toml; production refuses to start with it.
pub const DEVELOPMENT_JWT_SECRET: &str = "development-only-key-do-not-use-in-production";
/// The key `config/compose.env` gives the compose demo: public, so the service warns while it
/// is in use (production accepts it, or the demo would not start).
pub const COMPOSE_DEMO_JWT_SECRET: &str = "compose-demo-key-public-replace-before-real-use";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    /// The address people reach the service at, for links in e-mails. Empty: the bound
    /// address (local runs and tests).
    pub public_url: String,
    pub workers: usize,
    /// On SIGTERM or SIGINT: seconds in-flight requests may take to finish after the listener
    /// closed, before they are cut.
    pub shutdown_timeout_secs: u64,
    /// Prometheus `/metrics` on a listener of its own (no token); empty: none.
    pub metrics_bind: String,
    /// `/metrics` on the main port for `Authorization: Bearer <token>`; empty: not there.
    pub metrics_token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub pool_size: u32,
    pub pool_timeout_secs: u64,
}

/// SQLite only: the copies `yiqi serve` makes of the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    pub dir: String,
    /// Hours between copies; 0: none.
    pub interval_hours: u64,
    /// Copies kept; older ones are deleted.
    pub keep: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    pub seed_on_empty: bool,
    pub scale: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An OTLP/HTTP collector (`http://collector:4318`); empty: no traces exported.
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueSettings {
    pub counts_ttl_secs: u64,
    /// How often this instance reads the change counters other instances move
    /// (`cache::watch`); 0 leaves their changes to `counts_ttl_secs`.
    pub changes_poll_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Where the full-text index lives; empty keeps it in memory (built on start each time).
    pub index_dir: String,
    /// Seconds within which an edit made through another instance is found here (0: every
    /// search first catches up from the database).
    pub refresh_secs: u64,
    /// Build a missing or outdated index as soon as the service starts (else on the first
    /// search).
    pub build_on_start: bool,
    /// Result pages kept for repeated searches, until the index next changes (0: none).
    pub cache_entries: usize,
}

/// The automatic no-show rule: `no_show_limit` no-shows within `no_show_window_days` pause
/// the person's bookings on every instrument for `no_show_ban_days`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationSettings {
    pub no_show_limit: i64,
    pub no_show_window_days: i64,
    pub no_show_ban_days: i64,
    /// How often the reservation jobs (expiry, no-shows, reminders) run.
    pub jobs_interval_secs: u64,
}

/// What every page's header and footer say about the platform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSettings {
    /// The platform's name, in the header, the footer and every page's title.
    pub name: String,
    /// Who runs it (主办单位), in the footer.
    pub operator: String,
    /// The site's ICP registration number (备案号), in the footer; empty shows none.
    pub icp_record: String,
    /// The operator's service telephone, in the footer; empty shows none.
    pub phone: String,
}

/// 评价: how long clients may rate and change a rating.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSettings {
    /// Days after a service during which its client may rate it.
    pub rating_window_days: i64,
    /// Days after rating during which the rater may change it.
    pub rating_edit_days: i64,
    /// Beijing working days the unit has to answer an accepted complaint.
    pub answer_deadline_days: u32,
    /// The yearly round flags a unit 限期整改 when its satisfaction is below this share …
    pub rectify_below: f64,
    /// … over at least this many ratings,
    pub rectify_min_ratings: i64,
    /// or when this many complaints against it were upheld (fully or partly) in the year.
    pub rectify_upheld: i64,
    /// 大型仪器: the original value (yuan) from which an instrument counts as large.
    pub large_value_yuan: i64,
}

/// 创新券: how long approved redemptions stay on public notice, and how large a file may be.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherSettings {
    /// Days an approved redemption is listed publicly (公示) before the issuer may pay it.
    pub notice_days: i64,
    /// The largest redemption file (contract, invoice, proof), in MiB.
    pub max_file_mb: u32,
}

/// 信息发布: where articles' attachments are kept and how large one may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishingSettings {
    /// Attachments' bytes, one file per SHA-256. Several instances must share this directory.
    pub attachment_dir: String,
    /// The largest attachment, in MiB; a larger upload is refused before it is read.
    pub max_attachment_mb: u32,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSettings {
    /// Days after a service during which its client may ask for an hour reduction (核减机时).
    pub reduction_window_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    Smtp,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub file_dir: String,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_user: String,
    pub smtp_password: Secret,
    pub smtp_timeout_secs: u64,
    pub sender_enabled: bool,
    pub poll_interval_ms: u64,
    pub batch_size: u32,
    pub rate_per_sec: u32,
    pub concurrency: u32,
    pub max_attempts: u32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    pub lease_secs: u64,
}

/// A value that must never reach a log line: `Debug` and `Display` print a placeholder.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The environment named by `YIQI_ENV`: `local` (default), `production` or `test`.
pub fn environment() -> String {
    std::env::var("YIQI_ENV").unwrap_or_else(|_| "local".to_owned())
}

impl Settings {
    /// Settings for `environment`, with the process environment's overrides applied.
    pub fn load(environment: &str) -> anyhow::Result<Settings> {
        Self::load_from(environment, std::env::vars())
    }

    /// As [`Settings::load`], reading overrides from `vars` instead of the process environment.
    pub fn load_from(
        environment: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        use config::{Config, File, FileFormat};
        let overlay = match environment {
            "local" => "",
            "production" => PRODUCTION,
            "test" => TEST,
            other => anyhow::bail!(
                "YIQI_ENV={other} is not an environment; use local, production or test"
            ),
        };
        let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT, FileFormat::Toml))
            .add_source(File::from_str(overlay, FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("YIQI")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(vars.clone())),
            );
        if let Some(url) = vars.get("DATABASE_URL").filter(|u| !u.is_empty()) {
            builder = builder.set_override("database.url", url.as_str())?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        if settings.database.pool_size == 0 {
            anyhow::bail!("database.pool_size must be at least 1");
        }
        if settings.demo.scale == 0 {
            anyhow::bail!("demo.scale must be at least 1");
        }
        if environment == "production" && settings.mail.transport == MailTransportKind::File {
            anyhow::bail!(
                "mail.transport = \"file\" is for development: production sends through SMTP \
                 (set YIQI__MAIL__TRANSPORT=smtp and YIQI__MAIL__SMTP_HOST)"
            );
        }
        if environment == "production"
            && (settings.auth.jwt_secret.expose() == DEVELOPMENT_JWT_SECRET
                || settings.auth.jwt_secret.expose().len() < 32)
        {
            anyhow::bail!(
                "auth.jwt_secret must be a key of your own of at least 32 characters in \
                 production (set YIQI__AUTH__JWT_SECRET, e.g. from `openssl rand -base64 48`)"
            );
        }
        if environment == "production" && settings.server.public_url.is_empty() {
            anyhow::bail!("server.public_url must be set in production (links in e-mails use it)");
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What production cannot start without.
    fn production_vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v = vars(&[
            (
                "YIQI__AUTH__JWT_SECRET",
                "a-production-key-of-more-than-32-characters",
            ),
            ("YIQI__SERVER__PUBLIC_URL", "https://yiqi.example.cn"),
        ]);
        v.extend(vars(extra));
        v
    }

    #[test]
    fn production_refuses_the_development_key() {
        let err = Settings::load_from(
            "production",
            vars(&[("YIQI__SERVER__PUBLIC_URL", "https://yiqi.example.cn")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("jwt_secret"), "{err}");
    }

    #[test]
    fn every_shipped_environment_parses() {
        for env in ["local", "test"] {
            Settings::load_from(env, vars(&[])).unwrap();
        }
        Settings::load_from("production", production_vars(&[])).unwrap();
    }

    #[test]
    fn variables_override_files() {
        let s = Settings::load_from(
            "local",
            vars(&[
                ("YIQI__SERVER__BIND", "0.0.0.0:9999"),
                ("DATABASE_URL", "postgres://x@localhost/db"),
                ("YIQI__DEMO__SEED_ON_EMPTY", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9999");
        assert_eq!(s.database.url.expose(), "postgres://x@localhost/db");
        assert!(!s.demo.seed_on_empty);
        assert!(
            !Settings::load_from("production", production_vars(&[]))
                .unwrap()
                .demo
                .seed_on_empty
        );
    }

    #[test]
    fn production_refuses_the_file_transport() {
        let err = Settings::load_from(
            "production",
            production_vars(&[("YIQI__MAIL__TRANSPORT", "file")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("mail.transport"), "{err}");
        let s = Settings::load_from(
            "local",
            vars(&[
                ("YIQI__MAIL__TRANSPORT", "smtp"),
                ("YIQI__MAIL__SMTP_HOST", "mail.example"),
                ("YIQI__MAIL__SMTP_PORT", "2525"),
                ("YIQI__MAIL__SMTP_SECURITY", "tls"),
                ("YIQI__MAIL__FILE_DIR", "/tmp/m"),
                ("YIQI__MAIL__FROM", "a@b.c"),
            ]),
        )
        .unwrap();
        assert_eq!(s.mail.transport, MailTransportKind::Smtp);
        assert_eq!(
            (s.mail.smtp_host.as_str(), s.mail.smtp_port),
            ("mail.example", 2525)
        );
        assert_eq!(s.mail.smtp_security, SmtpSecurity::Tls);
        assert_eq!(
            (s.mail.file_dir.as_str(), s.mail.from.as_str()),
            ("/tmp/m", "a@b.c")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Settings::load_from("local", vars(&[("YIQI__SERVER__BINDD", "x")])).unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
        assert!(Settings::load_from("staging", vars(&[])).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::load_from(
            "local",
            vars(&[("DATABASE_URL", "postgres://u:hunter2@h/d")]),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
