//! Service records for the demo: the province's published 2018 figures (78 services to 24
//! client units, 20,820 machine-hours) built from individual records, a recent history so that
//! this year's pages have something to show, and a bulk generator for load work.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone};
use diesel::prelude::*;

use super::{apportion, Rng};
use crate::db::schema::{instruments, organisations, service_records};
use crate::db::{self, DbConnection};
use crate::navigation::model::ShareMode;
use crate::reservations::model::BookingModes;
use crate::types::{InstrumentId, OrganisationId, UserId, PLATFORM_ZONE};
use crate::usage::model::{Direction, NationalFields, NewServiceRecord, ServiceType, ServiceWay};

/// What the province published for 2018.
pub const SERVICES_2018: usize = 78;
pub const CLIENT_UNITS_2018: usize = 24;
pub const HOURS_2018: usize = 20_820;

/// Enterprises that appear as clients in the demo (companies send samples too); none of them
/// is a host unit.
const ENTERPRISES: &[&str] = &[
    "长春新区智能装备有限公司",
    "吉林省环境监测技术有限公司",
    "一汽解放汽车有限公司",
    "长春高新技术产业（集团）股份有限公司",
    "吉林省长光卫星技术有限公司",
    "通化中药饮片有限公司",
    "吉林亚泰生物药业股份有限公司",
    "长春光谱仪器科技有限公司",
    "吉林省精细化工有限公司",
    "长春迪瑞医疗科技股份有限公司",
    "吉林碳谷碳纤维股份有限公司",
    "延边长白山生物科技有限公司",
];

/// Rows per INSERT (20 columns each: under both backends' bind-parameter limits).
const BATCH: usize = 500;

