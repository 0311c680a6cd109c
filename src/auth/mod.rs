//! Who is asking: passwords, tokens, the current-user extractor, and the one table of who may
//! do what (`permissions`).

pub mod extract;
pub mod jwt;
pub mod limiter;
pub mod password;
pub mod permissions;
pub mod store;
pub mod tokens;

use serde::Serialize;

use crate::config::AuthSettings;
use crate::types::{code_enum, InstrumentId, OrganisationId, UnitId, UserId};

pub use extract::Auth;
pub use permissions::{allowed, authorize, Action};

code_enum! {
    /// What a person is on the platform. Staff roles belong to one host unit.
    pub enum Role {
        Researcher = "researcher" / "用户",
        InstrumentManager = "instrument_manager" / "仪器负责人",
        UnitAdmin = "unit_admin" / "单位管理员",
        PlatformAdmin = "platform_admin" / "平台管理员",
    }
}

impl Role {
    /// Roles tied to a host unit.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::InstrumentManager | Role::UnitAdmin)
    }
}

/// The signed-in person, loaded fresh for every request (a disabled account or a changed
/// role takes effect at once, not when the access token expires).
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub unit: Option<UnitId>,
    pub organisation: Option<OrganisationId>,
    pub verified: bool,
    /// The instruments an instrument manager is responsible for.
    pub managed: Vec<InstrumentId>,
    /// The voucher issuer (an organisation) this person acts for, if a platform administrator
    /// named them its officer.
    pub voucher_issuer: Option<OrganisationId>,
    /// Their organisation's kind and host unit, read with the account: what their price
    /// tier at an instrument depends on.
    pub affiliation: Option<crate::users::model::Affiliation>,
}

impl Principal {
    /// Their price tier at an instrument of host unit `unit`.
    pub fn price_tier(&self, unit: UnitId) -> crate::users::model::PriceTier {
        crate::users::model::PriceTier::of(self.affiliation, unit)
    }
}

/// What the auth code shares, built once from the settings.
pub struct AuthContext {
    pub keys: jwt::Keys,
    pub limiter: limiter::LoginLimiter,
    /// Requests that e-mail an address the caller typed.
    pub mail_limiter: limiter::MailLimiter,
    pub settings: AuthSettings,
    /// Base of links in e-mails, without a trailing slash.
    pub public_url: String,
}

impl AuthContext {
    pub fn new(settings: &AuthSettings, public_url: String) -> AuthContext {
        AuthContext {
            keys: jwt::Keys::new(settings.jwt_secret.expose(), settings.access_ttl_secs),
            limiter: limiter::LoginLimiter::new(
                settings.login_max_failures_per_account,
                settings.login_max_failures_per_address,
                settings.login_window_secs,
            ),
            mail_limiter: limiter::MailLimiter::new(
                settings.mail_max_per_email,
                settings.mail_max_per_address,
                settings.mail_window_secs,
            ),
            settings: settings.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }
}
