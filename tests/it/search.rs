//! Search (信息检索) through the real HTTP server, on both backends: relevance on the demo
//! platform, hostile input, and an index that follows edits on this instance and another.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::{settings, TestApp, TestDb};
use serde_json::{json, Value};
use yiqi::clock::ManualClock;
use yiqi::types::PLATFORM_ZONE;

/// Shanghai wall time in November 2026.
fn sh(d: u32, h: u32) -> DateTime<Utc> {
    PLATFORM_ZONE
        .with_ymd_and_hms(2026, 11, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let rfc = |t: DateTime<Utc>| url_encode(&t.with_timezone(&PLATFORM_ZONE).to_rfc3339());
    format!("&free_from={}&free_to={}", rfc(from), rfc(to))
}

on_both_backends!(
    the_words_people_type_find_the_instrument,
    exact_names_and_shared_instruments_rank_first,
    filters_and_facets_agree,
    any_input_gives_results_or_a_named_error,
    an_edit_is_found_at_once_and_a_retired_instrument_never,
    another_instance_finds_an_edit_from_the_database,
    a_catch_up_over_the_whole_catalogue_applies_every_change,
    suggestions_complete_names_makers_and_abbreviations,
    a_free_window_keeps_the_instruments_one_could_book_then,
    the_list_page_is_the_search_page,
    a_long_description_is_highlighted_without_failing,
);

fn search_path(q: &str, rest: &str) -> String {
    let q: String = url_encode(q);
    format!("/api/v1/search?q={q}{rest}")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().expect("items")
}

/// Results that have every word of the query (the rest are the "most of the words" fallback).
fn all_words(v: &Value) -> i64 {
    if v["matched_all"] == true {
        v["total"].as_i64().unwrap()
    } else {
        0
    }
}

async fn the_words_people_type_find_the_instrument(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let set = include_str!("../data/search_relevance.txt");
    let mut total = 0;
    let mut misses = Vec::new();
    for line in set
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (q, expected) = line.split_once('|').expect("query | expected");
        let (q, expected) = (q.trim(), expected.trim());
        total += 1;
        let found = app.json(&search_path(q, "&per_page=5")).await;
        let hit = items(&found).iter().any(|i| {
            i["name_zh"].as_str().unwrap_or("").contains(expected)
                || i["manufacturer"].as_str().unwrap_or("").contains(expected)
        });
        if !hit {
            let top: Vec<&str> = items(&found)
                .iter()
                .map(|i| i["name_zh"].as_str().unwrap_or(""))
                .collect();
            misses.push(format!("{q} → wanted {expected}, got {top:?}"));
        }
    }
    assert!(total >= 50, "{total} queries in the set");
    let rate = (total - misses.len()) as f64 / total as f64;
    println!(
        "search relevance: {}/{total} in the top 5 ({:.1} %); misses: {misses:#?}",
        total - misses.len(),
        rate * 100.0
    );
    assert!(rate >= 0.9, "hit rate {rate:.3} below 0.9: {misses:#?}");
}

async fn exact_names_and_shared_instruments_rank_first(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    // The exact name comes before instruments that only mention its words.
    let found = app.json(&search_path("原子力显微镜", "&per_page=3")).await;
    assert_eq!(items(&found)[0]["name_zh"], "原子力显微镜", "{found}");
    // Among instruments of one name, those shared externally and running normally first.
    let found = app.json(&search_path("扫描电镜", "&per_page=100")).await;
    let good = |i: &Value| i["share_mode"] == "external" && i["run_status"] == "normal";
    let list = items(&found);
    let twins: Vec<&Value> = list
        .iter()
        .filter(|i| i["name_zh"] == list[0]["name_zh"])
        .collect();
    let first_other = twins
        .iter()
        .position(|i| !good(i))
        .expect("some not shared");
    assert!(first_other > 0);
    assert!(
        twins[first_other..].iter().all(|i| !good(i)),
        "a shared, running instrument ranks below a twin that is not"
    );
    // A score accompanies every result, in descending order; the matched words are marked.
    let scores: Vec<f64> = list.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(list[0]["highlights"]["name"]
        .as_str()
        .unwrap()
        .contains("<b>"));
}

