//! Resource navigation (资源导航) through the real HTTP server, on both backends.

use crate::common;

use common::{TestApp, TestDb};
use serde_json::Value;

on_both_backends!(
    the_demo_platform_has_the_provinces_figures,
    sub_platforms_carry_their_unit_and_instrument_counts,
    units_filter_and_page,
    the_category_tree_counts_every_instrument_once,
    a_class_code_selects_everything_beneath_it,
    instrument_filters_combine,
    sorting_and_paging_never_overlap,
    an_instrument_shows_every_national_field,
    bad_parameters_are_named_in_a_problem,
    health_ready_and_request_ids,
    categories_match_the_shipped_classification,
    the_demo_seed_is_deterministic,
    the_demo_looks_like_jilin,
);

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().expect("items")
}

async fn the_demo_platform_has_the_provinces_figures(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let stats = app.json("/api/v1/stats").await;
    assert_eq!(stats["sub_platforms"], 13);
    assert_eq!(stats["units"], 72);
    assert_eq!(stats["instruments"], 1940);
    assert!(stats["original_value_yuan"].as_i64().unwrap() > 0);
}

async fn sub_platforms_carry_their_unit_and_instrument_counts(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let list = app.json("/api/v1/sub-platforms").await;
    assert_eq!(list["total"], 13);
    let subs = items(&list);
    assert_eq!(subs.len(), 13);
    let units: i64 = subs.iter().map(|s| s["unit_count"].as_i64().unwrap()).sum();
    let instruments: i64 = subs
        .iter()
        .map(|s| s["instrument_count"].as_i64().unwrap())
        .sum();
    assert_eq!((units, instruments), (72, 1940));

    let first = &subs[0];
    let one = app
        .json(&format!("/api/v1/sub-platforms/{}", first["id"]))
        .await;
    assert_eq!(&one, first);
    // Its units, listed through the unit filter, agree with its counts.
    let units = app
        .json(&format!(
            "/api/v1/units?sub_platform={}&per_page=100",
            first["id"]
        ))
        .await;
    assert_eq!(units["total"], first["unit_count"]);
    let counted: i64 = items(&units)
        .iter()
        .map(|u| u["instrument_count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, first["instrument_count"].as_i64().unwrap());

    app.problem("/api/v1/sub-platforms/999", 404).await;
}

async fn units_filter_and_page(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let all = app.json("/api/v1/units?per_page=100").await;
    assert_eq!(all["total"], 72);
    assert_eq!(items(&all).len(), 72);

    let p1 = app.json("/api/v1/units?per_page=10&page=1").await;
    let p2 = app.json("/api/v1/units?per_page=10&page=2").await;
    assert_eq!(items(&p1).len(), 10);
    assert_eq!(
        (p2["page"].as_i64(), p2["per_page"].as_i64()),
        (Some(2), Some(10))
    );
    assert_ne!(items(&p1)[0]["id"], items(&p2)[0]["id"]);

    let yanbian = app.json("/api/v1/units?city=%E5%BB%B6%E8%BE%B9").await;
    assert!(yanbian["total"].as_i64().unwrap() >= 3);
    assert!(items(&yanbian).iter().all(|u| u["city"] == "延边"));
    assert!(items(&yanbian).iter().any(|u| u["name"] == "延边大学"));

    let hospitals = app.json("/api/v1/units?kind=hospital&per_page=100").await;
    assert!(items(&hospitals).iter().all(|u| u["kind"] == "hospital"));
    assert!(items(&hospitals)
        .iter()
        .any(|u| u["name"] == "吉林大学第一医院"));

    let jlu = app.json("/api/v1/units/1").await;
    assert_eq!(jlu["name"], "吉林大学");
    assert_eq!(jlu["sub_platform"]["name"], "分析测试子平台");
    assert!(jlu["instrument_count"].as_i64().unwrap() > 100);

    let p = app.problem("/api/v1/units?kind=school", 400).await;
    assert_eq!(p["field"], "kind");
    app.problem("/api/v1/units/100000", 404).await;
}

fn check_node(node: &Value) -> i64 {
    let children = node["children"].as_array().cloned().unwrap_or_default();
    let below: i64 = children.iter().map(check_node).sum();
    let count = node["instrument_count"].as_i64().unwrap();
    if !children.is_empty() {
        // No demo instrument sits on a class or middle-class code except 030000.
        assert!(count >= below, "{node}");
    }
    count
}

async fn the_category_tree_counts_every_instrument_once(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let tree = app.json("/api/v1/categories").await;
    let classes = tree.as_array().unwrap();
    assert_eq!(classes.len(), 15);
    assert_eq!(classes[0]["code"], "010000");
    assert_eq!(classes[0]["name"], "分析仪器");
    let total: i64 = classes.iter().map(check_node).sum();
    assert_eq!(total, 1940);
    // A class count equals what the instrument list finds for it.
    for class in classes {
        let list = app
            .json(&format!(
                "/api/v1/instruments?category={}&per_page=1",
                class["code"].as_str().unwrap()
            ))
            .await;
        assert_eq!(
            list["total"], class["instrument_count"],
            "{}",
            class["code"]
        );
    }
}

async fn a_class_code_selects_everything_beneath_it(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let class = app
        .json("/api/v1/instruments?category=010000&per_page=100")
        .await;
    assert!(class["total"].as_i64().unwrap() > 100);
    assert!(items(&class)
        .iter()
        .all(|i| i["category"]["code"].as_str().unwrap().starts_with("01")));
    let middle = app
        .json("/api/v1/instruments?category=010100&per_page=100")
        .await;
    assert!(middle["total"].as_i64().unwrap() > 0);
    assert!(middle["total"].as_i64() < class["total"].as_i64());
    assert!(items(&middle)
        .iter()
        .all(|i| i["category"]["code"].as_str().unwrap().starts_with("0101")));
    let leaf = app
        .json("/api/v1/instruments?category=010102&per_page=100")
        .await;
    assert!(items(&leaf)
        .iter()
        .all(|i| i["category"]["code"] == "010102"));
    assert!(items(&leaf)
        .iter()
        .all(|i| i["category"]["name"] == "扫描电镜"));
    assert!(leaf["total"].as_i64() <= middle["total"].as_i64());
}

async fn instrument_filters_combine(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let q = "/api/v1/instruments?category=010000&city=%E9%95%BF%E6%98%A5&share_mode=external&status=normal&per_page=100";
    let list = app.json(q).await;
    assert!(list["total"].as_i64().unwrap() > 0);
    for i in items(&list) {
        assert!(i["category"]["code"].as_str().unwrap().starts_with("01"));
        assert_eq!(i["city"], "长春");
        assert_eq!(i["share_mode"], "external");
        assert_eq!(i["run_status"], "normal");
    }
    let unit = app.json("/api/v1/instruments?unit=2&per_page=100").await;
    assert!(items(&unit).iter().all(|i| i["unit"]["id"] == 2));
    assert_eq!(
        unit["total"],
        app.json("/api/v1/units/2").await["instrument_count"]
    );
    let sub = app.json("/api/v1/sub-platforms/3").await;
    let by_sub = app
        .json("/api/v1/instruments?sub_platform=3&per_page=1")
        .await;
    assert_eq!(by_sub["total"], sub["instrument_count"]);
    let none = app
        .json("/api/v1/instruments?city=%E5%8C%97%E4%BA%AC")
        .await;
    assert_eq!(none["total"], 0);
    assert!(items(&none).is_empty());
}

async fn sorting_and_paging_never_overlap(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let by_value = app
        .json("/api/v1/instruments?sort=-original_value&per_page=100")
        .await;
    let values: Vec<i64> = items(&by_value)
        .iter()
        .map(|i| i["original_value_yuan"].as_i64().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]));

    let mut seen = std::collections::HashSet::new();
    for page in 1..=4 {
        let list = app
            .json(&format!(
                "/api/v1/instruments?category=010000&sort=name&per_page=25&page={page}"
            ))
            .await;
        for i in items(&list) {
            assert!(
                seen.insert(i["id"].as_i64().unwrap()),
                "row repeated across pages"
            );
        }
    }
    assert_eq!(seen.len(), 100);
    let past_end = app.json("/api/v1/instruments?page=1000").await;
    assert!(items(&past_end).is_empty());
    assert_eq!(past_end["total"], 1940);
}

