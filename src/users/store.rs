//! Account, organisation, token, qualification, violation and ban queries.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{
    bans, instrument_managers, instruments, organisations, qualifications, refresh_tokens,
    staff_invitations, units, user_tokens, users, violations,
};
use crate::db::{Db, DbConnection};
use crate::types::{
    BanId, InstrumentId, InvitationId, OrganisationId, PageRequest, QualificationId, UnitId,
    UserId, ViolationId,
};

// --- organisations -------------------------------------------------------------------------

pub fn find_organisation(
    conn: &mut DbConnection,
    id: OrganisationId,
) -> QueryResult<Option<OrganisationRow>> {
    crate::db::per_backend!(conn, |conn| organisations::table
        .find(id)
        .select(OrganisationRow::as_select())
        .first(conn)
        .optional())
}

pub fn organisation_of_unit(
    conn: &mut DbConnection,
    unit: UnitId,
) -> QueryResult<Option<OrganisationRow>> {
    organisations::table
        .filter(organisations::unit_id.eq(unit))
        .select(OrganisationRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_organisation(
    conn: &mut DbConnection,
    row: &NewOrganisation,
) -> QueryResult<OrganisationId> {
    diesel::insert_into(organisations::table)
        .values(row)
        .returning(organisations::id)
        .get_result(conn)
}

/// (id, name) of the active organisations by name, for a form's choice (at most 5,000).
pub fn active_organisation_names(conn: &mut DbConnection) -> QueryResult<Vec<(i64, String)>> {
    organisations::table
        .filter(organisations::status.eq("active"))
        .select((organisations::id, organisations::name))
        .order(organisations::name)
        .limit(5000)
        .load(conn)
}

fn filtered_organisations(
    q: Option<&str>,
    status: Option<OrganisationStatus>,
) -> organisations::BoxedQuery<'static, Db> {
    let mut query = organisations::table.into_boxed();
    if let Some(q) = q {
        query = query.filter(
            organisations::name
                .like(format!("%{}%", escape_like(q)))
                .escape('\\'),
        );
    }
    if let Some(s) = status {
        query = query.filter(organisations::status.eq(s.code()));
    }
    query
}

pub fn list_organisations(
    conn: &mut DbConnection,
    q: Option<&str>,
    status: Option<OrganisationStatus>,
    page: PageRequest,
) -> QueryResult<(Vec<OrganisationRow>, i64)> {
    let rows = filtered_organisations(q, status)
        .select(OrganisationRow::as_select())
        .order(organisations::id)
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered_organisations(q, status).count().get_result(conn)?;
    Ok((rows, total))
}

pub fn set_organisation_status(
    conn: &mut DbConnection,
    id: OrganisationId,
    status: OrganisationStatus,
) -> QueryResult<usize> {
    diesel::update(organisations::table.find(id))
        .set(organisations::status.eq(status.code()))
        .execute(conn)
}

/// `%` and `_` typed by a person are letters, not wildcards.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

// --- users ---------------------------------------------------------------------------------

pub fn find_user(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<UserRow>> {
    crate::db::per_backend!(conn, |conn| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional())
}

/// The given people as staff see them beside a request: name, organisation and how to
/// reach them.
pub fn contacts(conn: &mut DbConnection, ids: &[UserId]) -> QueryResult<Vec<Contact>> {
    users::table
        .left_join(organisations::table)
        .filter(users::id.eq_any(ids))
        .select((
            users::id,
            users::name,
            users::phone,
            users::email,
            organisations::name.nullable(),
        ))
        .load::<(UserId, String, String, String, Option<String>)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(id, name, phone, email, organisation)| Contact {
                    id,
                    name,
                    phone,
                    email,
                    organisation: organisation.unwrap_or_default(),
                })
                .collect()
        })
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_user(conn: &mut DbConnection, row: &NewUser) -> QueryResult<UserId> {
    diesel::insert_into(users::table)
        .values(row)
        .returning(users::id)
        .get_result(conn)
}

pub fn set_verified(
    conn: &mut DbConnection,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        users::table
            .find(user)
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(now))
    .execute(conn)
}