async fn filters_and_facets_agree(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let all = app.json(&search_path("质谱", "")).await;
    let total = all["total"].as_i64().unwrap();
    assert!(total > 20, "{total}");
    // Each facet's counts add up to the total, and following one gives its count.
    for name in [
        "city",
        "share_mode",
        "unit_kind",
        "sub_platform",
        "category",
    ] {
        let facet = all["facets"][name].as_array().unwrap();
        let sum: i64 = facet.iter().map(|f| f["count"].as_i64().unwrap()).sum();
        assert_eq!(sum, total, "{name}: {facet:?}");
        assert!(facet
            .iter()
            .all(|f| !f["label"].as_str().unwrap().is_empty()));
    }
    let city = &all["facets"]["city"][0];
    let narrowed = app
        .json(&search_path(
            "质谱",
            &format!("&city={}", url_encode(city["value"].as_str().unwrap())),
        ))
        .await;
    assert_eq!(narrowed["total"], city["count"]);
    assert!(items(&narrowed).iter().all(|i| i["city"] == city["value"]));
    // Filters alone browse, in the catalogue's order.
    let browse = app
        .json("/api/v1/search?share_mode=external&category=010000&per_page=5")
        .await;
    let ids: Vec<i64> = items(&browse)
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert!(items(&browse).iter().all(|i| i["share_mode"] == "external"
        && i["category"]["code"].as_str().unwrap().starts_with("01")));
    let catalogue = app
        .json("/api/v1/instruments?share_mode=external&category=010000&per_page=5")
        .await;
    assert_eq!(browse["total"], catalogue["total"]);
    // A category that is not a code of the classification is named.
    let p = app.problem("/api/v1/search?category=999999", 400).await;
    assert_eq!(p["field"], "category");
}

async fn any_input_gives_results_or_a_named_error(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    for q in [
        "\"扫描电镜",
        "(NMR]",
        "SEM AND TEM",
        "NOT 质谱",
        "OR",
        "*",
        "name_zh:电镜",
        "a:b:c",
        "😀🔬",
        "电镜\u{7}\u{1b}",
        "+-&&||!(){}[]^\"~*?:\\/",
        "　ＳＥＭ　",
    ] {
        let res = app.get(&search_path(q, "")).await;
        assert_eq!(res.status(), 200, "q={q:?}");
        let v: Value = res.json().await.unwrap();
        assert!(v["total"].as_i64().is_some(), "q={q:?}: {v}");
    }
    // Full-width letters typed with a Chinese input method are the same word.
    let full = app.json(&search_path("ＳＥＭ", "&per_page=1")).await;
    let half = app.json(&search_path("SEM", "&per_page=1")).await;
    assert_eq!(full["total"], half["total"]);
    // Too long a query is refused, naming q; so is a page past what can be paged.
    let p = app.problem(&search_path(&"a".repeat(201), ""), 400).await;
    assert_eq!(p["field"], "q");
    let p = app.problem(&search_path(&"电".repeat(1000), ""), 400).await;
    assert_eq!(p["field"], "q");
    let p = app
        .problem(&search_path("SEM", "&page=1000&per_page=100"), 400)
        .await;
    assert_eq!(p["field"], "page");
    // No match at all offers the nearest known words.
    let none = app.json(&search_path("spectrometerz", "")).await;
    if none["total"] == 0 {
        assert!(none["did_you_mean"].is_string(), "{none}");
    }
    let none = app.json(&search_path("zzqqxx", "")).await;
    assert_eq!(none["total"], 0);
    assert!(none["did_you_mean"].is_null());
}

