//! 创新券: an issuer opens a programme; a company applies for a quota and the issuer grants an
//! amount (committed against the budget at once) or refuses; the company uses the quota on a
//! booking, the provider confirms the amount, claims redemption after the service with its
//! files, the issuer approves (public notice), and pays. Unused quota returns to the budget
//! when its dates pass.
//!
//! Money is never lost or spent twice: every change of what a programme's quotas commit or
//! their uses hold is made under the programme's lock (PostgreSQL `FOR UPDATE`; SQLite's
//! single writer), checked against the budget and the caps under that lock, and written
//! with the state it was read in.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use std::collections::BTreeMap;

use super::model::*;
use super::store::{self, UseScope, VoucherScope};
use crate::audit::{self, Target};
use crate::auth::{allowed, Action, Principal};
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::mail::{self, templates::page_url, templates::Notice};
use crate::navigation::model::UnitKind;
use crate::navigation::store as catalogue;
use crate::reservations::model::{ReservationRow, ReservationStatus};
use crate::reservations::service::Actor;
use crate::reservations::store as bookings;
use crate::types::{
    yuan_2, InstrumentId, OrganisationId, ProgrammeId, ReservationId, SubPlatformId, UnitId,
    VoucherFileId, VoucherId, VoucherUseId, PLATFORM_ZONE,
};
use crate::usage::store as records;
use crate::users::model::OrganisationStatus;
use crate::users::store as people;
use crate::validate;

/// Quotas or uses handled per round of the job.
const BATCH: i64 = 200;

fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&PLATFORM_ZONE).date_naive()
}

fn yuan(fen: i64) -> String {
    format!("¥{}", yuan_2(fen))
}

fn no_programme() -> AppError {
    AppError::NotFound {
        what: "voucher programme",
    }
}

fn no_voucher() -> AppError {
    AppError::NotFound { what: "voucher" }
}

fn no_use() -> AppError {
    AppError::NotFound {
        what: "voucher use",
    }
}

fn changed() -> AppError {
    AppError::conflict(
        ErrorCode::InvalidTransition,
        "已被他人处理，请刷新后再看 (it changed meanwhile)",
    )
}

fn date(field: &str, value: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::bad_request(field, format!("{value:?} 不是日期 (YYYY-MM-DD)")))
}

