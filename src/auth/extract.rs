//! `Auth`: the API's current user, from `Authorization: Bearer <access token>`. (The web pages
//! read the same token from a cookie: `web::session`.)

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use super::Principal;
use super::{store, Role};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;
use crate::types::UserId;

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
    crate::db::run(&state.pool, move |conn| principal(conn, user, issued_at)).await
}

/// An account as the service sees it when it acts (the demo seed acting for its people).
pub fn principal_of(conn: &mut DbConnection, id: UserId) -> AppResult<Principal> {
    principal(conn, id, i64::MAX)
}

/// The account behind a valid access token, if the token still speaks for it.
fn principal(conn: &mut DbConnection, id: UserId, issued_at: i64) -> AppResult<Principal> {
    let (row, affiliation) = store::find_account(conn, id)?
        .ok_or_else(|| AppError::unauthorized("账户不存在 (no such account)"))?;
    if row.disabled_at.is_some() {
        return Err(AppError::Unauthorized {
            code: ErrorCode::AccountDisabled,
            message: "账户已停用 (this account is disabled)".to_owned(),
        });
    }
    if issued_at < row.tokens_valid_after.and_utc().timestamp() {
        return Err(AppError::Unauthorized {
            code: ErrorCode::TokenRevoked,
            message: "登录已失效，请重新登录 (signed out: sign in again)".to_owned(),
        });
    }
    let role = row.role;
    let managed = if role == Role::InstrumentManager {
        store::managed_instruments(conn, row.id)?
    } else {
        Vec::new()
    };
    Ok(Principal {
        id: row.id,
        email: row.email,
        name: row.name,
        role,
        unit: row.unit_id,
        organisation: row.organisation_id,
        verified: row.email_verified_at.is_some(),
        managed,
        voucher_issuer: row.voucher_issuer_id,
        affiliation,
    })
}
