//! What every handler shares. Built once by `app`; handlers receive it as `web::Data<AppState>`.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::db::{Backend, Pool};
use crate::navigation::service::Catalogue;

/// What every handler shares.
pub struct AppState {
    pub pool: Pool,
    pub backend: Backend,
    pub catalogue: Catalogue,
    pub clock: SharedClock,
    /// The in-process mail sender's record, when it runs here.
    pub mail: Option<Arc<crate::mail::sender::Health>>,
    pub auth: Arc<crate::auth::AuthContext>,
    /// Last runs of the in-process jobs, for `/ready`.
    pub jobs: Arc<crate::jobs::JobsHealth>,
    pub usage: crate::config::UsageSettings,
    pub evaluation: crate::config::EvaluationSettings,
    pub publishing: crate::config::PublishingSettings,
    pub vouchers: crate::config::VoucherSettings,
    pub usage_stats: crate::usage::stats::StatsCache,
    /// The one whole-platform national report being built here, if any.
    pub platform_report: crate::usage::nrii::PlatformReportSlot,
    /// Instruments' booking rules, for availability.
    pub booking_rules: crate::reservations::rules::RulesCache,
    /// Instruments' rating summaries, for their pages.
    pub rating_summaries: crate::evaluation::service::SummaryCache,
    pub search: crate::search::service::Search,
    /// The bearer token of `/metrics` on the main port (empty: not served there).
    pub metrics_token: crate::config::Secret,
    /// What every page's frame says about the platform.
    pub platform: Arc<crate::config::PlatformSettings>,
}