fn fen(field: &str, value: i64, min: i64) -> AppResult<i64> {
    // A trillion yuan is beyond any programme; the bound keeps sums far from overflow.
    const MAX: i64 = 100_000_000_000_000;
    if value < min || value > MAX {
        return Err(AppError::invalid(
            field,
            format!("金额（分）应为 {min} 到 {MAX} 之间的整数 (an amount in fen)"),
        ));
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------
// Programmes

/// Opens a programme for `input.issuer_id`: its officers or a platform administrator.
pub fn open_programme(
    conn: &mut DbConnection,
    who: &Principal,
    input: ProgrammeInput,
    now: DateTime<Utc>,
) -> AppResult<Programme> {
    let issuer = people::find_organisation(conn, input.issuer_id)?
        .ok_or_else(|| AppError::invalid("issuer_id", "没有这个机构 (no such organisation)"))?;
    crate::auth::authorize(who, Action::IssueVouchers { issuer: issuer.id })?;
    let name = validate::line("name", &input.name, 1, 100)?;
    let description = validate::text("description", &input.description, 0, 2000)?;
    let budget = fen("budget_fen", input.budget_fen, 1)?;
    if !(1..=100).contains(&input.share_percent) {
        return Err(AppError::invalid("share_percent", "补贴比例应为 1–100 (%)"));
    }
    let full_below = fen("full_below_fen", input.full_below_fen, 0)?;
    let per_application = fen("cap_per_application_fen", input.cap_per_application_fen, 1)?;
    let per_year = fen(
        "cap_per_company_year_fen",
        input.cap_per_company_year_fen,
        1,
    )?;
    if per_year < per_application {
        return Err(AppError::invalid(
            "cap_per_company_year_fen",
            "每家企业每年的上限不能低于单次申领上限 (the yearly cap is below the cap per application)",
        ));
    }
    if per_application > budget {
        return Err(AppError::invalid(
            "cap_per_application_fen",
            "单次申领上限不能高于总预算 (above the budget)",
        ));
    }
    let apply_from = date("apply_from", &input.apply_from)?;
    let apply_until = date("apply_until", &input.apply_until)?;
    let use_until = date("use_until", &input.use_until)?;
    let redeem_until = date("redeem_until", &input.redeem_until)?;
    for (field, earlier, later) in [
        ("apply_until", apply_from, apply_until),
        ("use_until", apply_until, use_until),
        ("redeem_until", use_until, redeem_until),
    ] {
        if later < earlier {
            return Err(AppError::rule(
                ErrorCode::VoucherOutsideDates,
                field,
                "日期应依次为：开始申领 ≤ 截止申领 ≤ 使用截止 ≤ 兑付截止 (the dates are out of order)",
            ));
        }
    }
    if apply_until < today(now) {
        return Err(AppError::rule(
            ErrorCode::VoucherOutsideDates,
            "apply_until",
            "申领截止日期已过 (the last day to apply is past)",
        ));
    }
    if input.providers.len() > 500 {
        return Err(AppError::invalid("providers", "至多 500 项 (at most 500)"));
    }
    let mut providers = Vec::with_capacity(input.providers.len());
    for (i, p) in input.providers.iter().enumerate() {
        let field = format!("providers[{i}]");
        let scope = ProviderScope::from_code(&p.scope).ok_or_else(|| {
            AppError::invalid(
                format!("{field}.scope"),
                format!("one of {}", ProviderScope::codes()),
            )
        })?;
        if provider_name(conn, scope, p.id)?.is_none() {
            return Err(AppError::invalid(
                format!("{field}.id"),
                format!("没有这个{} (no such {})", scope.label_zh(), scope.code()),
            ));
        }
        if !providers.contains(&(scope, p.id)) {
            providers.push((scope, p.id));
        }
    }
    let id = db::write_tx(conn, |c| -> AppResult<ProgrammeId> {
        let id = store::insert_programme(
            c,
            &NewProgramme {
                name,
                issuer_id: issuer.id,
                description,
                budget_fen: budget,
                share_percent: input.share_percent,
                full_below_fen: full_below,
                cap_per_application_fen: per_application,
                cap_per_company_year_fen: per_year,
                sme_only: input.sme_only,
                apply_from,
                apply_until,
                use_until,
                redeem_until,
                created_by: who.id,
                created_at: naive(now),
                updated_at: naive(now),
            },
        )?;
        store::insert_providers(c, id, &providers)?;
        audit::record(
            c,
            Some(who.id),
            "voucher_programme.open",
            Target("voucher_programme", Some(id.0)),
            None::<&()>,
            Some(&serde_json::json!({"issuer_id": issuer.id, "budget_fen": budget})),
            naive(now),
        )?;
        Ok(id)
    })?;
    programme(conn, id, now)
}

fn provider_name(
    conn: &mut DbConnection,
    scope: ProviderScope,
    id: i64,
) -> AppResult<Option<String>> {
    Ok(match scope {
        ProviderScope::Unit => catalogue::find_unit(conn, UnitId(id))?.map(|u| u.name),
        ProviderScope::SubPlatform => {
            catalogue::find_sub_platform(conn, SubPlatformId(id))?.map(|s| s.name)
        }
        ProviderScope::Instrument => {
            catalogue::find_instrument(conn, InstrumentId(id))?.map(|i| i.name_zh)
        }
    })
}

/// A programme as everyone may read it, with its money.
pub fn programme(
    conn: &mut DbConnection,
    id: ProgrammeId,
    now: DateTime<Utc>,
) -> AppResult<Programme> {
    let row = store::find_programme(conn, id)?.ok_or_else(no_programme)?;
    shown_programme(conn, row, now)
}

/// Programmes, newest first (of one issuer when given).
pub fn programmes(
    conn: &mut DbConnection,
    issuer: Option<OrganisationId>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Programme>> {
    store::programmes(conn, issuer)?
        .into_iter()
        .map(|row| shown_programme(conn, row, now))
        .collect()
}

fn shown_programme(
    conn: &mut DbConnection,
    row: ProgrammeRow,
    now: DateTime<Utc>,
) -> AppResult<Programme> {
    let mut providers = Vec::new();
    for (scope, id) in store::providers_of(conn, row.id)? {
        providers.push(ProgrammeProvider {
            scope,
            id,
            name: provider_name(conn, scope, id)?.unwrap_or_default(),
        });
    }
    let figures = figures(conn, &row)?;
    let day = today(now);
    Ok(Programme {
        id: row.id,
        issuer_name: organisation_name(conn, row.issuer_id)?,
        name: row.name,
        issuer_id: row.issuer_id,
        description: row.description,
        share_percent: row.share_percent,
        full_below_fen: row.full_below_fen,
        cap_per_application_fen: row.cap_per_application_fen,
        cap_per_company_year_fen: row.cap_per_company_year_fen,
        sme_only: row.sme_only,
        apply_from: row.apply_from,
        apply_until: row.apply_until,
        use_until: row.use_until,
        redeem_until: row.redeem_until,
        open: row.apply_from <= day && day <= row.apply_until,
        providers,
        figures,
    })
}

/// The programme's money from its quotas and uses.
pub fn figures(conn: &mut DbConnection, row: &ProgrammeRow) -> AppResult<ProgrammeFigures> {
    let committed = store::committed(conn, row.id)?;
    let mut f = ProgrammeFigures {
        budget_fen: row.budget_fen,
        committed_fen: committed,
        remaining_fen: row.budget_fen - committed,
        ..ProgrammeFigures::default()
    };
    for (u, _) in store::uses_of_programme(conn, row.id)? {
        add_use(&mut f.claimed_fen, &mut f.approved_fen, &mut f.paid_fen, &u);
    }
    Ok(f)
}

fn add_use(claimed: &mut i64, approved: &mut i64, paid: &mut i64, u: &UseRow) {
    if u.status.is_claimed() {
        *claimed += u.claim_fen.unwrap_or(0);
    }
    if matches!(u.status, UseStatus::Approved | UseStatus::Paid) {
        *approved += u.claim_fen.unwrap_or(0);
    }
    if u.status == UseStatus::Paid {
        *paid += u.claim_fen.unwrap_or(0);
    }
}

/// The issuer's report: the programme's money, per company and per provider unit.
pub fn report(
    conn: &mut DbConnection,
    who: &Principal,
    id: ProgrammeId,
    now: DateTime<Utc>,
) -> AppResult<ProgrammeReport> {
    let row = store::find_programme(conn, id)?.ok_or_else(no_programme)?;
    crate::auth::authorize(
        who,
        Action::IssueVouchers {
            issuer: row.issuer_id,
        },
    )?;
    let mut companies: BTreeMap<i64, ProgrammeReportLine> = BTreeMap::new();
    for v in store::vouchers_of_programme(conn, id)? {
        companies
            .entry(v.organisation_id.0)
            .or_default()
            .committed_fen += v.committed();
    }
    let mut providers: BTreeMap<i64, ProgrammeReportLine> = BTreeMap::new();
    for (u, company) in store::uses_of_programme(conn, id)? {
        for line in [
            companies.entry(company.0).or_default(),
            providers.entry(u.unit_id.0).or_default(),
        ] {
            add_use(
                &mut line.claimed_fen,
                &mut line.approved_fen,
                &mut line.paid_fen,
                &u,
            );
        }
    }
    for (id, line) in companies.iter_mut() {
        line.id = *id;
        line.name = organisation_name(conn, OrganisationId(*id))?;
    }
    for (id, line) in providers.iter_mut() {
        line.id = *id;
        line.name = catalogue::find_unit(conn, UnitId(*id))?
            .map(|u| u.name)
            .unwrap_or_default();
    }
    Ok(ProgrammeReport {
        programme: shown_programme(conn, row, now)?,
        companies: companies.into_values().collect(),
        providers: providers.into_values().collect(),
    })
}

/// The report as a workbook for the issuer's finance office: 汇总, 企业, 服务单位.
pub fn report_xlsx(r: &ProgrammeReport) -> AppResult<Vec<u8>> {
    use crate::usage::export::{money, sheet, Cell, Table};
    let f = &r.programme.figures;
    let summary = Table {
        headers: &["项目", "金额（元）"],
        rows: [
            ("总预算", f.budget_fen),
            ("已发放额度", f.committed_fen),
            ("已申请兑付", f.claimed_fen),
            ("已批准兑付", f.approved_fen),
            ("已拨付", f.paid_fen),
            ("剩余预算", f.remaining_fen),
        ]
        .into_iter()
        .map(|(k, v)| vec![Cell::Text(k.to_owned()), money(v)])
        .collect(),
    };
    let lines = |headers: &'static [&'static str], lines: &[ProgrammeReportLine]| Table {
        headers,
        rows: lines
            .iter()
            .map(|l| {
                vec![
                    Cell::Text(l.name.clone()),
                    money(l.committed_fen),
                    money(l.claimed_fen),
                    money(l.approved_fen),
                    money(l.paid_fen),
                ]
            })
            .collect(),
    };
    let build = || -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        sheet(wb.add_worksheet(), "汇总", &summary)?;
        sheet(
            wb.add_worksheet(),
            "企业",
            &lines(
                &[
                    "企业",
                    "已发放额度（元）",
                    "已申请兑付（元）",
                    "已批准兑付（元）",
                    "已拨付（元）",
                ],
                &r.companies,
            ),
        )?;
        sheet(
            wb.add_worksheet(),
            "服务单位",
            &lines(
                &[
                    "服务单位",
                    "（不适用）",
                    "已申请兑付（元）",
                    "已批准兑付（元）",
                    "已拨付（元）",
                ],
                &r.providers,
            ),
        )?;
        wb.save_to_buffer()
    };
    build().map_err(AppError::internal)
}

/// Names the account with `email` officer of `issuer` (platform administrators). The account
/// must belong to the issuing organisation.
pub fn appoint_officer(
    conn: &mut DbConnection,
    who: &Principal,
    issuer: OrganisationId,
    email: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    crate::auth::authorize(who, Action::ManageUsers)?;
    people::find_organisation(conn, issuer)?.ok_or(AppError::NotFound {
        what: "organisation",
    })?;
    let email = validate::email("email", email)?;
    let user = people::find_user_by_email(conn, &email)?
        .ok_or_else(|| AppError::invalid("email", "没有这个账户 (no such account)"))?;
    if user.organisation_id != Some(issuer) {
        return Err(AppError::invalid(
            "email",
            "该账户不属于这个机构 (the account is not the organisation's)",
        ));
    }
    db::write_tx(conn, |c| -> AppResult<()> {
        store::set_officer(c, user.id, Some(issuer))?;
        audit::record(
            c,
            Some(who.id),
            "voucher_officer.appoint",
            Target("user", Some(user.id.0)),
            None::<&()>,
            Some(&serde_json::json!({"issuer_id": issuer})),
            naive(now),
        )
    })
}

// ---------------------------------------------------------------------------------------
// Quotas

/// An organisation's name as lists show it (empty if it is gone).
fn organisation_name(conn: &mut DbConnection, id: OrganisationId) -> AppResult<String> {
    Ok(people::find_organisation(conn, id)?
        .map(|o| o.name)
        .unwrap_or_default())
}

fn is_company(who: &Principal, organisation: OrganisationId) -> bool {
    who.verified && who.organisation == Some(organisation)
}

fn issuer_of(conn: &mut DbConnection, programme: ProgrammeId) -> AppResult<ProgrammeRow> {
    store::find_programme(conn, programme)?.ok_or_else(no_programme)
}

/// A company member applies for a quota of an open programme; the issuer's officers are told.
pub fn apply(
    conn: &mut DbConnection,
    who: &Principal,
    input: VoucherInput,
    now: DateTime<Utc>,
) -> AppResult<Voucher> {
    crate::auth::authorize(who, Action::Apply)?;
    let p = store::find_programme(conn, input.programme_id)?.ok_or_else(|| {
        AppError::invalid("programme_id", "没有这个创新券项目 (no such programme)")
    })?;
    let need = validate::text("need", &input.need, 1, 2000)?;
    let requested = fen("requested_fen", input.requested_fen, 1)?;
    let day = today(now);
    if day < p.apply_from || day > p.apply_until {
        return Err(AppError::rule(
            ErrorCode::VoucherOutsideDates,
            "programme_id",
            format!(
                "申领时间为 {} 至 {}（北京时间）(outside the dates to apply)",
                p.apply_from, p.apply_until
            ),
        ));
    }
    let company = eligible_company(conn, who, &p, input.sme_declared)?;
    if requested > p.cap_per_application_fen {
        return Err(AppError::rule(
            ErrorCode::VoucherCapExceeded,
            "requested_fen",
            format!(
                "单次申领不超过 {} (above the cap per application)",
                yuan(p.cap_per_application_fen)
            ),
        ));
    }
    let year = day.year();
    let id = db::write_tx(conn, |c| -> AppResult<VoucherId> {
        let already = store::committed_to(c, p.id, company, year)?;
        if already + requested > p.cap_per_company_year_fen {
            return Err(AppError::rule(
                ErrorCode::VoucherCapExceeded,
                "requested_fen",
                format!(
                    "贵单位今年已获 {}，每年上限 {}，最多还可申领 {} (above the company's yearly cap)",
                    yuan(already),
                    yuan(p.cap_per_company_year_fen),
                    yuan((p.cap_per_company_year_fen - already).max(0))
                ),
            ));
        }
        let id = store::insert_voucher(
            c,
            &NewVoucher {
                programme_id: p.id,
                organisation_id: company,
                applicant_id: who.id,
                need,
                requested_fen: requested,
                sme_declared: input.sme_declared,
                status: VoucherStatus::Applied,
                year,
                created_at: naive(now),
                updated_at: naive(now),
            },
        )
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::conflict(
                ErrorCode::InvalidTransition,
                "贵单位在这个项目已有一份待审批的申请 (an application of the company waits for a decision)",
            ),
            e => e.into(),
        })?;
        history(
            c,
            id,
            None,
            None,
            "applied",
            "apply",
            Some(who.id),
            Some(requested),
            "",
            now,
        )?;
        audit::record(
            c,
            Some(who.id),
            "voucher.apply",
            Target("voucher", Some(id.0)),
            None::<&()>,
            Some(
                &serde_json::json!({"status": VoucherStatus::Applied, "requested_fen": requested}),
            ),
            naive(now),
        )?;
        let row = store::find_voucher(c, id)?.ok_or_else(no_voucher)?;
        tell_voucher(c, &p, &row, VoucherStep::Apply, "", now)?;
        Ok(id)
    })?;
    voucher(conn, who, id, now)
}