async fn an_instrument_shows_every_national_field(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let first = &items(
        &app.json("/api/v1/instruments?category=010102&per_page=1")
            .await,
    )[0]
    .clone();
    let i = app
        .json(&format!("/api/v1/instruments/{}", first["id"]))
        .await;
    for field in [
        "name_zh",
        "name_en",
        "asset_no",
        "model",
        "manufacturer",
        "origin_country",
        "specs",
        "functions",
        "service_content",
        "sharing_rules",
        "fee_reference",
        "city",
        "address",
        "department",
    ] {
        assert!(
            !i[field].as_str().unwrap_or_default().is_empty(),
            "{field} is empty"
        );
    }
    assert_eq!(i["name_zh"], "场发射扫描电子显微镜");
    let path: Vec<&str> = i["category_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["010000", "010100", "010102"]);
    assert!(i["original_value_yuan"].as_i64().unwrap() >= 1_800_000);
    assert_eq!(
        i["original_value_yuan"].as_i64().unwrap() % 100,
        0,
        "万元 with two decimals"
    );
    assert!(i["in_service_on"].as_str().is_some());
    assert!(!i["contact"]["email"].as_str().unwrap().is_empty());
    let d = i["disciplines"].as_array().unwrap();
    assert!((1..=4).contains(&d.len()));
    for field in [
        "share_mode",
        "run_status",
        "funding_source",
        "acquisition",
        "purpose",
    ] {
        assert!(i[field].is_string(), "{field}");
    }
    assert_eq!(i["unit"]["id"], first["unit"]["id"]);
    assert!(!i["sub_platform"]["name"].as_str().unwrap().is_empty());
}

async fn bad_parameters_are_named_in_a_problem(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    for (query, field) in [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("category=01", "category"),
        ("category=123456", "category"),
        ("status=broken", "status"),
        ("share_mode=everyone", "share_mode"),
        ("sort=price", "sort"),
        ("unit=-3", "unit"),
        ("sub_platform=x", "sub_platform"),
        ("colour=red", "colour"),
        ("city=a&city=b", "city"),
    ] {
        let p = app
            .problem(&format!("/api/v1/instruments?{query}"), 400)
            .await;
        assert_eq!(p["field"], field, "{query}");
        assert_eq!(p["code"], "bad_request");
        assert!(
            p["detail"].as_str().unwrap().contains(field),
            "{query}: {p}"
        );
    }
    let p = app.problem("/api/v1/instruments/abc", 400).await;
    assert_eq!(p["field"], "id");
    let p = app.problem("/api/v1/instruments/99999999", 404).await;
    assert_eq!(p["code"], "not_found");
    app.problem("/api/v1/no-such-thing", 404).await;
    // Problems never leak SQL.
    let text = app
        .get("/api/v1/instruments/abc")
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.to_lowercase().contains("select"));
}

