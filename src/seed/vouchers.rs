//! The demo's 创新券: Changchun New Area's programme, a company at each step of the cycle and
//! one waiting for its quota, made through the vouchers service as the people would make it
//! (so the figures are the service's own), over the weeks before the demo's today.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;

use crate::auth::{extract::principal_of, password, Principal, Role};
use crate::db::schema::{instruments, mail_outbox, organisations};
use crate::db::DbConnection;
use crate::navigation::model::UnitKind;
use crate::reservations::model::{
    BookingModes, NewReservation, ReservationKind, ReservationStatus, ResultDelivery, Step,
};
use crate::reservations::rules::Rules;
use crate::reservations::service::{take_step, Actor, StepCommand};
use crate::types::{InstrumentId, OrganisationId, ReservationId};
use crate::usage::model::Direction;
use crate::users::model::{NewOrganisation, OrganisationStatus, PriceTier};
use crate::users::service::{create_verified, NewAccount};
use crate::users::store as people;
use crate::validate::complete_credit_code;
use crate::vouchers::model::*;
use crate::vouchers::service as vouchers;

const ISSUER: &str = "长春新区科技创新局";
/// (name, the first 17 characters of its credit code, demo account, person).
const COMPANIES: [(&str, &str, &str, &str); 2] = [
    (
        "长春光谱仪器科技有限公司",
        "91220101MA0Y3K5L2",
        "company@yiqi.demo",
        "李经理",
    ),
    (
        "吉林碳谷碳纤维股份有限公司",
        "91220201MA0Y7P3Q8",
        "company-b@yiqi.demo",
        "陈总",
    ),
];

/// A small PDF: what the demo's redemption files hold.
const DEMO_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

fn at(today: NaiveDate, days: i64, hour: u32) -> anyhow::Result<DateTime<Utc>> {
    crate::reservations::rules::local(today + Duration::days(days), hour * 60)
        .ok_or_else(|| anyhow::anyhow!("a Beijing time"))
}

fn organisation(
    conn: &mut DbConnection,
    name: &str,
    kind: UnitKind,
    code: &str,
    now: chrono::NaiveDateTime,
) -> anyhow::Result<OrganisationId> {
    let code = complete_credit_code(code).ok_or_else(|| anyhow::anyhow!("credit code {code}"))?;
    let found: Option<i64> = organisations::table
        .filter(organisations::name.eq(name))
        .select(organisations::id)
        .first(conn)
        .optional()?;
    Ok(match found {
        Some(id) => {
            diesel::update(organisations::table.find(id))
                .set(organisations::credit_code.eq(&code))
                .execute(conn)?;
            OrganisationId(id)
        }
        None => people::insert_organisation(
            conn,
            &NewOrganisation {
                name: name.to_owned(),
                kind,
                credit_code: Some(code),
                unit_id: None,
                status: OrganisationStatus::Active,
                created_at: now,
            },
        )?,
    })
}

fn person(
    conn: &mut DbConnection,
    email: &str,
    name: &str,
    organisation: OrganisationId,
    hash: &str,
    now: chrono::NaiveDateTime,
) -> anyhow::Result<Principal> {
    let id = create_verified(
        conn,
        &NewAccount {
            email,
            name,
            role: Role::Researcher,
            unit: None,
            organisation: Some(organisation),
        },
        hash,
        now,
    )
    .map_err(|e| anyhow::anyhow!("demo account {email}: {e}"))?;
    Ok(principal_of(conn, id)?)
}

/// A booking of the company at the first unit, written as the booking service would.
fn booking(
    conn: &mut DbConnection,
    who: &Principal,
    instrument: InstrumentId,
    sample: bool,
    starts: DateTime<Utc>,
    made: DateTime<Utc>,
) -> anyhow::Result<ReservationId> {
    let rules = Rules::new(crate::reservations::settings::settings_of(
        conn, instrument,
    )?)?;
    let (kind, status, starts_at, ends_at, samples, fee) = if sample {
        (
            ReservationKind::SampleOrder,
            ReservationStatus::Submitted,
            None,
            None,
            Some(6),
            rules.fee(PriceTier::Enterprise, 0, 6),
        )
    } else {
        (
            ReservationKind::MachineTime,
            ReservationStatus::Pending,
            Some(starts.naive_utc()),
            Some((starts + Duration::hours(2)).naive_utc()),
            None,
            rules.fee(PriceTier::Enterprise, 120, 0),
        )
    };
    let row = crate::reservations::store::insert(
        conn,
        NewReservation {
            instrument_id: instrument,
            user_id: who.id,
            kind,
            status,
            starts_at,
            ends_at,
            sample_count: samples,
            sample_description: if sample {
                "光谱仪光学元件镀膜样品 6 片，测膜厚与反射率".to_owned()
            } else {
                String::new()
            },
            wanted_by: None,
            purpose: "新产品光学镀膜的性能检测".to_owned(),
            project: "长春新区科技创新券支持项目".to_owned(),
            funding_source: "municipal".to_owned(),
            price_tier: PriceTier::Enterprise,
            fee_estimate_fen: fee,
            idempotency_key: None,
            idempotency_fingerprint: None,
            created_at: made.naive_utc(),
            updated_at: made.naive_utc(),
            staff_assist: true,
            result_delivery: sample.then_some(ResultDelivery::Electronic),
            remote: false,
            direction: Direction::Development,
            unit_id: None,
        },
    )?;
    crate::reservations::store::insert_history(
        conn,
        &crate::reservations::model::NewHistory {
            reservation_id: row.id,
            from_status: None,
            to_status: status,
            actor_id: Some(who.id),
            note: String::new(),
            at: made.naive_utc(),
        },
    )?;
    Ok(row.id)
}

