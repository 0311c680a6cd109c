//! CPU per search inside the process, without HTTP (run by hand):
//!   DATABASE_URL=sqlite://… cargo bench --bench search_query [-- INDEX_DIR]
//! The database is one `yiqi seed demo --scale N` made; the index is built from it in memory
//! (or opened from INDEX_DIR, built there on first use). Every query of the relevance set and
//! the HTTP benchmark's queries run 200 times each, one thread; the mean per query is printed,
//! slowest first, and the mean over all of them.

use std::sync::Arc;
use std::time::Instant;

use yiqi::config::SearchSettings;
use yiqi::db;
use yiqi::navigation::service::Categories;
use yiqi::search::index::Filters;
use yiqi::search::service::{FacetLabels, Search, SearchQuery};
use yiqi::types::PageRequest;

const ROUNDS: u32 = 200;

fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("DATABASE_URL: a database `yiqi seed demo` filled"))?;
    let dir = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut conn = db::connect(&url)?;
    let categories = Arc::new(Categories::load(&mut conn)?);
    let settings = SearchSettings {
        index_dir: dir.unwrap_or_default(),
        refresh_secs: 5,
        build_on_start: false,
        // What a search costs, not what remembering one saves.
        cache_entries: 0,
    };
    let search = Search::open(&settings, categories, yiqi::clock::system())?;
    if !search.is_built() {
        let start = Instant::now();
        let n = search.rebuild(&mut conn)?;
        println!("index built: {n} instruments in {:.1?}", start.elapsed());
    }
    let mut queries: Vec<String> = include_str!("../tests/data/search_relevance.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('|').next().map(|q| q.trim().to_owned()))
        .collect();
    queries.extend(["质谱", "扫描电镜 长春"].map(String::from));
    queries.sort();
    queries.dedup();
    let labels = FacetLabels::default();
    let mut times = Vec::new();
    let mut hits = 0;
    for q in &queries {
        let query = SearchQuery {
            q: Some(q.clone()),
            filters: Filters::default(),
            free: None,
            page: PageRequest {
                page: 1,
                per_page: 20,
            },
        };
        hits += search.query(&query, &labels)?.total;
        let start = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(search.query(&query, &labels)?);
        }
        times.push((start.elapsed() / ROUNDS, q));
    }
    times.sort_by_key(|t| std::cmp::Reverse(t.0));
    for (t, q) in times.iter().take(15) {
        println!("{:>9.1?}  {q}", t);
    }
    let mean = times.iter().map(|(t, _)| *t).sum::<std::time::Duration>() / times.len() as u32;
    println!(
        "{} queries ({hits} results in all): mean {mean:.1?} a query, slowest {:.1?}",
        times.len(),
        times[0].0
    );
    Ok(())
}