async fn health_ready_and_request_ids(db: TestDb) {
    let backend = db.backend;
    let app = TestApp::spawn(db.seeded()).await;
    assert_eq!(app.json("/health").await["status"], "ok");
    let ready = app.json("/ready").await;
    assert_eq!(ready["status"], "ready");
    let expected = match backend {
        yiqi::db::Backend::Sqlite => "sqlite",
        yiqi::db::Backend::Postgres => "postgres",
    };
    assert_eq!(ready["database"], expected);
    let a = app.get("/api/v1/stats").await;
    let b = app.get("/api/v1/stats").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&a).len(), 36);
    assert_ne!(id(&a), id(&b));
    // Errors carry one too, so a user's report can be found in the log.
    let c = app.get("/api/v1/units/0").await;
    assert!(c.headers().contains_key("x-request-id"));
}

async fn categories_match_the_shipped_classification(db: TestDb) {
    use diesel::prelude::*;
    use yiqi::db::schema::categories;
    let mut conn = db.connect();
    yiqi::db::migrate(&mut conn).unwrap();
    let rows: Vec<(String, Option<String>, String)> = categories::table
        .select((
            categories::code,
            categories::parent_code,
            categories::name_zh,
        ))
        .order(categories::code)
        .load(&mut conn)
        .unwrap();
    let mut csv: Vec<(String, Option<String>, String)> =
        include_str!("../../src/navigation/instrument_categories.csv")
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.trim_end_matches('\r').split(',').collect();
                let parent = (!f[1].is_empty()).then(|| f[1].to_owned());
                (f[0].to_owned(), parent, f[2].to_owned())
            })
            .collect();
    csv.sort();
    assert_eq!(csv.len(), 739);
    assert_eq!(rows, csv);
}