/// The organisation `who` applies for, if the programme takes it: an active enterprise with a
/// unified social credit code, declaring itself an SME where the programme asks.
fn eligible_company(
    conn: &mut DbConnection,
    who: &Principal,
    p: &ProgrammeRow,
    sme_declared: bool,
) -> AppResult<OrganisationId> {
    let refuse = |message: &str| {
        AppError::rule(
            ErrorCode::VoucherNotEligible,
            "programme_id",
            message.to_owned(),
        )
    };
    let org = match who.organisation {
        Some(o) => people::find_organisation(conn, o)?,
        None => None,
    }
    .ok_or_else(|| {
        refuse("创新券面向企业：请先在账户中填写所在企业 (the account belongs to no company)")
    })?;
    // A host unit that is itself a company may use other units' services with a voucher.
    if org.kind != UnitKind::Enterprise {
        return Err(refuse(
            "创新券面向企业，您所在单位不是企业 (the organisation is not an enterprise)",
        ));
    }
    if org.status != OrganisationStatus::Active || org.credit_code.is_none() {
        return Err(refuse(
            "企业须经平台认可并登记统一社会信用代码 (the company needs an accepted record with its credit code)",
        ));
    }
    if p.sme_only && !sme_declared {
        return Err(AppError::rule(
            ErrorCode::VoucherNotEligible,
            "sme_declared",
            "本项目仅面向中小微企业，请声明 (this programme is for SMEs: declare it)",
        ));
    }
    Ok(org.id)
}

fn visible_voucher(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherId,
) -> AppResult<(VoucherRow, ProgrammeRow)> {
    let v = store::find_voucher(conn, id)?.ok_or_else(no_voucher)?;
    let p = issuer_of(conn, v.programme_id)?;
    if is_company(who, v.organisation_id)
        || allowed(
            who,
            Action::IssueVouchers {
                issuer: p.issuer_id,
            },
        )
    {
        Ok((v, p))
    } else {
        Err(no_voucher())
    }
}

fn voucher_steps(who: &Principal, v: &VoucherRow, p: &ProgrammeRow) -> Vec<VoucherStep> {
    VoucherStep::ALL
        .iter()
        .copied()
        .filter(|s| next_voucher(v.status, *s).is_some())
        .filter(|s| match s.party() {
            Party::Company => is_company(who, v.organisation_id),
            // Nobody decides their own company's application.
            Party::Issuer => {
                allowed(
                    who,
                    Action::IssueVouchers {
                        issuer: p.issuer_id,
                    },
                ) && !is_company(who, v.organisation_id)
            }
            Party::Provider | Party::System => false,
        })
        .collect()
}

/// One quota with its uses, its history and what the caller may do next.
pub fn voucher(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherId,
    now: DateTime<Utc>,
) -> AppResult<Voucher> {
    let (v, p) = visible_voucher(conn, who, id)?;
    let mut shown = shown_voucher(conn, who, v, &p, true)?;
    shown.history = store::history(conn, id)?
        .into_iter()
        .map(|(use_id, step, to, actor, name, amount, note, at)| {
            let party = match use_id {
                Some(_) => UseStep::from_code(&step).map(UseStep::party),
                None => VoucherStep::from_code(&step).map(VoucherStep::party),
            };
            let label = match use_id {
                Some(_) => UseStep::from_code(&step).map(|s| s.label_zh()),
                None => VoucherStep::from_code(&step).map(|s| s.label_zh()),
            };
            let by = match (party, actor) {
                (_, None) => "系统".to_owned(),
                (Some(p), Some(_)) => format!("{}（{}）", name.unwrap_or_default(), p.label_zh()),
                (None, Some(_)) => name.unwrap_or_default(),
            };
            VoucherEvent {
                use_id,
                step_label: label.unwrap_or(step.as_str()).to_owned(),
                step,
                to_status: to,
                by,
                amount_fen: amount,
                note,
                at: at.and_utc(),
            }
        })
        .collect();
    let _ = now;
    Ok(shown)
}

