//! Navigation rules: how filters are read, how the category tree is counted, and the
//! catalogue figures, which are cached for a few seconds because every page shows them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::model::*;
use super::store;
use crate::auth::{authorize, Action, Principal};
use crate::cache::Cache;
use crate::clock::SharedClock;
use crate::db::{self, DbConnection, Pool};
use crate::error::{AppError, AppResult};
use crate::params::query_params;
use crate::types::{InstrumentId, PageRequest, Paged, SubPlatformId, UnitId, Yuan};

/// The national classification, loaded once at start (it changes only with a migration).
pub struct Categories {
    by_code: HashMap<String, Category>,
    /// Codes in order, classes before their children's codes.
    codes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
}

impl Categories {
    pub fn load(conn: &mut DbConnection) -> AppResult<Categories> {
        let rows = store::categories(conn)?;
        let codes = rows.iter().map(|(code, _, _)| code.clone()).collect();
        let by_code = rows
            .into_iter()
            .map(|(code, parent, name)| (code.clone(), Category { code, parent, name }))
            .collect();
        Ok(Categories { by_code, codes })
    }

    pub fn get(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code)
    }

    pub fn name(&self, code: &str) -> String {
        self.get(code)
            .map_or_else(|| code.to_owned(), |c| c.name.clone())
    }

    pub fn reference(&self, code: &str) -> CategoryRef {
        CategoryRef {
            code: code.to_owned(),
            name: self.name(code),
        }
    }

    /// The chain from the class down to `code`.
    pub fn path(&self, code: &str) -> Vec<CategoryRef> {
        let mut path = Vec::new();
        let mut next = self.get(code);
        while let Some(c) = next {
            path.push(self.reference(&c.code));
            next = c.parent.as_deref().and_then(|p| self.get(p));
        }
        path.reverse();
        path
    }

    /// The 15 top classes.
    pub fn classes(&self) -> Vec<&Category> {
        self.codes
            .iter()
            .filter_map(|c| self.get(c))
            .filter(|c| c.parent.is_none())
            .collect()
    }

    /// Reads a `category` parameter: a class (AA0000) or middle class (AABB00) selects
    /// everything beneath it. The code must exist in the classification.
    pub fn filter(&self, code: &str) -> AppResult<CategoryFilter> {
        let valid = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        if !valid || self.get(code).is_none() {
            return Err(AppError::bad_request(
                "category",
                format!("category={code} is not a 6-digit code of the national classification"),
            ));
        }
        Ok(if code.ends_with("0000") {
            CategoryFilter::Class(code.to_owned())
        } else if code.ends_with("00") {
            CategoryFilter::Middle(code.to_owned())
        } else {
            CategoryFilter::Exact(code.to_owned())
        })
    }

    /// The tree with the number of instruments under every node.
    pub fn tree(&self, leaf_counts: &HashMap<String, i64>) -> Vec<CategoryNode> {
        let mut children: HashMap<&str, Vec<&Category>> = HashMap::new();
        for code in &self.codes {
            if let Some(c) = self.get(code) {
                if let Some(p) = &c.parent {
                    children.entry(p.as_str()).or_default().push(c);
                }
            }
        }
        fn build(
            c: &Category,
            children: &HashMap<&str, Vec<&Category>>,
            counts: &HashMap<String, i64>,
        ) -> CategoryNode {
            let kids: Vec<CategoryNode> = children
                .get(c.code.as_str())
                .map(|ks| ks.iter().map(|k| build(k, children, counts)).collect())
                .unwrap_or_default();
            let own = counts.get(&c.code).copied().unwrap_or(0);
            CategoryNode {
                code: c.code.clone(),
                name: c.name.clone(),
                instrument_count: own + kids.iter().map(|k| k.instrument_count).sum::<i64>(),
                children: kids,
            }
        }
        self.classes()
            .into_iter()
            .map(|c| build(c, &children, leaf_counts))
            .collect()
    }
}

query_params! {
    /// The query of `GET /api/v1/units`.
    pub struct UnitListParams {
        /// sub-platform id
        sub_platform: id(SubPlatformId),
        /// city name, e.g. 长春
        city: text(20),
        /// unit kind
        kind: code(UnitKind),
        /// paging
        page: page,
    }
}