/// Runs a sample order through to its service record, as the unit's staff would.
fn serve(
    conn: &mut DbConnection,
    staff: &Principal,
    id: ReservationId,
    today: NaiveDate,
    from: i64,
) -> anyhow::Result<()> {
    let none = StepCommand::default();
    let accept = StepCommand {
        planned_on: Some(today + Duration::days(from + 1)),
        ..StepCommand::default()
    };
    let done = StepCommand {
        machine_minutes: Some(180),
        ..StepCommand::default()
    };
    for (step, cmd, day) in [
        (Step::Accept, &accept, from),
        (Step::StartTest, &none, from + 1),
        (Step::Report, &none, from + 2),
        (Step::Complete, &done, from + 2),
    ] {
        take_step(
            conn,
            Actor::Person(staff),
            id,
            step,
            cmd,
            at(today, day, 15)?,
        )?;
    }
    Ok(())
}

fn use_of(conn: &mut DbConnection, reservation: ReservationId) -> anyhow::Result<VoucherUseRef> {
    crate::vouchers::store::live_use_of(conn, reservation)?
        .map(|u| VoucherUseRef(u.id))
        .ok_or_else(|| anyhow::anyhow!("the demo booking's voucher use"))
}

struct VoucherUseRef(crate::types::VoucherUseId);

