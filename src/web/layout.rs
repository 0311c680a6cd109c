//! What every page's frame shows: the platform's name, operator and registration number (from
//! configuration) and the viewer's menu, which follows their role and unit through the same
//! permission table the services check. The session middleware sets it for the request; every
//! page is rendered through [`super::html`], which hands it to `base.html`.

use std::future::Future;
use std::sync::Arc;

use crate::auth::{allowed, Action, Principal, Role};
use crate::config::PlatformSettings;

tokio::task_local! {
    static LAYOUT: Layout;
}

#[derive(Clone)]
pub struct Layout {
    pub platform: Arc<PlatformSettings>,
    pub user: Option<Principal>,
    pub csrf: String,
}

/// One entry of the header's menu.
pub struct MenuLink {
    pub href: String,
    pub label: &'static str,
}

impl Layout {
    /// The frame of pages answered outside the session middleware (an unknown path).
    pub fn anonymous(platform: Arc<PlatformSettings>) -> Layout {
        Layout {
            platform,
            user: None,
            csrf: String::new(),
        }
    }

    /// The signed-in person's links, each shown only where its page would answer them.
    pub fn menu(&self) -> Vec<MenuLink> {
        let Some(u) = &self.user else {
            return Vec::new();
        };
        let link = |href: &str, label| MenuLink {
            href: href.to_owned(),
            label,
        };
        let mut menu = vec![
            link("/reservations", "我的预约"),
            link("/me/services", "我的服务记录"),
            link("/me/complaints", "我的投诉"),
            link("/vouchers", "创新券"),
        ];
        if u.role.is_staff() {
            menu.push(link("/manage/reservations", "预约审核"));
            menu.push(link("/manage/services", "机时"));
            menu.push(link("/manage/qualifications", "上机资格"));
            menu.push(link("/manage/ratings", "用户评价"));
            menu.push(link("/manage/vouchers", "创新券兑付"));
        }
        if let Some(unit) = u.unit {
            if allowed(u, Action::ManageInstruments { unit }) && u.role != Role::PlatformAdmin {
                menu.push(link("/manage", "单位管理"));
            }
        }
        if u.role == Role::UnitAdmin || allowed(u, Action::JudgeComplaints) {
            menu.push(link("/manage/complaints", "投诉处理"));
            menu.push(link("/manage/articles", "信息发布"));
        }
        if u.voucher_issuer.is_some() || allowed(u, Action::ManageUsers) {
            menu.push(link("/issuer/vouchers", "创新券审核"));
        }
        if allowed(u, Action::ManageUnits) {
            menu.push(link("/admin", "平台管理"));
        }
        menu
    }
}

/// Runs a request's handler with its layout in reach of [`current`].
pub async fn scope<F: Future>(layout: Layout, f: F) -> F::Output {
    LAYOUT.scope(layout, f).await
}

/// The layout of the request being answered, if the session middleware set one.
pub fn current() -> Option<Layout> {
    LAYOUT.try_with(Clone::clone).ok()
}

/// [`scope`] for synchronous work: an error page rendered outside any handler.
pub fn sync_scope<R>(layout: Layout, f: impl FnOnce() -> R) -> R {
    LAYOUT.sync_scope(layout, f)
}
