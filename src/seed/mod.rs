//! The demo platform: a deterministic (fixed-seed) Jilin-like catalogue of 13 sub-platforms,
//! 72 host units and 1,940 instruments, multiplied by `scale` for load work.

mod data;
pub mod history;
mod vouchers;

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::{password, Role};
use crate::db::schema::{booking_settings, instruments, sub_platforms, units};
use crate::db::{self, DbConnection};
use crate::navigation::model::{
    Acquisition, FundingSource as F, InstrumentRow, Purpose, RunStatus, ShareMode, SubPlatformRow,
    UnitKind, UnitRow,
};
use crate::reservations::model::{BookingModes, BookingSettingsRow};
use crate::types::{InstrumentId, SubPlatformId, UnitId};
use crate::users::{service as accounts, store as account_store};
use data::{Field, InstrumentType, INSTRUMENT_TYPES};

/// The province's published figures at scale 1.
pub const UNITS_AT_SCALE_1: usize = 72;
pub const INSTRUMENTS_AT_SCALE_1: usize = 1940;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub sub_platforms: usize,
    pub units: usize,
    pub instruments: usize,
    /// (role, e-mail) of the demo accounts, all with `DEMO_PASSWORD`.
    pub accounts: Vec<(Role, String)>,
}

/// The password of every demo account (the demo is never seeded in production).
pub const DEMO_PASSWORD: &str = "yiqi-demo-2026";

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sub-platforms, {} host units, {} instruments",
            self.sub_platforms, self.units, self.instruments
        )?;
        for (role, email) in &self.accounts {
            write!(
                f,
                "\n  sign in as {}: {email} / {DEMO_PASSWORD}",
                role.label_zh()
            )?;
        }
        Ok(())
    }
}

/// True when the catalogue holds no sub-platform yet.
pub fn is_empty(conn: &mut DbConnection) -> anyhow::Result<bool> {
    let n: i64 = sub_platforms::table.count().get_result(conn)?;
    Ok(n == 0)
}

/// SplitMix64: tiny, fast and fixed forever, so the demo data never changes with a crate update.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    /// Index chosen with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.next() % total;
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }
}

fn fixed_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn city_of(name: &str) -> &'static data::City {
    data::city(name).unwrap_or(&data::CITIES[0])
}

fn person(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(data::SURNAMES), rng.pick(data::GIVEN))
}

struct PlannedUnit {
    row: UnitRow,
    domain: String,
    weight: u32,
    fields: &'static [Field],
}

fn plan_units(rng: &mut Rng, scale: usize) -> Vec<PlannedUnit> {
    let now = fixed_time();
    let mut planned = Vec::with_capacity(UNITS_AT_SCALE_1 * scale);
    for i in 0..UNITS_AT_SCALE_1 * scale {
        let id = i as i64 + 1;
        let (name, short, kind, city, sp, domain, weight, fields) = match data::UNITS.get(i) {
            Some(u) => (
                u.name.to_owned(),
                u.short.to_owned(),
                u.kind,
                city_of(u.city),
                u.sub_platform,
                u.domain.to_owned(),
                u.weight,
                u.fields,
            ),
            None => {
                // Beyond the named units: plausible synthetic ones with a serial number.
                let city = rng.pick(data::CITIES);
                let prefix = *rng.pick(data::SYNTH_PREFIXES);
                let (suffix, kind, fields) = *rng.pick(data::SYNTH_KINDS);
                let sp = rng.range(0, data::SUB_PLATFORMS.len() as i64 - 1) as usize;
                (
                    format!("{}{prefix}{suffix}（{id:05}）", city.name),
                    format!("{prefix}{id:05}"),
                    kind,
                    city,
                    sp,
                    format!("u{id}.example.cn"),
                    1 + (rng.next() % 3) as u32,
                    fields,
                )
            }
        };
        let street = rng.pick(city.streets);
        planned.push(PlannedUnit {
            row: UnitRow {
                id: UnitId(id),
                sub_platform_id: SubPlatformId(sp as i64 + 1),
                name,
                short_name: short,
                kind,
                city: city.name.to_owned(),
                address: format!("吉林省{}{street}{}号", city.place, rng.range(1, 9999)),
                contact_name: person(rng),
                contact_phone: format!("{}-8{:07}", city.area_code, rng.range(0, 9_999_999)),
                contact_email: format!("share@{domain}"),
                website: format!("https://www.{domain}"),
                description: "大型科研仪器开放共享单位，仪器向校内外及社会用户开放。".to_owned(),
                created_at: now,
            },
            domain,
            weight,
            fields,
        });
    }
    planned
}

