//! Server-rendered zh-CN pages over the same services as the API (askama + htmx, assets
//! embedded in the binary so the release build is one file).

mod account;
mod admin;
mod articles;
mod booking;
mod complaints;
mod evaluation;
mod explain;
mod forms;
pub mod layout;
mod manage;
mod pages;
mod round;
pub mod session;
mod settings;
mod staff;
mod subscriptions;
mod usage;
mod vouchers;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;
use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    use account as a;
    use manage as m;
    let session = |s: actix_web::Scope| s.wrap(actix_web::middleware::from_fn(session::middleware));
    r.scope("", session, |r| {
        r.get("/register", a::register_page)
            .post("/register", a::register)
            .get("/verify-email", a::verify_page)
            .post("/verify-email", a::verify)
            .get("/login", a::login_page)
            .post("/login", a::login)
            .post("/logout", a::logout)
            .get("/password-reset", a::reset_page)
            .post("/password-reset", a::reset)
            .get("/password-reset/confirm", a::reset_confirm_page)
            .post("/password-reset/confirm", a::reset_confirm)
            .get("/me", a::profile_page)
            .post("/me", a::profile)
            .post("/me/verification-email", a::resend_verification)
            .get("/me/invitations", a::invitations_page)
            .get("/me/subscriptions", subscriptions::mine)
            .get("/me/subscriptions/new", subscriptions::new_page)
            .post("/me/subscriptions/new", subscriptions::subscribe)
            .post("/me/subscriptions/{id}/delete", subscriptions::remove)
            .get("/unsubscribe/{token}", subscriptions::unsubscribe_page)
            .post("/unsubscribe/{token}", subscriptions::unsubscribe)
            .post("/me/invitations/{id}/{answer}", a::answer_invitation)
            .get("/instruments/{id}/_actions", a::instrument_actions)
            .post("/instruments/{id}/qualifications", a::apply)
            .get("/me/password", a::password_page)
            .post("/me/password", a::password)
            .get("/instruments/{id}/book", booking::book_page)
            .get("/instruments/{id}/_week", booking::instrument_week)
            .post("/instruments/{id}/book", booking::book)
            .get("/instruments/{id}/samples", booking::sample_page)
            .post("/instruments/{id}/samples", booking::send_samples)
            .get("/reservations", booking::mine)
            .get("/reservations/{id}/confirm-cancel", booking::cancel_page)
            .post("/reservations/{id}/{step}", booking::step)
            .get("/manage/reservations", booking::queue)
            .post("/manage/reservations/{id}/move", booking::move_reservation)
            .get("/units/{id}/week", booking::unit_week)
            .get("/stats", usage::stats)
            .get("/units/{id}/evaluation", usage::evaluation)
            .get("/units/{id}/evaluation.{format}", usage::export)
            .get("/units/{id}/nrii.{format}", usage::nrii_export)
            .get("/manage/services", usage::services)
            .get("/manage/services/new", usage::service_page)
            .post("/manage/services/new", usage::log_service)
            .get("/manage/hour-reductions", usage::reductions)
            .post("/manage/hour-reductions/{id}", usage::decide)
            .get("/me/services", usage::mine)
            .post("/me/services/{id}/reduce", usage::reduce)
            .get("/me/services/{id}/rate", evaluation::rate_page)
            .post("/me/services/{id}/rate", evaluation::rate)
            .get("/manage/ratings", evaluation::ratings)
            .post("/manage/ratings/{id}/reply", evaluation::reply)
            .get("/complaints/new", complaints::new_page)
            .post("/complaints/new", complaints::file)
            .get("/complaints/{id}", complaints::show)
            .post("/complaints/{id}/{step}", complaints::step)
            .get("/me/complaints", complaints::mine)
            .get("/manage/complaints", complaints::queue)
            .get("/vouchers", vouchers::programmes)
            .get("/vouchers/notice", vouchers::notice)
            .get("/vouchers/apply", vouchers::apply_page)
            .post("/vouchers/apply", vouchers::apply)
            .get("/vouchers/{id}", vouchers::show)
            .post("/vouchers/{id}/{step}", vouchers::step)
            .get("/me/vouchers", vouchers::mine)
            .get("/voucher-uses/{id}", vouchers::show_use)
            .post("/voucher-uses/{id}/files", vouchers::upload)
            .get("/voucher-uses/{id}/files/{file}", vouchers::file)
            .post("/voucher-uses/{id}/{step}", vouchers::use_step)
            .get("/manage/vouchers", vouchers::provider_queue)
            .get("/issuer/vouchers", vouchers::issuer_queue)
            .get("/issuer/programmes/new", vouchers::programme_page)
            .post("/issuer/programmes/new", vouchers::open_programme)
            .get("/admin/evaluation", round::round)
            .get("/admin/evaluation.{format}", round::export)
            .get("/admin/units/{id}/rectifications/new", round::issue_page)
            .post("/admin/units/{id}/rectifications/new", round::issue)
            .get("/rectifications/{id}", round::notice)
            .post("/rectifications/{id}", round::notice_step)
            .get("/admin/holidays", round::holidays)
            .get("/admin/holidays/new", round::holiday_page)
            .post("/admin/holidays/new", round::add_holiday)
            .post("/admin/holidays/{day}/remove", round::remove_holiday)
            .get("/manage", m::home)
            .get("/manage/units/{id}/instruments", m::unit_instruments)
            .get("/manage/units/{id}/instruments/new", m::new_instrument_page)
            .post("/manage/units/{id}/instruments/new", m::new_instrument)
            .get("/manage/instruments/{id}/edit", m::edit_instrument_page)
            .get(
                "/manage/instruments/{id}/booking-settings",
                settings::settings_page,
            )
            .post(
                "/manage/instruments/{id}/booking-settings",
                settings::save_settings,
            )
            .post("/manage/instruments/{id}/edit", m::edit_instrument)
            .get("/manage/units/{id}/staff", staff::staff_page)
            .post("/manage/units/{id}/staff", staff::add_staff)
            .post(
                "/manage/units/{id}/staff/{user}/remove",
                staff::remove_staff,
            )
            .get("/manage/qualifications", staff::qualification_queue)
            .post("/manage/qualifications/{id}", staff::decide_qualification)
            .get("/admin", admin::admin_home)
            .get("/admin/units", admin::admin_units)
            .get("/admin/units/new", admin::unit_form)
            .post("/admin/units/new", admin::save_unit)
            .get("/admin/units/{id}/edit", admin::unit_form)
            .post("/admin/units/{id}/edit", admin::save_unit)
            .get("/admin/sub-platforms/new", admin::sub_platform_form)
            .post("/admin/sub-platforms/new", admin::save_sub_platform)
            .get("/admin/sub-platforms/{id}/edit", admin::sub_platform_form)
            .post("/admin/sub-platforms/{id}/edit", admin::save_sub_platform)
            .get("/admin/sub-platforms", admin::admin_sub_platforms)
            .get("/admin/users", admin::admin_users)
            .post("/admin/users/{id}/{verb}", admin::admin_user_toggle)
            .get("/admin/audit", admin::admin_audit)
            .get("/admin/mail", admin::admin_mail)
            .post("/admin/mail/{id}/retry", admin::admin_mail_retry)
            .get("/articles", articles::list)
            .get("/articles/{id}", articles::show)
            .post("/articles/{id}/signup", articles::signup)
            .get("/articles/{id}/files/{file}", articles::file)
            .post("/articles/{id}/cancel-signup", articles::signup)
            .get("/feeds/{name}.atom", articles::feed)
            .get("/feeds/units/{id}.atom", articles::scope_feed)
            .get("/feeds/sub-platforms/{id}.atom", articles::scope_feed)
            .get("/manage/articles", articles::mine)
            .get("/manage/articles/new", articles::new_page)
            .post("/manage/articles/new", articles::create)
            .get("/manage/articles/{id}/edit", articles::edit_page)
            .post("/manage/articles/{id}/edit", articles::edit)
            .post("/manage/articles/{id}/files", articles::upload)
            .post(
                "/manage/articles/{id}/files/{file}/delete",
                articles::remove_file,
            )
            .post("/manage/articles/{id}/{step}", articles::step)
            .get("/", pages::home)
            .get("/sub-platforms/{id}", pages::sub_platform)
            .get("/units/{id}", pages::unit)
            .get("/instruments", pages::instruments)
            .get("/search/_suggest", pages::search_suggest)
            .get("/instruments/{id}", pages::instrument)
            .get("/static/{file}", asset);
    });
}

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/htmx.min.js"),
    ),
];

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, mime, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *mime))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*body),
        None => WebError(AppError::NotFound { what: "file" }).error_response(),
    }
}

