//! Accounts, organisations, qualifications, violations and bans: rows as stored and the
//! shapes the API shows.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::db::schema::{
    bans, organisations, qualifications, refresh_tokens, staff_invitations, user_tokens, users,
    violations,
};
use crate::error::AppResult;
use crate::navigation::model::UnitKind;
use crate::types::{
    code_enum, BanId, InstrumentId, InvitationId, OrganisationId, QualificationId, UnitId, UserId,
    ViolationId,
};

code_enum! {
    pub enum OrganisationStatus {
        Active = "active" / "已认可",
        Proposed = "proposed" / "待审核",
    }
}

code_enum! {
    pub enum TokenPurpose {
        VerifyEmail = "verify_email" / "邮箱验证",
        PasswordReset = "password_reset" / "重置密码",
    }
}

code_enum! {
    /// 上机资格: applied → approved | refused; approved → expired; then one may apply again.
    pub enum QualificationStatus {
        Applied = "applied" / "待审核",
        Approved = "approved" / "已获得",
        Refused = "refused" / "未通过",
        Expired = "expired" / "已过期",
    }
}

code_enum! {
    pub enum QualificationLevel {
        Supervised = "supervised" / "需陪同上机",
        Independent = "independent" / "可独立上机",
    }
}

code_enum! {
    pub enum ViolationKind {
        NoShow = "no_show" / "爽约",
        Late = "late" / "迟到",
        LeftEarly = "left_early" / "早退",
        Overtime = "overtime" / "超时",
    }
}

code_enum! {
    pub enum BanScope {
        All = "all" / "全部仪器",
        Unit = "unit" / "单位的仪器",
        Instrument = "instrument" / "单台仪器",
    }
}

code_enum! {
    /// Which price a client pays, from their organisation: the host unit's
    /// own people are internal; everyone else is external, academic or not.
    pub enum PriceTier {
        OwnUnit = "own_unit" / "校内/所内",
        Academic = "academic" / "其他高校院所",
        Enterprise = "enterprise" / "企业及其他",
    }
}

/// What a person's price tier depends on: the kind of their organisation and the host unit it
/// is part of, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Affiliation {
    pub kind: UnitKind,
    pub unit: Option<UnitId>,
}

impl PriceTier {
    /// The tier of a member of an organisation (`affiliation`) at host unit `unit`.
    pub fn of(affiliation: Option<Affiliation>, unit: UnitId) -> PriceTier {
        match affiliation {
            Some(o) if o.unit == Some(unit) => PriceTier::OwnUnit,
            Some(o)
                if matches!(
                    o.kind,
                    UnitKind::University | UnitKind::Institute | UnitKind::Hospital
                ) =>
            {
                PriceTier::Academic
            }
            _ => PriceTier::Enterprise,
        }
    }

    /// Internal service: counted apart from "external service hours" (对外服务机时).
    pub fn is_internal(self) -> bool {
        self == PriceTier::OwnUnit
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organisations)]
pub struct OrganisationRow {
    pub id: OrganisationId,
    pub name: String,
    pub kind: UnitKind,
    pub credit_code: Option<String>,
    pub unit_id: Option<UnitId>,
    pub status: OrganisationStatus,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = organisations)]
pub struct NewOrganisation {
    pub name: String,
    pub kind: UnitKind,
    pub credit_code: Option<String>,
    pub unit_id: Option<UnitId>,
    pub status: OrganisationStatus,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: String,
    pub kind: UnitKind,
    pub credit_code: Option<String>,
    /// Set when the organisation is a host unit.
    pub unit_id: Option<UnitId>,
    pub status: OrganisationStatus,
}

