//! A unit's staff: invitations (the person accepts or declines), removal, and who manages
//! which instrument.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::model::*;
use super::service::load_user;
use super::store;
use crate::audit::{self, Target};
use crate::auth::{Principal, Role};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::Notice};
use crate::types::{InstrumentId, InvitationId, UnitId, UserId};
use crate::validate;

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
        let org =
            store::organisation_of_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
        let row = store::find_user_by_email(conn, &email)?.ok_or_else(|| {
            AppError::invalid(
                "email",
                "该邮箱没有注册账户，请先让对方注册 (no account with this e-mail)",
            )
        })?;
        joinable(&row, unit)?;
        if row.unit_id == Some(unit) {
            let before = load_user(conn, row.id)?;
            store::set_role(
                conn,
                row.id,
                role.code(),
                Some(unit),
                Some(org.id),
                naive(now),
            )?;
            if role != Role::InstrumentManager {
                store::clear_managed(conn, row.id)?;
            }
            let after = load_user(conn, row.id)?;
            audit::record(
                conn,
                Some(actor.id),
                "staff.role",
                Target("user", Some(row.id.0)),
                Some(&before),
                Some(&after),
                naive(now),
            )?;
            return Ok(StaffAdded::RoleChanged(after));
        }
        if let Some(open) = store::pending_invitation(conn, unit, row.id)? {
            // A second click, or another admin: the invitation already waits.
            return Ok(StaffAdded::Invited(Invitation::from_row(open, org.name)?));
        }
        let id = store::insert_invitation(
            conn,
            &NewInvitation {
                unit_id: unit,
                user_id: row.id,
                role,
                status: InvitationStatus::Pending,
                invited_by: actor.id,
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
            related: Some(("user", row.id.0)),
        }
        .render()?;
        mail::enqueue(conn, &message, naive(now))?;
        audit::record(
            conn,
            Some(actor.id),
            "staff.invite",
            Target("user", Some(row.id.0)),
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
    if current.is_staff() && row.unit_id != Some(unit) {
        return Err(AppError::conflict(
            ErrorCode::StaffOfOtherUnit,
            "此人是其他单位的人员，需先由该单位移除 (staff of another unit)",
        ));
    }
    Ok(())
}

/// The signed-in person's open invitations.
pub fn my_invitations(conn: &mut DbConnection, who: &Principal) -> AppResult<Vec<Invitation>> {
    store::pending_invitations_of(conn, who.id)?
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
    id: InvitationId,
    accept: bool,
    now: DateTime<Utc>,
) -> AppResult<User> {
    db::write_tx(conn, |conn| {
        let inv = store::find_invitation(conn, id)?
            .filter(|i| i.user_id == who.id)
            .ok_or(AppError::NotFound { what: "invitation" })?;
        let pending = InvitationStatus::Pending;
        if inv.status != pending {
            return Err(already_answered());
        }
        let row = store::find_user(conn, who.id)?.ok_or(AppError::NotFound { what: "user" })?;
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
        let unit = inv.unit_id;
        joinable(&row, unit)?;
        let org =
            store::organisation_of_unit(conn, unit)?.ok_or(AppError::NotFound { what: "unit" })?;
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
            Some(unit),
            Some(org.id),
            naive(now),
        )?;
        let after = load_user(conn, who.id)?;
        audit::record(
            conn,
            Some(who.id),
            "staff.add",
            Target("user", Some(row.id.0)),
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
        let row = store::find_user(conn, user)?.ok_or(AppError::NotFound { what: "user" })?;
        if row.unit_id != Some(unit) {
            return Err(AppError::NotFound {
                what: "staff member",
            });
        }
        let before = load_user(conn, user)?;
        let organisation = match store::accepted_invitation(conn, unit, row.id)? {
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
            Target("user", Some(row.id.0)),
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
    user_ids: &[UserId],
    now: DateTime<Utc>,
) -> AppResult<Vec<UserId>> {
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    db::write_tx(conn, |conn| {
        for &id in &ids {
            let ok = store::find_user(conn, id)?
                .is_some_and(|u| u.role().is_staff() && u.unit_id == Some(unit));
            if !ok {
                return Err(AppError::invalid(
                    "user_ids",
                    format!("用户 {id} 不是本单位人员 (user {id} is not staff of the unit)"),
                ));
            }
        }
        let before = store::instrument_manager_ids(conn, instrument)?;
        store::set_instrument_managers(conn, instrument, &ids)?;
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