/// Unknown paths: a problem document under /api, a page elsewhere.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    error_for(&req, AppError::NotFound { what: "page" })
}

/// An error answered before any handler ran: a problem document under /api and for the
/// health checks, a page elsewhere (in the site's frame, signed out: no session was read).
pub fn error_for(req: &HttpRequest, err: AppError) -> HttpResponse {
    let path = req.path();
    if path.starts_with("/api/") || path == "/health" || path == "/ready" {
        return err.error_response();
    }
    match req.app_data::<web::Data<crate::state::AppState>>() {
        Some(state) if layout::current().is_none() => {
            let frame = layout::Layout::anonymous(state.platform.clone());
            layout::sync_scope(frame, || WebError(err).error_response())
        }
        _ => WebError(err).error_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    heading: &'a str,
    detail: String,
}

/// What a page handler answers: the page, or an error shown as a page.
type PageResult = Result<HttpResponse, WebError>;

/// An error shown to a person as a page instead of a problem document.
#[derive(Debug)]
pub struct WebError(pub AppError);

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<AppError>> From<E> for WebError {
    fn from(err: E) -> Self {
        WebError(err.into())
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(err) = &self.0 {
            tracing::error!(error = ?err, "internal error");
        }
        let status = self.status_code();
        let heading = match status {
            StatusCode::NOT_FOUND => "页面不存在",
            StatusCode::UNAUTHORIZED => "请先登录",
            StatusCode::FORBIDDEN => "无权访问",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "请求有误",
            StatusCode::METHOD_NOT_ALLOWED => "不支持此操作",
            StatusCode::PAYLOAD_TOO_LARGE => "提交的内容过大",
            StatusCode::TOO_MANY_REQUESTS => "操作过于频繁，请稍后再试",
            StatusCode::SERVICE_UNAVAILABLE => "服务繁忙，请稍后再试",
            _ => "出错了",
        };
        let detail = match &self.0 {
            AppError::Internal(_) => "服务器内部错误，请稍后再试。".to_owned(),
            other => explain::explain(other).text,
        };
        let page = ErrorPage {
            status: status.as_u16(),
            heading,
            detail,
        };
        let body = render(&page).unwrap_or_else(|_| format!("{} {heading}", status.as_u16()));
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
        match &self.0 {
            AppError::MethodNotAllowed { allow } => {
                res.insert_header((header::ALLOW, allow.as_str()));
            }
            AppError::TooManyRequests { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        res.body(body)
    }
}

/// Renders a page template in the request's frame (`base.html` reads it as `layout`).
fn render(page: &impl Template) -> Result<String, askama::Error> {
    match layout::current() {
        Some(frame) => {
            let any: &dyn std::any::Any = &frame;
            page.render_with_values(&("layout", any))
        }
        None => page.render(),
    }
}

/// Renders a page template as an HTML response.
fn html(page: &impl Template) -> Result<HttpResponse, WebError> {
    html_with_status(page, StatusCode::OK)
}

/// Renders a page template as an HTML response with `status` (a form shown again after a
/// refused post: 409, 422 …).
fn html_with_status(page: &impl Template, status: StatusCode) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(render(page)?))
}
