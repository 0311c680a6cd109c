//! The index's life: built from the database (at start, or on the first search), kept current
//! from the change log, and asked.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::Query;
use tantivy::schema::Value;
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

use super::dictionary::{fold, Dictionary, TERMS};
use super::index::{self, Fields, Filters};
use super::store;
use crate::cache::Cache;
use crate::clock::SharedClock;
use crate::config::SearchSettings;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::navigation::model::{InstrumentSummary, ShareMode, UnitKind};
use crate::navigation::service::Categories;
use crate::state::AppState;
use crate::types::{InstrumentId, PageRequest, SubPlatformId};

/// Change-log rows are re-read this far back: on PostgreSQL a row with a smaller id can
/// commit after a larger one, and must not be skipped. Rows already applied are remembered.
const LOOKBACK: i64 = 1_000;
/// Results one may page through (a deeper page is refused rather than collected).
pub const MAX_RESULTS: i64 = 10_000;
/// Instruments the free-window filter checks at most (the best matches).
const MAX_FREE_CANDIDATES: usize = 500;
/// Instruments read from the database at a time while building.
const BATCH: i64 = 2_000;
const META_FILE: &str = "yiqi-index.json";
/// A kept result page is dropped when the index changes; this only bounds a quiet one's life.
const RESULTS_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// How much of a description the highlighter reads.
const SNIPPET_SOURCE_CHARS: usize = 1_000;

/// The search index of one instance. Cheap to clone.
#[derive(Clone)]
pub struct Search {
    inner: Arc<Inner>,
}

struct Inner {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    dictionary: Dictionary,
    categories: Arc<Categories>,
    dir: Option<PathBuf>,
    progress: Mutex<Progress>,
    /// Catalogue edits made through this instance that the index has caught up with.
    seen_edits: AtomicU64,
    /// Names, makers and dictionary words, folded and sorted, for suggestions.
    completions: Mutex<Vec<(String, String)>>,
    /// `refresh_secs = 0`: every search catches up from the database first.
    always_catch_up: bool,
    /// Pages already answered, made stale whenever the reader reloads. None: not kept.
    results: Option<Cache<SearchQuery, Arc<SearchPage>>>,
}