fn shown_voucher(
    conn: &mut DbConnection,
    who: &Principal,
    v: VoucherRow,
    p: &ProgrammeRow,
    with_uses: bool,
) -> AppResult<Voucher> {
    let uses = store::uses_of(conn, v.id)?;
    let used: i64 = uses.iter().map(UseRow::held).sum();
    let available = match v.status {
        VoucherStatus::Approved => (v.committed() - used).max(0),
        _ => 0,
    };
    let steps = voucher_steps(who, &v, p);
    let shown_uses = if with_uses {
        uses.into_iter()
            .map(|u| shown_use(conn, who, u, &v, p))
            .collect::<AppResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok(Voucher {
        id: v.id,
        number: v.number,
        programme_id: p.id,
        programme_name: p.name.clone(),
        organisation_id: v.organisation_id,
        company: organisation_name(conn, v.organisation_id)?,
        applicant: people::find_user(conn, v.applicant_id)?
            .map(|u| u.name)
            .unwrap_or_default(),
        need: v.need,
        requested_fen: v.requested_fen,
        sme_declared: v.sme_declared,
        status: v.status,
        status_label: v.status.label_zh(),
        approved_fen: v.approved_fen,
        returned_fen: v.returned_fen,
        used_fen: used,
        available_fen: available,
        year: v.year,
        reason: v.reason,
        use_until: p.use_until,
        redeem_until: p.redeem_until,
        decided_at: v.decided_at.map(|t| t.and_utc()),
        created_at: v.created_at.and_utc(),
        steps,
        uses: shown_uses,
        history: Vec::new(),
    })
}

/// The caller's company's quotas (`mine`), or those the caller decides: an issuer's officers
/// see their programmes', platform administrators all.
pub fn vouchers(
    conn: &mut DbConnection,
    who: &Principal,
    mine: bool,
    programme: Option<ProgrammeId>,
    status: Option<VoucherStatus>,
) -> AppResult<Vec<Voucher>> {
    let scope = if mine {
        match who.organisation {
            Some(o) if who.verified => VoucherScope::Company(o),
            _ => return Ok(Vec::new()),
        }
    } else if allowed(who, Action::ManageUsers) {
        VoucherScope::All
    } else if let Some(issuer) = who.voucher_issuer {
        VoucherScope::Issuer(issuer)
    } else {
        return Err(AppError::forbidden(
            "仅限发券机构和平台管理员；查看本企业的创新券请加 mine=true (issuers and platform admins only)",
        ));
    };
    let rows = store::vouchers(conn, &scope, programme, status)?;
    let mut out = Vec::with_capacity(rows.len());
    for v in rows {
        let p = issuer_of(conn, v.programme_id)?;
        out.push(shown_voucher(conn, who, v, &p, false)?);
    }
    Ok(out)
}

/// A person takes `step` on quota `id`.
pub fn voucher_step(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherId,
    step: VoucherStep,
    input: &VoucherStepInput,
    now: DateTime<Utc>,
) -> AppResult<Voucher> {
    let (before, p) = visible_voucher(conn, who, id)?;
    if !voucher_steps(who, &before, &p).contains(&step) {
        if next_voucher(before.status, step).is_none() {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                format!(
                    "申请当前为「{}」，不能{} (the step does not apply now)",
                    before.status.label_zh(),
                    step.label_zh()
                ),
            ));
        }
        return Err(AppError::forbidden(format!(
            "「{}」由{}办理 (not the caller's step)",
            step.label_zh(),
            step.party().label_zh()
        )));
    }
    let text = match step {
        VoucherStep::Refuse => validate::text("text", &input.text, 1, 2000)
            .map_err(|_| AppError::invalid("text", "请填写不予批准的理由（1–2000 字）"))?,
        _ => validate::text("text", &input.text, 0, 2000)?,
    };
    let amount = match step {
        VoucherStep::Approve => {
            let a = fen(
                "amount_fen",
                input.amount_fen.unwrap_or(before.requested_fen),
                1,
            )?;
            if a > p.cap_per_application_fen {
                return Err(AppError::rule(
                    ErrorCode::VoucherCapExceeded,
                    "amount_fen",
                    format!(
                        "单次额度不超过 {} (above the cap per application)",
                        yuan(p.cap_per_application_fen)
                    ),
                ));
            }
            if a > before.requested_fen {
                return Err(AppError::invalid(
                    "amount_fen",
                    format!(
                        "不能超过企业申请的 {} (more than asked)",
                        yuan(before.requested_fen)
                    ),
                ));
            }
            Some(a)
        }
        _ => None,
    };
    db::write_tx(conn, |c| -> AppResult<()> {
        let p = store::lock_programme(c, p.id)?.ok_or_else(no_programme)?;
        let before = store::find_voucher(c, id)?.ok_or_else(no_voucher)?;
        let to = next_voucher(before.status, step).ok_or_else(changed)?;
        let mut row = before.clone();
        row.status = to;
        row.updated_at = naive(now);
        if let Some(a) = amount {
            // Under the programme's lock: what is left of the budget and of the company's
            // yearly cap are read and taken at once.
            let committed = store::committed(c, p.id)?;
            if committed + a > p.budget_fen {
                return Err(AppError::conflict(
                    ErrorCode::VoucherBudgetExhausted,
                    format!(
                        "项目预算仅剩 {}，不足以发放 {} (only {} fen left)",
                        yuan(p.budget_fen - committed),
                        yuan(a),
                        p.budget_fen - committed
                    ),
                ));
            }
            let company = store::committed_to(c, p.id, before.organisation_id, before.year)?;
            if company + a > p.cap_per_company_year_fen {
                return Err(AppError::rule(
                    ErrorCode::VoucherCapExceeded,
                    "amount_fen",
                    format!(
                        "该企业今年已获 {}，每年上限 {} (above the company's yearly cap)",
                        yuan(company),
                        yuan(p.cap_per_company_year_fen)
                    ),
                ));
            }
            row.approved_fen = a;
            row.number = Some(format!("CXQ-{}-{:03}-{:06}", before.year, p.id.0, id.0));
        }
        if matches!(step, VoucherStep::Approve | VoucherStep::Refuse) {
            row.decided_by = Some(who.id);
            row.decided_at = Some(naive(now));
            row.reason = text.clone();
        }
        if store::set_voucher(c, &row, before.status)? == 0 {
            return Err(changed());
        }
        history(
            c,
            id,
            None,
            Some(before.status.code()),
            to.code(),
            step.code(),
            Some(who.id),
            amount,
            &text,
            now,
        )?;
        // Money changes hands on the strength of these steps: every one is audited.
        audit::record(
            c,
            Some(who.id),
            &format!("voucher.{}", step.code()),
            Target("voucher", Some(id.0)),
            Some(&serde_json::json!({"status": before.status})),
            Some(&serde_json::json!({"status": to, "approved_fen": row.approved_fen})),
            naive(now),
        )?;
        tell_voucher(c, &p, &row, step, &text, now)
    })?;
    voucher(conn, who, id, now)
}

// ---------------------------------------------------------------------------------------
// Uses and redemption

/// Whether `unit`'s services may be paid by the programme's vouchers.
fn provider_eligible(
    conn: &mut DbConnection,
    p: &ProgrammeRow,
    unit: UnitId,
    instrument: InstrumentId,
) -> AppResult<bool> {
    let listed = store::providers_of(conn, p.id)?;
    if listed.is_empty() {
        return Ok(true);
    }
    let sub_platform = catalogue::find_unit(conn, unit)?.map(|u| u.sub_platform_id);
    Ok(listed.iter().any(|(scope, id)| match scope {
        ProviderScope::Unit => *id == unit.0,
        ProviderScope::SubPlatform => Some(SubPlatformId(*id)) == sub_platform,
        ProviderScope::Instrument => *id == instrument.0,
    }))
}

/// A company and a provider of one legal entity: the same organisation, or the same unified
/// social credit code.
fn related(conn: &mut DbConnection, company: OrganisationId, unit: UnitId) -> AppResult<bool> {
    let Some(provider) = people::organisation_of_unit(conn, unit)? else {
        return Ok(false);
    };
    if provider.id == company {
        return Ok(true);
    }
    let company = people::find_organisation(conn, company)?;
    Ok(matches!(
        (company.and_then(|c| c.credit_code), provider.credit_code),
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b)
    ))
}

/// What a voucher use needs to know of its booking (made, or about to be made).
pub struct Booked {
    pub user: crate::types::UserId,
    pub instrument: InstrumentId,
    pub unit: UnitId,
    pub status: ReservationStatus,
    pub starts_at: Option<chrono::NaiveDateTime>,
    pub wanted_by: Option<NaiveDate>,
    pub fee_fen: i64,
}

impl Booked {
    pub fn of(row: &ReservationRow, unit: UnitId) -> Booked {
        Booked {
            user: row.user_id,
            instrument: row.instrument_id,
            unit,
            status: row.status,
            starts_at: row.starts_at,
            wanted_by: row.wanted_by,
            fee_fen: row.fee_estimate_fen,
        }
    }
}

/// What the booking pays and the voucher's part, checked before any lock: the quota is the
/// caller's company's and usable, the booking is the caller's own and open, the provider is
/// eligible and not related to the company, the booking falls in the programme's dates.
/// `field` names what the caller sent about the booking, for the errors.
pub struct Planned {
    voucher: VoucherRow,
    programme: ProgrammeRow,
    fee_fen: i64,
    part_fen: i64,
    unit: UnitId,
    instrument: InstrumentId,
}

