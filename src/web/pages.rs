//! Page handlers: read the same parameters as the API, call the navigation service, render.

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use askama::Template;

use super::html;
use super::PageResult;
use crate::db;
use crate::navigation::model::{CategoryFilter, InstrumentFilter, InstrumentSort, UnitFilter};
use crate::navigation::model::{
    Instrument, InstrumentSummary, RunStatus, ShareMode, SubPlatform, Unit,
};
use crate::navigation::service::{self, CatalogueCounts, InstrumentListParams, InstrumentQuery};
use crate::params::path_id;
use crate::state::AppState;
use crate::types::Paged;

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
        let link = |page: i64| {
            let mut pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
            pairs.retain(|(k, v)| k != "page" && !v.is_empty());
            pairs.push(("page".to_owned(), page.to_string()));
            let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            format!("{}?{query}", req.path())
        };
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
}

#[tracing::instrument(name = "web.home", skip_all)]
pub async fn home(state: web::Data<AppState>) -> PageResult {
    let counts = state.catalogue.counts(&state.pool).await?;
    html(&HomePage { counts })
}

#[derive(Template)]
#[template(path = "sub_platform.html")]
struct SubPlatformPage {
    sub_platform: SubPlatform,
    units: Paged<Unit>,
    pager: Pager,
}

#[tracing::instrument(name = "web.sub_platform", skip_all, fields(id = %id))]
pub async fn sub_platform(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let id = path_id(&id)?;
    let page = crate::params::PageParams::parse(req.query_string())?.page;
    let sub_platform = state.catalogue.sub_platform(&state.pool, id).await?;
    let filter = UnitFilter {
        sub_platform: Some(id),
        ..UnitFilter::default()
    };
    let units = db::run(&state.pool, move |conn| {
        service::list_units(conn, &filter, page)
    })
    .await?;
    let pager = Pager::new(&req, &units);
    html(&SubPlatformPage {
        sub_platform,
        units,
        pager,
    })
}

#[derive(Template)]
#[template(path = "unit.html")]
struct UnitPage {
    unit: Unit,
    instruments: Paged<InstrumentSummary>,
    pager: Pager,
}

#[tracing::instrument(name = "web.unit", skip_all, fields(id = %id))]
pub async fn unit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> PageResult {
    let id = path_id(&id)?;
    let page = crate::params::PageParams::parse(req.query_string())?.page;
    let query = InstrumentQuery {
        filter: InstrumentFilter {
            unit: Some(id),
            ..InstrumentFilter::default()
        },
        sort: InstrumentSort::Id,
        page,
    };
    let st = state.clone();
    let (unit, instruments) = db::run(&state.pool, move |conn| {
        let unit = service::get_unit(conn, id)?;
        let list = service::list_instruments(conn, &st.catalogue, &query)?;
        Ok((unit, list))
    })
    .await?;
    let pager = Pager::new(&req, &instruments);
    html(&UnitPage {
        unit,
        instruments,
        pager,
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

#[tracing::instrument(name = "web.instruments", skip_all)]
pub async fn instruments(state: web::Data<AppState>, req: HttpRequest) -> PageResult {
    let params = InstrumentListParams::parse(req.query_string())?;
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
}

#[tracing::instrument(name = "web.instrument", skip_all, fields(id = %id))]
pub async fn instrument(state: web::Data<AppState>, id: web::Path<String>) -> PageResult {
    let id = path_id(&id)?;
    let st = state.clone();
    let i = db::run(&state.pool, move |conn| {
        service::get_instrument(conn, &st.catalogue.categories, id)
    })
    .await?;
    html(&InstrumentPage { i })
}