impl UnitListParams {
    pub fn filter(&self) -> UnitFilter {
        UnitFilter {
            sub_platform: self.sub_platform,
            city: self.city.clone(),
            kind: self.kind,
        }
    }
}

query_params! {
    /// The query of `GET /api/v1/instruments` and of the instrument list page.
    pub struct InstrumentListParams {
        /// host unit id
        unit: id(UnitId),
        /// sub-platform id
        sub_platform: id(SubPlatformId),
        /// 6-digit category code; AA0000 a class, AABB00 a middle class
        category: text(6),
        /// city name, e.g. 长春
        city: text(20),
        /// share mode
        share_mode: code(ShareMode),
        /// run status
        status: code(RunStatus),
        /// the order of the list (default `id`)
        sort: code(InstrumentSort),
        /// paging
        page: page,
    }
}

/// A parsed instrument-list request.
pub struct InstrumentQuery {
    pub filter: InstrumentFilter,
    pub sort: InstrumentSort,
    pub page: PageRequest,
}

impl InstrumentQuery {
    pub fn from_params(
        p: InstrumentListParams,
        categories: &Categories,
    ) -> AppResult<InstrumentQuery> {
        let category = match &p.category {
            Some(code) => Some(categories.filter(code)?),
            None => None,
        };
        Ok(InstrumentQuery {
            filter: InstrumentFilter {
                unit: p.unit,
                sub_platform: p.sub_platform,
                category,
                city: p.city,
                share_mode: p.share_mode,
                status: p.status,
            },
            sort: p.sort.unwrap_or(InstrumentSort::Id),
            page: p.page,
        })
    }
}

/// Figures shown on every overview, computed together by grouped queries.
#[derive(Debug)]
pub struct CatalogueCounts {
    pub sub_platforms: Vec<SubPlatform>,
    /// The category tree with counts, and the same as JSON: the tree is the largest
    /// navigation answer, so it is serialized once per refresh rather than per request.
    pub category_tree: Vec<CategoryNode>,
    pub category_tree_json: actix_web::web::Bytes,
    pub cities: Vec<(String, i64)>,
    pub stats: PlatformStats,
}

fn load_counts(conn: &mut DbConnection, categories: &Categories) -> AppResult<CatalogueCounts> {
    let units: HashMap<SubPlatformId, i64> = store::unit_counts_by_sub_platform(conn)?
        .into_iter()
        .collect();
    let instruments: HashMap<SubPlatformId, i64> = store::instrument_counts_by_sub_platform(conn)?
        .into_iter()
        .collect();
    let sub_platforms: Vec<SubPlatform> = store::sub_platforms(conn)?
        .into_iter()
        .map(|row| SubPlatform {
            id: row.id,
            unit_count: units.get(&row.id).copied().unwrap_or(0),
            instrument_count: instruments.get(&row.id).copied().unwrap_or(0),
            name: row.name,
            description: row.description,
        })
        .collect();
    let (unit_total, instrument_total, value) = store::totals(conn)?;
    let leaf_counts: HashMap<String, i64> = store::instrument_counts_by_category(conn)?
        .into_iter()
        .collect();
    let category_tree = categories.tree(&leaf_counts);
    let category_tree_json = serde_json::to_vec(&category_tree)
        .map_err(AppError::internal)?
        .into();
    Ok(CatalogueCounts {
        stats: PlatformStats {
            sub_platforms: sub_platforms.len() as i64,
            units: unit_total,
            instruments: instrument_total,
            original_value_yuan: Yuan(value),
        },
        sub_platforms,
        category_tree,
        category_tree_json,
        cities: store::instrument_cities(conn)?,
    })
}

/// The navigation module's state: the classification and the cached figures.
#[derive(Clone)]
pub struct Catalogue {
    pub categories: Arc<Categories>,
    counts: Cache<(), Arc<CatalogueCounts>>,
    /// Totals of filtered instrument lists, by filter.
    totals: Cache<String, i64>,
    /// Edits committed through this instance: the search index catches up before answering
    /// when it has seen fewer, so an edit is found at once where it was made.
    edits: Arc<std::sync::atomic::AtomicU64>,
}

/// Filters remembered at most; past it the map starts afresh (hot filters return at once).
const MAX_CACHED_TOTALS: usize = 10_000;