/// The client pool: (organisation id, its host unit if it is one).
fn ensure_clients(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<Vec<(i64, Option<i64>)>> {
    use organisations as o;
    for name in ENTERPRISES {
        let exists: i64 = o::table.filter(o::name.eq(name)).count().get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(o::table)
                .values((
                    o::name.eq(name),
                    o::kind.eq("enterprise"),
                    o::status.eq("active"),
                    o::created_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    o::table
        .filter(o::status.eq("active"))
        .select((o::id, o::unit_id))
        .order(o::id)
        .load(conn)
}

/// A listed instrument as the history needs it.
#[derive(Debug, Clone, Copy)]
struct Served {
    id: i64,
    unit: i64,
    share_mode: ShareMode,
    in_service_on: Option<NaiveDate>,
    /// Whether it takes samples (送样); only then does a record count samples.
    samples: bool,
}

impl Served {
    /// In use on `day`: a record never predates the instrument.
    fn in_service(&self, day: NaiveDate) -> bool {
        self.in_service_on.is_none_or(|d| d <= day)
    }

    /// Who may be served: outsiders only where it is shared externally, the unit's own
    /// people unless it is not shared at all beyond its group (who still log their use).
    fn serves(&self, client: (i64, Option<i64>)) -> bool {
        let own = client.1 == Some(self.unit);
        match self.share_mode {
            ShareMode::External => true,
            ShareMode::Internal | ShareMode::NotShared => own,
        }
    }

    /// How a service was given: by sending samples (委托) only where samples are taken, from
    /// afar (远程) rarely.
    fn way(&self, rng: &mut Rng, weights: [u32; 4]) -> ServiceWay {
        let ways = [
            ServiceWay::Occupy,
            ServiceWay::Technical,
            ServiceWay::Entrusted,
            ServiceWay::Remote,
        ];
        let mut w = weights;
        if !self.samples {
            w[2] = 0;
        }
        ways[rng.weighted(&w)]
    }

    fn sample_count(&self, rng: &mut Rng, way: ServiceWay, most: i64) -> i64 {
        if self.samples && way == ServiceWay::Entrusted {
            rng.range(1, most)
        } else {
            0
        }
    }
}

/// Every listed instrument, with what the history needs of it.
fn served_instruments(conn: &mut DbConnection) -> QueryResult<Vec<Served>> {
    use crate::db::schema::booking_settings as b;
    let modes: std::collections::HashMap<i64, BookingModes> = b::table
        .select((b::instrument_id, b::modes))
        .load::<(i64, BookingModes)>(conn)?
        .into_iter()
        .collect();
    let rows: Vec<(i64, i64, ShareMode, Option<NaiveDate>)> = instruments::table
        .filter(instruments::retired_at.is_null())
        .select((
            instruments::id,
            instruments::unit_id,
            instruments::share_mode,
            instruments::in_service_on,
        ))
        .order(instruments::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, unit, share_mode, in_service_on)| Served {
            id,
            unit,
            share_mode,
            in_service_on,
            samples: modes
                .get(&id)
                .is_none_or(|&m| m != BookingModes::MachineTime),
        })
        .collect())
}

fn insert_all(conn: &mut DbConnection, rows: &[NewServiceRecord]) -> QueryResult<()> {
    for chunk in rows.chunks(BATCH) {
        crate::db::insert_rows!(conn, service_records::table, chunk)?;
    }
    Ok(())
}

fn utc_of_local(day: NaiveDate, minute_of_day: i64) -> NaiveDateTime {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::minutes(minute_of_day);
    PLATFORM_ZONE
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(local)
}

/// Hourly rate in fen by client kind: enterprises pay more than academic clients.
fn rate(is_unit: bool, internal: bool) -> i64 {
    match (internal, is_unit) {
        (true, _) => 10_000,
        (false, true) => 20_000,
        (false, false) => 30_000,
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    instrument: i64,
    client: (i64, Option<i64>),
    internal: bool,
    service_type: ServiceType,
    way: ServiceWay,
    day: NaiveDate,
    times: Option<(NaiveDateTime, NaiveDateTime)>,
    minutes: i64,
    samples: i64,
    now: NaiveDateTime,
) -> NewServiceRecord {
    let fee = (minutes * rate(client.1.is_some(), internal) + 59) / 60;
    NewServiceRecord {
        reservation_id: None,
        instrument_id: InstrumentId(instrument),
        client_user_id: None,
        client_organisation_id: Some(OrganisationId(client.0)),
        internal,
        service_type,
        service_way: way,
        starts_at: times.map(|t| t.0),
        ends_at: times.map(|t| t.1),
        minutes: minutes as i32,
        sample_count: samples as i32,
        fee_fen: fee,
        project: String::new(),
        funding_source: String::new(),
        note: String::new(),
        created_at: now,
        served_on: day,
        idle_minutes: 0,
        logged_by: None,
        national: national(instrument, client.0, day, service_type, minutes),
    }
}

/// The national record's fields of a seeded service, picked from its own figures so that a
/// reseed writes the same: content by type, mostly research, an applicant of the client.
fn national(
    instrument: i64,
    client: i64,
    day: NaiveDate,
    service_type: ServiceType,
    minutes: i64,
) -> NationalFields {
    use super::data::{GIVEN, SURNAMES};
    let h = (instrument as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((client as u64) << 20)
        .wrapping_add(day.num_days_from_ce() as u64 * 131)
        .wrapping_add(minutes as u64);
    let pick =
        |n: usize, salt: u64| ((h ^ salt).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 33) as usize % n;
    NationalFields {
        content: format!("{}服务：样品表征与数据分析", service_type.label_zh()),
        direction: [
            Direction::Research,
            Direction::Research,
            Direction::Research,
            Direction::Development,
            Direction::Teaching,
            Direction::Other,
        ][pick(6, 1)],
        applicant_name: format!(
            "{}{}",
            SURNAMES[pick(SURNAMES.len(), 2)],
            GIVEN[pick(GIVEN.len(), 3)]
        ),
        applicant_phone: format!("1{:010}", 3_000_000_000 + (h % 999_999_999)),
        applicant_email: format!("client{client}-{}@example.cn", pick(100, 4)),
    }
}

/// The 2018 records: exactly 78 services to 24 client units, 20,820 hours, all external
/// (sharing to other legal entities). Long campaigns, so they carry hours and no times.
pub fn province_2018(
    conn: &mut DbConnection,
    rng: &mut Rng,
    now: NaiveDateTime,
) -> anyhow::Result<usize> {
    let clients = ensure_clients(conn, now)?;
    let units: Vec<_> = clients.iter().filter(|c| c.1.is_some()).copied().collect();
    let firms: Vec<_> = clients.iter().filter(|c| c.1.is_none()).copied().collect();
    anyhow::ensure!(
        units.len() >= 14 && firms.len() >= 10,
        "too few client organisations: {} units, {} companies",
        units.len(),
        firms.len()
    );
    // 14 universities and institutes and 10 companies.
    let mut chosen: Vec<(i64, Option<i64>)> = Vec::with_capacity(CLIENT_UNITS_2018);
    let step = units.len() / 14;
    chosen.extend((0..14).map(|i| units[i * step]));
    chosen.extend(firms.iter().take(CLIENT_UNITS_2018 - 14).copied());
    let instruments = served_instruments(conn)?;
    let weights: Vec<u32> = (0..SERVICES_2018)
        .map(|_| rng.range(2, 12) as u32)
        .collect();
    let hours = apportion(HOURS_2018, &weights);
    let start = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap_or_default();
    let mut rows = Vec::with_capacity(SERVICES_2018);
    for (i, h) in hours.iter().enumerate() {
        // Every client at least once, then any of them.
        let client = if i < CLIENT_UNITS_2018 {
            chosen[i]
        } else {
            *rng.pick(&chosen)
        };
        let day = start + Duration::days(rng.range(0, 364));
        // Another unit's instrument, shared with outsiders and already in service that day.
        let candidates: Vec<&Served> = instruments
            .iter()
            .filter(|s| {
                s.share_mode == ShareMode::External && s.in_service(day) && Some(s.unit) != client.1
            })
            .collect();
        anyhow::ensure!(
            !candidates.is_empty(),
            "no instrument to serve with on {day}"
        );
        let instrument = **rng.pick(&candidates);
        let ty = [
            ServiceType::Testing,
            ServiceType::Training,
            ServiceType::Consulting,
            ServiceType::Teaching,
        ][rng.weighted(&[70, 12, 10, 8])];
        let way = instrument.way(rng, [15, 30, 50, 5]);
        rows.push(row(
            instrument.id,
            client,
            false,
            ty,
            way,
            day,
            None,
            *h as i64 * 60,
            instrument.sample_count(rng, way, 40),
            now,
        ));
    }
    insert_all(conn, &rows)?;
    Ok(rows.len())
}

/// `count` services between `from` and `to` (inclusive): mostly tests of a few hours on
/// weekdays, a fifth for the host unit itself, some training, consulting and teaching; the
/// first unit's first instruments (the demo manager's) are used more than the rest.
pub fn synthetic(
    conn: &mut DbConnection,
    rng: &mut Rng,
    count: usize,
    from: NaiveDate,
    to: NaiveDate,
    now: NaiveDateTime,
) -> anyhow::Result<usize> {
    let clients = ensure_clients(conn, now)?;
    let instruments = served_instruments(conn)?;
    anyhow::ensure!(!instruments.is_empty(), "no instruments to serve with");
    let own_org: std::collections::HashMap<i64, (i64, Option<i64>)> = clients
        .iter()
        .filter_map(|c| c.1.map(|u| (u, *c)))
        .collect();
    let days = (to - from).num_days().max(0);
    let favourites = &instruments[..instruments.len().min(3)];
    let mut rows = Vec::with_capacity(BATCH * 20);
    let mut written = 0;
    for _ in 0..count {
        let instrument = if rng.range(0, 99) < 5 {
            *rng.pick(favourites)
        } else {
            *rng.pick(&instruments)
        };
        let mut day = from + Duration::days(rng.range(0, days));
        if day.weekday().number_from_monday() > 5 && rng.range(0, 3) > 0 {
            day -= Duration::days(2);
        }
        let day = day.max(from);
        let internal = rng.range(0, 99) < 20;
        let own = own_org.get(&instrument.unit).copied();
        let client = match own {
            Some(own) if internal || instrument.share_mode != ShareMode::External => own,
            _ => loop {
                let c = *rng.pick(&clients);
                if c.1 != Some(instrument.unit) {
                    break c;
                }
            },
        };
        if !instrument.in_service(day) || !instrument.serves(client) {
            // Not in use yet that day, or not open to that client: no service.
            continue;
        }
        let internal = client.1 == Some(instrument.unit);
        let ty = [
            ServiceType::Testing,
            ServiceType::Training,
            ServiceType::Consulting,
            ServiceType::Teaching,
        ][rng.weighted(&[75, 10, 8, 7])];
        let way = instrument.way(rng, [35, 30, 30, 5]);
        let minutes = rng.range(1, 16) * 30;
        let start_minute = rng.range(16, 34) * 30; // 08:00 … 16:30 local
        let starts = utc_of_local(day, start_minute);
        let times = Some((starts, starts + Duration::minutes(minutes)));
        rows.push(row(
            instrument.id,
            client,
            internal,
            ty,
            way,
            day,
            times,
            minutes,
            instrument.sample_count(rng, way, 12),
            now,
        ));
        if rows.len() == rows.capacity() {
            db::write_tx(conn, |c| insert_all(c, &rows))?;
            written += rows.len();
            rows.clear();
        }
    }
    db::write_tx(conn, |c| insert_all(c, &rows))?;
    Ok(written + rows.len())
}

/// Records of the researcher's organisation in the last 60 days become the researcher's own,
/// so that the demo researcher has services to look at (and to ask an hour reduction on).
pub fn give_to(
    conn: &mut DbConnection,
    user: UserId,
    organisation: OrganisationId,
    since: NaiveDate,
) -> QueryResult<usize> {
    diesel::update(
        service_records::table
            .filter(service_records::client_organisation_id.eq(organisation))
            .filter(service_records::served_on.ge(since)),
    )
    .set(service_records::client_user_id.eq(Some(user)))
    .execute(conn)
}

/// Each unit declares its eligible instruments for `years`: the listed ones and a few more
/// that are not (yet) on the platform.
pub fn declarations(
    conn: &mut DbConnection,
    rng: &mut Rng,
    years: &[i32],
    now: NaiveDateTime,
) -> QueryResult<()> {
    use crate::db::schema::unit_declarations as d;
    let counts: Vec<(i64, i64)> = instruments::table
        .filter(instruments::retired_at.is_null())
        .group_by(instruments::unit_id)
        .select((instruments::unit_id, diesel::dsl::count_star()))
        .load(conn)?;
    let mut rows = Vec::new();
    for &year in years {
        for &(unit, listed) in &counts {
            rows.push((
                d::unit_id.eq(unit),
                d::year.eq(year),
                d::eligible_instruments.eq((listed + rng.range(0, listed / 10 + 1)) as i32),
                d::declared_at.eq(now),
            ));
        }
    }
    for chunk in rows.chunks(BATCH) {
        crate::db::insert_rows!(conn, d::table, chunk)?;
    }
    Ok(())
}