#[derive(Default)]
struct Progress {
    built: bool,
    last_change: i64,
    /// Change-log ids within LOOKBACK of `last_change` already applied.
    applied: BTreeSet<i64>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
struct Meta {
    schema_version: u32,
    dictionary: String,
    last_change: i64,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("search index: {e}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves data that is still consistent (tantivy's writer
    // rolls back what it did not commit), so the lock is taken over.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Search {
    /// Opens the index under `settings.index_dir` (or in memory when it is empty). An index
    /// written by another schema version or dictionary is discarded and built again.
    pub fn open(
        settings: &SearchSettings,
        categories: Arc<Categories>,
        clock: SharedClock,
    ) -> anyhow::Result<Search> {
        let (schema, fields) = index::schema();
        let dictionary = Dictionary::parse(TERMS);
        let wanted = |last_change| Meta {
            schema_version: index::SCHEMA_VERSION,
            dictionary: Dictionary::fingerprint(TERMS),
            last_change,
        };
        let mut progress = Progress::default();
        let (index, dir) = if settings.index_dir.is_empty() {
            (Index::create_in_ram(schema), None)
        } else {
            let dir = PathBuf::from(&settings.index_dir);
            std::fs::create_dir_all(&dir)?;
            let meta: Option<Meta> = std::fs::read(dir.join(META_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let current = meta.filter(|m| *m == wanted(m.last_change));
            let index = match current {
                Some(m) => match Index::open_in_dir(&dir) {
                    Ok(index) => {
                        progress.built = true;
                        progress.last_change = m.last_change;
                        index
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "search index unreadable: building it again");
                        fresh_dir(&dir, schema)?
                    }
                },
                None => fresh_dir(&dir, schema)?,
            };
            (index, Some(dir))
        };
        index::register_analyzer(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = index.writer_with_num_threads(1, 30_000_000)?;
        let search = Search {
            inner: Arc::new(Inner {
                fields,
                reader,
                writer: Mutex::new(writer),
                dictionary,
                categories,
                dir,
                progress: Mutex::new(progress),
                seen_edits: AtomicU64::new(0),
                completions: Mutex::new(Vec::new()),
                always_catch_up: settings.refresh_secs == 0,
                // The generation, not the age, says when a page is out of date.
                results: (settings.cache_entries > 0)
                    .then(|| Cache::new(RESULTS_TTL, settings.cache_entries, clock)),
            }),
        };
        if lock(&search.inner.progress).built {
            search.load_completions()?;
        }
        Ok(search)
    }

    pub fn dictionary(&self) -> &Dictionary {
        &self.inner.dictionary
    }

    /// Whether the index answers without building first.
    pub fn is_built(&self) -> bool {
        lock(&self.inner.progress).built
    }

    /// Whether this instance's edits since the last catch-up are in (then no database work is
    /// needed before answering).
    pub fn has_seen(&self, edits: u64) -> bool {
        !self.inner.always_catch_up
            && self.is_built()
            && self.inner.seen_edits.load(Ordering::SeqCst) >= edits
    }

    /// Builds the index from the database: every instrument in service.
    pub fn rebuild(&self, conn: &mut DbConnection) -> AppResult<usize> {
        let mut writer = lock(&self.inner.writer);
        self.rebuild_locked(conn, &mut writer)
    }

    fn rebuild_locked(
        &self,
        conn: &mut DbConnection,
        writer: &mut IndexWriter,
    ) -> AppResult<usize> {
        // Changes committed from here on are replayed by the next catch-up.
        let last_change = store::last_change(conn)?;
        writer.delete_all_documents().map_err(internal)?;
        let mut after = InstrumentId(0);
        let mut count = 0;
        loop {
            let rows = store::live_batch(conn, after, BATCH)?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            after = last.id;
            for (i, u) in &rows {
                let doc = index::document(&self.inner.fields, &self.inner.categories, i, u)
                    .map_err(internal)?;
                writer.add_document(doc).map_err(internal)?;
                count += 1;
            }
        }
        writer.commit().map_err(internal)?;
        // One segment: every query builds its scorers once instead of once per segment. Not
        // worth failing the build for: the segments answer as they are.
        let segments = writer.index().searchable_segment_ids().map_err(internal)?;
        if segments.len() > 1 {
            if let Err(e) = writer.merge(&segments).wait() {
                tracing::warn!(error = %e, "search index: segments not merged");
            }
        }
        self.reloaded()?;
        {
            let mut p = lock(&self.inner.progress);
            p.built = true;
            p.last_change = last_change;
            p.applied.clear();
        }
        self.write_meta(last_change)?;
        self.load_completions()?;
        tracing::info!(instruments = count, "search index built");
        Ok(count)
    }

    /// Applies the change log's new rows. `edits` is this instance's edit count read before
    /// the call, remembered once the changes up to it are in.
    pub fn catch_up(&self, conn: &mut DbConnection, edits: u64) -> AppResult<usize> {
        let mut writer = lock(&self.inner.writer);
        // Checked under the lock: requests that waited for a build do not build again.
        if !self.is_built() {
            let n = self.rebuild_locked(conn, &mut writer)?;
            self.inner.seen_edits.fetch_max(edits, Ordering::SeqCst);
            return Ok(n);
        }
        let from = lock(&self.inner.progress).last_change - LOOKBACK;
        let rows = store::changes_after(conn, from.max(0))?;
        // Rows at or below `last_change` that are not yet applied committed late (or come
        // right after a rebuild, which may have read before them): applying twice is harmless.
        let new: Vec<_> = {
            let p = lock(&self.inner.progress);
            rows.into_iter()
                .filter(|(id, _, _)| !p.applied.contains(id))
                .collect()
        };
        if new.is_empty() {
            self.inner.seen_edits.fetch_max(edits, Ordering::SeqCst);
            return Ok(0);
        }
        let mut ids: Vec<InstrumentId> = new.iter().filter_map(|(_, i, _)| *i).collect();
        let units: Vec<_> = new.iter().filter_map(|(_, _, u)| *u).collect();
        if !units.is_empty() {
            ids.extend(store::instruments_of_units(conn, &units)?);
        }
        ids.sort_unstable();
        ids.dedup();
        for id in &ids {
            writer.delete_term(Term::from_field_u64(self.inner.fields.id, id.0 as u64));
        }
        let live = store::live_of(conn, &ids)?;
        let mut names = Vec::new();
        for (i, u) in &live {
            let doc = index::document(&self.inner.fields, &self.inner.categories, i, u)
                .map_err(internal)?;
            writer.add_document(doc).map_err(internal)?;
            names.push(i.name_zh.clone());
        }
        writer.commit().map_err(internal)?;
        self.reloaded()?;
        let last = {
            let mut p = lock(&self.inner.progress);
            for (id, _, _) in &new {
                p.applied.insert(*id);
                p.last_change = p.last_change.max(*id);
            }
            let floor = p.last_change - LOOKBACK;
            p.applied = p.applied.split_off(&floor);
            p.last_change
        };
        drop(writer);
        self.write_meta(last)?;
        self.add_completions(names);
        self.inner.seen_edits.fetch_max(edits, Ordering::SeqCst);
        Ok(ids.len())
    }

    /// Makes the reader see the last commit, and the kept pages stale.
    fn reloaded(&self) -> AppResult<()> {
        self.inner.reader.reload().map_err(internal)?;
        if let Some(results) = &self.inner.results {
            results.invalidate();
        }
        Ok(())
    }

    fn write_meta(&self, last_change: i64) -> AppResult<()> {
        let Some(dir) = &self.inner.dir else {
            return Ok(());
        };
        let meta = Meta {
            schema_version: index::SCHEMA_VERSION,
            dictionary: Dictionary::fingerprint(TERMS),
            last_change,
        };
        let bytes = serde_json::to_vec(&meta).map_err(internal)?;
        std::fs::write(dir.join(META_FILE), bytes).map_err(internal)
    }

    fn load_completions(&self) -> AppResult<()> {
        let searcher = self.inner.reader.searcher();
        let mut names = Vec::new();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(64).map_err(internal)?;
            for doc in store.iter::<TantivyDocument>(segment.alive_bitset()) {
                let doc = doc.map_err(internal)?;
                if let Some(s) = summary_of(&self.inner.fields, &doc) {
                    names.push(s.name_zh);
                    names.push(s.manufacturer);
                }
            }
        }
        let mut all: Vec<(String, String)> = Vec::new();
        for word in self.inner.dictionary.words() {
            all.push((fold(word), word.to_owned()));
        }
        for n in names {
            // "日立 Hitachi" offers both of its names.
            for part in std::iter::once(n.as_str()).chain(n.split(' ')) {
                if !part.is_empty() {
                    all.push((fold(part), part.to_owned()));
                }
            }
        }
        all.sort();
        all.dedup_by(|a, b| a.0 == b.0);
        *lock(&self.inner.completions) = all;
        Ok(())
    }

    fn add_completions(&self, names: Vec<String>) {
        let mut c = lock(&self.inner.completions);
        for n in names {
            let key = fold(&n);
            if let Err(at) = c.binary_search_by(|(k, _)| k.as_str().cmp(key.as_str())) {
                c.insert(at, (key, n));
            }
        }
    }

    /// Up to `limit` words that begin with what was typed: names, makers, abbreviations.
    pub fn suggest(&self, q: &str, limit: usize) -> Vec<String> {
        let key = fold(q);
        if key.is_empty() {
            return Vec::new();
        }
        let c = lock(&self.inner.completions);
        let start = c.partition_point(|(k, _)| k.as_str() < key.as_str());
        c[start..]
            .iter()
            .take_while(|(k, _)| k.starts_with(&key))
            .map(|(_, w)| w.clone())
            .take(limit)
            .collect()
    }

    /// The words of the query the index can look up; input without any (only symbols) browses.
    fn words<'q>(&self, q: &'q SearchQuery) -> Option<&'q str> {
        let (f, d) = (&self.inner.fields, &self.inner.dictionary);
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| index::text_query(f, d, t, false).is_some())
    }