pub fn plan_use(
    conn: &mut DbConnection,
    who: &Principal,
    voucher: VoucherId,
    booking: &Booked,
    field: &str,
    now: DateTime<Utc>,
) -> AppResult<Planned> {
    let unit = booking.unit;
    let v = store::find_voucher(conn, voucher)?
        .filter(|v| is_company(who, v.organisation_id))
        .ok_or_else(|| {
            AppError::invalid(
                "voucher_id",
                "没有这张您企业的创新券 (no such voucher of your company)",
            )
        })?;
    if v.status != VoucherStatus::Approved {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "创新券当前为「{}」，不能使用 (the voucher is not usable)",
                v.status.label_zh()
            ),
        ));
    }
    let p = issuer_of(conn, v.programme_id)?;
    let day = today(now);
    let service_day = booking
        .starts_at
        .map(|t| today(t.and_utc()))
        .or(booking.wanted_by)
        .unwrap_or(day)
        .max(day);
    if service_day > p.use_until {
        return Err(AppError::rule(
            ErrorCode::VoucherOutsideDates,
            field,
            format!(
                "创新券须在 {} 前使用，这次服务在此之后 (after the voucher's use-by date)",
                p.use_until
            ),
        ));
    }
    if booking.user != who.id {
        return Err(AppError::invalid(
            field,
            "没有这条您的预约 (no such booking of yours)",
        ));
    }
    if !ReservationStatus::OPEN.contains(&booking.status) {
        return Err(AppError::invalid(
            field,
            format!(
                "预约已「{}」，不能再使用创新券 (the booking is finished)",
                booking.status.label_zh()
            ),
        ));
    }
    if !provider_eligible(conn, &p, unit, booking.instrument)? {
        return Err(AppError::rule(
            ErrorCode::VoucherNotEligible,
            field,
            "这台仪器的单位不在本项目的服务机构之列 (the provider is outside the programme)",
        ));
    }
    if related(conn, v.organisation_id, unit)? {
        return Err(AppError::rule(
            ErrorCode::VoucherRelatedParty,
            field,
            "服务单位与企业属同一法人，不能使用创新券 (related parties)",
        ));
    }
    let fee = booking.fee_fen;
    let part = voucher_part(fee, p.share_percent, p.full_below_fen);
    if part <= 0 {
        return Err(AppError::invalid(
            field,
            "这次服务没有费用，无需使用创新券 (the booking costs nothing)",
        ));
    }
    Ok(Planned {
        voucher: v,
        programme: p,
        fee_fen: fee,
        part_fen: part,
        unit,
        instrument: booking.instrument,
    })
}

/// The company asks to pay a booking with its voucher (申请使用); the provider's staff are
/// told. The voucher pays its share of the fee estimate, at most what the quota has left.
pub fn request_use(
    conn: &mut DbConnection,
    who: &Principal,
    input: UseInput,
    now: DateTime<Utc>,
) -> AppResult<VoucherUse> {
    crate::auth::authorize(who, Action::Apply)?;
    let booking = bookings::find(conn, input.reservation_id)?
        .filter(|r| r.user_id == who.id)
        .ok_or_else(|| {
            AppError::invalid(
                "reservation_id",
                "没有这条您的预约 (no such booking of yours)",
            )
        })?;
    let inst = catalogue::find_instrument(conn, booking.instrument_id)?
        .ok_or(AppError::NotFound { what: "instrument" })?;
    let planned = plan_use(
        conn,
        who,
        input.voucher_id,
        &Booked::of(&booking, inst.unit_id),
        "reservation_id",
        now,
    )?;
    let id = db::write_tx(conn, |c| attach(c, who, &planned, booking.id, now))?;
    use_of(conn, who, id)
}

/// Writes the use inside the caller's transaction (a booking made with a voucher writes both
/// or neither).
pub fn attach(
    c: &mut DbConnection,
    who: &Principal,
    planned: &Planned,
    reservation: ReservationId,
    now: DateTime<Utc>,
) -> AppResult<VoucherUseId> {
    store::lock_programme(c, planned.programme.id)?.ok_or_else(no_programme)?;
    let v = store::find_voucher(c, planned.voucher.id)?.ok_or_else(no_voucher)?;
    if v.status != VoucherStatus::Approved {
        return Err(changed());
    }
    let held: i64 = store::uses_of(c, v.id)?.iter().map(UseRow::held).sum();
    let left = v.committed() - held;
    if left <= 0 {
        return Err(AppError::conflict(
            ErrorCode::VoucherBalance,
            "这张创新券的额度已用完 (nothing left on the voucher)",
        ));
    }
    let part = planned.part_fen.min(left);
    let id = store::insert_use(
        c,
        &NewUse {
            voucher_id: v.id,
            reservation_id: reservation,
            unit_id: planned.unit,
            instrument_id: planned.instrument,
            fee_fen: planned.fee_fen,
            voucher_fen: part,
            status: UseStatus::Requested,
            created_at: naive(now),
            updated_at: naive(now),
        },
    )
    .map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::conflict(
            ErrorCode::InvalidTransition,
            "这条预约已在使用创新券 (the booking already uses a voucher)",
        ),
        e => e.into(),
    })?;
    history(
        c,
        v.id,
        Some(id),
        None,
        UseStatus::Requested.code(),
        UseStep::Request.code(),
        Some(who.id),
        Some(part),
        "",
        now,
    )?;
    audit::record(
        c,
        Some(who.id),
        "voucher_use.request",
        Target("voucher_use", Some(id.0)),
        None::<&()>,
        Some(
            &serde_json::json!({"status": UseStatus::Requested, "voucher_fen": part, "reservation_id": reservation}),
        ),
        naive(now),
    )?;
    let row = store::find_use(c, id)?.ok_or_else(no_use)?;
    tell_use(c, &planned.programme, &v, &row, UseStep::Request, "", now)?;
    Ok(id)
}

/// Whether `who` takes `step` on the use as its party.
fn acts_on_use(
    who: &Principal,
    u: &UseRow,
    v: &VoucherRow,
    p: &ProgrammeRow,
    step: UseStep,
) -> bool {
    match step {
        UseStep::Request | UseStep::Cancel => is_company(who, v.organisation_id),
        UseStep::Confirm | UseStep::Decline => allowed(
            who,
            Action::RunInstrument {
                unit: u.unit_id,
                instrument: u.instrument_id,
            },
        ),
        UseStep::Claim => allowed(who, Action::ClaimVouchers { unit: u.unit_id }),
        UseStep::Return | UseStep::Approve | UseStep::Refuse | UseStep::Pay => {
            allowed(
                who,
                Action::IssueVouchers {
                    issuer: p.issuer_id,
                },
            ) && !is_company(who, v.organisation_id)
                && who.unit != Some(u.unit_id)
        }
        UseStep::Lapse => false,
    }
}

fn use_steps(who: &Principal, u: &UseRow, v: &VoucherRow, p: &ProgrammeRow) -> Vec<UseStep> {
    UseStep::ALL
        .iter()
        .copied()
        .filter(|s| next_use(u.status, *s).is_some())
        .filter(|s| acts_on_use(who, u, v, p, *s))
        .collect()
}

/// The use, its quota and programme if `who` is a party: the company, the provider's staff
/// (its admins, the instrument's managers) or the issuer.
fn visible_use(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherUseId,
) -> AppResult<(UseRow, VoucherRow, ProgrammeRow)> {
    let u = store::find_use(conn, id)?.ok_or_else(no_use)?;
    let v = store::find_voucher(conn, u.voucher_id)?.ok_or_else(no_use)?;
    let p = issuer_of(conn, v.programme_id)?;
    let party = is_company(who, v.organisation_id)
        || allowed(
            who,
            Action::RunInstrument {
                unit: u.unit_id,
                instrument: u.instrument_id,
            },
        )
        || allowed(
            who,
            Action::IssueVouchers {
                issuer: p.issuer_id,
            },
        );
    if party {
        Ok((u, v, p))
    } else {
        Err(no_use())
    }
}

