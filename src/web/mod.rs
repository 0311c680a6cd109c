//! Server-rendered zh-CN pages over the same services as the API (askama + htmx, assets
//! embedded in the binary so the release build is one file).

mod account;
mod booking;
mod forms;
mod manage;
mod pages;
pub mod session;
mod usage;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use account as a;
    use manage as m;
    let pages = web::scope("")
        .wrap(actix_web::middleware::from_fn(session::middleware))
        .route("/_session", web::get().to(a::nav))
        .route("/register", web::get().to(a::register_page))
        .route("/register", web::post().to(a::register))
        .route("/verify-email", web::get().to(a::verify_page))
        .route("/verify-email", web::post().to(a::verify))
        .route("/login", web::get().to(a::login_page))
        .route("/login", web::post().to(a::login))
        .route("/logout", web::post().to(a::logout))
        .route("/password-reset", web::get().to(a::reset_page))
        .route("/password-reset", web::post().to(a::reset))
        .route(
            "/password-reset/confirm",
            web::get().to(a::reset_confirm_page),
        )
        .route("/password-reset/confirm", web::post().to(a::reset_confirm))
        .route("/me", web::get().to(a::profile_page))
        .route("/me", web::post().to(a::profile))
        .route(
            "/me/verification-email",
            web::post().to(a::resend_verification),
        )
        .route(
            "/instruments/{id}/_actions",
            web::get().to(a::instrument_actions),
        )
        .route("/instruments/{id}/qualifications", web::post().to(a::apply))
        .route("/me/password", web::get().to(a::password_page))
        .route("/me/password", web::post().to(a::password))
        .route("/instruments/{id}/book", web::get().to(booking::book_page))
        .route(
            "/instruments/{id}/_week",
            web::get().to(booking::instrument_week),
        )
        .route("/instruments/{id}/book", web::post().to(booking::book))
        .route("/reservations", web::get().to(booking::mine))
        .route("/reservations/{id}/{step}", web::post().to(booking::step))
        .route("/manage/reservations", web::get().to(booking::queue))
        .route(
            "/manage/reservations/{id}/move",
            web::post().to(booking::move_reservation),
        )
        .route("/units/{id}/week", web::get().to(booking::unit_week))
        .route("/stats", web::get().to(usage::stats))
        .route("/units/{id}/evaluation", web::get().to(usage::evaluation))
        .route(
            "/units/{id}/evaluation.{format}",
            web::get().to(usage::export),
        )
        .route("/manage/services", web::get().to(usage::services))
        .route("/manage/services/new", web::get().to(usage::service_page))
        .route("/manage/services/new", web::post().to(usage::log_service))
        .route("/manage/hour-reductions", web::get().to(usage::reductions))
        .route(
            "/manage/hour-reductions/{id}",
            web::post().to(usage::decide),
        )
        .route("/me/services", web::get().to(usage::mine))
        .route("/me/services/{id}/reduce", web::post().to(usage::reduce))
        .route("/manage", web::get().to(m::home))
        .route(
            "/manage/units/{id}/instruments",
            web::get().to(m::unit_instruments),
        )
        .route(
            "/manage/units/{id}/instruments/new",
            web::get().to(m::new_instrument_page),
        )
        .route(
            "/manage/units/{id}/instruments/new",
            web::post().to(m::new_instrument),
        )
        .route(
            "/manage/instruments/{id}/edit",
            web::get().to(m::edit_instrument_page),
        )
        .route(
            "/manage/instruments/{id}/edit",
            web::post().to(m::edit_instrument),
        )
        .route("/manage/units/{id}/staff", web::get().to(m::staff_page))
        .route("/manage/units/{id}/staff", web::post().to(m::add_staff))
        .route(
            "/manage/units/{id}/staff/{user}/remove",
            web::post().to(m::remove_staff),
        )
        .route(
            "/manage/qualifications",
            web::get().to(m::qualification_queue),
        )
        .route(
            "/manage/qualifications/{id}",
            web::post().to(m::decide_qualification),
        )
        .route("/admin", web::get().to(m::admin_home))
        .route("/admin/units", web::get().to(m::admin_units))
        .route("/admin/units/new", web::get().to(m::unit_form))
        .route("/admin/units/new", web::post().to(m::save_unit))
        .route("/admin/units/{id}/edit", web::get().to(m::unit_form))
        .route("/admin/units/{id}/edit", web::post().to(m::save_unit))
        .route(
            "/admin/sub-platforms/new",
            web::get().to(m::sub_platform_form),
        )
        .route(
            "/admin/sub-platforms/new",
            web::post().to(m::save_sub_platform),
        )
        .route(
            "/admin/sub-platforms/{id}/edit",
            web::get().to(m::sub_platform_form),
        )
        .route(
            "/admin/sub-platforms/{id}/edit",
            web::post().to(m::save_sub_platform),
        )
        .route(
            "/admin/sub-platforms",
            web::get().to(m::admin_sub_platforms),
        )
        .route("/admin/users", web::get().to(m::admin_users))
        .route(
            "/admin/users/{id}/{verb}",
            web::post().to(m::admin_user_toggle),
        )
        .route("/admin/audit", web::get().to(m::admin_audit))
        .route("/admin/mail", web::get().to(m::admin_mail))
        .route(
            "/admin/mail/{id}/retry",
            web::post().to(m::admin_mail_retry),
        )
        .route("/", web::get().to(pages::home))
        .route("/sub-platforms/{id}", web::get().to(pages::sub_platform))
        .route("/units/{id}", web::get().to(pages::unit))
        .route("/instruments", web::get().to(pages::instruments))
        .route("/instruments/{id}", web::get().to(pages::instrument))
        .route("/static/{file}", web::get().to(asset));
    cfg.service(pages);
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
    let err = AppError::NotFound { what: "page" };
    if req.path().starts_with("/api/") {
        err.error_response()
    } else {
        WebError(err).error_response()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    heading: &'a str,
    detail: String,
}

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
            StatusCode::SERVICE_UNAVAILABLE => "服务繁忙，请稍后再试",
            _ => "出错了",
        };
        let detail = match &self.0 {
            AppError::Internal(_) => "服务器内部错误，请稍后再试。".to_owned(),
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            heading,
            detail,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {heading}", status.as_u16()));
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(body)
    }
}

/// Renders a page template as an HTML response.
fn html(page: &impl Template) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(page.render()?))
}

/// Form bodies that cannot be read become an error page naming the problem.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(256 * 1024)
        .error_handler(|err, _req| WebError(AppError::bad_request("form", err.to_string())).into())
}
