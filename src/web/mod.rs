//! Server-rendered zh-CN pages over the same services as the API (askama + htmx, assets
//! embedded in the binary so the release build is one file).

mod pages;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route("/sub-platforms/{id}", web::get().to(pages::sub_platform))
        .route("/units/{id}", web::get().to(pages::unit))
        .route("/instruments", web::get().to(pages::instruments))
        .route("/instruments/{id}", web::get().to(pages::instrument))
        .route("/static/{file}", web::get().to(asset));
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
