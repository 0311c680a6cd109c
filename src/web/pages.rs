//! Page handlers: read the same parameters as the API, call the navigation service, render.

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use askama::Template;

use super::html;
use super::PageResult;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::navigation::model::{CategoryFilter, InstrumentFilter, InstrumentSort, UnitFilter};
use crate::navigation::model::{
    Instrument, InstrumentSummary, RunStatus, ShareMode, SubPlatform, Unit,
};
use crate::navigation::service::{self, CatalogueCounts, InstrumentListParams, InstrumentQuery};
use crate::params::path_id;
use crate::state::AppState;
use crate::types::{PageRequest, Paged};
use chrono::{DateTime, TimeZone, Utc};

/// Links to the previous and next page that keep every other parameter.
pub struct Pager {
    pub page: i64,
    pub page_count: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new<T>(req: &HttpRequest, list: &Paged<T>) -> Pager {
        Pager::at(req.path(), req.query_string(), list)
    }

    /// The pager of the list at `path?query` (a list drawn again after a post to elsewhere).
    pub fn at<T>(path: &str, query: &str, list: &Paged<T>) -> Pager {
        let link = |page: i64| address_with(path, query, "page", &page.to_string());
        let page_count = list.page_count().max(1);
        Pager {
            page: list.page,
            page_count,
            total: list.total,
            prev: (list.page > 1).then(|| link(list.page - 1)),
            next: (list.page < page_count).then(|| link(list.page + 1)),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    counts: Arc<CatalogueCounts>,
    /// (kind, heading, latest): notices and news, pinned first.
    columns: Vec<(
        &'static str,
        &'static str,
        Vec<crate::publishing::model::Article>,
    )>,
}

#[tracing::instrument(name = "web.home", skip_all)]
pub async fn home(state: web::Data<AppState>) -> PageResult {
    use crate::publishing::model::ArticleKind;
    let counts = state.catalogue.counts(&state.pool).await?;
    let now = state.clock.now();
    let columns = db::run(&state.pool, move |c| {
        [ArticleKind::Notice, ArticleKind::News]
            .into_iter()
            .map(|kind| {
                let list = crate::publishing::service::latest(
                    c,
                    crate::publishing::store::Listing::Platform,
                    kind,
                    now,
                    6,
                )?;
                Ok((kind.code(), kind.label_zh(), list))
            })
            .collect::<Result<Vec<_>, AppError>>()
    })
    .await?;
    html(&HomePage { counts, columns })
}

#[derive(Template)]
#[template(path = "sub_platform.html")]
struct SubPlatformPage {
    sub_platform: SubPlatform,
    units: Paged<Unit>,
    pager: Pager,
    /// Its latest published articles.
    articles: Vec<crate::publishing::model::Article>,
}

#[tracing::instrument(name = "web.sub_platform", skip_all, fields(id = %id))]
pub async fn sub_platform(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let id = path_id(&id)?;
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let sub_platform = state.catalogue.sub_platform(&state.pool, id).await?;
    let filter = UnitFilter {
        sub_platform: Some(id),
        ..UnitFilter::default()
    };
    let now = state.clock.now();
    let (units, articles) = db::run(&state.pool, move |conn| {
        let units = service::list_units(conn, &filter, page)?;
        let articles = crate::publishing::service::list(
            conn,
            crate::publishing::store::Listing::SubPlatform(id),
            &crate::publishing::store::Filter::default(),
            now,
            ARTICLES_ON_A_PAGE,
        )?;
        Ok((units, articles.items))
    })
    .await?;
    let pager = Pager::new(&req, &units);
    html(&SubPlatformPage {
        sub_platform,
        units,
        pager,
        articles,
    })
}

#[derive(Template)]
#[template(path = "unit.html")]
struct UnitPage {
    unit: Unit,
    instruments: Paged<InstrumentSummary>,
    pager: Pager,
    /// Its latest articles, published or sent to the platform.
    articles: Vec<crate::publishing::model::Article>,
}

/// The latest articles a unit's or a sub-platform's page lists.
const ARTICLES_ON_A_PAGE: crate::types::PageRequest = crate::types::PageRequest {
    page: 1,
    per_page: 5,
};

#[tracing::instrument(name = "web.unit", skip_all, fields(id = %id))]
pub async fn unit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let id = path_id(&id)?;
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let query = InstrumentQuery {
        filter: InstrumentFilter {
            unit: Some(id),
            ..InstrumentFilter::default()
        },
        sort: InstrumentSort::Id,
        page,
    };
    let st = state.clone();
    let now = state.clock.now();
    let (unit, instruments, articles) = db::run(&state.pool, move |conn| {
        let unit = service::get_unit(conn, id)?;
        let list = service::list_instruments(conn, &st.catalogue, &query)?;
        let articles = crate::publishing::service::list(
            conn,
            crate::publishing::store::Listing::Unit(id),
            &crate::publishing::store::Filter::default(),
            now,
            ARTICLES_ON_A_PAGE,
        )?;
        Ok((unit, list, articles.items))
    })
    .await?;
    let pager = Pager::new(&req, &instruments);
    html(&UnitPage {
        unit,
        instruments,
        pager,
        articles,
    })
}

/// One choice of a filter menu.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices<'a>(
    items: impl Iterator<Item = (String, String)> + 'a,
    current: Option<&'a str>,
) -> Vec<Choice> {
    items
        .map(|(value, label)| Choice {
            selected: current == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "instruments.html")]
struct InstrumentsPage {
    instruments: Paged<InstrumentSummary>,
    pager: Pager,
    categories: Vec<Choice>,
    subcategories: Vec<Choice>,
    cities: Vec<Choice>,
    share_modes: Vec<Choice>,
    statuses: Vec<Choice>,
    sorts: Vec<Choice>,
    sub_platforms: Vec<Choice>,
}

crate::params::query_params! {
    /// The instrument list page: the catalogue's filters, and a search when words or a free
    /// window are given (one page for both).
    pub struct InstrumentPageParams {
        /// the words searched for
        q: text(200),
        /// host unit id
        unit: id(crate::types::UnitId),
        /// sub-platform id
        sub_platform: id(crate::types::SubPlatformId),
        /// 6-digit category code
        category: text(6),
        /// city name
        city: text(20),
        /// share mode
        share_mode: code(ShareMode),
        /// kind of host unit (a search facet)
        unit_kind: code(crate::navigation::model::UnitKind),
        /// run status
        status: code(RunStatus),
        /// the order of the list
        sort: code(InstrumentSort),
        /// the day of the free window, Beijing time
        free_day: date,
        /// its start, HH:MM Beijing time
        free_start: text(5),
        /// its end, HH:MM Beijing time
        free_end: text(5),
        /// paging
        page: page,
    }
}

/// A free window typed as a day and two times of day in Beijing time.
fn free_window(p: &InstrumentPageParams) -> AppResult<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    let Some(day) = p.free_day else {
        return Ok(None);
    };
    let time = |field: &str, v: &Option<String>, default: &str| -> AppResult<DateTime<Utc>> {
        let v = v.as_deref().filter(|v| !v.is_empty()).unwrap_or(default);
        let t = chrono::NaiveTime::parse_from_str(v, "%H:%M")
            .map_err(|_| AppError::invalid(field, "请选择时间 (a time of day, HH:MM)"))?;
        crate::types::PLATFORM_ZONE
            .from_local_datetime(&day.and_time(t))
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AppError::invalid(field, "没有这个时间 (no such time)"))
    };
    let from = time("free_start", &p.free_start, "09:00")?;
    let to = time("free_end", &p.free_end, "17:00")?;
    crate::reservations::availability::check_window(from, to, "free_end")?;
    Ok(Some((from, to)))
}

