//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`: one operation per route of the
//! route table, with the real request and response types (their schemas are derived from the
//! same structs the handlers use). `tests/openapi.rs` calls every documented operation on a
//! running server, so a documented route that does not exist fails the suite.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::audit::Entry;
use crate::auth::Role;
use crate::error::Problem;
use crate::mail::model::OutboxRow;
use crate::navigation::editing::{
    BookingSettingsInput, InstrumentInput, SubPlatformInput, UnitInput,
};
use crate::navigation::model::*;
use crate::reservations::availability::{Availability, UnitWeek};
use crate::reservations::model::{Reservation, ReservationInput};
use crate::reservations::service::{BlackoutInput, StepInput};
use crate::types::Paged;
use crate::usage::model::*;
use crate::usage::service::RecordWithHistory;
use crate::users::handlers::{
    LoginBody, ManagersBody, PasswordChange, RefreshBody, ResetConfirm, ResetRequest, TokenBody,
};
use crate::users::model::*;
use crate::users::qualifications::{Application, BanInput, Decision, LiftInput, ViolationInput};
use crate::users::service::{ProfilePatch, StaffInput};

#[utoipa::path(
    get,
    path = "/health",
    tag = "ops",
    summary = "Process alive",
    responses(
        (status = 200, description = "alive")
    )
)]
#[allow(dead_code)]
fn get_health() {}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "ops",
    summary = "Database reachable; mail queue and jobs",
    responses(
        (status = 200, description = "ready"),
        (status = 503, description = "database unreachable", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_ready() {}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "usage",
    summary = "Platform figures: the catalogue counts and what was served in [from, to] (client units, services, machine-hours, external hours, income), by unit, sub-platform, instrument (the `top` most used), month and service type",
    params(
        ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default: all history)"),
        ("to" = Option<String>, Query, description = "last day, YYYY-MM-DD"),
        ("top" = Option<i64>, Query, description = "instruments listed in by_instrument (0–1000, default 20)")
    ),
    responses(
        (status = 200, description = "figures", body = UsageStats),
        (status = 400, description = "a malformed date", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` before `from`", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_stats() {}

#[utoipa::path(
    get,
    path = "/api/v1/sub-platforms",
    tag = "navigation",
    summary = "Sub-platforms",
    params(
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<SubPlatform>)
    )
)]
#[allow(dead_code)]
fn get_sub_platforms() {}

#[utoipa::path(
    post,
    path = "/api/v1/sub-platforms",
    tag = "navigation",
    summary = "Create a sub-platform (platform admin)",
    request_body = SubPlatformInput,
    responses(
        (status = 201, description = "created", body = SubPlatformRow),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_sub_platforms() {}

#[utoipa::path(
    get,
    path = "/api/v1/sub-platforms/{id}",
    tag = "navigation",
    summary = "One sub-platform",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = SubPlatform),
        (status = 404, description = "no such sub-platform", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_sub_platforms_id() {}

#[utoipa::path(
    patch,
    path = "/api/v1/sub-platforms/{id}",
    tag = "navigation",
    summary = "Edit a sub-platform (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = SubPlatformInput,
    responses(
        (status = 200, description = "saved", body = SubPlatformRow),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn patch_sub_platforms_id() {}

#[utoipa::path(
    get,
    path = "/api/v1/units",
    tag = "navigation",
    summary = "Host units",
    params(
        ("sub_platform" = Option<i64>, Query, description = "sub-platform id"),
        ("city" = Option<String>, Query, description = "city name, e.g. 长春"),
        ("kind" = Option<UnitKind>, Query, description = "unit kind"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<Unit>)
    )
)]
#[allow(dead_code)]
fn get_units() {}

#[utoipa::path(
    post,
    path = "/api/v1/units",
    tag = "navigation",
    summary = "Create a host unit (platform admin)",
    request_body = UnitInput,
    responses(
        (status = 201, description = "created", body = Unit),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_units() {}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}",
    tag = "navigation",
    summary = "One host unit",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = Unit),
        (status = 404, description = "no such unit", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_units_id() {}

#[utoipa::path(
    patch,
    path = "/api/v1/units/{id}",
    tag = "navigation",
    summary = "Edit a host unit (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = UnitInput,
    responses(
        (status = 200, description = "saved", body = Unit),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn patch_units_id() {}

#[utoipa::path(
    post,
    path = "/api/v1/units/{id}/instruments",
    tag = "navigation",
    summary = "Add an instrument (the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = InstrumentInput,
    responses(
        (status = 201, description = "created", body = Instrument),
        (status = 422, description = "a field breaks a rule, named in `field`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_units_id_instruments() {}

#[utoipa::path(
    get,
    path = "/api/v1/categories",
    tag = "navigation",
    summary = "The national category tree with instrument counts",
    responses(
        (status = 200, description = "the 15 classes and their children", body = Vec<CategoryNode>)
    )
)]
#[allow(dead_code)]
fn get_categories() {}

#[utoipa::path(
    get,
    path = "/api/v1/instruments",
    tag = "navigation",
    summary = "Instruments",
    params(
        ("unit" = Option<i64>, Query, description = "host unit id"),
        ("sub_platform" = Option<i64>, Query, description = "sub-platform id"),
        ("category" = Option<String>, Query, description = "6-digit code; AA0000 a class, AABB00 a middle class"),
        ("city" = Option<String>, Query, description = "city name, e.g. 长春"),
        ("share_mode" = Option<ShareMode>, Query, description = "share mode"),
        ("status" = Option<String>, Query, description = "status code"),
        ("sort" = Option<String>, Query, description = "id, name, -original_value, original_value, -in_service_on, in_service_on"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<InstrumentSummary>)
    )
)]
#[allow(dead_code)]
fn get_instruments() {}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}",
    tag = "navigation",
    summary = "One instrument, every national field",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = Instrument),
        (status = 404, description = "no such instrument", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_instruments_id() {}

#[utoipa::path(
    patch,
    path = "/api/v1/instruments/{id}",
    tag = "navigation",
    summary = "Edit an instrument (the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = InstrumentInput,
    responses(
        (status = 200, description = "saved", body = Instrument),
        (status = 409, description = "retired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn patch_instruments_id() {}

#[utoipa::path(
    post,
    path = "/api/v1/instruments/{id}/retire",
    tag = "navigation",
    summary = "Retire an instrument (never deleted)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "retired", body = Instrument),
        (status = 409, description = "already retired", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_instruments_id_retire() {}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/booking-settings",
    tag = "navigation",
    summary = "Booking settings",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "the settings, or the defaults", body = BookingSettingsRow)
    )
)]
#[allow(dead_code)]
fn get_instruments_id_booking_settings() {}

#[utoipa::path(
    put,
    path = "/api/v1/instruments/{id}/booking-settings",
    tag = "navigation",
    summary = "Change booking settings (its managers, the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = BookingSettingsInput,
    responses(
        (status = 200, description = "saved", body = BookingSettingsRow),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn put_instruments_id_booking_settings() {}

#[utoipa::path(
    put,
    path = "/api/v1/instruments/{id}/managers",
    tag = "users",
    summary = "Name the instrument's managers (the unit's admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = ManagersBody,
    responses(
        (status = 200, description = "`{\"user_ids\": [...]}`"),
        (status = 422, description = "not staff of the unit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn put_instruments_id_managers() {}

#[utoipa::path(
    post,
    path = "/api/v1/instruments/{id}/qualifications",
    tag = "users",
    summary = "Apply for the qualification to operate it (verified accounts)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = Application,
    responses(
        (status = 201, description = "applied", body = Qualification),
        (status = 409, description = "an application or qualification is open", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_instruments_id_qualifications() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    summary = "Register; a verification link is e-mailed",
    request_body = Registration,
    responses(
        (status = 202, description = "the same answer whether or not the address has an account"),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn post_auth_register() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email",
    tag = "auth",
    summary = "Verify the e-mail address with the link's token",
    request_body = TokenBody,
    responses(
        (status = 200, description = "verified", body = User),
        (status = 422, description = "invalid, used or expired", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn post_auth_verify_email() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Sign in",
    request_body = LoginBody,
    responses(
        (status = 200, description = "signed in", body = Tokens),
        (status = 401, description = "wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "account disabled", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many failures; see Retry-After", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn post_auth_login() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    summary = "Rotate a refresh token",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "a new pair", body = Tokens),
        (status = 401, description = "invalid, expired, or reused (the sign-in is revoked)", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn post_auth_refresh() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "End the sign-in of a refresh token",
    request_body = RefreshBody,
    responses(
        (status = 204, description = "signed out")
    )
)]
#[allow(dead_code)]
fn post_auth_logout() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset",
    tag = "auth",
    summary = "E-mail a reset link",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "sent if the address has an account"),
        (status = 429, description = "too many links asked for this address or from this client (the same answer for every address)", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn post_auth_password_reset() {}

#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/confirm",
    tag = "auth",
    summary = "Set a new password with the link's token",
    request_body = ResetConfirm,
    responses(
        (status = 204, description = "changed; every sign-in ended"),
        (status = 422, description = "bad token or password", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn post_auth_password_reset_confirm() {}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    summary = "The signed-in account",
    responses(
        (status = 200, description = "the account", body = User),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_me() {}

#[utoipa::path(
    patch,
    path = "/api/v1/me",
    tag = "auth",
    summary = "Edit the profile",
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "saved", body = User),
        (status = 422, description = "a field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn patch_me() {}

#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    tag = "auth",
    summary = "Change the password (other sign-ins end)",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "new tokens for this session", body = Tokens),
        (status = 422, description = "wrong current password or a weak new one", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_me_password() {}

#[utoipa::path(
    post,
    path = "/api/v1/me/verification-email",
    tag = "auth",
    summary = "Send the verification link again",
    responses(
        (status = 202, description = "sent"),
        (status = 409, description = "already verified", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_me_verification_email() {}

#[utoipa::path(
    get,
    path = "/api/v1/me/invitations",
    tag = "users",
    summary = "My open invitations to a unit's staff",
    responses(
        (status = 200, description = "the open invitations", body = Vec<Invitation>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_me_invitations() {}

#[utoipa::path(
    post,
    path = "/api/v1/me/invitations/{id}/accept",
    tag = "users",
    summary = "Accept an invitation: become staff of the unit (the organisation one had is given back on leaving)",
    params(
        ("id" = i64, Path, description = "the invitation")
    ),
    responses(
        (status = 200, description = "joined", body = User),
        (status = 404, description = "no such invitation addressed to me", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_answered`, `staff_of_other_unit`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_me_invitations_id_accept() {}

#[utoipa::path(
    post,
    path = "/api/v1/me/invitations/{id}/decline",
    tag = "users",
    summary = "Decline an invitation: nothing changes",
    params(
        ("id" = i64, Path, description = "the invitation")
    ),
    responses(
        (status = 200, description = "declined", body = User),
        (status = 404, description = "no such invitation addressed to me", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_answered`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_me_invitations_id_decline() {}

#[utoipa::path(
    get,
    path = "/api/v1/organisations",
    tag = "users",
    summary = "Organisations to register with",
    params(
        ("q" = Option<String>, Query, description = "words in the name (or e-mail)"),
        ("status" = Option<String>, Query, description = "status code"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<Organisation>)
    )
)]
#[allow(dead_code)]
fn get_organisations() {}

#[utoipa::path(
    post,
    path = "/api/v1/organisations/{id}/approve",
    tag = "users",
    summary = "Accept a proposed organisation (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "accepted", body = Organisation),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_organisations_id_approve() {}

#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "users",
    summary = "Accounts (platform admin)",
    params(
        ("q" = Option<String>, Query, description = "words in the name (or e-mail)"),
        ("role" = Option<Role>, Query, description = "role"),
        ("unit" = Option<i64>, Query, description = "host unit id"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<User>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_admin_users() {}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/disable",
    tag = "users",
    summary = "Disable an account (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "disabled; its sign-ins end", body = User),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_admin_users_id_disable() {}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/enable",
    tag = "users",
    summary = "Enable an account (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "enabled", body = User),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_admin_users_id_enable() {}

#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "users",
    summary = "The audit log, newest first (platform admin)",
    params(
        ("actor" = Option<i64>, Query, description = "user id of who acted"),
        ("target_type" = Option<String>, Query, description = "e.g. instrument, user, ban"),
        ("target_id" = Option<i64>, Query, description = "id of the target"),
        ("action" = Option<String>, Query, description = "e.g. instrument.update"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<Entry>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_admin_audit() {}

#[utoipa::path(
    get,
    path = "/api/v1/admin/mail",
    tag = "mail",
    summary = "The mail queue (platform admin)",
    params(
        ("status" = Option<String>, Query, description = "status code"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<OutboxRow>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_admin_mail() {}

#[utoipa::path(
    post,
    path = "/api/v1/admin/mail/{id}/retry",
    tag = "mail",
    summary = "Queue a dead message again (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "queued", body = OutboxRow),
        (status = 409, description = "not dead", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_admin_mail_id_retry() {}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/staff",
    tag = "users",
    summary = "The unit's staff (its admin)",
    params(
        ("id" = i64, Path, description = "the id"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<User>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_units_id_staff() {}

#[utoipa::path(
    post,
    path = "/api/v1/units/{id}/staff",
    tag = "users",
    summary = "Invite an account to the unit's staff (its admin); the person joins by accepting. Someone already of the unit's staff gets the new role at once",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = StaffInput,
    responses(
        (status = 202, description = "invited (or already invited): an e-mail asks the person to accept", body = Invitation),
        (status = 200, description = "already staff of this unit: the role changed", body = User),
        (status = 409, description = "`staff_of_other_unit`, `platform_admin`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_units_id_staff() {}

#[utoipa::path(
    delete,
    path = "/api/v1/units/{id}/staff/{user}",
    tag = "users",
    summary = "Remove someone from the unit's staff",
    params(
        ("id" = i64, Path, description = "the id"),
        ("user" = i64, Path, description = "the user id")
    ),
    responses(
        (status = 200, description = "removed", body = User),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn delete_units_id_staff_user() {}

#[utoipa::path(
    get,
    path = "/api/v1/qualifications",
    tag = "users",
    summary = "Qualifications: one's own, or the queue of what one runs",
    params(
        ("mine" = Option<bool>, Query, description = "only one's own"),
        ("status" = Option<String>, Query, description = "status code"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<Qualification>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_qualifications() {}

#[utoipa::path(
    post,
    path = "/api/v1/qualifications/{id}/decision",
    tag = "users",
    summary = "Approve or refuse an application",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = Decision,
    responses(
        (status = 200, description = "decided; the applicant is e-mailed", body = Qualification),
        (status = 409, description = "already decided", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_qualifications_id_decision() {}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/violations",
    tag = "users",
    summary = "A person's violations (the person, staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "`{\"items\": [Violation]}`"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_users_id_violations() {}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/violations",
    tag = "users",
    summary = "Record a violation (the instrument's staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = ViolationInput,
    responses(
        (status = 201, description = "recorded", body = Violation),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_users_id_violations() {}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/bans",
    tag = "users",
    summary = "A person's bans with their history",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "`{\"items\": [Ban]}`"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_users_id_bans() {}

#[utoipa::path(
    post,
    path = "/api/v1/bans",
    tag = "users",
    summary = "Ban a person from all instruments, a unit's or one",
    request_body = BanInput,
    responses(
        (status = 201, description = "in force; the person is e-mailed", body = Ban),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_bans() {}

#[utoipa::path(
    post,
    path = "/api/v1/bans/{id}/lift",
    tag = "users",
    summary = "Lift a ban early",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = LiftInput,
    responses(
        (status = 200, description = "lifted, with who and why", body = Ban),
        (status = 409, description = "already lifted or ended", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_bans_id_lift() {}

#[utoipa::path(
    post,
    path = "/api/v1/reservations",
    tag = "reservations",
    summary = "Book machine time or send samples (verified accounts); `Idempotency-Key` makes a retry return the first result",
    request_body = ReservationInput,
    responses(
        (status = 201, description = "booked: pending, or approved where approval is automatic; the fee estimate is for the booker's tier", body = Reservation),
        (status = 200, description = "a repeat of an earlier request with the same Idempotency-Key", body = Reservation),
        (status = 400, description = "a time without an offset", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "banned (with the ban's end) or not qualified", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reservation_conflict` with the clashing interval, `too_many_active`, `blackout`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a booking rule, named by `code`; `idempotency_key_reused` when the Idempotency-Key came with another booking", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_reservations() {}

#[utoipa::path(
    get,
    path = "/api/v1/reservations",
    tag = "reservations",
    summary = "Mine, or my unit's for staff",
    params(
        ("mine" = Option<bool>, Query, description = "only one's own"),
        ("status" = Option<String>, Query, description = "status code"),
        ("instrument" = Option<i64>, Query, description = "instrument id"),
        ("from" = Option<String>, Query, description = "RFC 3339; reservations ending after it"),
        ("to" = Option<String>, Query, description = "RFC 3339; reservations starting before it"),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("per_page" = Option<i64>, Query, description = "1 to 100, default 20")
    ),
    responses(
        (status = 200, description = "a page", body = Paged<Reservation>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_reservations() {}

#[utoipa::path(
    get,
    path = "/api/v1/reservations/{id}",
    tag = "reservations",
    summary = "One reservation (its booker, the instrument's staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "found", body = Reservation),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_reservations_id() {}

#[utoipa::path(
    post,
    path = "/api/v1/reservations/{id}/{step}",
    tag = "reservations",
    summary = "A step: approve, reject, cancel, check-in, check-out, accept, start-test, report, complete",
    params(
        ("id" = i64, Path, description = "the id"),
        ("step" = String, Path, description = "approve | reject | cancel | check-in | check-out | accept | start-test | report | complete")
    ),
    request_body = StepInput,
    responses(
        (status = 200, description = "done; the booker is e-mailed", body = Reservation),
        (status = 409, description = "`invalid_transition` naming the current state, `too_late_to_cancel`, `not_now`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_reservations_id_step() {}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/availability",
    tag = "reservations",
    summary = "Busy intervals (no identities) and the bookable free intervals under the rules",
    params(
        ("id" = i64, Path, description = "the id"),
        ("from" = Option<String>, Query, description = "RFC 3339; reservations ending after it"),
        ("to" = Option<String>, Query, description = "RFC 3339; reservations starting before it")
    ),
    responses(
        (status = 200, description = "at most 31 days", body = Availability),
        (status = 400, description = "a time without an offset, or a range too long", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_instruments_id_availability() {}

#[utoipa::path(
    post,
    path = "/api/v1/instruments/{id}/blackouts",
    tag = "reservations",
    summary = "A maintenance window (the instrument's staff)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    request_body = BlackoutInput,
    responses(
        (status = 201, description = "`{\"id\": …}`"),
        (status = 409, description = "bookings in the window: move or cancel them first", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_instruments_id_blackouts() {}

#[utoipa::path(
    get,
    path = "/api/v1/instruments/{id}/calendar.ics",
    tag = "reservations",
    summary = "iCalendar feed of the instrument's busy times",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "text/calendar")
    )
)]
#[allow(dead_code)]
fn get_instruments_id_calendar_ics() {}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/schedule",
    tag = "reservations",
    summary = "Every instrument of the unit with its busy intervals for one week",
    params(
        ("id" = i64, Path, description = "the id"),
        ("week" = Option<String>, Query, description = "ISO week, e.g. 2026-W49; default this week")
    ),
    responses(
        (status = 200, description = "the week", body = UnitWeek)
    )
)]
#[allow(dead_code)]
fn get_units_id_schedule() {}

#[utoipa::path(
    post,
    path = "/api/v1/service-records",
    tag = "usage",
    summary = "Log a service outside a booking (the instrument's staff): times, or a date and effective minutes",
    request_body = ServiceInput,
    responses(
        (status = 201, description = "the record", body = ServiceRecord),
        (status = 400, description = "a time without an offset", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field out of range, named by `field`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_service_records() {}

#[utoipa::path(
    get,
    path = "/api/v1/service-records",
    tag = "usage",
    summary = "Service records: mine as a client, or my unit's / instruments' for staff",
    params(
        ("mine" = Option<bool>, Query, description = "only mine as a client"),
        ("instrument" = Option<i64>, Query, description = "one instrument"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD")
    ),
    responses(
        (status = 200, description = "a page of records", body = Paged<ServiceRecord>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_service_records() {}

#[utoipa::path(
    get,
    path = "/api/v1/service-records/{id}",
    tag = "usage",
    summary = "One record with its hour-reduction history",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "the record", body = RecordWithHistory),
        (status = 404, description = "no such record", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_service_records_id() {}

#[utoipa::path(
    post,
    path = "/api/v1/service-records/{id}/reductions",
    tag = "usage",
    summary = "The client asks for an hour reduction (核减机时) within the configured window",
    request_body = ReductionInput,
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 201, description = "the pending request", body = Reduction),
        (status = 409, description = "`reduction_pending`, `reduction_window_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "minutes not fewer than recorded, or no reason", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_service_records_id_reductions() {}

#[utoipa::path(
    get,
    path = "/api/v1/hour-reductions",
    tag = "usage",
    summary = "Pending hour reductions the reader may decide",
    responses(
        (status = 200, description = "oldest first", body = Vec<Reduction>),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_hour_reductions() {}

#[utoipa::path(
    post,
    path = "/api/v1/hour-reductions/{id}/decision",
    tag = "usage",
    summary = "Accept (the record and the figures change; the request keeps the old ones) or refuse with a reason",
    request_body = DecisionInput,
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "the decided request", body = Reduction),
        (status = 409, description = "`reduction_decided`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a refusal without a reason", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_hour_reductions_id_decision() {}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/evaluation",
    tag = "usage",
    summary = "A unit's yearly evaluation (开放共享评价考核): hours, external hours, income, client units, services, utilisation, the four ratios, per instrument",
    params(
        ("id" = i64, Path, description = "the id"),
        ("year" = i32, Query, description = "the year, e.g. 2026")
    ),
    responses(
        (status = 200, description = "the evaluation", body = Evaluation),
        (status = 400, description = "no or a bad year", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_units_id_evaluation() {}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/evaluation.csv",
    tag = "usage",
    summary = "The year's service records as CSV (UTF-8 with BOM, Chinese headers)",
    params(
        ("id" = i64, Path, description = "the id"),
        ("year" = i32, Query, description = "the year, e.g. 2026")
    ),
    responses(
        (status = 200, description = "text/csv"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_units_id_evaluation_csv() {}

#[utoipa::path(
    get,
    path = "/api/v1/units/{id}/evaluation.xlsx",
    tag = "usage",
    summary = "The evaluation as a workbook: 汇总, 仪器, 服务记录",
    params(
        ("id" = i64, Path, description = "the id"),
        ("year" = i32, Query, description = "the year, e.g. 2026")
    ),
    responses(
        (status = 200, description = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn get_units_id_evaluation_xlsx() {}

#[utoipa::path(
    put,
    path = "/api/v1/units/{id}/declarations",
    tag = "usage",
    summary = "The unit admin declares the year's eligible instruments (denominator of three ratios)",
    request_body = DeclarationInput,
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 204, description = "saved"),
        (status = 422, description = "out of range", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn put_units_id_declarations() {}

#[utoipa::path(
    post,
    path = "/api/v1/me/calendar-token",
    tag = "reservations",
    summary = "A new secret URL of one's own calendar feed (the old one stops working)",
    responses(
        (status = 200, description = "`{\"url\": …}`"),
        (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not allowed for this role or unit", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_me_calendar_token() {}

#[utoipa::path(
    get,
    path = "/api/v1/calendar/{token}",
    tag = "reservations",
    summary = "A person's bookings as iCalendar, behind the secret URL",
    params(
        ("token" = String, Path, description = "the secret, with .ics")
    ),
    responses(
        (status = 200, description = "text/calendar"),
        (status = 404, description = "unknown URL", body = Problem, content_type = "application/problem+json")
    )
)]
#[allow(dead_code)]
fn get_calendar_token() {}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "ops",
    summary = "This document",
    responses(
        (status = 200, description = "OpenAPI 3.1")
    )
)]
#[allow(dead_code)]
fn get_openapi_json() {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The answers every operation can give, documented once: 400 for bad input (the `field`
/// names it), 413 for a body over the route's limit, 405 with `Allow` for another method.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                responses.entry("400".into()).or_insert_with(|| {
                    problem("bad input: a malformed or unknown parameter or field, a NUL character; `field` names it").into()
                });
                responses.entry("405".into()).or_insert_with(|| {
                    problem("another method: `Allow` lists the ones this path takes").into()
                });
                if has_body {
                    responses.entry("413".into()).or_insert_with(|| {
                        problem("the body is larger than this route takes (64 KiB for JSON)").into()
                    });
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "yiqi 仪器",
        description = "Booking service for shared research instruments (仪器共享平台). Errors are `application/problem+json` with a stable `code` and the offending `field`."
    ),
    paths(get_health, get_ready, get_stats, get_sub_platforms, post_sub_platforms, get_sub_platforms_id, patch_sub_platforms_id, get_units, post_units, get_units_id, patch_units_id, post_units_id_instruments, get_categories, get_instruments, get_instruments_id, patch_instruments_id, post_instruments_id_retire, get_instruments_id_booking_settings, put_instruments_id_booking_settings, put_instruments_id_managers, post_instruments_id_qualifications, post_auth_register, post_auth_verify_email, post_auth_login, post_auth_refresh, post_auth_logout, post_auth_password_reset, post_auth_password_reset_confirm, get_me, patch_me, post_me_password, post_me_verification_email, get_me_invitations, post_me_invitations_id_accept, post_me_invitations_id_decline, get_organisations, post_organisations_id_approve, get_admin_users, post_admin_users_id_disable, post_admin_users_id_enable, get_admin_audit, get_admin_mail, post_admin_mail_id_retry, get_units_id_staff, post_units_id_staff, delete_units_id_staff_user, get_qualifications, post_qualifications_id_decision, get_users_id_violations, post_users_id_violations, get_users_id_bans, post_bans, post_bans_id_lift, post_reservations, get_reservations, get_reservations_id, post_reservations_id_step, get_instruments_id_availability, post_instruments_id_blackouts, get_instruments_id_calendar_ics, get_units_id_schedule, post_me_calendar_token, get_calendar_token, post_service_records, get_service_records, get_service_records_id, post_service_records_id_reductions, get_hour_reductions, post_hour_reductions_id_decision, get_units_id_evaluation, get_units_id_evaluation_csv, get_units_id_evaluation_xlsx, put_units_id_declarations, get_openapi_json),
    components(schemas(Problem, Role, Violation, Ban)),
    modifiers(&BearerAuth, &CommonProblems)
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
}