/// Splits `total` over `weights` by the largest-remainder method: the counts sum to `total`.
fn apportion(total: usize, weights: &[u32]) -> Vec<usize> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|&w| (total as u64 * u64::from(w) / sum) as usize)
        .collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((total as u64 * u64::from(weights[i])) % sum));
    let missing = total - counts.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        counts[i] += 1;
    }
    counts
}

fn pick_share_mode(rng: &mut Rng) -> ShareMode {
    [
        ShareMode::External,
        ShareMode::Internal,
        ShareMode::NotShared,
    ][rng.weighted(&[80, 15, 5])]
}

/// The types that fit a unit, with weights: those of its main field three times as likely.
fn fitting_types(fields: &[Field]) -> Vec<(usize, u32)> {
    INSTRUMENT_TYPES
        .iter()
        .enumerate()
        .filter(|(_, t)| t.fields.iter().any(|f| fields.contains(f)))
        .map(|(i, t)| (i, if t.fields.contains(&fields[0]) { 3 } else { 1 }))
        .collect()
}

fn accepts_samples(modes: BookingModes) -> bool {
    modes != BookingModes::MachineTime
}

/// The hourly and per-sample prices in whole yuan for the unit's own people; outside
/// academic clients pay 1.5 times as much and companies twice as much.
fn own_prices(value_yuan: i64) -> (i64, i64) {
    let hourly = (value_yuan / 10_000).clamp(50, 2000) / 10 * 10;
    (hourly, (hourly / 2).max(50) / 10 * 10)
}

fn fee_reference(kind: UnitKind, t: &InstrumentType, value_yuan: i64) -> String {
    let own = if kind == UnitKind::University {
        "校内"
    } else {
        "本单位"
    };
    let (hourly, sample) = own_prices(value_yuan);
    let tiers = |price: i64, unit: &str| {
        format!(
            "{own} {price} 元/{unit}，校外科研单位 {} 元/{unit}，企业 {} 元/{unit}",
            price * 3 / 2,
            price * 2
        )
    };
    let parts: Vec<String> = match t.modes {
        BookingModes::MachineTime => vec![format!("机时：{}", tiers(hourly, "小时"))],
        BookingModes::SampleOrder => vec![format!("送样：{}", tiers(sample, "样"))],
        BookingModes::Both => vec![
            format!("机时：{}", tiers(hourly, "小时")),
            format!("送样：{}", tiers(sample, "样")),
        ],
    };
    format!("{}（参考价，以审核确认为准）", parts.join("；"))
}

fn sharing_rules(mode: ShareMode, t: &InstrumentType) -> String {
    let who = match mode {
        ShareMode::External => "向校内外及社会用户开放。",
        ShareMode::Internal => "仅向本单位内部用户开放。",
        ShareMode::NotShared => "暂不对外共享，仅供本课题组使用。",
    };
    let how = match t.modes {
        BookingModes::MachineTime => {
            "机时预约需提前 1–3 个工作日提交，经仪器负责人审核后上机；独立上机须取得上机资格。"
        }
        BookingModes::SampleOrder => "仅接受送样检测，样品寄送或送达后约 7 个工作日出具结果。",
        BookingModes::Both => "机时预约需提前 1–3 个工作日提交，经仪器负责人审核后上机；独立上机须取得上机资格；送样检测约 7 个工作日出具结果。",
    };
    format!("{who}{how}")
}