pub fn use_of(conn: &mut DbConnection, who: &Principal, id: VoucherUseId) -> AppResult<VoucherUse> {
    let (u, v, p) = visible_use(conn, who, id)?;
    shown_use(conn, who, u, &v, &p)
}

fn shown_use(
    conn: &mut DbConnection,
    who: &Principal,
    u: UseRow,
    v: &VoucherRow,
    p: &ProgrammeRow,
) -> AppResult<VoucherUse> {
    let files = store::files_of(conn, u.id)?
        .into_iter()
        .map(|f| VoucherFile {
            id: f.id,
            kind: f.kind,
            kind_label: f.kind.label_zh(),
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            created_at: f.created_at.and_utc(),
        })
        .collect();
    let steps = use_steps(who, &u, v, p);
    Ok(VoucherUse {
        id: u.id,
        voucher_id: v.id,
        voucher_number: v.number.clone().unwrap_or_default(),
        programme_id: p.id,
        organisation_id: v.organisation_id,
        company: organisation_name(conn, v.organisation_id)?,
        reservation_id: u.reservation_id,
        unit_id: u.unit_id,
        unit_name: catalogue::find_unit(conn, u.unit_id)?
            .map(|x| x.name)
            .unwrap_or_default(),
        instrument_id: u.instrument_id,
        instrument_name: catalogue::find_instrument(conn, u.instrument_id)?
            .map(|i| i.name_zh)
            .unwrap_or_default(),
        fee_fen: u.fee_fen,
        voucher_fen: u.voucher_fen,
        own_fen: u.fee_fen - u.voucher_fen,
        status: u.status,
        status_label: u.status.label_zh(),
        service_record_id: u.service_record_id,
        claim_fee_fen: u.claim_fee_fen,
        claim_fen: u.claim_fen,
        reason: u.reason,
        notice_until: u.notice_until.map(|t| t.and_utc()),
        paid_at: u.paid_at.map(|t| t.and_utc()),
        created_at: u.created_at.and_utc(),
        files,
        steps,
    })
}

/// Uses the caller is a party to: the company's (`mine`), the provider's (a unit's admins
/// see the unit's, managers their instruments'), the issuer's, or all for platform admins.
pub fn uses(
    conn: &mut DbConnection,
    who: &Principal,
    mine: bool,
    status: Option<UseStatus>,
) -> AppResult<Vec<VoucherUse>> {
    use crate::auth::Role;
    let scope = if mine {
        match who.organisation {
            Some(o) if who.verified => UseScope::Company(o),
            _ => return Ok(Vec::new()),
        }
    } else if allowed(who, Action::ManageUsers) {
        UseScope::All
    } else if let Some(issuer) = who.voucher_issuer {
        UseScope::Issuer(issuer)
    } else {
        match (who.role, who.unit) {
            (Role::UnitAdmin, Some(unit)) => UseScope::Unit(unit),
            (Role::InstrumentManager, Some(_)) => UseScope::Instruments(who.managed.clone()),
            _ => {
                return Err(AppError::forbidden(
                    "仅限服务单位、发券机构和平台管理员；查看本企业的请加 mine=true (staff, issuers and platform admins only)",
                ))
            }
        }
    };
    let rows = store::uses(conn, &scope, status)?;
    let mut out = Vec::with_capacity(rows.len());
    for u in rows {
        let v = store::find_voucher(conn, u.voucher_id)?.ok_or_else(no_use)?;
        let p = issuer_of(conn, v.programme_id)?;
        out.push(shown_use(conn, who, u, &v, &p)?);
    }
    Ok(out)
}

/// A person takes `step` on use `id`.
pub fn use_step(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherUseId,
    step: UseStep,
    input: &VoucherStepInput,
    notice_days: i64,
    now: DateTime<Utc>,
) -> AppResult<VoucherUse> {
    let (before, v, p) = visible_use(conn, who, id)?;
    if !acts_on_use(who, &before, &v, &p, step) {
        return Err(AppError::forbidden(format!(
            "「{}」由{}办理 (not the caller's step)",
            step.label_zh(),
            step.party().label_zh()
        )));
    }
    take_use_step(conn, Actor::Person(who), id, step, input, notice_days, now)?;
    use_of(conn, who, id)
}

/// Takes `step` on use `id` (checked for the person by the caller): the transition, what it
/// frees going back to the quota (or to the budget, once the quota expired), history, e-mail
/// and audit.
fn take_use_step(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    id: VoucherUseId,
    step: UseStep,
    input: &VoucherStepInput,
    notice_days: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let before = store::find_use(conn, id)?.ok_or_else(no_use)?;
    if next_use(before.status, step).is_none() {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "当前为「{}」，不能{} (the step does not apply now)",
                before.status.label_zh(),
                step.label_zh()
            ),
        ));
    }
    let text = match step.needs_text() {
        Some(label) => validate::text("text", &input.text, 1, 2000)
            .map_err(|_| AppError::invalid("text", format!("请填写{label}（1–2000 字）")))?,
        None => validate::text("text", &input.text, 0, 2000)?,
    };
    let v = store::find_voucher(conn, before.voucher_id)?.ok_or_else(no_use)?;
    let p = issuer_of(conn, v.programme_id)?;
    let day = today(now);
    let mut row = before.clone();
    match step {
        UseStep::Confirm => {
            if day > p.use_until {
                return Err(AppError::rule(
                    ErrorCode::VoucherOutsideDates,
                    "step",
                    format!(
                        "创新券的使用截止日期 {} 已过 (past the use-by date)",
                        p.use_until
                    ),
                ));
            }
            let a = fen(
                "amount_fen",
                input.amount_fen.unwrap_or(before.voucher_fen),
                0,
            )?;
            if a > before.voucher_fen {
                return Err(AppError::invalid(
                    "amount_fen",
                    format!(
                        "不能高于企业申请抵扣的 {} (more than asked)",
                        yuan(before.voucher_fen)
                    ),
                ));
            }
            row.voucher_fen = a;
            row.confirmed_at = Some(naive(now));
        }
        UseStep::Claim => {
            if day > p.redeem_until {
                return Err(AppError::rule(
                    ErrorCode::VoucherOutsideDates,
                    "step",
                    format!(
                        "兑付截止日期 {} 已过 (past the last day to redeem)",
                        p.redeem_until
                    ),
                ));
            }
            let record = match input.service_record_id {
                Some(r) => records::find(conn, r)?
                    .filter(|r| r.reservation_id == Some(before.reservation_id))
                    .ok_or_else(|| {
                        AppError::invalid(
                            "service_record_id",
                            "不是这条预约的服务记录 (not a record of the booking)",
                        )
                    })?,
                None => records::of_reservation(conn, before.reservation_id)?.ok_or_else(|| {
                    AppError::conflict(
                        ErrorCode::VoucherNoService,
                        "这条预约还没有服务记录，服务完成后才能申请兑付 (no service record yet)",
                    )
                })?,
            };
            let part = voucher_part(record.fee_fen, p.share_percent, p.full_below_fen)
                .min(before.voucher_fen);
            let files = store::files_of(conn, id)?;
            let has = |k: FileKind| files.iter().any(|f| f.kind == k);
            let mut missing: Vec<&str> = Vec::new();
            for k in [FileKind::Contract, FileKind::Invoice] {
                if !has(k) {
                    missing.push(k.label_zh());
                }
            }
            if record.fee_fen > part && !has(FileKind::Payment) {
                missing.push(FileKind::Payment.label_zh());
            }
            if !missing.is_empty() {
                return Err(AppError::rule(
                    ErrorCode::VoucherFilesMissing,
                    "files",
                    format!("请先上传：{} (files missing)", missing.join("、")),
                ));
            }
            row.service_record_id = Some(record.id);
            row.claim_fee_fen = Some(record.fee_fen);
            row.claim_fen = Some(part);
            row.claimed_at = Some(naive(now));
        }
        UseStep::Approve => {
            row.approved_at = Some(naive(now));
            row.notice_until = Some(naive(now + Duration::days(notice_days.max(0))));
        }
        UseStep::Pay => {
            if let Some(until) = before.notice_until.filter(|u| *u > naive(now)) {
                return Err(AppError::conflict(
                    ErrorCode::VoucherNoticeRunning,
                    format!(
                        "公示期至 {}（北京时间），之后才能拨付 (on notice until then)",
                        crate::types::local_date_time(until.and_utc())
                    ),
                ));
            }
            row.paid_at = Some(naive(now));
        }
        _ => {}
    }
    if step.needs_text().is_some() {
        row.reason = text.clone();
    }
    let actor_id = match &actor {
        Actor::Person(p) => Some(p.id),
        Actor::System => None,
    };
    db::write_tx(conn, |c| -> AppResult<()> {
        store::lock_programme(c, p.id)?.ok_or_else(no_programme)?;
        let current = store::find_use(c, id)?.ok_or_else(no_use)?;
        let to = next_use(current.status, step).ok_or_else(changed)?;
        if current.status != before.status {
            return Err(changed());
        }
        row.status = to;
        row.updated_at = naive(now);
        if store::set_use(c, &row, before.status)? == 0 {
            return Err(changed());
        }
        // What the step frees goes back to the quota; once the quota expired, to the budget.
        let freed = before.held() - row.held();
        let v = store::find_voucher(c, before.voucher_id)?.ok_or_else(no_use)?;
        if freed > 0 && v.status == VoucherStatus::Expired {
            store::return_to_budget(c, v.id, freed, naive(now))?;
        }
        let amount = match step {
            UseStep::Confirm => Some(row.voucher_fen),
            UseStep::Claim | UseStep::Approve | UseStep::Pay => row.claim_fen,
            _ => None,
        };
        history(
            c,
            v.id,
            Some(id),
            Some(before.status.code()),
            to.code(),
            step.code(),
            actor_id,
            amount,
            &text,
            now,
        )?;
        audit::record(
            c,
            actor_id,
            &format!("voucher_use.{}", step.code()),
            Target("voucher_use", Some(id.0)),
            Some(&serde_json::json!({"status": before.status})),
            Some(
                &serde_json::json!({"status": to, "voucher_fen": row.voucher_fen, "claim_fen": row.claim_fen}),
            ),
            naive(now),
        )?;
        if matches!(step, UseStep::Approve) {
            crate::cache::changed(c, crate::cache::Topic::Usage)?;
        }
        tell_use(c, &p, &v, &row, step, &text, now)
    })?;
    if matches!(step, UseStep::Approve) {
        // The statistics count approved redemptions: their cached periods are stale now.
        crate::usage::service::note_write();
    }
    Ok(())
}