impl Catalogue {
    pub fn load(
        conn: &mut DbConnection,
        counts_ttl: Duration,
        clock: SharedClock,
    ) -> AppResult<Catalogue> {
        Ok(Catalogue {
            categories: Arc::new(Categories::load(conn)?),
            counts: Cache::new(counts_ttl, 1, clock.clone()),
            totals: Cache::new(counts_ttl, MAX_CACHED_TOTALS, clock),
            edits: Arc::default(),
        })
    }

    /// The figures, refreshed every `counts_ttl` (a few grouped queries over the whole
    /// catalogue) and after a change made here; while one request recomputes them the
    /// others are served the previous figures.
    pub async fn counts(&self, pool: &Pool) -> AppResult<Arc<CatalogueCounts>> {
        let (categories, pool) = (self.categories.clone(), pool.clone());
        self.counts
            .get_or_compute((), 0, move || {
                let (categories, pool) = (categories.clone(), pool.clone());
                async move {
                    Ok(Arc::new(
                        db::run(&pool, move |conn| load_counts(conn, &categories)).await?,
                    ))
                }
            })
            .await
    }

    /// Makes the cached figures and totals stale after a change to the catalogue made by
    /// this instance (other instances catch up within `counts_ttl`). Called by the editing
    /// services once their transaction has committed.
    pub fn invalidate(&self) {
        self.counts.invalidate();
        self.totals.invalidate();
        self.edits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many edits have committed through this instance.
    pub fn edits(&self) -> u64 {
        self.edits.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub async fn sub_platform(&self, pool: &Pool, id: SubPlatformId) -> AppResult<SubPlatform> {
        self.counts(pool)
            .await?
            .sub_platforms
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or(AppError::NotFound {
                what: "sub-platform",
            })
    }
}

/// What running an instrument asks of a person: its unit's administrator or its manager.
pub fn run_action(inst: &InstrumentRow) -> Action {
    Action::RunInstrument {
        unit: inst.unit_id,
        instrument: inst.id,
    }
}

/// Instrument `id`, if `who` may run it (else 403). One that does not exist is `missing()`: a
/// 404 for an id in the path, a 422 naming the field for one in a body.
pub fn instrument_to_run(
    conn: &mut DbConnection,
    who: &Principal,
    id: InstrumentId,
    missing: impl FnOnce() -> AppError,
) -> AppResult<InstrumentRow> {
    let inst = store::find_instrument(conn, id)?.ok_or_else(missing)?;
    authorize(who, run_action(&inst))?;
    Ok(inst)
}

/// The error for an instrument id given in a request body that names none.
pub fn no_such_instrument() -> AppError {
    AppError::invalid("instrument_id", "没有这台仪器 (no such instrument)")
}

fn unit_from_row(
    row: UnitRow,
    sub_platform_name: String,
    instrument_count: i64,
) -> AppResult<Unit> {
    let kind = row.kind;
    Ok(Unit {
        id: row.id,
        sub_platform: SubPlatformRef {
            id: row.sub_platform_id,
            name: sub_platform_name,
        },
        name: row.name,
        short_name: row.short_name,
        kind,
        city: row.city,
        address: row.address,
        contact_name: row.contact_name,
        contact_phone: row.contact_phone,
        contact_email: row.contact_email,
        website: row.website,
        description: row.description,
        instrument_count,
    })
}

/// A page of units with their sub-platform names and instrument counts (three queries).
pub fn list_units(
    conn: &mut DbConnection,
    f: &UnitFilter,
    page: PageRequest,
) -> AppResult<Paged<Unit>> {
    let (rows, total) = store::list_units(conn, f, page)?;
    let unit_ids: Vec<UnitId> = rows.iter().map(|r| r.id).collect();
    let mut sp_ids: Vec<SubPlatformId> = rows.iter().map(|r| r.sub_platform_id).collect();
    sp_ids.sort_unstable();
    sp_ids.dedup();
    let counts: HashMap<UnitId, i64> = store::instrument_counts_for_units(conn, &unit_ids)?
        .into_iter()
        .collect();
    let names: HashMap<SubPlatformId, String> = store::sub_platform_names(conn, &sp_ids)?
        .into_iter()
        .collect();
    let items = rows
        .into_iter()
        .map(|row| {
            let sp = names.get(&row.sub_platform_id).cloned().unwrap_or_default();
            let n = counts.get(&row.id).copied().unwrap_or(0);
            unit_from_row(row, sp, n)
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Paged::new(items, total, page))
}

pub fn get_unit(conn: &mut DbConnection, id: UnitId) -> AppResult<Unit> {
    let row = store::find_unit(conn, id)?.ok_or(AppError::NotFound { what: "unit" })?;
    let sp = store::sub_platform_names(conn, &[row.sub_platform_id])?
        .pop()
        .map(|(_, name)| name)
        .unwrap_or_default();
    let count = store::instrument_counts_for_units(conn, &[id])?
        .pop()
        .map_or(0, |(_, n)| n);
    unit_from_row(row, sp, count)
}

/// A page of instruments; the total comes from the catalogue's short-lived cache when the
/// same filter was counted within `counts_ttl` (counting is the dearest part of a page).
pub fn list_instruments(
    conn: &mut DbConnection,
    catalogue: &Catalogue,
    q: &InstrumentQuery,
) -> AppResult<Paged<InstrumentSummary>> {
    let rows = store::instrument_page(conn, &q.filter, q.sort, q.page)?;
    let key = format!("{:?}", q.filter);
    let total = match catalogue.totals.fresh(&key) {
        Some(total) => total,
        None => {
            let generation = catalogue.totals.generation();
            let total = store::count_instruments(conn, &q.filter)?;
            catalogue.totals.put_computed(key, total, generation);
            total
        }
    };
    let items = rows
        .into_iter()
        .map(|(r, unit_name)| {
            Ok(InstrumentSummary {
                id: r.id,
                share_mode: r.share_mode,
                run_status: r.run_status,
                category: catalogue.categories.reference(&r.category_code),
                unit: UnitRef {
                    id: r.unit_id,
                    name: unit_name,
                },
                name_zh: r.name_zh,
                name_en: r.name_en,
                model: r.model,
                manufacturer: r.manufacturer,
                city: r.city,
                original_value_yuan: Yuan(r.original_value_yuan),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Paged::new(items, total, q.page))
}

pub fn get_instrument(
    conn: &mut DbConnection,
    categories: &Categories,
    id: InstrumentId,
) -> AppResult<Instrument> {
    let r = store::find_instrument(conn, id)?.ok_or(AppError::NotFound { what: "instrument" })?;
    let unit = store::find_unit(conn, r.unit_id)?.ok_or(AppError::NotFound { what: "unit" })?;
    let sp_name = store::sub_platform_names(conn, &[unit.sub_platform_id])?
        .pop()
        .map(|(_, n)| n)
        .unwrap_or_default();
    let disciplines: Vec<String> = serde_json::from_str(&r.disciplines).map_err(|e| {
        AppError::internal(anyhow::anyhow!(
            "instrument {id} disciplines are not JSON: {e}"
        ))
    })?;
    Ok(Instrument {
        id: r.id,
        share_mode: r.share_mode,
        run_status: r.run_status,
        funding_source: r.funding_source,
        acquisition: r.acquisition,
        purpose: r.purpose,
        category_path: categories.path(&r.category_code),
        unit: UnitRef {
            id: unit.id,
            name: unit.name,
        },
        sub_platform: SubPlatformRef {
            id: unit.sub_platform_id,
            name: sp_name,
        },
        disciplines,
        name_zh: r.name_zh,
        name_en: r.name_en,
        asset_no: r.asset_no,
        model: r.model,
        manufacturer: r.manufacturer,
        origin_country: r.origin_country,
        in_service_on: r.in_service_on,
        listed_on: r.listed_on,
        original_value_yuan: Yuan(r.original_value_yuan),
        specs: r.specs,
        functions: r.functions,
        service_content: r.service_content,
        sharing_rules: r.sharing_rules,
        fee_reference: r.fee_reference,
        city: r.city,
        address: r.address,
        department: r.department,
        contact: Contact {
            name: r.contact_name,
            phone: r.contact_phone,
            email: r.contact_email,
        },
        photo_url: r.photo_url,
        retired_at: r.retired_at.map(|t| t.and_utc()),
    })
}
