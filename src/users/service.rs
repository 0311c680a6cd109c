//! Account rules: registration, e-mail verification, sign-in with rotating refresh tokens,
//! password reset and change, profiles, disabling, organisations and unit staff.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Deserialize;

use super::model::*;
use super::store;
use crate::audit::{self, Target};
use crate::auth::{password, tokens, AuthContext, Principal, Role};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use crate::navigation::model::UnitKind;
use crate::state::AppState;
use crate::types::{InstrumentId, OrganisationId, PageRequest, Paged, UnitId, UserId};
use crate::validate;

/// The one answer to a failed sign-in, whether or not the e-mail exists.
fn bad_credentials() -> AppError {
    AppError::Unauthorized {
        code: ErrorCode::InvalidCredentials,
        message: "邮箱或密码不正确 (wrong e-mail or password)".to_owned(),
    }
}

pub fn load_user(conn: &mut DbConnection, id: UserId) -> AppResult<User> {
    let row = store::find_user(conn, id.0)?.ok_or(AppError::NotFound { what: "user" })?;
    let org = match row.organisation_id {
        Some(o) => store::find_organisation(conn, o)?,
        None => None,
    };
    Ok(User::from_row(row, org))
}

// --- registration and verification ---------------------------------------------------------

/// A registration whose fields passed every check.
pub struct ValidRegistration {
    email: String,
    password: String,
    name: String,
    phone: String,
    organisation: OrganisationChoice,
}

enum OrganisationChoice {
    Existing(i64),
    New(ValidNewOrganisation),
}

/// An organisation a registering person proposes, checked.
struct ValidNewOrganisation {
    name: String,
    kind: UnitKind,
    credit_code: Option<String>,
}

fn validate_new_organisation(input: &NewOrganisationInput) -> AppResult<ValidNewOrganisation> {
    let name = validate::line("new_organisation.name", &input.name, 2, 100)?;
    let kind = UnitKind::from_code(&input.kind).ok_or_else(|| {
        AppError::invalid(
            "new_organisation.kind",
            format!("one of {}", UnitKind::codes()),
        )
    })?;
    let credit_code = match input.credit_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(validate::credit_code("new_organisation.credit_code", code)?),
    };
    Ok(ValidNewOrganisation {
        name,
        kind,
        credit_code,
    })
}

pub fn validate_registration(r: &Registration) -> AppResult<ValidRegistration> {
    let email = validate::email("email", &r.email)?;
    password::check_new("password", &r.password, &email)?;
    let name = validate::line("name", &r.name, 1, 50)?;
    let phone = validate::phone("phone", &r.phone)?;
    let organisation = match (&r.organisation_id, &r.new_organisation) {
        (Some(id), None) => OrganisationChoice::Existing(*id),
        (None, Some(new)) => OrganisationChoice::New(validate_new_organisation(new)?),
        _ => return Err(AppError::invalid(
            "organisation_id",
            "选择一个单位，或填写新单位 (give organisation_id or new_organisation, one of them)",
        )),
    };
    Ok(ValidRegistration {
        email,
        password: r.password.clone(),
        name,
        phone,
        organisation,
    })
}

/// Registers, or, when the address already has an account, tells its owner by e-mail; the
/// answer is the same either way, so registration does not reveal who has an account.
pub async fn register(state: &AppState, r: ValidRegistration, address: &str) -> AppResult<()> {
    state
        .auth
        .mail_limiter
        .hit(&r.email, address, state.clock.now())?;
    let pw = r.password.clone();
    let hash = actix_web::web::block(move || password::hash(&pw)).await??;
    let now = state.clock.now();
    let ctx = state.auth.clone();
    db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| register_in_tx(conn, &ctx, &r, &hash, now))
    })
    .await
}