/// The provider attaches a file to a redemption (before claiming, or when it was returned).
pub fn add_file(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherUseId,
    kind: FileKind,
    received: crate::publishing::service::Received,
    now: DateTime<Utc>,
) -> AppResult<VoucherUse> {
    may_add_file(conn, who, id)?;
    if !matches!(
        received.content_type,
        "application/pdf" | "image/png" | "image/jpeg"
    ) {
        return Err(AppError::rule(
            ErrorCode::AttachmentType,
            "file",
            "兑付材料请上传 PDF 或 PNG/JPEG 图片 (PDF, PNG or JPEG only)",
        ));
    }
    db::write_tx(conn, |c| -> AppResult<VoucherFileId> {
        if store::files_of(c, id)?.len() >= 20 {
            return Err(AppError::invalid(
                "file",
                "每笔兑付至多 20 个文件 (at most 20 files)",
            ));
        }
        Ok(store::insert_file(
            c,
            &NewFile {
                use_id: id,
                kind,
                name: received.name,
                content_type: received.content_type.to_owned(),
                size: received.size,
                sha256: received.sha256,
                uploaded_by: who.id,
                created_at: naive(now),
            },
        )?)
    })?;
    use_of(conn, who, id)
}

/// Checked before an upload is read: the caller claims for the use's unit and the use takes
/// files now (confirmed, or returned for correction).
pub fn may_add_file(conn: &mut DbConnection, who: &Principal, id: VoucherUseId) -> AppResult<()> {
    let (u, _, _) = visible_use(conn, who, id)?;
    crate::auth::authorize(who, Action::ClaimVouchers { unit: u.unit_id })?;
    if !matches!(u.status, UseStatus::Confirmed | UseStatus::Returned) {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "当前为「{}」，不能再添加材料 (files are added before the claim)",
                u.status.label_zh()
            ),
        ));
    }
    Ok(())
}

/// A file of a use the caller is a party to.
pub fn file(
    conn: &mut DbConnection,
    who: &Principal,
    id: VoucherUseId,
    file: VoucherFileId,
) -> AppResult<FileRow> {
    visible_use(conn, who, id)?;
    store::files_of(conn, id)?
        .into_iter()
        .find(|f| f.id == file)
        .ok_or(AppError::NotFound { what: "file" })
}