    /// The best `limit` bookable instruments for the query, best first: the candidates the
    /// free-window filter asks the database about.
    pub fn candidates(&self, q: &SearchQuery, limit: usize) -> AppResult<Vec<InstrumentId>> {
        let f = &self.inner.fields;
        let searcher = self.inner.reader.searcher();
        let filters = Filters {
            bookable: true,
            ..q.filters.clone()
        };
        let queries: Vec<Box<dyn Query>> = match self.words(q) {
            None => vec![index::filtered(f, None, &filters)],
            Some(t) => [false, true]
                .into_iter()
                .map(|loose| {
                    let text = index::text_query(f, &self.inner.dictionary, t, loose);
                    index::filtered(f, text, &filters)
                })
                .collect(),
        };
        for query in queries {
            let hits = searcher
                .search(&query, &TopDocs::with_limit(limit).order_by_score())
                .map_err(internal)?;
            if hits.is_empty() {
                continue;
            }
            let mut ids = Vec::with_capacity(hits.len());
            for (_, address) in hits {
                let segment = searcher.segment_reader(address.segment_ord);
                let column = segment
                    .fast_fields()
                    .u64("id")
                    .map_err(internal)?
                    .first_or_default_col(0);
                ids.push(InstrumentId(column.get_val(address.doc_id) as i64));
            }
            return Ok(ids);
        }
        Ok(Vec::new())
    }