fn make_instrument(
    rng: &mut Rng,
    id: i64,
    unit: &PlannedUnit,
    seq: usize,
    t: &InstrumentType,
) -> InstrumentRow {
    let (maker, country, models) = *rng.pick(t.makers);
    let model = *rng.pick(models);
    // 万元 with two decimals = a whole number of hundreds of yuan.
    let value_yuan = rng.range(t.value_wan.0 * 100, t.value_wan.1 * 100) * 100;
    // Put into service before 2018, so that all of them are in the province's 2018 figures.
    let year = 2006 + (rng.range(2006, 2024) as i32 - 2006) % 12;
    let in_service =
        NaiveDate::from_ymd_opt(year, rng.range(1, 12) as u32, rng.range(1, 28) as u32);
    // Joined the platform between its opening (2014) and the end of 2017, not before service.
    let opened = NaiveDate::from_ymd_opt(2014, 1, 1).unwrap_or_default()
        + chrono::Duration::days((seq as i64 * 37) % 1460);
    let listed_on = in_service.map_or(opened, |d| d.max(opened));
    let city = city_of(&unit.row.city);
    let enterprise = unit.row.kind == UnitKind::Enterprise;
    let funding = if enterprise {
        [F::Own, F::Local, F::Other][rng.weighted(&[80, 15, 5])]
    } else {
        [F::Central, F::Local, F::Own, F::Other][rng.weighted(&[50, 30, 17, 3])]
    };
    let disciplines: Vec<&str> = t
        .disciplines
        .iter()
        .take(1 + (rng.next() % 3) as usize)
        .copied()
        .collect();
    // The field through which the type fits the unit decides the department.
    let field = t
        .fields
        .iter()
        .copied()
        .find(|f| unit.fields.contains(f))
        .unwrap_or(t.fields[0]);
    let department = *rng.pick(data::departments(unit.row.kind, field));
    let share_mode = pick_share_mode(rng);
    let now = fixed_time();
    InstrumentRow {
        id: InstrumentId(id),
        unit_id: unit.row.id,
        category_code: t.category.to_owned(),
        name_zh: t.name_zh.to_owned(),
        name_en: t.name_en.to_owned(),
        asset_no: format!("{year}{seq:05}"),
        model: model.to_owned(),
        manufacturer: maker.to_owned(),
        origin_country: country.to_owned(),
        in_service_on: in_service,
        original_value_yuan: value_yuan,
        specs: t.specs.to_owned(),
        functions: t.functions.to_owned(),
        service_content: t.service.to_owned(),
        sharing_rules: sharing_rules(share_mode, t),
        fee_reference: fee_reference(unit.row.kind, t, value_yuan),
        city: unit.row.city.clone(),
        address: format!(
            "{}，{}楼{}室",
            unit.row.address,
            rng.range(1, 12),
            rng.range(101, 699)
        ),
        department: department.to_owned(),
        contact_name: person(rng),
        contact_phone: format!("{}-8{:07}", city.area_code, rng.range(0, 9_999_999)),
        contact_email: format!("lab{seq:04}@{}", unit.domain),
        photo_url: String::new(),
        share_mode,
        // In the order of `RunStatus::ALL`.
        run_status: RunStatus::ALL[rng.weighted(&[85, 7, 4, 1, 2, 1])],
        funding_source: funding,
        acquisition: Acquisition::ALL[rng.weighted(&[92, 4, 2, 2])],
        purpose: Purpose::ALL[rng.weighted(&[75, 25])],
        disciplines: serde_json::to_string(&disciplines).unwrap_or_else(|_| "[]".to_owned()),
        created_at: now,
        updated_at: now,
        retired_at: None,
        listed_on,
    }
}

/// How the instrument is booked: its type's modes and the prices its fee reference states.
fn booking_settings(row: &InstrumentRow, t: &InstrumentType) -> BookingSettingsRow {
    let (hourly, sample) = own_prices(row.original_value_yuan);
    let mut s = BookingSettingsRow::defaults(row.id);
    s.modes = t.modes;
    s.updated_at = row.updated_at;
    if t.modes != BookingModes::SampleOrder {
        s.own_hour_fen = hourly * 100;
        s.academic_hour_fen = hourly * 150;
        s.enterprise_hour_fen = hourly * 200;
    }
    if accepts_samples(t.modes) {
        s.own_sample_fen = sample * 100;
        s.academic_sample_fen = sample * 150;
        s.enterprise_sample_fen = sample * 200;
    }
    s
}

/// Services in the demo's recent history (two years).
const RECENT_SERVICES: usize = 2400;

/// Rows per INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const BATCH: usize = 500;