fn register_in_tx(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    r: &ValidRegistration,
    hash: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(existing) = store::find_user_by_email(conn, &r.email)? {
        if existing.email_verified_at.is_none() && existing.disabled_at.is_none() {
            // A second try before verifying: the first mail was probably lost.
            return send_verification(conn, ctx, &existing, now);
        }
        let login = format!("{}/login", ctx.public_url);
        let reset = format!("{}/password-reset", ctx.public_url);
        let message = Notice {
            kind: "account_exists",
            to: &existing.email,
            name: &existing.name,
            subject: "您已有账户 You already have an account",
            paragraphs: vec![
                "有人（可能是您本人）用这个邮箱在平台上注册。这个邮箱已有账户，无需重新注册。"
                    .into(),
                format!("请直接登录：{login}；忘记密码可在此重置：{reset}"),
            ],
            link: Some(("登录 Sign in", &login)),
            footer: "如果不是您本人操作，请忽略本邮件，您的账户不受影响。",
            related: Some(("user", existing.id)),
        }
        .render()?;
        return mail::enqueue(conn, &message, naive(now));
    }
    let organisation_id = match &r.organisation {
        OrganisationChoice::Existing(id) => {
            let org = store::find_organisation(conn, *id)?.ok_or_else(|| {
                AppError::invalid("organisation_id", "没有这个单位 (no such organisation)")
            })?;
            org.id
        }
        OrganisationChoice::New(new) => store::insert_organisation(
            conn,
            &NewOrganisation {
                name: new.name.clone(),
                kind: new.kind,
                credit_code: new.credit_code.clone(),
                unit_id: None,
                status: OrganisationStatus::Proposed,
                created_at: naive(now),
            },
        )
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::conflict(
                ErrorCode::AlreadyExists,
                "该单位已存在，请从列表中选择 (the organisation exists: pick it)",
            ),
            other => other,
        })?,
    };
    let id = store::insert_user(
        conn,
        &NewUser {
            email: r.email.clone(),
            password_hash: hash.to_owned(),
            name: r.name.clone(),
            phone: r.phone.clone(),
            organisation_id: Some(organisation_id),
            role: Role::Researcher,
            unit_id: None,
            email_verified_at: None,
            tokens_valid_after: naive(now),
            created_at: naive(now),
            updated_at: naive(now),
        },
    )?;
    let row = store::find_user(conn, id)?.ok_or(AppError::NotFound { what: "user" })?;
    send_verification(conn, ctx, &row, now)
}

fn new_link_token(
    conn: &mut DbConnection,
    user: i64,
    purpose: TokenPurpose,
    ttl: Duration,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let token = tokens::random();
    store::insert_user_token(
        conn,
        &NewUserToken {
            user_id: user,
            purpose,
            token_hash: tokens::hash(&token),
            expires_at: naive(now + ttl),
            created_at: naive(now),
        },
    )?;
    Ok(token)
}

fn send_verification(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    user: &UserRow,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let hours = ctx.settings.verify_ttl_hours;
    let token = new_link_token(
        conn,
        user.id,
        TokenPurpose::VerifyEmail,
        Duration::hours(hours),
        now,
    )?;
    let url = format!("{}/verify-email?token={token}", ctx.public_url);
    let message = Notice {
        kind: "verify_email",
        to: &user.email,
        name: &user.name,
        subject: "请验证您的邮箱 Verify your e-mail address",
        paragraphs: vec![
            "感谢注册。请点击下面的按钮验证邮箱；验证后即可预约仪器。".into(),
            format!("链接 {hours} 小时内有效，只能使用一次。"),
        ],
        link: Some(("验证邮箱 Verify", &url)),
        footer: "如果您没有注册，请忽略本邮件。",
        related: Some(("user", user.id)),
    }
    .render()?;
    mail::enqueue(conn, &message, naive(now))
}

/// Sends a fresh verification link to a signed-in, unverified account.
pub fn resend_verification(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    who: &Principal,
    address: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    ctx.mail_limiter.hit(&who.email, address, now)?;
    let user = who.id;
    db::write_tx(conn, |conn| {
        let row = store::find_user(conn, user.0)?.ok_or(AppError::NotFound { what: "user" })?;
        if row.email_verified_at.is_some() {
            return Err(AppError::conflict(
                ErrorCode::AlreadyVerified,
                "邮箱已验证 (already verified)",
            ));
        }
        send_verification(conn, ctx, &row, now)
    })
}

fn bad_link() -> AppError {
    AppError::Invalid {
        field: "token".to_owned(),
        message: "链接无效、已使用或已过期 (the link is invalid, used or expired)".to_owned(),
    }
}

pub fn verify_email(conn: &mut DbConnection, token: &str, now: DateTime<Utc>) -> AppResult<User> {
    db::write_tx(conn, |conn| {
        let user = store::consume_user_token(
            conn,
            &tokens::hash(token.trim()),
            TokenPurpose::VerifyEmail,
            naive(now),
        )?
        .ok_or_else(bad_link)?;
        store::set_verified(conn, user, naive(now))?;
        load_user(conn, UserId(user))
    })
}