/// The programme and its companies; the accounts made, for the demo's list.
pub fn demo(
    conn: &mut DbConnection,
    today: NaiveDate,
    files: Option<&std::path::Path>,
) -> anyhow::Result<Vec<(Role, String)>> {
    let now = at(today, -45, 9)?.naive_utc();
    let outbox_before: i64 = mail_outbox::table
        .select(diesel::dsl::max(mail_outbox::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    let hash = password::hash(crate::seed::DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let issuer_org = organisation(conn, ISSUER, UnitKind::Other, "11220100MB1K2N4R6", now)?;
    let issuer = person(conn, "issuer@yiqi.demo", "赵科长", issuer_org, &hash, now)?;
    crate::vouchers::store::set_officer(conn, issuer.id, Some(issuer_org))?;
    let issuer = principal_of(conn, issuer.id)?;
    let mut companies = Vec::new();
    for (name, code, email, who) in COMPANIES {
        let org = organisation(conn, name, UnitKind::Enterprise, code, now)?;
        companies.push(person(conn, email, who, org, &hash, now)?);
    }
    let (a, b) = (&companies[0], &companies[1]);
    let unit_admin = match people::find_user_by_email(conn, "unit-admin@yiqi.demo")? {
        Some(u) => principal_of(conn, u.id)?,
        None => return Ok(Vec::new()),
    };
    // An instrument of the first unit open to companies for both machine time and samples.
    let open: Vec<i64> = instruments::table
        .filter(instruments::unit_id.eq(1))
        .filter(instruments::retired_at.is_null())
        .filter(instruments::share_mode.eq("external"))
        .select(instruments::id)
        // The last such instrument: the first of the unit is the one examples and tests open.
        .order(instruments::id.desc())
        .load(conn)?;
    let mut instrument = None;
    for id in open.into_iter().map(InstrumentId) {
        if crate::reservations::settings::settings_of(conn, id)?.modes == BookingModes::Both {
            instrument = Some(id);
            break;
        }
    }
    let Some(instrument) = instrument else {
        return Ok(Vec::new());
    };

    let programme = vouchers::open_programme(
        conn,
        &issuer,
        ProgrammeInput {
            name: "长春新区2026年度科技创新券".to_owned(),
            issuer_id: issuer_org,
            description: "政府买服务，企业用服务：新区内科技型中小企业使用平台上的大型科研仪器开展检测、测试和研发，创新券支付服务费用的 50%，1,000 元以下的服务全额支付；每次申领不超过 2 万元，每家企业每年不超过 10 万元。".to_owned(),
            budget_fen: 200_000_000,
            share_percent: 50,
            full_below_fen: 100_000,
            cap_per_application_fen: 2_000_000,
            cap_per_company_year_fen: 10_000_000,
            sme_only: true,
            apply_from: (today - Duration::days(60)).to_string(),
            apply_until: (today + Duration::days(60)).to_string(),
            use_until: (today + Duration::days(120)).to_string(),
            redeem_until: (today + Duration::days(180)).to_string(),
            providers: Vec::new(),
        },
        at(today, -45, 9)?,
    )?;
    let quota = vouchers::apply(
        conn,
        a,
        VoucherInput {
            programme_id: programme.id,
            requested_fen: 2_000_000,
            need: "新型光谱仪的光学镀膜需做膜厚、反射率和成分检测，公司没有相应设备。".to_owned(),
            sme_declared: true,
        },
        at(today, -35, 10)?,
    )?;
    let step = |amount: Option<i64>| VoucherStepInput {
        amount_fen: amount,
        ..VoucherStepInput::default()
    };
    vouchers::voucher_step(
        conn,
        &issuer,
        quota.id,
        VoucherStep::Approve,
        &step(None),
        at(today, -34, 15)?,
    )?;
    let use_on = |conn: &mut DbConnection, reservation: ReservationId, day: i64| {
        vouchers::request_use(
            conn,
            a,
            UseInput {
                voucher_id: quota.id,
                reservation_id: reservation,
            },
            at(today, day, 11)?,
        )
        .map_err(anyhow::Error::from)
    };
    let use_step = |conn: &mut DbConnection,
                    who: &Principal,
                    reservation: ReservationId,
                    s: UseStep,
                    day: i64| {
        let id = use_of(conn, reservation)?.0;
        vouchers::use_step(conn, who, id, s, &step(None), 7, at(today, day, 16)?)
            .map_err(anyhow::Error::from)
    };

    // Served, claimed with its files and approved three days ago: on the public notice.
    let first = booking(
        conn,
        a,
        instrument,
        true,
        at(today, -30, 9)?,
        at(today, -30, 10)?,
    )?;
    use_on(conn, first, -30)?;
    use_step(conn, &unit_admin, first, UseStep::Confirm, -29)?;
    serve(conn, &unit_admin, first, today, -28)?;
    let use_id = use_of(conn, first)?.0;
    for (kind, name) in [
        (FileKind::Contract, "技术服务合同.pdf"),
        (FileKind::Invoice, "增值税发票.pdf"),
        (FileKind::Payment, "企业付款回单.pdf"),
    ] {
        let sha256 = crate::publishing::files::digest(DEMO_PDF);
        if let Some(dir) = files {
            crate::publishing::files::store(dir, &sha256, DEMO_PDF)?;
        }
        vouchers::add_file(
            conn,
            &unit_admin,
            use_id,
            kind,
            crate::publishing::service::Received {
                name: name.to_owned(),
                content_type: "application/pdf",
                size: DEMO_PDF.len() as i64,
                sha256,
            },
            at(today, -24, 10)?,
        )?;
    }
    use_step(conn, &unit_admin, first, UseStep::Claim, -24)?;
    use_step(conn, &issuer, first, UseStep::Approve, -3)?;

    // Served and confirmed: the unit may add its files and claim.
    let second = booking(
        conn,
        a,
        instrument,
        true,
        at(today, -12, 9)?,
        at(today, -12, 10)?,
    )?;
    use_on(conn, second, -12)?;
    use_step(conn, &unit_admin, second, UseStep::Confirm, -11)?;
    serve(conn, &unit_admin, second, today, -10)?;

    // Booked for next week with the voucher: waits for the unit to confirm the amount.
    let third = booking(
        conn,
        a,
        instrument,
        false,
        at(today, 7, 9)?,
        at(today, -1, 20)?,
    )?;
    use_on(conn, third, -1)?;

    // Another company's application waits for the bureau.
    vouchers::apply(
        conn,
        b,
        VoucherInput {
            programme_id: programme.id,
            requested_fen: 1_500_000,
            need: "碳纤维原丝的热分析和力学性能测试，用于新产线的工艺验证。".to_owned(),
            sme_declared: true,
        },
        at(today, -2, 14)?,
    )?;

    // A demo starts without a flood of e-mail: what these steps queued is not sent.
    diesel::delete(mail_outbox::table.filter(mail_outbox::id.gt(outbox_before))).execute(conn)?;
    Ok(vec![
        (Role::Researcher, "issuer@yiqi.demo".to_owned()),
        (Role::Researcher, "company@yiqi.demo".to_owned()),
        (Role::Researcher, "company-b@yiqi.demo".to_owned()),
    ])
}