impl From<OrganisationRow> for Organisation {
    fn from(r: OrganisationRow) -> Self {
        Organisation {
            id: r.id,
            name: r.name,
            kind: r.kind,
            credit_code: r.credit_code,
            unit_id: r.unit_id,
            status: r.status,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub phone: String,
    pub organisation_id: Option<OrganisationId>,
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub email_verified_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub tokens_valid_after: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn role(&self) -> Role {
        self.role
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub phone: String,
    pub organisation_id: Option<OrganisationId>,
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub email_verified_at: Option<NaiveDateTime>,
    pub tokens_valid_after: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An account as shown to its owner and to administrators (never the hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub phone: String,
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub organisation: Option<Organisation>,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn from_row(r: UserRow, organisation: Option<OrganisationRow>) -> User {
        User {
            id: r.id,
            role: r.role(),
            email: r.email,
            name: r.name,
            phone: r.phone,
            unit_id: r.unit_id,
            organisation: organisation.map(Organisation::from),
            email_verified: r.email_verified_at.is_some(),
            disabled: r.disabled_at.is_some(),
            created_at: r.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_tokens)]
pub struct NewUserToken {
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshRow {
    pub id: i64,
    pub user_id: UserId,
    pub family: String,
    pub expires_at: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefresh {
    pub user_id: UserId,
    pub family: String,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// What sign-in and refresh return.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = qualifications)]
pub struct QualificationRow {
    pub id: QualificationId,
    pub user_id: UserId,
    pub instrument_id: InstrumentId,
    pub status: QualificationStatus,
    pub level: Option<QualificationLevel>,
    pub note: String,
    pub reason: Option<String>,
    #[serde(default, with = "crate::types::utc::option")]
    pub expires_at: Option<NaiveDateTime>,
    pub decided_by: Option<UserId>,
    #[serde(default, with = "crate::types::utc::option")]
    pub decided_at: Option<NaiveDateTime>,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = qualifications)]
pub struct NewQualification {
    pub user_id: UserId,
    pub instrument_id: InstrumentId,
    pub status: QualificationStatus,
    pub note: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Qualification {
    pub id: QualificationId,
    pub user: PersonRef,
    pub instrument: InstrumentRef,
    pub status: QualificationStatus,
    pub status_label: &'static str,
    pub level: Option<QualificationLevel>,
    pub note: String,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonRef {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstrumentRef {
    pub id: InstrumentId,
    pub name: String,
    pub unit_id: UnitId,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = violations)]
pub struct ViolationRow {
    pub id: ViolationId,
    pub user_id: UserId,
    pub kind: ViolationKind,
    pub instrument_id: InstrumentId,
    #[serde(with = "crate::types::utc")]
    pub occurred_at: NaiveDateTime,
    pub note: String,
    pub recorded_by: Option<UserId>,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = violations)]
pub struct NewViolation {
    pub user_id: UserId,
    pub kind: ViolationKind,
    pub instrument_id: InstrumentId,
    pub occurred_at: NaiveDateTime,
    pub note: String,
    pub recorded_by: Option<UserId>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Violation {
    pub id: ViolationId,
    pub user_id: UserId,
    pub kind: ViolationKind,
    pub instrument_id: InstrumentId,
    pub occurred_at: DateTime<Utc>,
    pub note: String,
}

impl From<ViolationRow> for Violation {
    fn from(r: ViolationRow) -> Self {
        Violation {
            id: r.id,
            user_id: r.user_id,
            kind: r.kind,
            instrument_id: r.instrument_id,
            occurred_at: r.occurred_at.and_utc(),
            note: r.note,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = bans)]
pub struct BanRow {
    pub id: BanId,
    pub user_id: UserId,
    pub scope: BanScope,
    pub unit_id: Option<UnitId>,
    pub instrument_id: Option<InstrumentId>,
    pub reason: String,
    #[serde(with = "crate::types::utc")]
    pub starts_at: NaiveDateTime,
    #[serde(with = "crate::types::utc")]
    pub ends_at: NaiveDateTime,
    pub created_by: Option<UserId>,
    #[serde(with = "crate::types::utc")]
    pub created_at: NaiveDateTime,
    #[serde(default, with = "crate::types::utc::option")]
    pub lifted_at: Option<NaiveDateTime>,
    pub lifted_by: Option<UserId>,
    pub lift_reason: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = bans)]
pub struct NewBan {
    pub user_id: UserId,
    pub scope: BanScope,
    pub unit_id: Option<UnitId>,
    pub instrument_id: Option<InstrumentId>,
    pub reason: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub created_by: Option<UserId>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ban {
    pub id: BanId,
    pub user_id: UserId,
    pub scope: BanScope,
    pub unit_id: Option<UnitId>,
    pub instrument_id: Option<InstrumentId>,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<UserId>,
    pub lift_reason: Option<String>,
    /// In force now: started, not ended, not lifted.
    pub active: bool,
}

impl Ban {
    pub fn from_row(r: BanRow, now: NaiveDateTime) -> Ban {
        Ban {
            id: r.id,
            user_id: r.user_id,
            scope: r.scope,
            unit_id: r.unit_id,
            instrument_id: r.instrument_id,
            active: r.lifted_at.is_none() && r.starts_at <= now && now < r.ends_at,
            reason: r.reason,
            starts_at: r.starts_at.and_utc(),
            ends_at: r.ends_at.and_utc(),
            created_by: r.created_by,
            lifted_at: r.lifted_at.map(|t| t.and_utc()),
            lifted_by: r.lifted_by,
            lift_reason: r.lift_reason,
        }
    }
}

/// Body of register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub email: String,
    pub password: String,
    pub name: String,
    #[serde(default)]
    pub phone: String,
    /// An existing organisation …
    pub organisation_id: Option<OrganisationId>,
    /// … or a new client organisation, which a platform admin accepts later.
    pub new_organisation: Option<NewOrganisationInput>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisationInput {
    pub name: String,
    pub kind: String,
    pub credit_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_tier_follows_the_organisation() {
        let jlu = UnitId(1);
        assert_eq!(
            PriceTier::of(
                Some(Affiliation {
                    kind: UnitKind::University,
                    unit: Some(UnitId(1))
                }),
                jlu
            ),
            PriceTier::OwnUnit
        );
        assert!(PriceTier::of(
            Some(Affiliation {
                kind: UnitKind::University,
                unit: Some(UnitId(1))
            }),
            jlu
        )
        .is_internal());
        assert_eq!(
            PriceTier::of(
                Some(Affiliation {
                    kind: UnitKind::Institute,
                    unit: Some(UnitId(2))
                }),
                jlu
            ),
            PriceTier::Academic
        );
        assert_eq!(
            PriceTier::of(
                Some(Affiliation {
                    kind: UnitKind::Hospital,
                    unit: None
                }),
                jlu
            ),
            PriceTier::Academic
        );
        assert_eq!(
            PriceTier::of(
                Some(Affiliation {
                    kind: UnitKind::Enterprise,
                    unit: None
                }),
                jlu
            ),
            PriceTier::Enterprise
        );
        assert_eq!(
            PriceTier::of(
                Some(Affiliation {
                    kind: UnitKind::Enterprise,
                    unit: Some(UnitId(1))
                }),
                jlu
            ),
            PriceTier::OwnUnit
        );
        assert_eq!(PriceTier::of(None, jlu), PriceTier::Enterprise);
    }
}

code_enum! {
    /// An invitation to a unit's staff: pending → accepted | declined; accepted → ended when
    /// the person leaves the staff (their own organisation is given back).
    pub enum InvitationStatus {
        Pending = "pending" / "待接受",
        Accepted = "accepted" / "已接受",
        Declined = "declined" / "已谢绝",
        Ended = "ended" / "已离任",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff_invitations)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub unit_id: UnitId,
    pub user_id: UserId,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: UserId,
    pub previous_organisation_id: Option<OrganisationId>,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = staff_invitations)]
pub struct NewInvitation {
    pub unit_id: UnitId,
    pub user_id: UserId,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: UserId,
    pub created_at: NaiveDateTime,
}

/// An invitation as the API shows it, with the unit's name for the invitee.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub user_id: UserId,
    pub role: Role,
    pub status: InvitationStatus,
    pub created_at: DateTime<Utc>,
}

impl Invitation {
    pub fn from_row(r: InvitationRow, unit_name: String) -> AppResult<Invitation> {
        Ok(Invitation {
            id: r.id,
            unit_id: r.unit_id,
            unit_name,
            user_id: r.user_id,
            role: r.role,
            status: r.status,
            created_at: r.created_at.and_utc(),
        })
    }
}

/// A person as staff see them beside a request of theirs.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: UserId,
    pub name: String,
    pub phone: String,
    pub email: String,
    /// Empty when the account names no organisation.
    pub organisation: String,
}