/// The current address with `key` set to `value` (and back to page 1).
fn with_param(req: &HttpRequest, key: &str, value: &str) -> String {
    address_with(req.path(), req.query_string(), key, value)
}

/// `path?query` with `key` set to `value` (and back to page 1).
fn address_with(path: &str, query: &str, key: &str, value: &str) -> String {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.retain(|(k, v)| k != key && k != "page" && !v.is_empty());
    pairs.push((key.to_owned(), value.to_owned()));
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

/// A facet value as a link that narrows the search.
pub struct FacetLink {
    pub label: String,
    pub count: u64,
    pub href: String,
    pub selected: bool,
}

pub struct FacetGroup {
    pub title: &'static str,
    pub links: Vec<FacetLink>,
}

/// One search result as the list shows it.
pub struct Hit {
    pub i: InstrumentSummary,
    /// The name with the matched words in `<b>`, escaped by the index.
    pub name_html: Option<String>,
    pub body_html: Option<String>,
    /// With a free window: the booking form filled in with it.
    pub book_href: Option<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchResultsPage {
    q: String,
    hits: Vec<Hit>,
    total: i64,
    matched_all: bool,
    facets: Vec<FacetGroup>,
    did_you_mean: Option<(String, String)>,
    free_day: String,
    free_start: String,
    free_end: String,
    free: bool,
    pager: Pager,
    /// Published articles with the words (first page only): (their list's address, a few).
    articles: Option<(String, Paged<crate::publishing::model::Article>)>,
}

/// Articles the search page shows above the instruments.
const ARTICLES_IN_SEARCH: i64 = 5;

async fn search_page(state: &AppState, req: &HttpRequest, p: InstrumentPageParams) -> PageResult {
    let free = free_window(&p)?;
    let query = crate::search::service::SearchQuery::new(
        &state.catalogue.categories,
        p.q.clone(),
        crate::search::index::Filters {
            sub_platform: p.sub_platform,
            unit: p.unit,
            category: p.category.clone(),
            city: p.city.clone(),
            share_mode: p.share_mode,
            unit_kind: p.unit_kind,
            ..Default::default()
        },
        free,
        p.page,
    )?;
    let found = crate::search::service::search(state, query).await?;
    let facet = |title: &'static str,
                 key: &str,
                 list: &[crate::search::service::FacetCount],
                 chosen: Option<String>| FacetGroup {
        title,
        links: list
            .iter()
            .take(12)
            .map(|f| FacetLink {
                label: f.label.clone(),
                count: f.count,
                href: with_param(req, key, &f.value),
                selected: chosen.as_deref() == Some(f.value.as_str()),
            })
            .collect(),
    };
    let facets = vec![
        facet(
            "类别",
            "category",
            &found.facets.category,
            p.category.clone(),
        ),
        facet("地区", "city", &found.facets.city, p.city.clone()),
        facet(
            "子平台",
            "sub_platform",
            &found.facets.sub_platform,
            p.sub_platform.map(|v| v.to_string()),
        ),
        facet(
            "单位类型",
            "unit_kind",
            &found.facets.unit_kind,
            p.unit_kind.map(|v| v.code().to_owned()),
        ),
        facet(
            crate::words::SHARE_MODE,
            "share_mode",
            &found.facets.share_mode,
            p.share_mode.map(|v| v.code().to_owned()),
        ),
    ];
    // Pages past the deepest one the search pages through are not offered.
    let pageable = found.total.min(crate::search::service::MAX_RESULTS);
    let paged = Paged::new(Vec::<()>::new(), pageable, p.page);
    let pager = Pager::new(req, &paged);
    let book_link = free.map(|(from, to)| {
        let local = |t: DateTime<Utc>| t.with_timezone(&crate::types::PLATFORM_ZONE);
        serde_urlencoded::to_string([
            ("date", local(from).format("%Y-%m-%d").to_string()),
            ("start", local(from).format("%H:%M").to_string()),
            ("end", local(to).format("%H:%M").to_string()),
        ])
        .unwrap_or_default()
    });
    let did_you_mean = found.did_you_mean.map(|d| (with_param(req, "q", &d), d));
    let articles = match p.q.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() && p.page.page == 1 => {
            let filter = crate::publishing::store::Filter::search(None, Some(q));
            let now = state.clock.now();
            let page = PageRequest {
                page: 1,
                per_page: ARTICLES_IN_SEARCH,
            };
            let list = db::run(&state.pool, move |c| {
                crate::publishing::service::list(
                    c,
                    crate::publishing::store::Listing::Platform,
                    &filter,
                    now,
                    page,
                )
            })
            .await?;
            let href = format!(
                "/articles?{}",
                serde_urlencoded::to_string([("q", q)]).unwrap_or_default()
            );
            (list.total > 0).then_some((href, list))
        }
        _ => None,
    };
    html(&SearchResultsPage {
        articles,
        q: p.q.unwrap_or_default(),
        hits: found
            .items
            .into_iter()
            .map(|h| Hit {
                book_href: book_link
                    .as_ref()
                    .map(|q| format!("/instruments/{}/book?{q}", h.instrument.id)),
                i: h.instrument,
                name_html: h.highlights.name,
                body_html: h.highlights.body,
            })
            .collect(),
        total: found.total,
        matched_all: found.matched_all,
        facets,
        did_you_mean,
        free_day: p.free_day.map(|d| d.to_string()).unwrap_or_default(),
        free_start: p.free_start.unwrap_or_default(),
        free_end: p.free_end.unwrap_or_default(),
        free: free.is_some(),
        pager,
    })
}

/// Completions for the header's search box, as `<option>`s of its datalist.
#[tracing::instrument(name = "web.search_suggest", skip_all)]
pub async fn search_suggest(state: web::Data<AppState>, req: HttpRequest) -> PageResult {
    let q = crate::search::handlers::SuggestParams::parse_known(req.query_string())?
        .q
        .unwrap_or_default();
    let words = crate::search::service::suggest(&state, q).await?;
    html(&SuggestFragment { words })
}

#[derive(Template)]
#[template(path = "_suggest.html")]
struct SuggestFragment {
    words: Vec<String>,
}

#[tracing::instrument(name = "web.instruments", skip_all)]
pub async fn instruments(state: web::Data<AppState>, req: HttpRequest) -> PageResult {
    let page_params = InstrumentPageParams::parse_known(req.query_string())?;
    let searching = page_params
        .q
        .as_deref()
        .is_some_and(|q| !q.trim().is_empty())
        || page_params.free_day.is_some()
        || page_params.unit_kind.is_some();
    if searching {
        return search_page(&state, &req, page_params).await;
    }
    let params = InstrumentListParams {
        unit: page_params.unit,
        sub_platform: page_params.sub_platform,
        category: page_params.category,
        city: page_params.city,
        share_mode: page_params.share_mode,
        status: page_params.status,
        sort: page_params.sort,
        page: page_params.page,
    };
    let query = InstrumentQuery::from_params(params, &state.catalogue.categories)?;
    let counts = state.catalogue.counts(&state.pool).await?;

    // The class menu shows the chosen class; the second menu its middle classes.
    let (class, middle) = match &query.filter.category {
        Some(CategoryFilter::Class(c)) => (Some(c.clone()), None),
        Some(CategoryFilter::Middle(c)) | Some(CategoryFilter::Exact(c)) => (
            Some(format!("{}0000", &c[..2])),
            Some(format!("{}00", &c[..4])),
        ),
        None => (None, None),
    };
    let tree = &counts.category_tree;
    let subcategories = tree
        .iter()
        .find(|n| Some(&n.code) == class.as_ref())
        .map(|n| {
            choices(
                n.children.iter().map(|c| {
                    (
                        c.code.clone(),
                        format!("{}（{}）", c.name, c.instrument_count),
                    )
                }),
                middle.as_deref(),
            )
        })
        .unwrap_or_default();
    let categories = choices(
        tree.iter().map(|n| {
            (
                n.code.clone(),
                format!("{}（{}）", n.name, n.instrument_count),
            )
        }),
        class.as_deref(),
    );
    let cities = choices(
        counts
            .cities
            .iter()
            .map(|(c, n)| (c.clone(), format!("{c}（{n}）"))),
        query.filter.city.as_deref(),
    );
    let share_modes = choices(
        ShareMode::ALL
            .iter()
            .map(|m| (m.code().to_owned(), m.label_zh().to_owned())),
        query.filter.share_mode.map(|m| m.code()),
    );
    let statuses = choices(
        RunStatus::ALL
            .iter()
            .map(|m| (m.code().to_owned(), m.label_zh().to_owned())),
        query.filter.status.map(|m| m.code()),
    );
    let sorts = choices(
        InstrumentSort::ALL
            .iter()
            .map(|m| (m.code().to_owned(), m.label_zh().to_owned())),
        Some(query.sort.code()),
    );
    let sub_platform = query.filter.sub_platform.map(|id| id.to_string());
    let sub_platforms = choices(
        counts
            .sub_platforms
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone())),
        sub_platform.as_deref(),
    );
    let st = state.clone();
    let instruments = db::run(&state.pool, move |conn| {
        service::list_instruments(conn, &st.catalogue, &query)
    })
    .await?;
    let pager = Pager::new(&req, &instruments);
    html(&InstrumentsPage {
        instruments,
        pager,
        categories,
        subcategories,
        cities,
        share_modes,
        statuses,
        sorts,
        sub_platforms,
    })
}