    /// Runs a query against the index (no database work), or answers it as before when the
    /// index has not changed since. A page of the free-window filter is never kept: bookings
    /// change it without touching the index.
    pub fn query(&self, q: &SearchQuery, labels: &FacetLabels) -> AppResult<SearchPage> {
        let results = self
            .inner
            .results
            .as_ref()
            .filter(|_| q.filters.only.is_none());
        let page = match results {
            None => Arc::new(self.compute(q)?),
            Some(results) => match results.fresh(q) {
                Some(page) => page,
                None => {
                    // Read before the searcher: a reload meanwhile leaves the page stale.
                    let generation = results.generation();
                    let page = Arc::new(self.compute(q)?);
                    results.put_computed(q.clone(), page.clone(), generation);
                    page
                }
            },
        };
        let mut page = SearchPage::clone(&page);
        // Named here, not in the kept page: the names live in the catalogue, not the index.
        for c in &mut page.facets.sub_platform {
            if let Some(name) = c
                .value
                .parse()
                .ok()
                .and_then(|id: i64| labels.sub_platforms.get(&SubPlatformId(id)))
            {
                c.label = name.clone();
            }
        }
        Ok(page)
    }

    fn compute(&self, q: &SearchQuery) -> AppResult<SearchPage> {
        let f = &self.inner.fields;
        let text = self.words(q);
        let searcher = self.inner.reader.searcher();
        let offset = q.page.offset();
        if offset + q.page.per_page > MAX_RESULTS {
            return Err(AppError::bad_request(
                "page",
                format!(
                    "最多可翻看前 {MAX_RESULTS} 条结果 (at most the first {MAX_RESULTS} results)"
                ),
            ));
        }
        let facets = || {
            let mut c = FacetCollector::for_field("facets");
            for root in [
                "/category",
                "/city",
                "/sub_platform",
                "/unit_kind",
                "/share_mode",
            ] {
                c.add_facet(root);
            }
            c
        };
        let top = || TopDocs::with_limit(q.page.per_page as usize).and_offset(offset as usize);
        let mut matched_all = true;
        let (hits, total, counts, query): (Vec<(f32, DocAddress)>, usize, _, Box<dyn Query>) =
            match text {
                None => {
                    let query = index::filtered(f, None, &q.filters);
                    let (hits, total, counts) = searcher
                        .search(
                            &query,
                            &(top().order_by_u64_field("id", Order::Asc), Count, facets()),
                        )
                        .map_err(internal)?;
                    let hits = hits.into_iter().map(|(_, a)| (0.0, a)).collect();
                    (hits, total, counts, query)
                }
                Some(t) => {
                    let strict = index::text_query(f, &self.inner.dictionary, t, false);
                    let query = index::filtered(f, strict, &q.filters);
                    let (hits, total, counts) = searcher
                        .search(&query, &(ranked(top()), Count, facets()))
                        .map_err(internal)?;
                    if total > 0 {
                        (hits, total, counts, query)
                    } else {
                        // Nothing has every word: the instruments with most of them.
                        matched_all = false;
                        let loose = index::text_query(f, &self.inner.dictionary, t, true);
                        let query = index::filtered(f, loose, &q.filters);
                        let (hits, total, counts) = searcher
                            .search(&query, &(ranked(top()), Count, facets()))
                            .map_err(internal)?;
                        (hits, total, counts, query)
                    }
                }
            };
        let snippets = text.map(|_| (highlighter(&*query, f.name), highlighter(&*query, f.body)));
        let mut items = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let doc: TantivyDocument = searcher.doc(address).map_err(internal)?;
            let Some(instrument) = summary_of(f, &doc) else {
                continue;
            };
            let highlights = match &snippets {
                Some((name, body)) => {
                    let name = html(name.snippet_from_doc(&doc));
                    // The description's words say why a result is there when its name does
                    // not; tokenising it costs a sixth of a search, so only then.
                    let body = match name {
                        Some(_) => None,
                        None => doc
                            .get_first(f.body)
                            .and_then(|v| v.as_str())
                            .and_then(|t| html(body.snippet(prefix(t, SNIPPET_SOURCE_CHARS)))),
                    };
                    Highlights { name, body }
                }
                None => Highlights::default(),
            };
            items.push(SearchHit {
                instrument,
                score,
                highlights,
            });
        }
        let facet = |root: &str, label: &dyn Fn(&str) -> String| -> Vec<FacetCount> {
            let mut v: Vec<FacetCount> = counts
                .get(root)
                .map(|(facet, count)| {
                    let value = facet
                        .to_path()
                        .last()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    FacetCount {
                        label: label(&value),
                        value,
                        count,
                    }
                })
                .filter(|c| !c.value.is_empty())
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        };
        let categories = &self.inner.categories;
        let facets = SearchFacets {
            category: facet("/category", &|v| categories.name(v)),
            city: facet("/city", &|v| v.to_owned()),
            sub_platform: facet("/sub_platform", &|v| v.to_owned()),
            unit_kind: facet("/unit_kind", &|v| {
                UnitKind::from_code(v).map_or_else(|| v.to_owned(), |k| k.label_zh().to_owned())
            }),
            share_mode: facet("/share_mode", &|v| {
                ShareMode::from_code(v).map_or_else(|| v.to_owned(), |k| k.label_zh().to_owned())
            }),
        };
        let did_you_mean = match text {
            Some(t) if total == 0 => self.did_you_mean(t),
            _ => None,
        };
        Ok(SearchPage {
            items,
            total: total as i64,
            page: q.page.page,
            per_page: q.page.per_page,
            matched_all,
            facets,
            did_you_mean,
        })
    }

    /// The dictionary word or indexed name nearest to each unknown word of `q`.
    fn did_you_mean(&self, q: &str) -> Option<String> {
        let c = lock(&self.inner.completions);
        let mut changed = false;
        // A few short words at most: each is compared with every known word.
        let words: Vec<String> = fold(q)
            .split_whitespace()
            .take(5)
            .filter(|w| w.chars().count() <= 30)
            .map(|w| {
                let limit = if w.chars().count() > 6 { 2 } else { 1 };
                let best = c
                    .iter()
                    .filter(|(k, _)| k.chars().count().abs_diff(w.chars().count()) <= limit)
                    .map(|(k, display)| (levenshtein(k, w), display))
                    .filter(|(d, _)| *d > 0 && *d <= limit)
                    .min_by_key(|(d, _)| *d);
                match best {
                    Some((_, display)) => {
                        changed = true;
                        display.clone()
                    }
                    None => w.to_owned(),
                }
            })
            .collect();
        changed.then(|| words.join(" "))
    }
}