async fn an_edit_is_found_at_once_and_a_retired_instrument_never(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let admin = app.token("admin@yiqi.demo").await;
    // Search once so the index exists before the edit.
    assert_eq!(
        all_words(&app.json(&search_path("量子纠缠显微镜", "")).await),
        0
    );
    let first = &items(&app.json("/api/v1/instruments?per_page=1").await)[0].clone();
    let id = first["id"].as_i64().unwrap();
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&admin),
            Some(json!({"name_zh": "量子纠缠显微镜", "model": "QE-9000"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let found = app.json(&search_path("量子纠缠显微镜", "")).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(items(&found)[0]["id"], id);
    assert_eq!(app.json(&search_path("qe9000", "")).await["total"], 1);
    // A unit renamed is found under its new name.
    let unit = first["unit"]["id"].as_i64().unwrap();
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/units/{unit}"),
            Some(&admin),
            Some(json!({"name": "长白山仪器共享研究院"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let found = app.json(&search_path("长白山仪器共享研究院", "")).await;
    assert!(found["total"].as_i64().unwrap() >= 1, "{found}");
    assert!(items(&found)
        .iter()
        .all(|i| i["unit"]["name"] == "长白山仪器共享研究院"));
    // Retired, it is gone from search.
    let (status, body) = app
        .post(
            &format!("/api/v1/instruments/{id}/retire"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        all_words(&app.json(&search_path("量子纠缠显微镜", "")).await),
        0
    );
}

async fn another_instance_finds_an_edit_from_the_database(db: TestDb) {
    // Both instances catch up from the database before each search (refresh_secs = 0): the
    // second learns of the edit only through the change log.
    let configure = |db: &TestDb| {
        let mut s = settings(db);
        s.search.refresh_secs = 0;
        s
    };
    let a = TestApp::spawn_with(db.seeded(), configure).await;
    let b = TestApp::spawn_with(a.db.alias(), configure).await;
    assert_eq!(
        all_words(&b.json(&search_path("等离子体刻蚀显微镜", "")).await),
        0
    );
    let admin = a.token("admin@yiqi.demo").await;
    let id = items(&a.json("/api/v1/instruments?per_page=1&page=7").await)[0]["id"]
        .as_i64()
        .unwrap();
    let (status, body) = a
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&admin),
            Some(json!({"name_zh": "等离子体刻蚀显微镜"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let found = b.json(&search_path("等离子体刻蚀显微镜", "")).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(items(&found)[0]["id"], id);
}

async fn a_catch_up_over_the_whole_catalogue_applies_every_change(db: TestDb) {
    // An import changes every instrument at once: the catch-up asks the database about them
    // in several statements (SQLite refuses more than 32,766 values in one).
    use diesel::RunQueryDsl;
    let app = TestApp::spawn_with(db.seeded(), |db| {
        let mut s = settings(db);
        s.search.refresh_secs = 0;
        s
    })
    .await;
    assert_eq!(all_words(&app.json(&search_path("BULK1937", "")).await), 0);
    let mut conn = app.db.connect();
    for sql in [
        "UPDATE instruments SET model = 'BULK' || id",
        "INSERT INTO catalogue_changes (instrument_id, changed_at) \
         SELECT id, CURRENT_TIMESTAMP FROM instruments",
    ] {
        diesel::sql_query(sql).execute(&mut conn).expect(sql);
    }
    for id in [1, 1000, 1937] {
        let found = app.json(&search_path(&format!("BULK{id}"), "")).await;
        assert_eq!(found["total"], 1, "{found}");
        assert_eq!(items(&found)[0]["id"], id);
    }
}

async fn suggestions_complete_names_makers_and_abbreviations(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let words = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_owned())
            .collect()
    };
    let s = words(
        app.json("/api/v1/search/suggest?q=%E6%89%AB%E6%8F%8F")
            .await,
    );
    assert!(s.iter().any(|w| w.starts_with("扫描")), "{s:?}");
    assert!(s.len() <= 10);
    let s = words(app.json("/api/v1/search/suggest?q=zei").await);
    assert!(s.iter().any(|w| w.eq_ignore_ascii_case("zeiss")), "{s:?}");
    let s = words(app.json("/api/v1/search/suggest?q=ICP").await);
    assert!(s.iter().any(|w| w == "ICP-MS"), "{s:?}");
    assert!(words(app.json("/api/v1/search/suggest?q=").await).is_empty());
    let p = app
        .problem(&format!("/api/v1/search/suggest?q={}", "a".repeat(51)), 400)
        .await;
    assert_eq!(p["field"], "q");
}

async fn a_free_window_keeps_the_instruments_one_could_book_then(db: TestDb) {
    // Friday 27 November, 10:00; the window is Monday 30 November, 10:00 to 11:00.
    let clock = ManualClock::at(sh(27, 10));
    let app = TestApp::spawn_full(db.seeded(), clock.clone(), None).await;
    let first = app.json("/api/v1/instruments?unit=1&per_page=1").await["items"][0].clone();
    let id = first["id"].as_i64().unwrap();
    let unit_admin = app.token("unit-admin@yiqi.demo").await;
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/instruments/{id}"),
            Some(&unit_admin),
            Some(json!({"share_mode": "external", "run_status": "normal"})),
        )
        .await;
    assert_eq!(status, 200);
    let name = first["name_zh"].as_str().unwrap();
    let ids =
        |v: &Value| -> Vec<i64> { items(v).iter().map(|i| i["id"].as_i64().unwrap()).collect() };
    let monday = window(sh(30, 10), sh(30, 11));
    let free = app
        .json(&search_path(name, &format!("&unit=1&per_page=100{monday}")))
        .await;
    assert!(ids(&free).contains(&id), "{free}");
    assert!(items(&free).iter().all(|i| i["share_mode"] != "none"));
    assert_eq!(free["total"].as_i64().unwrap(), ids(&free).len() as i64);
    // Booked, it is no longer free then, and the rest still are.
    let researcher = app.token("researcher@yiqi.demo").await;
    let rfc = |t: DateTime<Utc>| t.with_timezone(&PLATFORM_ZONE).to_rfc3339();
    let (status, r) = app
        .post(
            "/api/v1/reservations",
            Some(&researcher),
            json!({"instrument_id": id, "kind": "machine_time", "starts_at": rfc(sh(30, 10)), "ends_at": rfc(sh(30, 11)), "purpose": "表征"}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let after = app
        .json(&search_path(name, &format!("&unit=1&per_page=100{monday}")))
        .await;
    assert!(!ids(&after).contains(&id), "{after}");
    assert_eq!(ids(&after).len() + 1, ids(&free).len());
    // A window in the past is free nowhere; half a window is named.
    let past = window(sh(20, 10), sh(20, 11));
    assert_eq!(app.json(&search_path(name, &past)).await["total"], 0);
    let p = app
        .problem(
            &format!(
                "/api/v1/search?q=SEM&free_from={}",
                url_encode(&rfc(sh(30, 10)))
            ),
            400,
        )
        .await;
    assert_eq!(p["field"], "free_to");
    let p = app
        .problem(&search_path("SEM", &window(sh(30, 11), sh(30, 10))), 400)
        .await;
    assert_eq!(p["field"], "free_to");
}

async fn the_list_page_is_the_search_page(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let page = |path: String| {
        let app = &app;
        async move {
            let res = app.get(&path).await;
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // Every page's header has the search box, with suggestions as one types.
    let (status, home) = page("/".into()).await;
    assert_eq!(status, 200);
    assert!(home.contains(r#"id="header-q""#) && home.contains(r#"hx-get="/search/_suggest""#));
    let (status, options) = page("/search/_suggest?q=zei".into()).await;
    assert_eq!(status, 200);
    assert!(options.contains(r#"<option value="Zeiss">"#), "{options}");
    // Words make the list a ranked search, the matched words marked, facets as links.
    let (status, html) = page(format!("/instruments?q={}", url_encode("扫描电镜"))).await;
    assert_eq!(status, 200);
    assert!(html.contains("<b>扫描</b>"), "no highlight");
    assert!(html.contains(r#"id="facets""#) && html.contains("category=010000"));
    // A facet link narrows it, keeping the words.
    let (status, narrowed) = page(format!(
        "/instruments?q={}&city={}",
        url_encode("扫描电镜"),
        url_encode("长春")
    ))
    .await;
    assert_eq!(status, 200);
    assert!(
        narrowed.contains(r#"class="on">长春"#),
        "the chosen facet is marked"
    );
    // The free window is picked in Beijing time; a time that is not one is named.
    let (status, free) =
        page("/instruments?q=SEM&free_day=2026-12-07&free_start=10:00&free_end=11:00".to_owned())
            .await;
    assert_eq!(status, 200);
    assert!(free.contains(r#"id="free-note""#));
    let (status, bad) =
        page("/instruments?q=SEM&free_day=2026-12-07&free_start=25:00".into()).await;
    assert_eq!(status, 422);
    assert!(
        bad.contains("free_start") || bad.contains("请选择时间"),
        "{bad}"
    );
    // No match offers the nearest words; no words keeps the catalogue's list.
    let (_, none) = page("/instruments?q=spectrometerzz".into()).await;
    assert!(none.contains(r#"id="did-you-mean""#));
    let (status, list) = page("/instruments".into()).await;
    assert_eq!(status, 200);
    assert!(list.contains("仪器目录"));
}

async fn a_long_description_is_highlighted_without_failing(db: TestDb) {
    // Jieba's search mode gives a word's pieces before the word itself; a highlight window
    // that starts on a piece must not make the search fail (it answered 500).
    let app = TestApp::spawn(db.seeded()).await;
    let admin = app.token("admin@yiqi.demo").await;
    let id = items(&app.json("/api/v1/instruments?unit=1&per_page=1").await)[0]["id"]
        .as_i64()
        .unwrap();
    for n in 40..=52 {
        let text = format!("{}电子显微镜观察", "样".repeat(n));
        let (status, body) = app
            .call(
                "PATCH",
                &format!("/api/v1/instruments/{id}"),
                Some(&admin),
                Some(json!({ "functions": text })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        for q in ["电子显微镜", "电镜", "显微镜"] {
            let res = app.get(&search_path(q, "&unit=1&per_page=100")).await;
            assert_eq!(res.status(), 200, "n={n} q={q}");
        }
    }
}
