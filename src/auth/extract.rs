//! `Auth`: the API's current user, from `Authorization: Bearer <access token>`. (The web pages
//! read the same token from a cookie: `web::session`.)

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use super::Principal;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::users::service as accounts;

pub struct Auth(pub Principal);

impl FromRequest for Auth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = AppResult<Auth>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no state")))?;
            let token = token.ok_or_else(|| {
                AppError::unauthorized("请先登录 (send Authorization: Bearer <access token>)")
            })?;
            Ok(Auth(principal_from_token(&state, &token).await?))
        })
    }
}

/// Checks an access token and loads its account.
pub async fn principal_from_token(state: &AppState, token: &str) -> AppResult<Principal> {
    let claims = state.auth.keys.verify(token, state.clock.now())?;
    let user = claims.user()?;
    let issued_at = claims.iat;
    crate::db::run(&state.pool, move |conn| {
        accounts::principal(conn, user, issued_at)
    })
    .await
}
