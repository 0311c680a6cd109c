//! Signing in with rotating refresh tokens, signing out, and passwords (reset and change).

use chrono::{DateTime, Duration, Utc};

use super::model::*;
use super::service::{bad_link, new_link_token};
use super::store;
use crate::auth::{password, tokens, AuthContext, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use crate::state::AppState;
use crate::types::UserId;
use crate::validate;

/// The one answer to a failed sign-in, whether or not the e-mail exists.
fn bad_credentials() -> AppError {
    AppError::Unauthorized {
        code: ErrorCode::InvalidCredentials,
        message: "邮箱或密码不正确 (wrong e-mail or password)".to_owned(),
    }
}

// --- sign-in, refresh, sign-out --------------------------------------------------------------

fn issue(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    user: UserId,
    family: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<Tokens> {
    let family = family.map_or_else(tokens::random, str::to_owned);
    let refresh = tokens::random();
    store::insert_refresh(
        conn,
        &NewRefresh {
            user_id: user,
            family: family.clone(),
            token_hash: tokens::hash(&refresh),
            expires_at: naive(now + Duration::days(ctx.settings.refresh_ttl_days)),
            created_at: naive(now),
        },
    )?;
    Ok(Tokens {
        access_token: ctx.keys.issue(user, &family, now)?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: ctx.keys.ttl_secs,
    })
}

/// Signs in. Failures count against the account and the client address; the password hash
/// is checked on a blocking thread, not while holding a database connection.
pub async fn login(state: &AppState, email: &str, pw: &str, address: &str) -> AppResult<Tokens> {
    let now = state.clock.now();
    let key = email.trim().to_lowercase();
    let (ctx, lookup, from) = (state.auth.clone(), key.clone(), address.to_owned());
    let user = db::run(&state.pool, move |conn| {
        ctx.limiter.check(conn, &lookup, &from, now)?;
        Ok(store::find_user_by_email(conn, &lookup)?)
    })
    .await?;
    let pw = pw.to_owned();
    let (user, ok) = actix_web::web::block(move || match user {
        Some(u) => {
            let ok = password::verify(&pw, &u.password_hash);
            (Some(u), ok)
        }
        None => {
            password::verify_nobody(&pw);
            (None, false)
        }
    })
    .await?;
    let user = match (user, ok) {
        (Some(u), true) => u,
        _ => {
            let (ctx, from) = (state.auth.clone(), address.to_owned());
            db::run(&state.pool, move |conn| {
                ctx.limiter.failed(conn, &key, &from, now)
            })
            .await?;
            crate::metrics::signin_failed();
            tracing::info!(address, "sign-in failed");
            return Err(bad_credentials());
        }
    };
    if user.disabled_at.is_some() {
        return Err(AppError::Forbidden {
            code: ErrorCode::AccountDisabled,
            message: "账户已停用，请联系平台管理员 (this account is disabled)".to_owned(),
        });
    }
    let ctx = state.auth.clone();
    db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| {
            ctx.limiter.succeeded(conn, &key)?;
            issue(conn, &ctx, user.id, None, now)
        })
    })
    .await
}

fn bad_refresh() -> AppError {
    AppError::Unauthorized {
        code: ErrorCode::InvalidRefreshToken,
        message: "刷新令牌无效，请重新登录 (invalid refresh token: sign in again)".to_owned(),
    }
}

/// Rotates a refresh token. One already rotated means it was copied: the whole family (that
/// sign-in on every device) is revoked, and both holders must sign in again.
pub fn refresh(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    token: &str,
    now: DateTime<Utc>,
) -> AppResult<Tokens> {
    let outcome = db::write_tx(conn, |conn| -> AppResult<Result<Tokens, AppError>> {
        let row =
            store::find_refresh(conn, &tokens::hash(token.trim()))?.ok_or_else(bad_refresh)?;
        if row.revoked_at.is_some() || row.expires_at <= naive(now) {
            return Ok(Err(bad_refresh()));
        }
        if row.rotated_at.is_some() || store::mark_rotated(conn, row.id, naive(now))? == 0 {
            store::revoke_family(conn, &row.family, naive(now))?;
            tracing::warn!(
                user = row.user_id.0,
                "refresh token reused: sign-in revoked"
            );
            // Committed: the revocation must stand although the request fails.
            return Ok(Err(AppError::Unauthorized {
                code: ErrorCode::RefreshTokenReused,
                message: "刷新令牌已被使用过，为安全起见本次登录已全部注销，请重新登录 \
                          (refresh token reused: signed out everywhere)"
                    .to_owned(),
            }));
        }
        let user = store::find_user(conn, row.user_id)?.ok_or_else(bad_refresh)?;
        if user.disabled_at.is_some() {
            return Ok(Err(bad_refresh()));
        }
        Ok(Ok(issue(conn, ctx, row.user_id, Some(&row.family), now)?))
    })?;
    outcome
}