// --- sign-in, refresh, sign-out --------------------------------------------------------------

fn issue(
    conn: &mut DbConnection,
    ctx: &AuthContext,
    user: i64,
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
        access_token: ctx.keys.issue(UserId(user), &family, now)?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: ctx.keys.ttl_secs,
    })
}

/// Signs in. Failures count against the account and the client address; the password hash
/// is checked on a blocking thread, not while holding a database connection.
pub async fn login(state: &AppState, email: &str, pw: &str, address: &str) -> AppResult<Tokens> {
    let now = state.clock.now();
    state.auth.limiter.check(email, address, now)?;
    let key = email.trim().to_lowercase();
    let lookup = key.clone();
    let user = db::run(&state.pool, move |conn| {
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
            state.auth.limiter.failed(&key, address, now);
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
    state.auth.limiter.succeeded(&key);
    let ctx = state.auth.clone();
    db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| issue(conn, &ctx, user.id, None, now))
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
            tracing::warn!(user = row.user_id, "refresh token reused: sign-in revoked");
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
pub fn request_password_reset(state: &AppState, email: &str, address: &str) -> AppResult<()> {
    let Ok(email) = validate::email("email", email) else {
        return Ok(());
    };
    let now = state.clock.now();
    state.auth.mail_limiter.hit(&email, address, now)?;
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
            related: Some(("user", user.id)),
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
    let id = who.id.0;
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

// --- profile, accounts, organisations, staff ----------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub organisation_id: Option<i64>,
}

pub fn update_profile(
    conn: &mut DbConnection,
    who: &Principal,
    patch: &ProfilePatch,
    now: DateTime<Utc>,
) -> AppResult<User> {
    db::write_tx(conn, |conn| {
        let row = store::find_user(conn, who.id.0)?.ok_or(AppError::NotFound { what: "user" })?;
        let name = match &patch.name {
            Some(n) => validate::line("name", n, 1, 50)?,
            None => row.name.clone(),
        };
        let phone = match &patch.phone {
            Some(p) => validate::phone("phone", p)?,
            None => row.phone.clone(),
        };
        let organisation = match patch.organisation_id {
            Some(o) if Some(o) != row.organisation_id => {
                if who.role.is_staff() {
                    return Err(AppError::invalid(
                        "organisation_id",
                        "单位人员的所属单位由单位管理员设定 (staff belong to their unit)",
                    ));
                }
                store::find_organisation(conn, o)?
                    .ok_or_else(|| AppError::invalid("organisation_id", "没有这个单位"))?;
                Some(o)
            }
            _ => row.organisation_id,
        };
        store::update_profile(conn, row.id, &name, &phone, organisation, naive(now))?;
        load_user(conn, who.id)
    })
}

/// Disables (or re-enables) an account: its sign-ins end at once.
pub fn set_disabled(
    conn: &mut DbConnection,
    actor: &Principal,
    user: UserId,
    disabled: bool,
    now: DateTime<Utc>,
) -> AppResult<User> {
    if disabled && actor.id == user {
        return Err(AppError::conflict(
            ErrorCode::CannotDisableSelf,
            "不能停用自己的账户 (you cannot disable your own account)",
        ));
    }
    db::write_tx(conn, |conn| {
        let before = load_user(conn, user)?;
        if disabled == before.disabled {
            // Already so: nothing changes, and nobody is signed out.
            return Ok(before);
        }
        if disabled {
            store::disable(conn, user.0, naive(now))?;
            store::revoke_all_refresh(conn, user.0, naive(now))?;
        } else {
            store::enable(conn, user.0, naive(now))?;
        }
        let after = load_user(conn, user)?;
        audit::record(
            conn,
            Some(actor.id),
            if disabled {
                "user.disable"
            } else {
                "user.enable"
            },
            Target("user", Some(user.0)),
            Some(&before),
            Some(&after),
            naive(now),
        )?;
        Ok(after)
    })
}

pub fn list_users(
    conn: &mut DbConnection,
    f: &store::UserFilter,
    page: PageRequest,
) -> AppResult<Paged<User>> {
    let (rows, total) = store::list_users(conn, f, page)?;
    let items = rows
        .into_iter()
        .map(|(r, o)| User::from_row(r, o))
        .collect();
    Ok(Paged::new(items, total, page))
}

pub fn list_organisations(
    conn: &mut DbConnection,
    q: Option<&str>,
    status: Option<OrganisationStatus>,
    page: PageRequest,
) -> AppResult<Paged<Organisation>> {
    let (rows, total) = store::list_organisations(conn, q, status, page)?;
    Ok(Paged::new(
        rows.into_iter().map(Organisation::from).collect(),
        total,
        page,
    ))
}

pub fn approve_organisation(
    conn: &mut DbConnection,
    actor: &Principal,
    id: OrganisationId,
    now: DateTime<Utc>,
) -> AppResult<Organisation> {
    db::write_tx(conn, |conn| {
        let before: Organisation = store::find_organisation(conn, id.0)?
            .ok_or(AppError::NotFound {
                what: "organisation",
            })?
            .into();
        store::set_organisation_status(conn, id.0, OrganisationStatus::Active)?;
        let after: Organisation = store::find_organisation(conn, id.0)?
            .ok_or(AppError::NotFound {
                what: "organisation",
            })?
            .into();
        audit::record(
            conn,
            Some(actor.id),
            "organisation.approve",
            Target("organisation", Some(id.0)),
            Some(&before),
            Some(&after),
            naive(now),
        )?;
        Ok(after)
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub email: String,
    pub role: String,
}

/// What adding someone to a unit's staff did.
pub enum StaffAdded {
    /// The person was invited and is told by e-mail; they join when they accept.
    Invited(Invitation),
    /// Already staff of this unit: their role there changed at once.
    RoleChanged(User),
}

/// Adds an existing account to `unit`'s staff (instrument manager or unit admin). Someone
/// outside the unit is only invited: joining moves their organisation (price tier, internal
/// or external counting), which nobody may do to another person without their consent.
pub fn add_staff(
    conn: &mut DbConnection,
    actor: &Principal,
    unit: UnitId,
    input: &StaffInput,
    public_url: &str,
    now: DateTime<Utc>,
) -> AppResult<StaffAdded> {
    let email = validate::email("email", &input.email)?;
    let role = Role::from_code(&input.role)
        .filter(|r| r.is_staff())
        .ok_or_else(|| AppError::invalid("role", "instrument_manager 或 unit_admin"))?;
    db::write_tx(conn, |conn| {
        let org = store::organisation_of_unit(conn, unit.0)?
            .ok_or(AppError::NotFound { what: "unit" })?;
        let row = store::find_user_by_email(conn, &email)?.ok_or_else(|| {
            AppError::invalid(
                "email",
                "该邮箱没有注册账户，请先让对方注册 (no account with this e-mail)",
            )
        })?;
        joinable(&row, unit)?;
        if row.unit_id == Some(unit.0) {
            let before = load_user(conn, UserId(row.id))?;
            store::set_role(
                conn,
                row.id,
                role.code(),
                Some(unit.0),
                Some(org.id),
                naive(now),
            )?;
            if role != Role::InstrumentManager {
                store::clear_managed(conn, row.id)?;
            }
            let after = load_user(conn, UserId(row.id))?;
            audit::record(
                conn,
                Some(actor.id),
                "staff.role",
                Target("user", Some(row.id)),
                Some(&before),
                Some(&after),
                naive(now),
            )?;
            return Ok(StaffAdded::RoleChanged(after));
        }
        if let Some(open) = store::pending_invitation(conn, unit.0, row.id)? {
            // A second click, or another admin: the invitation already waits.
            return Ok(StaffAdded::Invited(Invitation::from_row(open, org.name)?));
        }
        let id = store::insert_invitation(
            conn,
            &NewInvitation {
                unit_id: unit.0,
                user_id: row.id,
                role,
                status: InvitationStatus::Pending,
                invited_by: actor.id.0,
                created_at: naive(now),
            },
        )?;
        let invitation =
            store::find_invitation(conn, id)?.ok_or(AppError::NotFound { what: "invitation" })?;
        let link = format!("{public_url}/me/invitations");
        let message = Notice {
            kind: "staff_invitation",
            to: &row.email,
            name: &row.name,
            subject: "单位人员邀请 You are invited to a host unit's staff",
            paragraphs: vec![
                format!(
                    "{} 邀请您担任「{}」的{}。",
                    actor.name,
                    org.name,
                    role.label_zh()
                ),
                "接受后，您的所属单位将改为该单位（影响收费标准和机时统计中的校内/校外）；离任时恢复为您原来的单位。不接受则一切不变。".into(),
            ],
            link: Some(("查看邀请 See the invitation", &link)),
            footer: "如果您不认识邀请人，请谢绝邀请或忽略本邮件。",
            related: Some(("user", row.id)),
        }
        .render()?;
        mail::enqueue(conn, &message, naive(now))?;
        audit::record(
            conn,
            Some(actor.id),
            "staff.invite",
            Target("user", Some(row.id)),
            None::<&()>,
            Some(&serde_json::json!({"unit_id": unit.0, "role": role.code(), "invitation": id})),
            naive(now),
        )?;
        Ok(StaffAdded::Invited(Invitation::from_row(
            invitation, org.name,
        )?))
    })
}

/// Who may join `unit`'s staff: not a platform admin, not staff of another unit.
fn joinable(row: &UserRow, unit: UnitId) -> AppResult<()> {
    let current = row.role();
    if current == Role::PlatformAdmin {
        return Err(AppError::conflict(
            ErrorCode::PlatformAdmin,
            "平台管理员不能设为单位人员 (a platform admin cannot be unit staff)",
        ));
    }
    if current.is_staff() && row.unit_id != Some(unit.0) {
        return Err(AppError::conflict(
            ErrorCode::StaffOfOtherUnit,
            "此人是其他单位的人员，需先由该单位移除 (staff of another unit)",
        ));
    }
    Ok(())
}

/// The signed-in person's open invitations.
pub fn my_invitations(conn: &mut DbConnection, who: &Principal) -> AppResult<Vec<Invitation>> {
    store::pending_invitations_of(conn, who.id.0)?
        .into_iter()
        .map(|(row, unit)| Invitation::from_row(row, unit))
        .collect()
}

fn already_answered() -> AppError {
    AppError::conflict(
        ErrorCode::InvitationAnswered,
        "这份邀请已经处理过了 (the invitation was already answered)",
    )
}

/// Accepts (`true`) or declines an invitation addressed to `who`. Accepting makes them staff
/// of the unit and keeps the organisation they had, to give back when they leave.
pub fn answer_invitation(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    accept: bool,
    now: DateTime<Utc>,
) -> AppResult<User> {
    db::write_tx(conn, |conn| {
        let inv = store::find_invitation(conn, id)?
            .filter(|i| i.user_id == who.id.0)
            .ok_or(AppError::NotFound { what: "invitation" })?;
        let pending = InvitationStatus::Pending;
        if inv.status != pending {
            return Err(already_answered());
        }
        let row = store::find_user(conn, who.id.0)?.ok_or(AppError::NotFound { what: "user" })?;
        if !accept {
            store::set_invitation_status(
                conn,
                id,
                pending,
                InvitationStatus::Declined,
                None,
                naive(now),
            )?;
            return load_user(conn, who.id);
        }
        let unit = UnitId(inv.unit_id);
        joinable(&row, unit)?;
        let org = store::organisation_of_unit(conn, unit.0)?
            .ok_or(AppError::NotFound { what: "unit" })?;
        let role = inv.role;
        if !store::set_invitation_status(
            conn,
            id,
            pending,
            InvitationStatus::Accepted,
            row.organisation_id,
            naive(now),
        )? {
            return Err(already_answered());
        }
        let before = load_user(conn, who.id)?;
        store::set_role(
            conn,
            row.id,
            role.code(),
            Some(unit.0),
            Some(org.id),
            naive(now),
        )?;
        let after = load_user(conn, who.id)?;
        audit::record(
            conn,
            Some(who.id),
            "staff.add",
            Target("user", Some(row.id)),
            Some(&before),
            Some(&after),
            naive(now),
        )?;
        Ok(after)
    })
}

/// Removes someone from a unit's staff: they become a researcher again, of the organisation
/// they had before they accepted the invitation (of the unit's organisation when they were
/// made staff without one, from the shell).
pub fn remove_staff(
    conn: &mut DbConnection,
    actor: &Principal,
    unit: UnitId,
    user: UserId,
    now: DateTime<Utc>,
) -> AppResult<User> {
    db::write_tx(conn, |conn| {
        let row = store::find_user(conn, user.0)?.ok_or(AppError::NotFound { what: "user" })?;
        if row.unit_id != Some(unit.0) {
            return Err(AppError::NotFound {
                what: "staff member",
            });
        }
        let before = load_user(conn, user)?;
        let organisation = match store::accepted_invitation(conn, unit.0, row.id)? {
            Some(inv) => {
                store::set_invitation_status(
                    conn,
                    inv.id,
                    InvitationStatus::Accepted,
                    InvitationStatus::Ended,
                    inv.previous_organisation_id,
                    naive(now),
                )?;
                inv.previous_organisation_id
            }
            None => row.organisation_id,
        };
        store::set_role(
            conn,
            row.id,
            Role::Researcher.code(),
            None,
            organisation,
            naive(now),
        )?;
        store::clear_managed(conn, row.id)?;
        let after = load_user(conn, user)?;
        audit::record(
            conn,
            Some(actor.id),
            "staff.remove",
            Target("user", Some(row.id)),
            Some(&before),
            Some(&after),
            naive(now),
        )?;
        Ok(after)
    })
}

/// Names an instrument's managers; each must be staff of the instrument's unit.
pub fn set_instrument_managers(
    conn: &mut DbConnection,
    actor: &Principal,
    instrument: InstrumentId,
    unit: UnitId,
    user_ids: &[i64],
    now: DateTime<Utc>,
) -> AppResult<Vec<i64>> {
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    db::write_tx(conn, |conn| {
        for &id in &ids {
            let ok = store::find_user(conn, id)?
                .is_some_and(|u| u.role().is_staff() && u.unit_id == Some(unit.0));
            if !ok {
                return Err(AppError::invalid(
                    "user_ids",
                    format!("用户 {id} 不是本单位人员 (user {id} is not staff of the unit)"),
                ));
            }
        }
        let before = store::instrument_manager_ids(conn, instrument.0)?;
        store::set_instrument_managers(conn, instrument.0, &ids)?;
        audit::record(
            conn,
            Some(actor.id),
            "instrument.managers",
            Target("instrument", Some(instrument.0)),
            Some(&before),
            Some(&ids),
            naive(now),
        )?;
        Ok(ids.clone())
    })
}

/// An account made by an operator: from the shell (`yiqi user add`) or the demo seed.
#[derive(Clone, Copy)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub unit: Option<UnitId>,
    pub organisation: Option<OrganisationId>,
}

/// Creates a verified account.
pub fn create_verified(
    conn: &mut DbConnection,
    account: &NewAccount<'_>,
    password_hash: &str,
    now: NaiveDateTime,
) -> AppResult<UserId> {
    let NewAccount {
        email,
        name,
        role,
        unit,
        organisation,
    } = *account;
    let email = validate::email("email", email)?;
    let name = validate::line("name", name, 1, 50)?;
    if role.is_staff() != unit.is_some() {
        return Err(AppError::invalid(
            "unit",
            "instrument_manager 和 unit_admin 需要 --unit；其他角色不属于单位",
        ));
    }
    let organisation = match (unit, organisation) {
        (Some(u), _) => Some(
            store::organisation_of_unit(conn, u.0)?
                .ok_or_else(|| AppError::invalid("unit", format!("没有编号为 {u} 的单位")))?
                .id,
        ),
        (None, Some(o)) => Some(
            store::find_organisation(conn, o.0)?
                .ok_or_else(|| AppError::invalid("organisation", "没有这个单位"))?
                .id,
        ),
        (None, None) => None,
    };
    let id = store::insert_user(
        conn,
        &NewUser {
            email,
            password_hash: password_hash.to_owned(),
            name,
            phone: String::new(),
            organisation_id: organisation,
            role,
            unit_id: unit.map(|u| u.0),
            email_verified_at: Some(now),
            tokens_valid_after: now,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(UserId(id))
}

/// The price tier of `user` at host unit `unit` (the reservations module bills by it).
pub fn price_tier(conn: &mut DbConnection, user: UserId, unit: UnitId) -> AppResult<PriceTier> {
    let row = store::find_user(conn, user.0)?.ok_or(AppError::NotFound { what: "user" })?;
    let org = match row.organisation_id {
        Some(o) => store::find_organisation(conn, o)?,
        None => None,
    };
    Ok(PriceTier::of(org.as_ref(), unit))
}