/// The public notice (公示): redemptions approved and on notice, and those paid while their
/// notice runs; newest first.
pub fn notice(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<Vec<NoticeEntry>> {
    let mut out = Vec::new();
    for u in store::on_notice(conn, naive(now), 500)? {
        let v = store::find_voucher(conn, u.voucher_id)?.ok_or_else(no_use)?;
        let p = issuer_of(conn, v.programme_id)?;
        out.push(NoticeEntry {
            use_id: u.id,
            programme_name: p.name,
            voucher_number: v.number.unwrap_or_default(),
            company: organisation_name(conn, v.organisation_id)?,
            unit_name: catalogue::find_unit(conn, u.unit_id)?
                .map(|x| x.name)
                .unwrap_or_default(),
            instrument_name: catalogue::find_instrument(conn, u.instrument_id)?
                .map(|i| i.name_zh)
                .unwrap_or_default(),
            claim_fee_fen: u.claim_fee_fen.unwrap_or(0),
            claim_fen: u.claim_fen.unwrap_or(0),
            approved_at: u.approved_at.unwrap_or(u.updated_at).and_utc(),
            notice_until: u.notice_until.unwrap_or(u.updated_at).and_utc(),
            status: u.status,
            status_label: u.status.label_zh(),
        });
    }
    Ok(out)
}

/// A booking ended without a service (cancelled, refused, expired, no-show): its voucher use,
/// if not yet claimed, is cancelled and what it held goes back. Runs inside the booking's
/// transaction.
pub fn booking_ended(
    conn: &mut DbConnection,
    reservation: ReservationId,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(u) = store::live_use_of(conn, reservation)? else {
        return Ok(());
    };
    if next_use(u.status, UseStep::Cancel).is_none() {
        return Ok(());
    }
    take_use_step(
        conn,
        Actor::System,
        u.id,
        UseStep::Cancel,
        &VoucherStepInput::default(),
        0,
        now,
    )
}

/// The job: quotas past their use-by date expire (what no use holds returns to the budget;
/// requests never confirmed lapse), and uses not claimed by the last day to redeem lapse.
/// Each item once, however many instances run it.
pub fn expire_due(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let day = today(now);
    let mut done = 0;
    for id in store::approved_until_before(conn, day, BATCH)? {
        match expire_voucher(conn, id, now) {
            Ok(()) => done += 1,
            Err(AppError::Conflict { .. }) => {}
            Err(e) => tracing::warn!(voucher = id.0, error = %e, "cannot expire"),
        }
    }
    for id in store::unclaimed_after(conn, day, BATCH)? {
        match take_use_step(
            conn,
            Actor::System,
            id,
            UseStep::Lapse,
            &VoucherStepInput::default(),
            0,
            now,
        ) {
            Ok(()) => done += 1,
            Err(AppError::Conflict { .. }) => {}
            Err(e) => tracing::warn!(voucher_use = id.0, error = %e, "cannot lapse"),
        }
    }
    Ok(done)
}

fn expire_voucher(conn: &mut DbConnection, id: VoucherId, now: DateTime<Utc>) -> AppResult<()> {
    // Requests the provider never confirmed cannot be confirmed any more.
    for u in store::uses_of(conn, id)? {
        if u.status == UseStatus::Requested {
            take_use_step(
                conn,
                Actor::System,
                u.id,
                UseStep::Lapse,
                &VoucherStepInput::default(),
                0,
                now,
            )?;
        }
    }
    db::write_tx(conn, |c| -> AppResult<()> {
        let before = store::find_voucher(c, id)?.ok_or_else(no_voucher)?;
        let p = store::lock_programme(c, before.programme_id)?.ok_or_else(no_programme)?;
        let to = next_voucher(before.status, VoucherStep::Expire).ok_or_else(changed)?;
        let held: i64 = store::uses_of(c, id)?.iter().map(UseRow::held).sum();
        let mut row = before.clone();
        row.status = to;
        row.returned_fen = (before.approved_fen - held).max(before.returned_fen);
        row.updated_at = naive(now);
        if store::set_voucher(c, &row, before.status)? == 0 {
            return Err(changed());
        }
        let returned = row.returned_fen - before.returned_fen;
        history(
            c,
            id,
            None,
            Some(before.status.code()),
            to.code(),
            VoucherStep::Expire.code(),
            None,
            Some(returned),
            "",
            now,
        )?;
        audit::record(
            c,
            None,
            "voucher.expire",
            Target("voucher", Some(id.0)),
            Some(&serde_json::json!({"status": before.status})),
            Some(&serde_json::json!({"status": to, "returned_fen": row.returned_fen})),
            naive(now),
        )?;
        tell_voucher(c, &p, &row, VoucherStep::Expire, "", now)
    })
}

#[allow(clippy::too_many_arguments)]
fn history(
    c: &mut DbConnection,
    voucher: VoucherId,
    use_id: Option<VoucherUseId>,
    from: Option<&str>,
    to: &str,
    step: &str,
    actor: Option<crate::types::UserId>,
    amount: Option<i64>,
    note: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    store::insert_history(
        c,
        &NewHistory {
            voucher_id: voucher,
            use_id,
            from_status: from.map(str::to_owned),
            to_status: to.to_owned(),
            step: step.to_owned(),
            actor_id: actor,
            amount_fen: amount,
            note: note.to_owned(),
            at: naive(now),
        },
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// E-mail

/// E-mails `to` about a quota (`("voucher", id)`) or a use (`("voucher_use", id)`), linking
/// to its page.
fn send(
    c: &mut DbConnection,
    to: &[(String, String)],
    subject: &str,
    paragraphs: &[String],
    footer: &str,
    related: (&'static str, i64),
    now: DateTime<Utc>,
) -> AppResult<()> {
    let link = match related {
        ("voucher", id) => page_url(&format!("/vouchers/{id}")),
        (_, id) => page_url(&format!("/voucher-uses/{id}")),
    };
    for (email, name) in to {
        mail::enqueue(
            c,
            &Notice {
                kind: "voucher",
                to: email,
                name,
                subject,
                paragraphs: paragraphs.to_vec(),
                link: Some(("查看详情", &link)),
                footer,
                related: Some(related),
            }
            .render()?,
            naive(now),
        )?;
    }
    Ok(())
}

fn tell_voucher(
    c: &mut DbConnection,
    p: &ProgrammeRow,
    v: &VoucherRow,
    step: VoucherStep,
    text: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let company = organisation_name(c, v.organisation_id)?;
    let applicant: Vec<(String, String)> = people::find_user(c, v.applicant_id)?
        .map(|u| vec![(u.email, u.name)])
        .unwrap_or_default();
    let head = format!("{}：{}", p.name, company);
    let (to, subject, what, footer) = match step {
        VoucherStep::Apply => (
            store::officers(c, p.issuer_id)?,
            format!("创新券申请：{company} 申领 {}", yuan(v.requested_fen)),
            format!("{company}申领额度 {}，请审批。", yuan(v.requested_fen)),
            "您收到此邮件，是因为您是发券机构的经办人。",
        ),
        VoucherStep::Withdraw => (
            store::officers(c, p.issuer_id)?,
            format!("创新券申请已撤回：{company}"),
            format!("{company}撤回了额度申请。"),
            "您收到此邮件，是因为您是发券机构的经办人。",
        ),
        VoucherStep::Approve => (
            applicant,
            format!("创新券已发放：{}", yuan(v.approved_fen)),
            format!(
                "额度 {} 已批准，券号 {}，请在 {} 前用于预约或送样。",
                yuan(v.approved_fen),
                v.number.clone().unwrap_or_default(),
                p.use_until
            ),
            "您收到此邮件，是因为您申领了这张创新券。",
        ),
        VoucherStep::Refuse => (
            applicant,
            "创新券申请未获批准".to_owned(),
            "额度申请未获批准。".to_owned(),
            "您收到此邮件，是因为您申领了这张创新券。",
        ),
        VoucherStep::Expire => (
            applicant,
            "创新券已到期".to_owned(),
            format!(
                "创新券 {} 已过使用截止日期，未使用的 {} 已收回。",
                v.number.clone().unwrap_or_default(),
                yuan(v.returned_fen)
            ),
            "您收到此邮件，是因为您申领了这张创新券。",
        ),
    };
    let mut paragraphs = vec![head, what];
    if !text.is_empty() {
        paragraphs.push(text.to_owned());
    }
    send(
        c,
        &to,
        &subject,
        &paragraphs,
        footer,
        ("voucher", v.id.0),
        now,
    )
}

fn tell_use(
    c: &mut DbConnection,
    p: &ProgrammeRow,
    v: &VoucherRow,
    u: &UseRow,
    step: UseStep,
    text: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let company = organisation_name(c, v.organisation_id)?;
    let booker: Vec<(String, String)> = match bookings::find(c, u.reservation_id)? {
        Some(r) => people::find_user(c, r.user_id)?
            .map(|x| vec![(x.email, x.name)])
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let provider_staff = people::staff_to_notify(c, u.unit_id, u.instrument_id)?;
    let unit_admins = people::admins(c, Some(u.unit_id))?;
    let officers = store::officers(c, p.issuer_id)?;
    let (to, footer): (Vec<(String, String)>, &str) = match step {
        UseStep::Request | UseStep::Cancel => (
            provider_staff,
            "您收到此邮件，是因为您负责这台仪器或这个单位。",
        ),
        UseStep::Confirm | UseStep::Decline => {
            (booker, "您收到此邮件，是因为您用创新券预约了这次服务。")
        }
        UseStep::Claim => (officers, "您收到此邮件，是因为您是发券机构的经办人。"),
        UseStep::Return | UseStep::Refuse => {
            (unit_admins, "您收到此邮件，是因为您是服务单位的管理员。")
        }
        UseStep::Approve | UseStep::Pay | UseStep::Lapse => {
            let mut all = unit_admins;
            all.extend(booker);
            (all, "您收到此邮件，是因为您是这笔创新券兑付的一方。")
        }
    };
    let amount = u.claim_fen.unwrap_or(u.voucher_fen);
    let what = match step {
        UseStep::Request => format!(
            "{company}申请用创新券支付预约 #{}：费用约 {}，创新券抵扣 {}，企业自付 {}。请确认订单和金额。",
            u.reservation_id,
            yuan(u.fee_fen),
            yuan(u.voucher_fen),
            yuan(u.fee_fen - u.voucher_fen)
        ),
        UseStep::Confirm => format!(
            "服务单位已确认：创新券抵扣 {}，企业自付 {}。",
            yuan(u.voucher_fen),
            yuan(u.fee_fen - u.voucher_fen)
        ),
        UseStep::Approve => format!(
            "兑付 {} 已批准，公示至 {}。",
            yuan(amount),
            u.notice_until
                .map(|t| crate::types::local_date_time(t.and_utc()))
                .unwrap_or_default()
        ),
        UseStep::Pay => format!("兑付 {} 已拨付。", yuan(amount)),
        _ => format!("创新券使用（预约 #{}）：{}。", u.reservation_id, u.status.label_zh()),
    };
    let mut paragraphs = vec![format!("{}：{}", p.name, company), what];
    if !text.is_empty() {
        paragraphs.push(text.to_owned());
    }
    let subject = format!(
        "创新券 {}：{}",
        v.number.clone().unwrap_or_default(),
        step.label_zh()
    );
    send(
        c,
        &to,
        &subject,
        &paragraphs,
        footer,
        ("voucher_use", u.id.0),
        now,
    )
}