/// Answers a search: first catching up with edits made through this instance (so an edit is
/// found at once where it was made), then asking the index without the database.
pub async fn search(state: &AppState, mut q: SearchQuery) -> AppResult<SearchPage> {
    fresh(state).await?;
    if let Some((from, to)) = q.free {
        let search = state.search.clone();
        let rules = state.booking_rules.clone();
        let now = state.clock.now();
        let query = q.clone();
        let free = crate::db::run(&state.pool, move |conn| {
            let ids = search.candidates(&query, MAX_FREE_CANDIDATES)?;
            crate::reservations::availability::free_for_window(conn, &rules, &ids, from, to, now)
        })
        .await?;
        q.filters.only = Some(free);
    }
    let counts = state.catalogue.counts(&state.pool).await?;
    let labels = FacetLabels {
        sub_platforms: counts
            .sub_platforms
            .iter()
            .map(|s| (s.id, s.name.clone()))
            .collect(),
    };
    let search = state.search.clone();
    actix_web::web::block(move || search.query(&q, &labels)).await?
}

pub async fn suggest(state: &AppState, q: String) -> AppResult<Vec<String>> {
    fresh(state).await?;
    Ok(state.search.suggest(&q, 10))
}

async fn fresh(state: &AppState) -> AppResult<()> {
    let edits = state.catalogue.edits();
    if state.search.has_seen(edits) {
        return Ok(());
    }
    let search = state.search.clone();
    crate::db::run(&state.pool, move |conn| {
        search.catch_up(conn, edits).map(|_| ())
    })
    .await
}