async fn the_demo_seed_is_deterministic(db: TestDb) {
    use diesel::prelude::*;
    use yiqi::db::schema::instruments;
    let other = TestDb::sqlite().seeded();
    let db = db.seeded();
    let sample = |db: &TestDb| -> Vec<(i64, String, String, i64, String)> {
        let mut conn = db.connect();
        instruments::table
            .select((
                instruments::id,
                instruments::name_zh,
                instruments::model,
                instruments::original_value_yuan,
                instruments::contact_name,
            ))
            .filter(instruments::id.eq_any([1_i64, 2, 500, 1234, 1940]))
            .order(instruments::id)
            .load(&mut conn)
            .unwrap()
    };
    let a = sample(&db);
    assert_eq!(a.len(), 5);
    // The same demo platform on every machine and on both backends.
    assert_eq!(a, sample(&other));
}

/// The demo is what a provincial centre would recognise: instruments that fit their unit,
/// departments such a unit has, addresses in the unit's own city, leaf categories, the
/// province's 2018 figures from records that could have happened.
async fn the_demo_looks_like_jilin(db: TestDb) {
    use chrono::Datelike;
    use diesel::prelude::*;
    use std::collections::{HashMap, HashSet};
    use yiqi::db::schema::{
        booking_settings as b, categories as c, instruments as i, organisations as o,
        service_records as r, units as u,
    };
    let db = db.seeded();
    let mut conn = db.connect();
    let parents: HashSet<String> = c::table
        .select(c::parent_code)
        .load::<Option<String>>(&mut conn)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let codes: HashSet<String> = c::table
        .select(c::code)
        .load(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    type Unit = (i64, String, String, String, String, String);
    let units: HashMap<i64, Unit> = u::table
        .select((
            u::id,
            u::name,
            u::kind,
            u::city,
            u::address,
            u::contact_phone,
        ))
        .load::<Unit>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|u| (u.0, u))
        .collect();
    assert_eq!(units.len(), 72);
    type Instrument = (
        i64,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<chrono::NaiveDate>,
        String,
    );
    let instruments: Vec<Instrument> = i::table
        .select((
            i::id,
            i::unit_id,
            i::category_code,
            i::city,
            i::address,
            i::department,
            i::manufacturer,
            i::origin_country,
            i::contact_phone,
            i::in_service_on,
            i::share_mode,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(instruments.len(), 1940);
    let area = |city: &str| match city {
        "长春" => "0431",
        "吉林" => "0432",
        "延边" => "0433",
        "四平" => "0434",
        "通化" => "0435",
        "白城" => "0436",
        "辽源" => "0437",
        "松原" => "0438",
        "白山" => "0439",
        other => panic!("{other} is not a city of Jilin"),
    };
    let place = |city: &str| match city {
        "延边" => "延边朝鲜族自治州延吉市".to_owned(),
        c => format!("{c}市"),
    };
    for (_, name, _, city, address, phone) in units.values() {
        assert!(
            address.starts_with(&format!("吉林省{}", place(city))),
            "{name}: {address}"
        );
        assert!(phone.starts_with(area(city)), "{name}: {phone}");
    }
    // Streets differ between cities: the demo does not put Jilin City on Changchun's avenues.
    for street in [
        "前进大街",
        "人民大街",
        "卫星路",
        "东南湖大路",
        "净月大街",
        "南湖大路",
    ] {
        for (_, name, _, city, address, _) in units.values() {
            if city != "长春" {
                assert!(
                    !address.contains(street),
                    "{name} in {city} is on {street}: {address}"
                );
            }
        }
    }
    let mut seen_categories = HashSet::new();
    for (id, unit, category, city, address, department, maker, country, phone, _, _) in &instruments
    {
        let (_, unit_name, kind, unit_city, unit_address, _) = &units[unit];
        assert!(
            codes.contains(category),
            "instrument {id}: {category} is not a national code"
        );
        assert!(
            !parents.contains(category),
            "instrument {id}: {category} is a class, not a leaf"
        );
        seen_categories.insert(category.clone());
        assert_eq!(city, unit_city, "instrument {id} of {unit_name}");
        assert!(
            address.starts_with(unit_address.as_str()),
            "instrument {id}: {address}"
        );
        assert!(phone.starts_with(area(city)), "instrument {id}: {phone}");
        if kind != "university" {
            assert!(
                !department.contains("学院"),
                "{unit_name} ({kind}) has a {department}"
            );
        }
        if maker.contains("Kratos") {
            assert_eq!(country, "英国", "Kratos Analytical is British");
        }
        // Medicine stays in hospitals; physics, electronics and computing stay out of them.
        let class = &category[..2];
        match kind.as_str() {
            "hospital" => assert!(
                !["02", "03", "04", "13", "14"].contains(&class),
                "{unit_name} holds instrument {id} of class {category}"
            ),
            _ => assert!(
                !["090199", "090202"].contains(&category.as_str()),
                "{unit_name} ({kind}) holds clinical instrument {id} ({category})"
            ),
        }
        if category == "030204" {
            assert_eq!(kind, "testing_body", "a fixed-point furnace at {unit_name}");
        }
    }
    assert!(
        seen_categories.len() >= 40,
        "only {} kinds of instrument",
        seen_categories.len()
    );
    // Every instrument is priced the way it is booked, and samples only where it takes them.
    let settings: HashMap<i64, (String, i64, i64)> = b::table
        .select((
            b::instrument_id,
            b::modes,
            b::own_hour_fen,
            b::own_sample_fen,
        ))
        .load::<(i64, String, i64, i64)>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(id, m, h, s)| (id, (m, h, s)))
        .collect();
    assert_eq!(settings.len(), 1940);
    for (id, (modes, hour, sample)) in &settings {
        assert_eq!(
            modes != "sample_order",
            *hour > 0,
            "instrument {id} ({modes}) at {hour} fen/h"
        );
        assert_eq!(
            modes != "machine_time",
            *sample > 0,
            "instrument {id} ({modes}) at {sample} fen/sample"
        );
    }
    let instrument: HashMap<i64, &Instrument> = instruments.iter().map(|x| (x.0, x)).collect();
    let org_unit: HashMap<i64, Option<i64>> = o::table
        .select((o::id, o::unit_id))
        .load::<(i64, Option<i64>)>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    type Record = (i64, chrono::NaiveDate, i32, String, Option<i64>, i32, bool);
    let records: Vec<Record> = r::table
        .select((
            r::instrument_id,
            r::served_on,
            r::sample_count,
            r::service_way,
            r::client_organisation_id,
            r::minutes,
            r::internal,
        ))
        .load(&mut conn)
        .unwrap();
    assert!(records.len() > 1000, "{} service records", records.len());
    let mut clients_2018 = HashSet::new();
    let (mut services_2018, mut minutes_2018) = (0, 0);
    for (id, day, samples, way, client, minutes, internal) in &records {
        let x = instrument[id];
        if let Some(start) = x.9 {
            assert!(
                *day >= start,
                "instrument {id} served on {day}, in service from {start}"
            );
        }
        if *samples > 0 || way == "entrusted" {
            assert_ne!(
                settings[id].0, "machine_time",
                "samples sent to instrument {id}"
            );
        }
        let client_unit = client.and_then(|c| org_unit[&c]);
        assert_eq!(
            *internal,
            client_unit == Some(x.1),
            "record on instrument {id}"
        );
        if !internal {
            assert_eq!(
                x.10, "external",
                "an outsider served on instrument {id} ({})",
                x.10
            );
        }
        if day.year() == 2018 {
            services_2018 += 1;
            minutes_2018 += minutes;
            clients_2018.insert(client.expect("a 2018 client"));
            assert!(!internal, "2018 services are to other units");
        }
    }
    assert_eq!(services_2018, 78);
    assert_eq!(clients_2018.len(), 24);
    assert_eq!(minutes_2018, 20_820 * 60);
}