/// Loads the demo platform into an empty catalogue, in one write transaction.
///
/// Then the machine-hour log: the province's 2018 figures from individual records, two years
/// of recent services up to the day before `today`, and each unit's declared eligible
/// instruments for those years.
/// The demo platform at `scale`, its history ending the day before `today`. `files` is where
/// uploaded files are kept (`publishing.attachment_dir`): the demo's redemption files go there.
pub fn demo(
    conn: &mut DbConnection,
    scale: u32,
    today: NaiveDate,
    files: Option<&std::path::Path>,
) -> anyhow::Result<Summary> {
    let scale = scale.max(1) as usize;
    let mut rng = Rng(0x7969_7169_2018_0072); // "yiqi", 2018, 72 units
    let now = fixed_time();
    let sub_platform_rows: Vec<SubPlatformRow> = data::SUB_PLATFORMS
        .iter()
        .enumerate()
        .map(|(i, (name, description))| SubPlatformRow {
            id: SubPlatformId(i as i64 + 1),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            sort_order: i as i32,
            created_at: now,
        })
        .collect();
    let units = plan_units(&mut rng, scale);
    db::bulk_load(conn, true)?;
    let per_unit = apportion(
        INSTRUMENTS_AT_SCALE_1 * scale,
        &units.iter().map(|u| u.weight).collect::<Vec<_>>(),
    );

    db::write_tx(conn, |conn| -> anyhow::Result<()> {
        crate::db::insert_rows!(conn, sub_platforms::table, &sub_platform_rows)?;
        let unit_rows: Vec<UnitRow> = units.iter().map(|u| u.row.clone()).collect();
        for chunk in unit_rows.chunks(BATCH) {
            crate::db::insert_rows!(conn, units::table, chunk)?;
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut settings = Vec::with_capacity(BATCH);
        let mut next_id = 1;
        for (unit, &count) in units.iter().zip(&per_unit) {
            let types = fitting_types(unit.fields);
            let weights: Vec<u32> = types.iter().map(|&(_, w)| w).collect();
            for seq in 1..=count {
                let t = &INSTRUMENT_TYPES[types[rng.weighted(&weights)].0];
                let row = make_instrument(&mut rng, next_id, unit, seq, t);
                settings.push(booking_settings(&row, t));
                batch.push(row);
                next_id += 1;
                if batch.len() == BATCH {
                    crate::db::insert_rows!(conn, instruments::table, &batch)?;
                    crate::db::insert_rows!(conn, booking_settings::table, &settings)?;
                    batch.clear();
                    settings.clear();
                }
            }
        }
        if !batch.is_empty() {
            crate::db::insert_rows!(conn, instruments::table, &batch)?;
            crate::db::insert_rows!(conn, booking_settings::table, &settings)?;
        }
        db::after_explicit_ids(conn)?;
        crate::navigation::store::ensure_unit_organisations(conn)?;
        Ok(())
    })?;
    let accounts = demo_accounts(conn, now)?;
    let mut rng = Rng(0x6a69_6c69_6e2d_6a73); // "jilin-js"
    db::write_tx(conn, |conn| -> anyhow::Result<()> {
        history::province_2018(conn, &mut rng, now)?;
        let years = [2018, today.year() - 1, today.year()];
        history::declarations(conn, &mut rng, &years, now)?;
        Ok(())
    })?;
    history::synthetic(
        conn,
        &mut rng,
        RECENT_SERVICES,
        today - chrono::Duration::days(730),
        today - chrono::Duration::days(1),
        now,
    )?;
    if let Some(org) = account_store::organisation_of_unit(conn, UnitId(2))? {
        if let Some(researcher) = account_store::find_user_by_email(conn, "researcher@yiqi.demo")? {
            history::give_to(
                conn,
                researcher.id,
                org.id,
                today - chrono::Duration::days(60),
            )?;
        }
    }
    answered_complaint(conn, today)?;
    demo_articles(conn, today)?;
    let mut accounts = accounts;
    accounts.extend(vouchers::demo(conn, today, files)?);
    crate::usage::store::rebuild_rollups(conn)?;
    db::bulk_load(conn, false)?;
    db::analyze(conn)?;
    Ok(Summary {
        sub_platforms: sub_platform_rows.len(),
        units: units.len(),
        instruments: per_unit.iter().sum(),
        accounts,
    })
}

/// A complaint of the demo researcher about one of their services at the first unit, accepted
/// by the platform and answered by the unit in time: the researcher may accept the answer or
/// ask the platform to decide, and every role finds it in its list.
fn answered_complaint(conn: &mut DbConnection, today: NaiveDate) -> anyhow::Result<()> {
    use crate::db::schema::service_records as r;
    use crate::evaluation::calendar;
    use crate::evaluation::complaints::{model::*, store};
    let (Some(researcher), Some(admin), Some(unit_admin)) = (
        account_store::find_user_by_email(conn, "researcher@yiqi.demo")?,
        account_store::find_user_by_email(conn, "admin@yiqi.demo")?,
        account_store::find_user_by_email(conn, "unit-admin@yiqi.demo")?,
    ) else {
        return Ok(());
    };
    let record: Option<(i64, i64)> = r::table
        .inner_join(instruments::table)
        .filter(instruments::unit_id.eq(1))
        .filter(r::client_user_id.eq(researcher.id))
        .order(r::served_on.desc())
        .select((r::id, r::instrument_id))
        .first(conn)
        .optional()?;
    let Some((record, instrument)) = record else {
        return Ok(());
    };
    let at = |days: i64, hour: u32| {
        crate::reservations::rules::local(today - chrono::Duration::days(days), hour * 60)
            .ok_or_else(|| anyhow::anyhow!("a Beijing time"))
    };
    let (filed, accepted, answered) = (at(3, 9)?, at(3, 11)?, at(1, 16)?);
    let due = calendar::around(conn, accepted, 5)?.deadline(accepted, 5);
    let answer = "报告已于昨日寄出，延误系设备维修所致，已向您致歉并减免加急费。";
    db::write_tx(conn, |conn| -> anyhow::Result<()> {
        let id = store::insert(
            conn,
            &NewComplaint {
                complainant_id: researcher.id,
                subject: Subject::ServiceRecord,
                subject_id: record,
                unit_id: UnitId(1),
                instrument_id: Some(InstrumentId(instrument)),
                category: Category::Delay,
                description: "送样两周仍未出报告，电话多次无人接听。".to_owned(),
                request: "尽快出具报告并说明延误原因".to_owned(),
                status: ComplaintStatus::Submitted,
                created_at: filed.naive_utc(),
                updated_at: filed.naive_utc(),
            },
        )?;
        let before = store::find(conn, id)?.ok_or_else(|| anyhow::anyhow!("complaint"))?;
        let mut row = before.clone();
        row.status = ComplaintStatus::Answered;
        row.accepted_at = Some(accepted.naive_utc());
        row.answer_due_at = Some(due.naive_utc());
        row.answer = Some(answer.to_owned());
        row.answered_at = Some(answered.naive_utc());
        row.updated_at = answered.naive_utc();
        store::set_state(conn, &row, &before)?;
        use ComplaintStatus as S;
        for (from, to, step, actor, at, note) in [
            (
                None,
                S::Submitted,
                ComplaintStep::Submit,
                researcher.id,
                filed,
                "",
            ),
            (
                Some(S::Submitted),
                S::Accepted,
                ComplaintStep::Accept,
                admin.id,
                accepted,
                "",
            ),
            (
                Some(S::Accepted),
                S::Answered,
                ComplaintStep::Answer,
                unit_admin.id,
                answered,
                answer,
            ),
        ] {
            store::insert_history(
                conn,
                &NewComplaintHistory {
                    complaint_id: id,
                    from_status: from,
                    to_status: to,
                    step: step.code().to_owned(),
                    actor_id: Some(actor),
                    note: note.to_owned(),
                    at: at.naive_utc(),
                },
            )?;
        }
        Ok(())
    })
}

/// One account per role: the platform operator, the first unit's administrator and an
/// instrument manager of its first three instruments, and a researcher of another unit
/// (an external user of the first unit).
fn demo_accounts(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> anyhow::Result<Vec<(Role, String)>> {
    let hash = password::hash(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let first_unit = UnitId(1);
    let other_org = account_store::organisation_of_unit(conn, UnitId(2))?.map(|o| o.id);
    let plan = [
        (
            Role::PlatformAdmin,
            "admin@yiqi.demo",
            "平台管理中心",
            None,
            None,
        ),
        (
            Role::UnitAdmin,
            "unit-admin@yiqi.demo",
            "单位管理员",
            Some(first_unit),
            None,
        ),
        (
            Role::InstrumentManager,
            "manager@yiqi.demo",
            "仪器负责人",
            Some(first_unit),
            None,
        ),
        (
            Role::Researcher,
            "researcher@yiqi.demo",
            "王研究员",
            None,
            other_org,
        ),
    ];
    db::write_tx(conn, |conn| -> anyhow::Result<Vec<(Role, String)>> {
        let mut made = Vec::new();
        for (role, email, name, unit, org) in plan {
            let account = accounts::NewAccount {
                email,
                name,
                role,
                unit,
                organisation: org,
            };
            let id = accounts::create_verified(conn, &account, &hash, now)
                .map_err(|e| anyhow::anyhow!("demo account {email}: {e}"))?;
            if role == Role::InstrumentManager {
                let first: Vec<InstrumentId> = instruments::table
                    .filter(instruments::unit_id.eq(first_unit.0))
                    .select(instruments::id)
                    .order(instruments::id)
                    .limit(3)
                    .load(conn)?;
                for instrument in first {
                    account_store::set_instrument_managers(conn, instrument, &[id])?;
                }
            }
            made.push((role, email.to_owned()));
        }
        Ok(made)
    })
}

/// The demo's 信息发布: the platform's rules, a notice and news on the home page, a unit's
/// training (with places left) and a notice it sent that waits for approval, a success story,
/// and a unit's draft. All count as announced: a demo starts without a flood of e-mail.
fn demo_articles(conn: &mut DbConnection, today: NaiveDate) -> anyhow::Result<()> {
    use crate::db::schema::articles as a;
    use crate::publishing::model::{ArticleKind as K, ArticleStatus as S, NewArticle, Scope};
    use crate::publishing::store;
    let (Some(admin), Some(unit_admin)) = (
        account_store::find_user_by_email(conn, "admin@yiqi.demo")?,
        account_store::find_user_by_email(conn, "unit-admin@yiqi.demo")?,
    ) else {
        return Ok(());
    };
    let at = |days: i64, hour: u32| {
        crate::reservations::rules::local(today - chrono::Duration::days(days), hour * 60)
            .map(|t| t.naive_utc())
            .ok_or_else(|| anyhow::anyhow!("a Beijing time"))
    };
    let instrument: Option<InstrumentId> = instruments::table
        .filter(instruments::unit_id.eq(1))
        .order(instruments::id)
        .select(instruments::id)
        .first(conn)
        .optional()?;
    type Demo = (
        K,
        Scope,
        Option<i64>,
        S,
        &'static str,
        &'static str,
        &'static str,
        i64,
        bool,
    );
    let rows: [Demo; 8] = [
        (K::Policy, Scope::Platform, None, S::Published, "吉林省大型科研仪器开放共享管理办法（试行）",
         "明确管理单位的开放共享责任、收费原则、服务记录和评价考核要求。",
         "## 第一章 总则\n\n**第一条** 为推动大型科研仪器向社会开放共享，提高使用效率，制定本办法。\n\n**第二条** 本办法所称大型科研仪器，是指单台（套）原值在 50 万元及以上的科研仪器设备。\n\n## 第二章 管理单位责任\n\n1. 将符合条件的仪器纳入平台统一管理；\n2. 公布开放时间、收费标准和联系方式；\n3. 如实记录服务机时和服务对象。\n\n## 第三章 评价考核\n\n平台每年对管理单位的开放共享情况进行评价，结果向社会公布。",
         40, true),
        (K::Notice, Scope::Platform, None, S::Published, "关于开展本年度大型科研仪器开放共享评价考核工作的通知",
         "请各管理单位于本月底前完成服务记录核对和年度数据报送。",
         "各管理单位：\n\n根据《吉林省大型科研仪器开放共享管理办法（试行）》，现启动本年度评价考核工作。请于本月底前：\n\n- 核对本单位仪器的服务记录与机时；\n- 处理尚未答复的用户投诉；\n- 在平台提交年度开放共享情况说明。\n\n联系电话：0431-8888 6666",
         5, false),
        (K::News, Scope::Platform, None, S::Published, "平台年度服务机时突破两万小时",
         "2018 年全省平台服务机时 20,820 小时，为 24 家单位提供 78 项服务。",
         "2018 年，全省大型科研仪器开放共享平台累计提供服务机时 **20,820 小时**，为 24 家用户单位提供服务 78 项。",
         12, false),
        (K::Training, Scope::Unit, Some(1), S::Published, "透射电镜操作培训（第一期）",
         "面向校内外用户的上机资格培训，考核合格后可自主预约机时。",
         "培训内容：\n\n1. 仪器原理与安全规范\n2. 样品制备要点\n3. 上机操作与考核\n\n请携带实验记录本。",
         3, false),
        (K::Notice, Scope::Unit, Some(1), S::Submitted, "大型仪器年度维护停机通知",
         "下周三全天停机维护，已预约的用户将另行通知。",
         "因年度维护，本单位部分大型仪器下周三全天停机，给您带来不便，敬请谅解。",
         1, false),
        (K::Case, Scope::Platform, None, S::Published, "共享案例：中小企业借助平台完成新材料表征",
         "一家长春的科技型中小企业通过平台预约扫描电镜和 X 射线衍射仪，两周内完成了产品表征。",
         "企业无需购置昂贵设备，通过平台找到就近的仪器和专业技术人员，节省了时间和成本。",
         20, false),
        (K::News, Scope::SubPlatform, Some(1), S::Published, "子平台召开仪器共享工作交流会",
         "各成员单位交流开放共享经验。", "会议总结了上半年的开放共享工作。", 30, false),
        (K::News, Scope::Unit, Some(1), S::Draft, "（草稿）实验室开放日活动预告", "", "待完善。", 0, false),
    ];
    db::write_tx(conn, |conn| -> anyhow::Result<()> {
        for (kind, scope, scope_id, status, title, summary, body, days, pinned) in rows {
            let when = at(days, 9)?;
            let training = kind == K::Training;
            let id = store::insert(
                conn,
                &NewArticle {
                    kind,
                    scope,
                    sub_platform_id: (scope == Scope::SubPlatform)
                        .then(|| SubPlatformId(scope_id.unwrap_or(1))),
                    unit_id: (scope == Scope::Unit).then(|| UnitId(scope_id.unwrap_or(1))),
                    title: title.to_owned(),
                    summary: summary.to_owned(),
                    body: body.to_owned(),
                    status,
                    publish_at: (status != S::Draft).then_some(when),
                    ends_at: None,
                    pinned,
                    event_at: if training { Some(at(-7, 14)?) } else { None },
                    event_place: if training {
                        "理化楼 B201".to_owned()
                    } else {
                        String::new()
                    },
                    signup_limit: training.then_some(20),
                    author_id: if scope == Scope::Unit {
                        unit_admin.id
                    } else {
                        admin.id
                    },
                    created_at: when,
                    updated_at: when,
                },
            )?;
            if training {
                if let Some(i) = instrument {
                    store::set_instruments(conn, id, &[i])?;
                }
            }
            if status != S::Draft {
                diesel::update(a::table.find(id))
                    .set((
                        a::announced_at.eq(Some(when)),
                        a::published_at.eq((status == S::Published).then_some(when)),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_keeps_the_total() {
        let counts = apportion(
            1940,
            &data::UNITS.iter().map(|u| u.weight).collect::<Vec<_>>(),
        );
        assert_eq!(counts.len(), 72);
        assert_eq!(counts.iter().sum::<usize>(), 1940);
        assert!(counts.iter().all(|&c| c >= 1));
    }

    #[test]
    fn the_reference_lists_match_the_province() {
        assert_eq!(data::SUB_PLATFORMS.len(), 13);
        assert_eq!(data::UNITS.len(), UNITS_AT_SCALE_1);
        let mut names: Vec<_> = data::UNITS.iter().map(|u| u.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 72, "unit names are unique");
        assert!(data::UNITS.iter().all(|u| u.sub_platform < 13));
    }
}
