//! Account rules: registration, e-mail verification, profiles, disabling, organisations and
//! price tiers. Signing in and passwords are in `signin`, a unit's staff in `staff`.

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
use crate::types::{OrganisationId, PageRequest, Paged, UnitId, UserId};
use crate::validate;

pub fn load_user(conn: &mut DbConnection, id: UserId) -> AppResult<User> {
    let row = store::find_user(conn, id)?.ok_or(AppError::NotFound { what: "user" })?;
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
    Existing(OrganisationId),
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
    let (ctx, to, from, now) = (
        state.auth.clone(),
        r.email.clone(),
        address.to_owned(),
        state.clock.now(),
    );
    db::run(&state.pool, move |conn| {
        ctx.mail_limiter.hit(conn, &to, &from, now)
    })
    .await?;
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
            related: Some(("user", existing.id.0)),
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

pub(super) fn new_link_token(
    conn: &mut DbConnection,
    user: UserId,
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
        related: Some(("user", user.id.0)),
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
    ctx.mail_limiter.hit(conn, &who.email, address, now)?;
    let user = who.id;
    db::write_tx(conn, |conn| {
        let row = store::find_user(conn, user)?.ok_or(AppError::NotFound { what: "user" })?;
        if row.email_verified_at.is_some() {
            return Err(AppError::conflict(
                ErrorCode::AlreadyVerified,
                "邮箱已验证 (already verified)",
            ));
        }
        send_verification(conn, ctx, &row, now)
    })
}

pub(super) fn bad_link() -> AppError {
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
        load_user(conn, user)
    })
}

// --- profile, accounts, organisations, staff ----------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub organisation_id: Option<OrganisationId>,
}

pub fn update_profile(
    conn: &mut DbConnection,
    who: &Principal,
    patch: &ProfilePatch,
    now: DateTime<Utc>,
) -> AppResult<User> {
    db::write_tx(conn, |conn| {
        let row = store::find_user(conn, who.id)?.ok_or(AppError::NotFound { what: "user" })?;
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
            store::disable(conn, user, naive(now))?;
            store::revoke_all_refresh(conn, user, naive(now))?;
        } else {
            store::enable(conn, user, naive(now))?;
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
        let before: Organisation = store::find_organisation(conn, id)?
            .ok_or(AppError::NotFound {
                what: "organisation",
            })?
            .into();
        store::set_organisation_status(conn, id, OrganisationStatus::Active)?;
        let after: Organisation = store::find_organisation(conn, id)?
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
            store::organisation_of_unit(conn, u)?
                .ok_or_else(|| AppError::invalid("unit", format!("没有编号为 {u} 的单位")))?
                .id,
        ),
        (None, Some(o)) => Some(
            store::find_organisation(conn, o)?
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
            unit_id: unit,
            email_verified_at: Some(now),
            tokens_valid_after: now,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(id)
}
