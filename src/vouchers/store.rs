//! 创新券's SQL: programmes, quotas, uses, files and history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::*;
use crate::db::schema::{
    users, voucher_files, voucher_history, voucher_programmes, voucher_providers, voucher_uses,
    vouchers,
};
use crate::db::{sum_i64, DbConnection};
use crate::types::{
    OrganisationId, ProgrammeId, ReservationId, UnitId, UserId, VoucherFileId, VoucherId,
    VoucherUseId,
};

pub fn insert_programme(conn: &mut DbConnection, row: &NewProgramme) -> QueryResult<ProgrammeId> {
    diesel::insert_into(voucher_programmes::table)
        .values(row)
        .returning(voucher_programmes::id)
        .get_result(conn)
}

pub fn insert_providers(
    conn: &mut DbConnection,
    programme: ProgrammeId,
    providers: &[(ProviderScope, i64)],
) -> QueryResult<()> {
    for (scope, id) in providers {
        diesel::insert_into(voucher_providers::table)
            .values((
                voucher_providers::programme_id.eq(programme),
                voucher_providers::scope.eq(scope),
                voucher_providers::target_id.eq(id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn providers_of(
    conn: &mut DbConnection,
    programme: ProgrammeId,
) -> QueryResult<Vec<(ProviderScope, i64)>> {
    voucher_providers::table
        .filter(voucher_providers::programme_id.eq(programme))
        .select((voucher_providers::scope, voucher_providers::target_id))
        .order((voucher_providers::scope, voucher_providers::target_id))
        .load(conn)
}

pub fn find_programme(
    conn: &mut DbConnection,
    id: ProgrammeId,
) -> QueryResult<Option<ProgrammeRow>> {
    voucher_programmes::table
        .find(id)
        .select(ProgrammeRow::as_select())
        .first(conn)
        .optional()
}

/// Programmes, newest first; of one issuer when given.
pub fn programmes(
    conn: &mut DbConnection,
    issuer: Option<OrganisationId>,
) -> QueryResult<Vec<ProgrammeRow>> {
    let mut q = voucher_programmes::table
        .select(ProgrammeRow::as_select())
        .order(voucher_programmes::id.desc())
        .into_boxed();
    if let Some(i) = issuer {
        q = q.filter(voucher_programmes::issuer_id.eq(i));
    }
    q.limit(200).load(conn)
}

/// Locks a programme's row for the rest of the transaction: every change of what its quotas
/// commit or its uses hold is made one at a time (PostgreSQL `SELECT … FOR UPDATE`; SQLite's
/// `BEGIN IMMEDIATE` already serializes writers). The row as it stands.
pub fn lock_programme(
    conn: &mut DbConnection,
    id: ProgrammeId,
) -> QueryResult<Option<ProgrammeRow>> {
    let q = voucher_programmes::table.find(id);
    match conn {
        DbConnection::Pg(c) => q
            .select(ProgrammeRow::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConnection::Sqlite(c) => q.select(ProgrammeRow::as_select()).first(c).optional(),
    }
}

/// What the programme's quotas commit: granted, less what went back.
pub fn committed(conn: &mut DbConnection, programme: ProgrammeId) -> QueryResult<i64> {
    vouchers::table
        .filter(vouchers::programme_id.eq(programme))
        .select(sum_i64("approved_fen - returned_fen"))
        .get_result(conn)
}

/// What a company's quotas of the programme commit in `year`.
pub fn committed_to(
    conn: &mut DbConnection,
    programme: ProgrammeId,
    company: OrganisationId,
    year: i32,
) -> QueryResult<i64> {
    vouchers::table
        .filter(vouchers::programme_id.eq(programme))
        .filter(vouchers::organisation_id.eq(company))
        .filter(vouchers::year.eq(year))
        .select(sum_i64("approved_fen - returned_fen"))
        .get_result(conn)
}

pub fn insert_voucher(conn: &mut DbConnection, row: &NewVoucher) -> QueryResult<VoucherId> {
    diesel::insert_into(vouchers::table)
        .values(row)
        .returning(vouchers::id)
        .get_result(conn)
}

pub fn find_voucher(conn: &mut DbConnection, id: VoucherId) -> QueryResult<Option<VoucherRow>> {
    vouchers::table
        .find(id)
        .select(VoucherRow::as_select())
        .first(conn)
        .optional()
}

/// Who sees which quotas.
pub enum VoucherScope {
    Company(OrganisationId),
    Issuer(OrganisationId),
    All,
}

pub fn vouchers(
    conn: &mut DbConnection,
    scope: &VoucherScope,
    programme: Option<ProgrammeId>,
    status: Option<VoucherStatus>,
) -> QueryResult<Vec<VoucherRow>> {
    let mut q = vouchers::table
        .inner_join(voucher_programmes::table)
        .select(VoucherRow::as_select())
        .order(vouchers::id.desc())
        .into_boxed();
    match scope {
        VoucherScope::Company(o) => q = q.filter(vouchers::organisation_id.eq(*o)),
        VoucherScope::Issuer(i) => q = q.filter(voucher_programmes::issuer_id.eq(*i)),
        VoucherScope::All => {}
    }
    if let Some(p) = programme {
        q = q.filter(vouchers::programme_id.eq(p));
    }
    if let Some(s) = status {
        q = q.filter(vouchers::status.eq(s));
    }
    q.limit(200).load(conn)
}

/// Writes a quota's new state, only from the state it was read in (a racing step finds 0
/// rows and is refused).
pub fn set_voucher(
    conn: &mut DbConnection,
    row: &VoucherRow,
    from: VoucherStatus,
) -> QueryResult<usize> {
    diesel::update(
        vouchers::table
            .find(row.id)
            .filter(vouchers::status.eq(from)),
    )
    .set((
        vouchers::status.eq(row.status),
        vouchers::number.eq(&row.number),
        vouchers::approved_fen.eq(row.approved_fen),
        vouchers::returned_fen.eq(row.returned_fen),
        vouchers::reason.eq(&row.reason),
        vouchers::decided_by.eq(row.decided_by),
        vouchers::decided_at.eq(row.decided_at),
        vouchers::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
}

/// Gives back `amount` of an expired quota to the budget.
pub fn return_to_budget(
    conn: &mut DbConnection,
    voucher: VoucherId,
    amount: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(vouchers::table.find(voucher))
        .set((
            vouchers::returned_fen.eq(vouchers::returned_fen + amount),
            vouchers::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Approved quotas whose use-by date is before `day`.
pub fn approved_until_before(
    conn: &mut DbConnection,
    day: chrono::NaiveDate,
    limit: i64,
) -> QueryResult<Vec<VoucherId>> {
    vouchers::table
        .inner_join(voucher_programmes::table)
        .filter(vouchers::status.eq(VoucherStatus::Approved))
        .filter(voucher_programmes::use_until.lt(day))
        .select(vouchers::id)
        .order(vouchers::id)
        .limit(limit)
        .load(conn)
}

/// Uses not yet claimed whose programme's last day to redeem is before `day`.
pub fn unclaimed_after(
    conn: &mut DbConnection,
    day: chrono::NaiveDate,
    limit: i64,
) -> QueryResult<Vec<VoucherUseId>> {
    voucher_uses::table
        .inner_join(vouchers::table.inner_join(voucher_programmes::table))
        .filter(voucher_uses::status.eq_any([
            UseStatus::Requested,
            UseStatus::Confirmed,
            UseStatus::Returned,
        ]))
        .filter(voucher_programmes::redeem_until.lt(day))
        .select(voucher_uses::id)
        .order(voucher_uses::id)
        .limit(limit)
        .load(conn)
}

pub fn insert_use(conn: &mut DbConnection, row: &NewUse) -> QueryResult<VoucherUseId> {
    diesel::insert_into(voucher_uses::table)
        .values(row)
        .returning(voucher_uses::id)
        .get_result(conn)
}

pub fn find_use(conn: &mut DbConnection, id: VoucherUseId) -> QueryResult<Option<UseRow>> {
    voucher_uses::table
        .find(id)
        .select(UseRow::as_select())
        .first(conn)
        .optional()
}

/// The live use of a booking, if one.
pub fn live_use_of(
    conn: &mut DbConnection,
    reservation: ReservationId,
) -> QueryResult<Option<UseRow>> {
    voucher_uses::table
        .filter(voucher_uses::reservation_id.eq(reservation))
        .filter(voucher_uses::status.eq_any(UseStatus::LIVE))
        .select(UseRow::as_select())
        .first(conn)
        .optional()
}

pub fn uses_of(conn: &mut DbConnection, voucher: VoucherId) -> QueryResult<Vec<UseRow>> {
    voucher_uses::table
        .filter(voucher_uses::voucher_id.eq(voucher))
        .select(UseRow::as_select())
        .order(voucher_uses::id)
        .load(conn)
}

/// Who sees which uses.
pub enum UseScope {
    Company(OrganisationId),
    Unit(UnitId),
    Instruments(Vec<crate::types::InstrumentId>),
    Issuer(OrganisationId),
    All,
}

pub fn uses(
    conn: &mut DbConnection,
    scope: &UseScope,
    status: Option<UseStatus>,
) -> QueryResult<Vec<UseRow>> {
    let mut q = voucher_uses::table
        .inner_join(vouchers::table.inner_join(voucher_programmes::table))
        .select(UseRow::as_select())
        .order(voucher_uses::id.desc())
        .into_boxed();
    match scope {
        UseScope::Company(o) => q = q.filter(vouchers::organisation_id.eq(*o)),
        UseScope::Unit(u) => q = q.filter(voucher_uses::unit_id.eq(*u)),
        UseScope::Instruments(ids) => q = q.filter(voucher_uses::instrument_id.eq_any(ids.clone())),
        UseScope::Issuer(i) => q = q.filter(voucher_programmes::issuer_id.eq(*i)),
        UseScope::All => {}
    }
    if let Some(s) = status {
        q = q.filter(voucher_uses::status.eq(s));
    }
    q.limit(200).load(conn)
}

/// Every use of a programme's quotas, for its figures and report.
pub fn uses_of_programme(
    conn: &mut DbConnection,
    programme: ProgrammeId,
) -> QueryResult<Vec<(UseRow, OrganisationId)>> {
    voucher_uses::table
        .inner_join(vouchers::table)
        .filter(vouchers::programme_id.eq(programme))
        .select((UseRow::as_select(), vouchers::organisation_id))
        .order(voucher_uses::id)
        .load(conn)
}

/// Every quota of a programme, for its report.
pub fn vouchers_of_programme(
    conn: &mut DbConnection,
    programme: ProgrammeId,
) -> QueryResult<Vec<VoucherRow>> {
    vouchers::table
        .filter(vouchers::programme_id.eq(programme))
        .select(VoucherRow::as_select())
        .order(vouchers::id)
        .load(conn)
}

/// Writes a use's new state, only from the state it was read in.
pub fn set_use(conn: &mut DbConnection, row: &UseRow, from: UseStatus) -> QueryResult<usize> {
    diesel::update(
        voucher_uses::table
            .find(row.id)
            .filter(voucher_uses::status.eq(from)),
    )
    .set((
        voucher_uses::status.eq(row.status),
        voucher_uses::voucher_fen.eq(row.voucher_fen),
        voucher_uses::service_record_id.eq(row.service_record_id),
        voucher_uses::claim_fee_fen.eq(row.claim_fee_fen),
        voucher_uses::claim_fen.eq(row.claim_fen),
        voucher_uses::reason.eq(&row.reason),
        voucher_uses::confirmed_at.eq(row.confirmed_at),
        voucher_uses::claimed_at.eq(row.claimed_at),
        voucher_uses::approved_at.eq(row.approved_at),
        voucher_uses::notice_until.eq(row.notice_until),
        voucher_uses::paid_at.eq(row.paid_at),
        voucher_uses::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
}

/// Redemptions approved, newest first: those on notice at `now` and, with `paid`, those paid.
pub fn on_notice(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<UseRow>> {
    voucher_uses::table
        .filter(
            voucher_uses::status
                .eq(UseStatus::Approved)
                .or(voucher_uses::status
                    .eq(UseStatus::Paid)
                    .and(voucher_uses::notice_until.gt(now))),
        )
        .select(UseRow::as_select())
        .order(voucher_uses::approved_at.desc())
        .limit(limit)
        .load(conn)
}

/// What redemptions approved or paid brought a unit (or every unit) for services served
/// between `from` and `to`: the part of the income the vouchers paid.
pub fn redeemed(
    conn: &mut DbConnection,
    unit: Option<UnitId>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> QueryResult<i64> {
    use crate::db::schema::service_records as r;
    let mut q = voucher_uses::table
        .inner_join(r::table.on(r::id.nullable().eq(voucher_uses::service_record_id)))
        .filter(voucher_uses::status.eq_any([UseStatus::Approved, UseStatus::Paid]))
        .filter(r::served_on.between(from, to))
        .select(sum_i64("voucher_uses.claim_fen"))
        .into_boxed();
    if let Some(u) = unit {
        q = q.filter(voucher_uses::unit_id.eq(u));
    }
    q.get_result(conn)
}

pub fn insert_file(conn: &mut DbConnection, row: &NewFile) -> QueryResult<VoucherFileId> {
    diesel::insert_into(voucher_files::table)
        .values(row)
        .returning(voucher_files::id)
        .get_result(conn)
}

pub fn files_of(conn: &mut DbConnection, use_id: VoucherUseId) -> QueryResult<Vec<FileRow>> {
    voucher_files::table
        .filter(voucher_files::use_id.eq(use_id))
        .select(FileRow::as_select())
        .order(voucher_files::id)
        .load(conn)
}

pub fn insert_history(conn: &mut DbConnection, row: &NewHistory) -> QueryResult<usize> {
    diesel::insert_into(voucher_history::table)
        .values(row)
        .execute(conn)
}

/// A quota's history with the actors' names, oldest first.
#[allow(clippy::type_complexity)]
pub fn history(
    conn: &mut DbConnection,
    voucher: VoucherId,
) -> QueryResult<
    Vec<(
        Option<VoucherUseId>,
        String,
        String,
        Option<UserId>,
        Option<String>,
        Option<i64>,
        String,
        NaiveDateTime,
    )>,
> {
    voucher_history::table
        .left_join(users::table.on(users::id.nullable().eq(voucher_history::actor_id)))
        .filter(voucher_history::voucher_id.eq(voucher))
        .select((
            voucher_history::use_id,
            voucher_history::step,
            voucher_history::to_status,
            voucher_history::actor_id,
            users::name.nullable(),
            voucher_history::amount_fen,
            voucher_history::note,
            voucher_history::at,
        ))
        .order(voucher_history::id)
        .load(conn)
}

/// Names `user` officer of `issuer` (`Some`) or no longer (`None`).
pub fn set_officer(
    conn: &mut DbConnection,
    user: UserId,
    issuer: Option<OrganisationId>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set(users::voucher_issuer_id.eq(issuer))
        .execute(conn)
}

/// The officers of an issuer: (e-mail, name).
pub fn officers(
    conn: &mut DbConnection,
    issuer: OrganisationId,
) -> QueryResult<Vec<(String, String)>> {
    users::table
        .filter(users::voucher_issuer_id.eq(issuer))
        .filter(users::disabled_at.is_null())
        .select((users::email, users::name))
        .order(users::id)
        .load(conn)
}
