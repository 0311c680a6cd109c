//! The two real lettre transports: SMTP (production) and `.eml` files in a directory (local).

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{MailSettings, MailTransportKind, SmtpSecurity};

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub struct DeliveryError {
    pub message: String,
    /// The server refused for good (5xx), or the message itself is unsendable.
    pub permanent: bool,
}

impl Transport {
    pub fn from_settings(s: &MailSettings) -> anyhow::Result<Transport> {
        match s.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&s.file_dir).map_err(|e| {
                    anyhow::anyhow!("cannot create mail.file_dir {}: {e}", s.file_dir)
                })?;
                Ok(Transport::File(AsyncFileTransport::new(&s.file_dir)))
            }
            MailTransportKind::Smtp => {
                let host = s.smtp_host.as_str();
                let builder = match s.smtp_security {
                    SmtpSecurity::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    }
                    SmtpSecurity::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                    }
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
                };
                let mut builder = builder
                    .pool_config(
                        lettre::transport::smtp::PoolConfig::new().max_size(s.concurrency.max(1)),
                    )
                    .port(s.smtp_port)
                    .timeout(Some(Duration::from_secs(s.smtp_timeout_secs)));
                if !s.smtp_user.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        s.smtp_user.clone(),
                        s.smtp_password.expose().to_owned(),
                    ));
                }
                Ok(Transport::Smtp(builder.build()))
            }
        }
    }

    pub async fn send(&self, message: lettre::Message) -> Result<(), DeliveryError> {
        match self {
            Transport::Smtp(t) => t.send(message).await.map(drop).map_err(|e| DeliveryError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
            Transport::File(t) => t.send(message).await.map(drop).map_err(|e| DeliveryError {
                permanent: false,
                message: e.to_string(),
            }),
        }
    }
}
