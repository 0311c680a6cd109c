//! The web session: the same access and refresh tokens as the API, carried in HttpOnly,
//! SameSite=Lax cookies, refreshed transparently when the access token has expired; and a
//! CSRF token (double-submit cookie) that every form repeats in a hidden field.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};

use super::WebError;
use crate::auth::{extract::principal_from_token, tokens, Principal};
use crate::error::{AppError, ErrorCode};
use crate::users::model::Tokens;
use crate::users::signin;
use crate::{db, state::AppState};

pub const ACCESS: &str = "yiqi_access";
pub const REFRESH: &str = "yiqi_refresh";
pub const CSRF: &str = "yiqi_csrf";

/// Who is looking at a page, and the CSRF token its forms carry.
#[derive(Clone)]
pub struct Ctx {
    pub user: Option<Principal>,
    pub csrf: String,
}

impl Ctx {
    /// Refuses a form whose CSRF field does not match the session's cookie (the [`Form`]
    /// extractor calls it for every form).
    ///
    /// [`Form`]: super::forms::Form
    pub fn verify_csrf(session: &str, form_token: &str) -> Result<(), WebError> {
        if session.is_empty() || !tokens::same(session, form_token) {
            return Err(WebError(AppError::Forbidden {
                code: ErrorCode::Csrf,
                message: "表单已过期，请刷新页面后重试 (the form expired: reload the page)".into(),
            }));
        }
        Ok(())
    }

    /// The signed-in person, or a 401 page with a sign-in link.
    pub fn require(&self) -> Result<&Principal, WebError> {
        self.user
            .as_ref()
            .ok_or_else(|| WebError(AppError::unauthorized("请先登录 (sign in first)")))
    }
}

impl FromRequest for Ctx {
    type Error = WebError;
    type Future = Ready<Result<Ctx, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req.extensions().get::<Ctx>().cloned().unwrap_or(Ctx {
            user: None,
            csrf: String::new(),
        })))
    }
}

fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

/// The cookies of a sign-in.
pub fn session_cookies(state: &AppState, t: &Tokens) -> Vec<Cookie<'static>> {
    let secure = state.auth.settings.secure_cookies;
    let days = CookieDuration::days(state.auth.settings.refresh_ttl_days);
    vec![
        cookie(ACCESS, t.access_token.clone(), secure, days),
        cookie(REFRESH, t.refresh_token.clone(), secure, days),
    ]
}

pub fn cleared_cookies(state: &AppState) -> Vec<Cookie<'static>> {
    let secure = state.auth.settings.secure_cookies;
    [ACCESS, REFRESH]
        .into_iter()
        .map(|n| cookie(n, String::new(), secure, CookieDuration::ZERO))
        .collect()
}

/// Resolves the session for every page, refreshing an expired access token with the refresh
/// cookie, and makes sure a CSRF cookie exists.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.path().starts_with("/static/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let csrf_cookie = req.cookie(CSRF).map(|c| c.value().to_owned());
    let csrf = csrf_cookie.clone().unwrap_or_else(tokens::random);
    let access = req.cookie(ACCESS).map(|c| c.value().to_owned());
    let refresh = req.cookie(REFRESH).map(|c| c.value().to_owned());
    let mut set = Vec::new();
    let mut user = None;
    if let Some(token) = access.filter(|t| !t.is_empty()) {
        user = principal_from_token(&state, &token).await.ok();
    }
    if user.is_none() {
        if let Some(token) = refresh.filter(|t| !t.is_empty()) {
            let ctx = state.auth.clone();
            let now = state.clock.now();
            match db::run(&state.pool, move |c| signin::refresh(c, &ctx, &token, now)).await {
                Ok(t) => {
                    user = principal_from_token(&state, &t.access_token).await.ok();
                    set.extend(session_cookies(&state, &t));
                }
                Err(_) => set.extend(cleared_cookies(&state)),
            }
        }
    }
    if csrf_cookie.is_none() {
        set.push(
            Cookie::build(CSRF, csrf.clone())
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(state.auth.settings.secure_cookies)
                .finish(),
        );
    }
    // A visitor asked to sign in for a page comes back to it after signing in, with what its
    // address carried (the free time chosen on an instrument's page).
    // A link followed inside the page (htmx's boost) is sent there too, by HX-Redirect; a
    // fragment keeps its 401.
    let boosted = req.headers().contains_key("hx-boosted");
    let come_back = (user.is_none()
        && req.method() == actix_web::http::Method::GET
        && (boosted || !req.headers().contains_key("hx-request")))
    .then(|| {
        req.uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned())
    });
    let frame = super::layout::Layout {
        platform: state.platform.clone(),
        user: user.clone(),
        csrf: csrf.clone(),
    };
    let signed_in = user.is_some();
    req.extensions_mut().insert(Ctx { user, csrf });
    let mut res = super::layout::scope(frame, next.call(req))
        .await?
        .map_into_boxed_body();
    if let Some(here) = come_back.filter(|_| res.status() == StatusCode::UNAUTHORIZED) {
        let query = serde_urlencoded::to_string([("next", here.as_str())]).unwrap_or_default();
        let to_login = if boosted {
            HttpResponse::Ok()
                .insert_header(("HX-Redirect", format!("/login?{query}")))
                .finish()
        } else {
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .finish()
        };
        res = ServiceResponse::new(res.request().clone(), to_login);
    }
    // A page shows who is signed in: no shared cache may keep it.
    if signed_in {
        res.response_mut().headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, no-cache"),
        );
    }
    // A handler that set the session itself (sign-in, sign-out) has the last word.
    let own: Vec<String> = res
        .response()
        .cookies()
        .map(|c| c.name().to_owned())
        .collect();
    for c in set
        .into_iter()
        .filter(|c| !own.iter().any(|n| n == c.name()))
    {
        res.response_mut().add_cookie(&c)?;
    }
    Ok(res)
}