fn fresh_dir(dir: &std::path::Path, schema: tantivy::schema::Schema) -> anyhow::Result<Index> {
    // Only the index's own files live here; a stale index is replaced whole.
    std::fs::remove_dir_all(dir)?;
    std::fs::create_dir_all(dir)?;
    Ok(Index::create_in_dir(dir, schema)?)
}

/// Relevance, with instruments one can actually use (shared externally, running normally)
/// counted [`index::GOOD_FACTOR`] times.
fn ranked(top: TopDocs) -> impl tantivy::collector::Collector<Fruit = Vec<(f32, DocAddress)>> {
    top.tweak_score(|segment: &tantivy::SegmentReader| {
        let good = segment
            .fast_fields()
            .u64("good")
            .ok()
            .map(|c| c.first_or_default_col(0));
        move |doc: tantivy::DocId, score: f32| match &good {
            Some(g) if g.get_val(doc) == 1 => score * index::GOOD_FACTOR,
            _ => score,
        }
    })
}

fn summary_of(f: &Fields, doc: &TantivyDocument) -> Option<InstrumentSummary> {
    let json = doc.get_first(f.summary)?.as_str()?;
    serde_json::from_str(json).ok()
}

/// Marks the query's words of `field` in a result's stored text.
fn highlighter(query: &dyn Query, field: tantivy::schema::Field) -> SnippetGenerator {
    let mut terms = std::collections::BTreeMap::new();
    query.query_terms(&mut |term, _| {
        if term.field() == field {
            if let Some(text) = term.value().as_str() {
                terms.insert(text.to_owned(), 1.0);
            }
        }
    });
    SnippetGenerator::new(
        terms,
        tantivy::tokenizer::TextAnalyzer::from(index::FieldTokenizer::forward()),
        field,
        150,
    )
}

/// The first `n` characters of `s`: a match further into a description is not shown.
fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(at, _)| &s[..at])
}

fn html(s: tantivy::snippet::Snippet) -> Option<String> {
    (!s.highlighted().is_empty()).then(|| s.to_html())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// A search as the handlers parse it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub filters: Filters,
    /// Only instruments one could book for the whole of this window.
    pub free: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub page: PageRequest,
}

impl SearchQuery {
    /// A search as asked (the API's parameters, the web page's form): the category checked
    /// against the classification, and a free window asked only of bookable instruments.
    pub fn new(
        categories: &Categories,
        q: Option<String>,
        filters: Filters,
        free: Option<(DateTime<Utc>, DateTime<Utc>)>,
        page: PageRequest,
    ) -> AppResult<SearchQuery> {
        if let Some(code) = &filters.category {
            categories.filter(code)?;
        }
        Ok(SearchQuery {
            q,
            filters: Filters {
                only: None,
                bookable: free.is_some(),
                ..filters
            },
            free,
            page,
        })
    }
}

/// Names shown beside facet values that the index keeps as ids.
#[derive(Debug, Default)]
pub struct FacetLabels {
    pub sub_platforms: HashMap<SubPlatformId, String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// False when no instrument has every word and these have most of them.
    pub matched_all: bool,
    pub facets: SearchFacets,
    /// For no results: the query with its words replaced by the nearest known ones.
    pub did_you_mean: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub instrument: InstrumentSummary,
    pub score: f32,
    pub highlights: Highlights,
}

/// The matched words in `<b>…</b>`, the rest HTML-escaped.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Highlights {
    pub name: Option<String>,
    /// From the description (its first 1,000 characters), when the name has none of the words.
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchFacets {
    /// Top classes of the national classification.
    pub category: Vec<FacetCount>,
    pub city: Vec<FacetCount>,
    pub sub_platform: Vec<FacetCount>,
    pub unit_kind: Vec<FacetCount>,
    pub share_mode: Vec<FacetCount>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub label: String,
    pub count: u64,
}