/// Ends the sign-in the refresh token belongs to. Unknown tokens are not an error: the
/// caller is signed out either way.
pub fn logout(conn: &mut DbConnection, token: &str, now: DateTime<Utc>) -> AppResult<()> {
    if let Some(row) = store::find_refresh(conn, &tokens::hash(token.trim()))? {
        store::revoke_family(conn, &row.family, naive(now))?;
    }
    Ok(())
}

// --- passwords -------------------------------------------------------------------------------

/// Sends a reset link if the address has an active account; answers the same either way,
/// and in the same time: the lookup and the write happen after the answer, in the background
/// (a request for an unknown address would otherwise answer sooner, having written nothing).
pub async fn request_password_reset(state: &AppState, email: &str, address: &str) -> AppResult<()> {
    let Ok(email) = validate::email("email", email) else {
        return Ok(());
    };
    let now = state.clock.now();
    let (ctx, to, from) = (state.auth.clone(), email.clone(), address.to_owned());
    db::run(&state.pool, move |conn| {
        ctx.mail_limiter.hit(conn, &to, &from, now)
    })
    .await?;
    let (pool, ctx) = (state.pool.clone(), state.auth.clone());
    let work = async move {
        let sent = db::run(&pool, move |conn| send_reset_link(conn, &ctx, &email, now)).await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "password reset link not written");
        }
    };
    actix_web::rt::spawn(tracing::Instrument::instrument(
        work,
        tracing::info_span!("job.password_reset"),
    ));
    Ok(())
}

fn send_reset_link(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    email: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    db::write_tx(conn, |conn| {
        let Some(user) = store::find_user_by_email(conn, email)? else {
            return Ok(());
        };
        if user.disabled_at.is_some() {
            return Ok(());
        }
        let minutes = ctx.settings.reset_ttl_minutes;
        let token = new_link_token(
            conn,
            user.id,
            TokenPurpose::PasswordReset,
            Duration::minutes(minutes),
            now,
        )?;
        let url = format!("{}/password-reset/confirm?token={token}", ctx.public_url);
        let message = Notice {
            kind: "password_reset",
            to: &user.email,
            name: &user.name,
            subject: "重置密码 Reset your password",
            paragraphs: vec![
                "我们收到了重置您账户密码的请求。请点击下面的按钮设置新密码。".into(),
                format!("链接 {minutes} 分钟内有效，只能使用一次。设置新密码后，所有设备上的登录都将失效。"),
            ],
            link: Some(("设置新密码 Set a new password", &url)),
            footer: "如果不是您本人操作，请忽略本邮件，您的密码不会改变。",
            related: Some(("user", user.id.0)),
        }
        .render()?;
        mail::enqueue(conn, &message, naive(now))
    })
}

/// Sets a new password from a reset link: every sign-in of the account ends, and the
/// address counts as verified (the link reached it).
pub async fn confirm_password_reset(
    state: &AppState,
    token: &str,
    new_password: &str,
) -> AppResult<()> {
    password::check_new("password", new_password, "")?;
    let pw = new_password.to_owned();
    let hash = actix_web::web::block(move || password::hash(&pw)).await??;
    let now = state.clock.now();
    let token = token.trim().to_owned();
    db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| {
            let user = store::consume_user_token(
                conn,
                &tokens::hash(&token),
                TokenPurpose::PasswordReset,
                naive(now),
            )?
            .ok_or_else(bad_link)?;
            store::set_password(conn, user, &hash, naive(now))?;
            store::revoke_all_refresh(conn, user, naive(now))?;
            store::use_up_user_tokens(conn, user, TokenPurpose::PasswordReset, naive(now))?;
            store::set_verified(conn, user, naive(now))?;
            Ok(())
        })
    })
    .await
}

/// Changes the password: every other sign-in ends; this one continues with new tokens.
pub async fn change_password(
    state: &AppState,
    who: &Principal,
    current: &str,
    new_password: &str,
) -> AppResult<Tokens> {
    password::check_new("new_password", new_password, &who.email)?;
    let id = who.id;
    let stored = db::run(&state.pool, move |conn| {
        store::find_user(conn, id)?.ok_or(AppError::NotFound { what: "user" })
    })
    .await?;
    let (current, new_pw) = (current.to_owned(), new_password.to_owned());
    let hash = actix_web::web::block(move || -> AppResult<String> {
        if !password::verify(&current, &stored.password_hash) {
            return Err(AppError::invalid(
                "current_password",
                "当前密码不正确 (the current password is wrong)",
            ));
        }
        password::hash(&new_pw)
    })
    .await??;
    let now = state.clock.now();
    let ctx = state.auth.clone();
    db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| {
            store::set_password(conn, id, &hash, naive(now))?;
            store::revoke_all_refresh(conn, id, naive(now))?;
            issue(conn, &ctx, id, None, now)
        })
    })
    .await
}