#[derive(Template)]
#[template(path = "instrument.html")]
struct InstrumentPage {
    i: Instrument,
    /// The price at the viewer's tier, as one line.
    price: String,
    /// Why it cannot be booked (the booking path's own answer), or `None`.
    closed: Option<String>,
    /// The listing closed it (not the viewer's account): say whom to call.
    call_instead: bool,
    /// Why machine time in particular is not open to the viewer (a qualification).
    machine_note: Option<String>,
    machine_time: bool,
    sample_order: bool,
    /// The contact's number as a `tel:` link takes it.
    tel: String,
    retired_on: String,
    /// What its clients said (评价).
    ratings: std::sync::Arc<crate::evaluation::model::RatingSummary>,
}

#[tracing::instrument(name = "web.instrument", skip_all, fields(id = %id))]
pub async fn instrument(
    state: web::Data<AppState>,
    ctx: super::session::Ctx,
    id: web::Path<String>,
) -> PageResult {
    let id = path_id(&id)?;
    let st = state.clone();
    let now = state.clock.now();
    let (i, offer, ratings) = db::run(&state.pool, move |conn| {
        let i = service::get_instrument(conn, &st.catalogue.categories, id)?;
        let offer = crate::reservations::service::offer(conn, ctx.user.as_ref(), id, now)?;
        let ratings = crate::evaluation::service::cached_summary(conn, &st.rating_summaries, id)?;
        Ok((i, offer, ratings))
    })
    .await?;
    let yuan = crate::types::yuan_2;
    let mut rates = Vec::new();
    if offer.machine_time && offer.hour_fen > 0 {
        rates.push(format!("{} 元/小时", yuan(offer.hour_fen)));
    }
    if offer.sample_order && offer.sample_fen > 0 {
        rates.push(format!("送样 {} 元/样", yuan(offer.sample_fen)));
    }
    let price = if rates.is_empty() {
        "收费以审核确认为准，见下方参考收费标准".to_owned()
    } else {
        let min = if offer.min_fee_fen > 0 {
            format!("，最低收费 {} 元", yuan(offer.min_fee_fen))
        } else {
            String::new()
        };
        format!("{}价格：{}{min}", offer.tier.label_zh(), rates.join("；"))
    };
    let said = |e: &crate::error::AppError| {
        format!(
            "{}。",
            super::explain::explain(e).text.trim_end_matches('。')
        )
    };
    let closed = offer.refused.as_ref().map(said);
    let call_instead = offer.refused.as_ref().is_some_and(|e| {
        use crate::error::ErrorCode as C;
        matches!(e.code(), C::NotBookable | C::OutOfService | C::InternalOnly)
    });
    let machine_note = offer.machine_time_refused.as_ref().map(said);
    let tel = super::forms::Line::tel(&i.contact.phone)
        .href
        .unwrap_or_default()
        .trim_start_matches("tel:")
        .to_owned();
    let retired_on = i
        .retired_at
        .map(crate::types::local_date)
        .unwrap_or_default();
    html(&InstrumentPage {
        price,
        closed,
        call_instead,
        machine_note,
        machine_time: offer.machine_time,
        sample_order: offer.sample_order,
        tel,
        retired_on,
        ratings,
        i,
    })
}