/// New password: every access token issued before `now` stops working.
pub fn set_password(
    conn: &mut DbConnection,
    user: UserId,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set((
            users::password_hash.eq(hash),
            users::tokens_valid_after.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn update_profile(
    conn: &mut DbConnection,
    user: UserId,
    name: &str,
    phone: &str,
    organisation: Option<OrganisationId>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set((
            users::name.eq(name),
            users::phone.eq(phone),
            users::organisation_id.eq(organisation),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Disables the account, ending every token issued before `now`.
pub fn disable(conn: &mut DbConnection, user: UserId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set((
            users::disabled_at.eq(Some(now)),
            users::tokens_valid_after.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Enables a disabled account. Its tokens ended when it was disabled; those issued since
/// (none can be) need no second revocation.
pub fn enable(conn: &mut DbConnection, user: UserId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .filter(users::disabled_at.is_not_null())
        .set((
            users::disabled_at.eq(None::<NaiveDateTime>),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn set_role(
    conn: &mut DbConnection,
    user: UserId,
    role: &str,
    unit: Option<UnitId>,
    organisation: Option<OrganisationId>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set((
            users::role.eq(role),
            users::unit_id.eq(unit),
            users::organisation_id.eq(organisation),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn clear_managed(conn: &mut DbConnection, user: UserId) -> QueryResult<usize> {
    diesel::delete(instrument_managers::table.filter(instrument_managers::user_id.eq(user)))
        .execute(conn)
}

pub fn instrument_manager_ids(
    conn: &mut DbConnection,
    instrument: InstrumentId,
) -> QueryResult<Vec<UserId>> {
    instrument_managers::table
        .filter(instrument_managers::instrument_id.eq(instrument))
        .select(instrument_managers::user_id)
        .order(instrument_managers::user_id)
        .load(conn)
}

pub fn set_instrument_managers(
    conn: &mut DbConnection,
    instrument: InstrumentId,
    users: &[UserId],
) -> QueryResult<()> {
    diesel::delete(
        instrument_managers::table.filter(instrument_managers::instrument_id.eq(instrument)),
    )
    .execute(conn)?;
    for &user in users {
        diesel::insert_into(instrument_managers::table)
            .values((
                instrument_managers::instrument_id.eq(instrument),
                instrument_managers::user_id.eq(user),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// An account with its organisation, as lists show it.
pub type UserWithOrganisation = (UserRow, Option<OrganisationRow>);

/// A qualification with its instrument's name and unit and the applicant's name and e-mail.
pub type QualificationListRow = (QualificationRow, String, UnitId, String, String);

/// Filters of the platform admin's user list and the unit's staff list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub q: Option<String>,
    pub role: Option<String>,
    pub unit: Option<UnitId>,
}

fn filtered_users(f: &UserFilter) -> users::BoxedQuery<'static, Db> {
    let mut query = users::table.into_boxed();
    if let Some(q) = &f.q {
        let pattern = format!("%{}%", escape_like(q));
        query = query.filter(
            users::email
                .like(pattern.clone())
                .escape('\\')
                .or(users::name.like(pattern).escape('\\')),
        );
    }
    if let Some(role) = &f.role {
        query = query.filter(users::role.eq(role.clone()));
    }
    if let Some(unit) = f.unit {
        query = query.filter(users::unit_id.eq(unit));
    }
    query
}

pub fn list_users(
    conn: &mut DbConnection,
    f: &UserFilter,
    page: PageRequest,
) -> QueryResult<(Vec<UserWithOrganisation>, i64)> {
    let rows: Vec<UserRow> = filtered_users(f)
        .select(UserRow::as_select())
        .order(users::id)
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered_users(f).count().get_result(conn)?;
    let org_ids: Vec<OrganisationId> = rows.iter().filter_map(|r| r.organisation_id).collect();
    let orgs: Vec<OrganisationRow> = organisations::table
        .filter(organisations::id.eq_any(&org_ids))
        .select(OrganisationRow::as_select())
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let org = orgs
                .iter()
                .find(|o| Some(o.id) == r.organisation_id)
                .cloned();
            (r, org)
        })
        .collect();
    Ok((rows, total))
}

// --- e-mailed tokens and refresh tokens ----------------------------------------------------

pub fn insert_user_token(conn: &mut DbConnection, row: &NewUserToken) -> QueryResult<usize> {
    diesel::insert_into(user_tokens::table)
        .values(row)
        .execute(conn)
}

/// Uses a link token once: the conditional update lets exactly one of two racing clicks win.
pub fn consume_user_token(
    conn: &mut DbConnection,
    hash: &str,
    purpose: TokenPurpose,
    now: NaiveDateTime,
) -> QueryResult<Option<UserId>> {
    diesel::update(
        user_tokens::table
            .filter(user_tokens::token_hash.eq(hash))
            .filter(user_tokens::purpose.eq(purpose.code()))
            .filter(user_tokens::used_at.is_null())
            .filter(user_tokens::expires_at.gt(now)),
    )
    .set(user_tokens::used_at.eq(now))
    .returning(user_tokens::user_id)
    .get_result(conn)
    .optional()
}

pub fn use_up_user_tokens(
    conn: &mut DbConnection,
    user: UserId,
    purpose: TokenPurpose,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        user_tokens::table
            .filter(user_tokens::user_id.eq(user))
            .filter(user_tokens::purpose.eq(purpose.code()))
            .filter(user_tokens::used_at.is_null()),
    )
    .set(user_tokens::used_at.eq(now))
    .execute(conn)
}

pub fn insert_refresh(conn: &mut DbConnection, row: &NewRefresh) -> QueryResult<usize> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
}

pub fn find_refresh(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<RefreshRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a token used; 0 rows means another request rotated or revoked it first.
pub fn mark_rotated(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(conn)
}

pub fn revoke_family(
    conn: &mut DbConnection,
    family: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

pub fn revoke_all_refresh(
    conn: &mut DbConnection,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

// --- qualifications ------------------------------------------------------------------------

pub fn insert_qualification(
    conn: &mut DbConnection,
    row: &NewQualification,
) -> QueryResult<QualificationId> {
    diesel::insert_into(qualifications::table)
        .values(row)
        .returning(qualifications::id)
        .get_result(conn)
}

pub fn find_qualification(
    conn: &mut DbConnection,
    id: QualificationId,
) -> QueryResult<Option<QualificationRow>> {
    qualifications::table
        .find(id)
        .select(QualificationRow::as_select())
        .first(conn)
        .optional()
}

/// Moves an application on only from the state it was read in, so two managers deciding at
/// once cannot both win.
pub fn decide_qualification(
    conn: &mut DbConnection,
    row: &QualificationRow,
    from: QualificationStatus,
) -> QueryResult<usize> {
    diesel::update(
        qualifications::table
            .find(row.id)
            .filter(qualifications::status.eq(from.code())),
    )
    .set((
        qualifications::status.eq(&row.status),
        qualifications::level.eq(&row.level),
        qualifications::reason.eq(&row.reason),
        qualifications::expires_at.eq(row.expires_at),
        qualifications::decided_by.eq(row.decided_by),
        qualifications::decided_at.eq(row.decided_at),
    ))
    .execute(conn)
}

#[derive(Debug, Clone, Default)]
pub struct QualificationFilter {
    pub user: Option<UserId>,
    pub unit: Option<UnitId>,
    /// Only these instruments (an instrument manager's own).
    pub instruments: Option<Vec<InstrumentId>>,
    pub status: Option<QualificationStatus>,
}

fn filtered_qualifications(
    f: &QualificationFilter,
) -> diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::InnerJoin<qualifications::table, instruments::table>,
    Db,
> {
    let mut q = qualifications::table
        .inner_join(instruments::table)
        .into_boxed();
    if let Some(user) = f.user {
        q = q.filter(qualifications::user_id.eq(user));
    }
    if let Some(unit) = f.unit {
        q = q.filter(instruments::unit_id.eq(unit));
    }
    if let Some(ids) = &f.instruments {
        q = q.filter(qualifications::instrument_id.eq_any(ids.clone()));
    }
    if let Some(s) = f.status {
        q = q.filter(qualifications::status.eq(s.code()));
    }
    q
}

pub fn list_qualifications(
    conn: &mut DbConnection,
    f: &QualificationFilter,
    page: PageRequest,
) -> QueryResult<(Vec<QualificationListRow>, i64)> {
    let rows: Vec<(QualificationRow, String, UnitId)> = filtered_qualifications(f)
        .select((
            QualificationRow::as_select(),
            instruments::name_zh,
            instruments::unit_id,
        ))
        .order(qualifications::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered_qualifications(f).count().get_result(conn)?;
    let ids: Vec<UserId> = rows.iter().map(|(q, _, _)| q.user_id).collect();
    let people: Vec<(UserId, String, String)> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::name, users::email))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(q, instrument, unit)| {
            let (name, email) = people
                .iter()
                .find(|p| p.0 == q.user_id)
                .map(|p| (p.1.clone(), p.2.clone()))
                .unwrap_or_default();
            (q, instrument, unit, name, email)
        })
        .collect();
    Ok((rows, total))
}

/// Approved qualifications whose expiry has come.
pub fn due_expirations(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<QualificationRow>> {
    qualifications::table
        .filter(qualifications::status.eq(QualificationStatus::Approved.code()))
        .filter(qualifications::expires_at.le(now))
        .select(QualificationRow::as_select())
        .order(qualifications::id)
        .limit(limit)
        .load(conn)
}

// --- violations and bans -------------------------------------------------------------------

pub fn insert_violation(conn: &mut DbConnection, row: &NewViolation) -> QueryResult<ViolationId> {
    diesel::insert_into(violations::table)
        .values(row)
        .returning(violations::id)
        .get_result(conn)
}

pub fn violations_of(conn: &mut DbConnection, user: UserId) -> QueryResult<Vec<ViolationRow>> {
    violations::table
        .filter(violations::user_id.eq(user))
        .select(ViolationRow::as_select())
        .order(violations::occurred_at.desc())
        .limit(500)
        .load(conn)
}

/// Violations of `kind` since `since`: what an automatic ban rule counts.
pub fn count_violations(
    conn: &mut DbConnection,
    user: UserId,
    kind: ViolationKind,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    violations::table
        .filter(violations::user_id.eq(user))
        .filter(violations::kind.eq(kind.code()))
        .filter(violations::occurred_at.ge(since))
        .select(count_star())
        .get_result(conn)
}

pub fn insert_ban(conn: &mut DbConnection, row: &NewBan) -> QueryResult<BanId> {
    diesel::insert_into(bans::table)
        .values(row)
        .returning(bans::id)
        .get_result(conn)
}

pub fn find_ban(conn: &mut DbConnection, id: BanId) -> QueryResult<Option<BanRow>> {
    bans::table
        .find(id)
        .select(BanRow::as_select())
        .first(conn)
        .optional()
}

pub fn lift_ban(
    conn: &mut DbConnection,
    id: BanId,
    by: UserId,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(bans::table.find(id).filter(bans::lifted_at.is_null()))
        .set((
            bans::lifted_at.eq(now),
            bans::lifted_by.eq(by),
            bans::lift_reason.eq(reason),
        ))
        .execute(conn)
}

pub fn bans_of(conn: &mut DbConnection, user: UserId) -> QueryResult<Vec<BanRow>> {
    bans::table
        .filter(bans::user_id.eq(user))
        .select(BanRow::as_select())
        .order(bans::id.desc())
        .limit(500)
        .load(conn)
}

/// Bans in force at `now` that cover `instrument` of `unit`.
pub fn active_bans(
    conn: &mut DbConnection,
    user: UserId,
    unit: UnitId,
    instrument: InstrumentId,
    now: NaiveDateTime,
) -> QueryResult<Vec<BanRow>> {
    crate::db::per_backend!(conn, |conn| bans::table
        .filter(bans::user_id.eq(user))
        .filter(bans::lifted_at.is_null())
        .filter(bans::starts_at.le(now))
        .filter(bans::ends_at.gt(now))
        .filter(
            bans::scope
                .eq(BanScope::All.code())
                .or(bans::unit_id.eq(unit))
                .or(bans::instrument_id.eq(instrument)),
        )
        .select(BanRow::as_select())
        .order(bans::ends_at.desc())
        .load(conn))
}

/// Who hears about a new application for `instrument`: its managers and the unit's admins.
pub fn staff_to_notify(
    conn: &mut DbConnection,
    unit: UnitId,
    instrument: InstrumentId,
) -> QueryResult<Vec<(String, String)>> {
    let managers = instrument_manager_ids(conn, instrument)?;
    users::table
        .filter(users::disabled_at.is_null())
        .filter(
            users::id.eq_any(managers).or(users::unit_id
                .eq(unit)
                .and(users::role.eq(crate::auth::Role::UnitAdmin.code()))),
        )
        .select((users::email, users::name))
        .order(users::id)
        .load(conn)
}

/// (e-mail, name) of the administrators who answer for `unit`, or of the platform when
/// `None`: who hears of a complaint.
pub fn admins(conn: &mut DbConnection, unit: Option<UnitId>) -> QueryResult<Vec<(String, String)>> {
    use crate::auth::Role;
    let mut q = users::table
        .filter(users::disabled_at.is_null())
        .select((users::email, users::name))
        .order(users::id)
        .into_boxed();
    q = match unit {
        Some(u) => q
            .filter(users::unit_id.eq(u))
            .filter(users::role.eq(Role::UnitAdmin.code())),
        None => q.filter(users::role.eq(Role::PlatformAdmin.code())),
    };
    q.load(conn)
}

/// A new secret for the person's calendar feed (the old URL stops working).
pub fn set_calendar_token(conn: &mut DbConnection, user: UserId, hash: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set(users::calendar_token_hash.eq(hash))
        .execute(conn)
}

pub fn user_by_calendar_token(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<UserId>> {
    users::table
        .filter(users::calendar_token_hash.eq(hash))
        .filter(users::disabled_at.is_null())
        .select(users::id)
        .first(conn)
        .optional()
}

// --- staff invitations -----------------------------------------------------------------------

pub fn insert_invitation(
    conn: &mut DbConnection,
    row: &NewInvitation,
) -> QueryResult<InvitationId> {
    diesel::insert_into(staff_invitations::table)
        .values(row)
        .returning(staff_invitations::id)
        .get_result(conn)
}

pub fn find_invitation(
    conn: &mut DbConnection,
    id: InvitationId,
) -> QueryResult<Option<InvitationRow>> {
    staff_invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()
}

/// `user`'s open invitation to `unit`, if any.
pub fn pending_invitation(
    conn: &mut DbConnection,
    unit: UnitId,
    user: UserId,
) -> QueryResult<Option<InvitationRow>> {
    staff_invitations::table
        .filter(staff_invitations::unit_id.eq(unit))
        .filter(staff_invitations::user_id.eq(user))
        .filter(staff_invitations::status.eq("pending"))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()
}

/// The invitation by which `user` joined `unit`'s staff, while they are on it.
pub fn accepted_invitation(
    conn: &mut DbConnection,
    unit: UnitId,
    user: UserId,
) -> QueryResult<Option<InvitationRow>> {
    staff_invitations::table
        .filter(staff_invitations::unit_id.eq(unit))
        .filter(staff_invitations::user_id.eq(user))
        .filter(staff_invitations::status.eq("accepted"))
        .order(staff_invitations::id.desc())
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()
}

/// A person's open invitations with their units' names, newest first.
pub fn pending_invitations_of(
    conn: &mut DbConnection,
    user: UserId,
) -> QueryResult<Vec<(InvitationRow, String)>> {
    staff_invitations::table
        .inner_join(units::table.on(units::id.eq(staff_invitations::unit_id)))
        .filter(staff_invitations::user_id.eq(user))
        .filter(staff_invitations::status.eq("pending"))
        .order(staff_invitations::id.desc())
        .limit(100)
        .select((InvitationRow::as_select(), units::name))
        .load(conn)
}

/// Moves an invitation from `from` to `to`; false when it was no longer `from` (a second
/// click, another tab).
pub fn set_invitation_status(
    conn: &mut DbConnection,
    id: InvitationId,
    from: InvitationStatus,
    to: InvitationStatus,
    previous_organisation: Option<OrganisationId>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        staff_invitations::table
            .find(id)
            .filter(staff_invitations::status.eq(from)),
    )
    .set((
        staff_invitations::status.eq(to),
        staff_invitations::previous_organisation_id.eq(previous_organisation),
        staff_invitations::decided_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
