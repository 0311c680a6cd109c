//! Article pages: the lists per kind, one article, and the writers' pages (their list, the
//! form, submitting, publishing and returning).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::{get, opt, see_other, Cell, Field, Form, FormPage, Line, TablePage};
use super::pages::Pager;
use super::session::Ctx;
use super::{html, PageResult, WebError};
use crate::auth::{allowed, Action};
use crate::error::AppError;
use crate::params::{path_id, query_params};
use crate::publishing::model::*;
use crate::publishing::service;
use crate::publishing::store::{Filter, Listing};
use crate::types::{local_date, local_date_time, ArticleId};
use crate::{db, state::AppState};

query_params! {
    /// A list page's kind and page.
    pub struct ArticlePageParams {
        /// news, notice, policy, training, case
        kind: code(ArticleKind),
        /// words to look for
        q: text(200),
        /// paging
        page: page,
    }
}

/// The published articles of a kind (all kinds without one), pinned first.
#[tracing::instrument(name = "web.articles.list", skip_all)]
pub async fn list(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let q = ArticlePageParams::parse_known(req.query_string())?;
    let now = state.clock.now();
    let (kind, page) = (q.kind, q.page);
    let filter = Filter::search(kind, q.q.as_deref());
    let list = db::run(&state.pool, move |c| {
        service::list(c, Listing::Platform, &filter, now, page)
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        kind.map_or("信息发布", ArticleKind::label_zh),
        vec!["标题", "发布单位", "日期"],
    );
    t.tabs = ArticleKind::ALL
        .iter()
        .map(|k| {
            (
                format!("/articles?kind={}", k.code()),
                k.label_zh(),
                if Some(*k) == kind { list.total } else { 0 },
                Some(*k) == kind,
            )
        })
        .collect();
    t.links = vec![
        (
            format!(
                "/me/subscriptions/new?scope=platform&kind={}",
                kind.map_or("all", ArticleKind::code)
            ),
            "邮件订阅".to_owned(),
        ),
        (
            format!("/feeds/{}.atom", kind.map_or("all", ArticleKind::code)),
            "订阅（Atom）".to_owned(),
        ),
    ];
    if let Some(words) = q.q.as_deref().filter(|w| !w.trim().is_empty()) {
        t.intro = vec![format!(
            "含「{}」的文章，共 {} 篇。",
            words.trim(),
            list.total
        )];
    }
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|a| {
            let mut title = vec![Line::link(format!("/articles/{}", a.id), a.title.clone())];
            if a.pinned {
                title.insert(0, Line::muted("置顶"));
            }
            if !a.summary.is_empty() {
                title.push(Line::muted(a.summary.clone()));
            }
            vec![
                Cell::Lines(title),
                Cell::Text(a.publisher),
                Cell::Text(a.publish_at.map(local_date).unwrap_or_default()),
            ]
        })
        .collect();
    t.render()
}

#[derive(Template)]
#[template(path = "article.html")]
struct ArticlePage {
    a: Article,
    /// A training's start, Beijing time.
    training_when: String,
    signed_in: bool,
    editable: bool,
    /// (step, label) the reader may take.
    steps: Vec<(&'static str, &'static str)>,
    csrf: String,
    /// The upload form's limit.
    max_mb: u32,
}

/// One article; its writers also see its state and their steps.
#[tracing::instrument(name = "web.articles.show", skip_all)]
pub async fn show(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    let id: ArticleId = path_id(&id)?;
    let now = state.clock.now();
    let who = ctx.user.clone();
    let a = db::run(&state.pool, move |c| service::get(c, who.as_ref(), id, now)).await?;
    let (editable, steps) = match &ctx.user {
        Some(u) => writer_steps(u, &a),
        None => (false, Vec::new()),
    };
    let training_when = a
        .training
        .as_ref()
        .and_then(|t| t.event_at)
        .map(local_date_time)
        .unwrap_or_default();
    html(&ArticlePage {
        a,
        training_when,
        signed_in: ctx.user.is_some(),
        editable,
        steps,
        csrf: ctx.csrf.clone(),
        max_mb: state.publishing.max_attachment_mb,
    })
}

/// Whether `u` edits the article, and the steps `u` may take on it now.
fn writer_steps(
    u: &crate::auth::Principal,
    a: &Article,
) -> (bool, Vec<(&'static str, &'static str)>) {
    let platform = allowed(u, Action::ApproveArticles);
    let unit_admin = a
        .unit_id
        .is_some_and(|unit| allowed(u, Action::Publish { unit: Some(unit) }));
    // As the service decides: the author while still the unit's admin, or the platform.
    let editable = platform || (unit_admin && a.author_id == u.id);
    let steps = ArticleStep::ALL
        .iter()
        .filter(|s| match s {
            ArticleStep::Submit => !platform && unit_admin && a.scope == Scope::Unit,
            _ => platform,
        })
        .filter(|s| next(a.status, **s, platform).is_some())
        .map(|s| (s.code(), s.label_zh()))
        .collect();
    (editable, steps)
}

/// The writer's list: everything the reader may edit, newest first.
#[tracing::instrument(name = "web.articles.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    let who = ctx.require()?.clone();
    let page = crate::params::PageParams::parse_known(req.query_string())?.page;
    let list = db::run(&state.pool, move |c| service::editable(c, &who, page)).await?;
    let mut t = TablePage::new(
        &ctx,
        "信息发布管理",
        vec!["标题", "类型", "发布范围", "状态", "更新时间"],
    );
    t.links = vec![("/manage/articles/new".to_owned(), "写文章".to_owned())];
    t.intro = vec![
        "单位的文章提交后立即在本单位页面显示，平台管理员审核发布后进入平台栏目；被退回的文章修改后可再次提交。"
            .to_owned(),
    ];
    t.pager = Some(Pager::new(&req, &list));
    t.rows = list
        .items
        .into_iter()
        .map(|a| {
            vec![
                Cell::Link(format!("/articles/{}", a.id), a.title),
                Cell::Text(a.kind_label.to_owned()),
                Cell::Text(a.publisher),
                Cell::Lines(vec![
                    Line::text(a.status_label),
                    Line::muted(a.return_reason.unwrap_or_default()),
                ]),
                Cell::Text(local_date_time(a.updated_at)),
            ]
        })
        .collect();
    t.render()
}

fn scopes(ctx: &Ctx, sub_platforms: &[(i64, String)]) -> Vec<(String, String)> {
    let Some(u) = &ctx.user else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if allowed(u, Action::Publish { unit: None }) {
        out.push(("platform".to_owned(), "平台".to_owned()));
    }
    if let Some(unit) = u.unit {
        if allowed(u, Action::Publish { unit: Some(unit) }) {
            out.push((format!("unit:{unit}"), "本单位".to_owned()));
        }
    }
    if allowed(u, Action::Publish { unit: None }) {
        out.extend(
            sub_platforms
                .iter()
                .map(|(id, name)| (format!("sub_platform:{id}"), format!("子平台：{name}"))),
        );
    }
    out
}

/// The sub-platforms a platform admin may write for (none for anyone else).
async fn sub_platform_choices(state: &AppState, ctx: &Ctx) -> Result<Vec<(i64, String)>, WebError> {
    if !ctx
        .user
        .as_ref()
        .is_some_and(|u| allowed(u, Action::Publish { unit: None }))
    {
        return Ok(Vec::new());
    }
    let rows = db::run(&state.pool, |c| {
        Ok(crate::navigation::store::sub_platforms(c)?)
    })
    .await?;
    Ok(rows.into_iter().map(|s| (s.id.0, s.name)).collect())
}

fn article_form(
    ctx: &Ctx,
    id: Option<ArticleId>,
    v: &HashMap<String, String>,
    sub_platforms: &[(i64, String)],
) -> FormPage {
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let kinds = ArticleKind::ALL
        .iter()
        .map(|k| (k.code().to_owned(), k.label_zh().to_owned()))
        .collect();
    let mut fields = vec![Field::new("kind", "类型", "select", g("kind")).options(kinds)];
    if id.is_none() {
        fields.push(
            Field::new("scope", "发布范围", "select", g("scope"))
                .options(scopes(ctx, sub_platforms)),
        );
    }
    fields.extend([
        Field::new("title", "标题", "text", g("title"))
            .required()
            .max(100),
        Field::new("summary", "摘要", "textarea", g("summary")).max(300),
        Field::new("body", "正文（Markdown）", "textarea", g("body")).max(50_000),
        Field::new(
            "publish_at",
            "定时发布（北京时间，可不填）",
            "datetime-local",
            g("publish_at"),
        ),
        Field::new(
            "ends_at",
            "下线时间（通知到期后不再列出，可不填）",
            "datetime-local",
            g("ends_at"),
        ),
        Field::new("pinned", "置顶", "select", g("pinned")).options(vec![
            ("0".to_owned(), "否".to_owned()),
            ("1".to_owned(), "是".to_owned()),
        ]),
        Field::new(
            "event_at",
            "培训时间（培训类填写）",
            "datetime-local",
            g("event_at"),
        ),
        Field::new("event_place", "培训地点", "text", g("event_place")).max(100),
        Field::new(
            "signup_limit",
            "报名人数上限（0 为不限）",
            "number",
            g("signup_limit"),
        ),
        Field::new(
            "instrument_ids",
            "培训涉及的仪器编号（如 12, 15；仪器页地址中的数字）",
            "text",
            g("instrument_ids"),
        )
        .max(200),
        Field::new("version", "", "hidden", g("version")),
    ]);
    let (title, action) = match id {
        Some(id) => ("修改文章", format!("/manage/articles/{id}/edit")),
        None => ("写文章", "/manage/articles/new".to_owned()),
    };
    let mut page = FormPage::new(ctx, title, action, fields, "保存");
    page.intro = vec![
        "正文支持 Markdown：标题、列表、表格、链接和图片；脚本等不安全内容会被去除。".to_owned(),
    ];
    page.links = vec![("/manage/articles".to_owned(), "返回信息发布管理".to_owned())];
    page
}

/// A `datetime-local` value (Beijing time) as RFC 3339.
fn local_instant(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| {
        if v.len() == 16 {
            format!("{v}:00+08:00")
        } else {
            format!("{v}+08:00")
        }
    })
}

fn input_of(v: &HashMap<String, String>, new: bool) -> ArticleInput {
    let (sub_platform_id, unit_id, scope) = match get(v, "scope").split_once(':') {
        Some(("unit", id)) => (None, id.parse().ok(), Some("unit".to_owned())),
        Some(("sub_platform", id)) => (id.parse().ok(), None, Some("sub_platform".to_owned())),
        _ if new => (None, None, Some(get(v, "scope").to_owned())),
        _ => (None, None, None),
    };
    ArticleInput {
        kind: Some(get(v, "kind").to_owned()),
        scope,
        sub_platform_id,
        unit_id,
        title: Some(get(v, "title").to_owned()),
        summary: Some(get(v, "summary").to_owned()),
        body: Some(get(v, "body").to_owned()),
        publish_at: Some(local_instant(get(v, "publish_at")).unwrap_or_default()),
        ends_at: Some(local_instant(get(v, "ends_at")).unwrap_or_default()),
        pinned: Some(get(v, "pinned") == "1"),
        event_at: Some(local_instant(get(v, "event_at")).unwrap_or_default()),
        event_place: Some(get(v, "event_place").to_owned()),
        // Not a number: -1, which the service refuses at the field.
        signup_limit: Some(match get(v, "signup_limit").trim() {
            "" => 0,
            n => n.parse().unwrap_or(-1),
        }),
        // "12, 15": the training's instruments; anything else is refused at the field.
        instrument_ids: match get(v, "instrument_ids").trim() {
            "" => (new || v.contains_key("instrument_ids")).then(Vec::new),
            ids => Some(
                ids.split([',', '，', ' '])
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim().trim_start_matches('#').parse().unwrap_or(0))
                    .collect(),
            ),
        },
        version: opt(v, "version"),
    }
}

#[tracing::instrument(name = "web.articles.new_page", skip_all)]
pub async fn new_page(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    ctx.require()?;
    let mut v = HashMap::new();
    v.insert("kind".to_owned(), "notice".to_owned());
    let sps = sub_platform_choices(&state, &ctx).await?;
    article_form(&ctx, None, &v, &sps).render()
}

#[tracing::instrument(name = "web.articles.create", skip_all)]
pub async fn create(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let v = form.0;
    let input = input_of(&v, true);
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        Ok(service::create(c, &who, input, now))
    })
    .await?;
    match r {
        Ok(a) => Ok(see_other(&format!("/articles/{}", a.id))),
        Err(e) => {
            let sps = sub_platform_choices(&state, &ctx).await?;
            article_form(&ctx, None, &v, &sps).failed(e)
        }
    }
}

fn local_field(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&crate::types::PLATFORM_ZONE)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

#[tracing::instrument(name = "web.articles.edit_page", skip_all)]
pub async fn edit_page(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    let who = ctx.require()?.clone();
    let id: ArticleId = path_id(&id)?;
    let now = state.clock.now();
    let a = db::run(&state.pool, move |c| service::get(c, Some(&who), id, now)).await?;
    let v: HashMap<String, String> = [
        ("kind", a.kind.code().to_owned()),
        ("title", a.title),
        ("summary", a.summary),
        ("body", a.body),
        ("publish_at", local_field(a.publish_at)),
        ("ends_at", local_field(a.ends_at)),
        ("pinned", if a.pinned { "1" } else { "0" }.to_owned()),
        (
            "event_at",
            local_field(a.training.as_ref().and_then(|t| t.event_at)),
        ),
        (
            "event_place",
            a.training
                .as_ref()
                .map(|t| t.place.clone())
                .unwrap_or_default(),
        ),
        (
            "signup_limit",
            a.training
                .as_ref()
                .and_then(|t| t.signup_limit)
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "instrument_ids",
            a.training
                .as_ref()
                .map(|t| {
                    t.instruments
                        .iter()
                        .map(|i| i.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        ),
        ("version", a.updated_at.to_rfc3339()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    article_form(&ctx, Some(id), &v, &[]).render()
}

#[tracing::instrument(name = "web.articles.edit", skip_all)]
pub async fn edit(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id: ArticleId = path_id(&id)?;
    let v = form.0;
    let input = input_of(&v, false);
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        Ok(service::edit(c, &who, id, input, now))
    })
    .await?;
    match r {
        Ok(_) => Ok(see_other(&format!("/articles/{id}"))),
        Err(e) => article_form(&ctx, Some(id), &v, &[]).failed(e),
    }
}

/// Submit, publish or return, from the article's page.
#[tracing::instrument(name = "web.articles.step", skip_all)]
pub async fn step(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: ArticleId = path_id(&path.0)?;
    let step = ArticleStep::from_code(&path.1).ok_or(AppError::NotFound { what: "step" })?;
    let input = ArticleStepInput {
        reason: get(&form, "reason").to_owned(),
        version: opt(&form, "version"),
    };
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        service::step(c, &who, id, step, input, now)
    })
    .await?;
    Ok(see_other(&format!("/articles/{id}")))
}

/// Entries a feed carries.
const FEED_ENTRIES: i64 = 20;

fn atom(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/atom+xml; charset=utf-8")
        .body(body)
}

/// `/feeds/{kind}.atom` (or `all.atom`): the platform-wide list of a kind.
#[tracing::instrument(name = "web.articles.feed", skip_all)]
pub async fn feed(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let kind = match name.as_str() {
        "all" => None,
        k => Some(ArticleKind::from_code(k).ok_or(AppError::NotFound { what: "page" })?),
    };
    let now = state.clock.now();
    let list = db::run(&state.pool, move |c| {
        service::feed(c, Listing::Platform, kind, now, FEED_ENTRIES)
    })
    .await?;
    let title = format!(
        "{} · {}",
        state.platform.name,
        kind.map_or("信息发布", ArticleKind::label_zh)
    );
    let page = kind.map_or("/articles".to_owned(), |k| {
        format!("/articles?kind={}", k.code())
    });
    Ok(atom(crate::publishing::feeds::atom(
        &title,
        &format!("/feeds/{name}.atom"),
        &page,
        &list,
    )))
}

/// `/feeds/units/{id}.atom` and `/feeds/sub-platforms/{id}.atom`: what a unit or a
/// sub-platform publishes.
#[tracing::instrument(name = "web.articles.scope_feed", skip_all)]
pub async fn scope_feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let raw: i64 = path_id(&id)?;
    let unit = req.path().starts_with("/feeds/units/");
    let now = state.clock.now();
    let (title, list) = db::run(&state.pool, move |c| {
        let (name, listing) = if unit {
            let u = crate::navigation::store::find_unit(c, crate::types::UnitId(raw))?
                .ok_or(AppError::NotFound { what: "unit" })?;
            (u.name, Listing::Unit(u.id))
        } else {
            let id = crate::types::SubPlatformId(raw);
            let s =
                crate::navigation::store::find_sub_platform(c, id)?.ok_or(AppError::NotFound {
                    what: "sub-platform",
                })?;
            (s.name, Listing::SubPlatform(id))
        };
        Ok((name, service::feed(c, listing, None, now, FEED_ENTRIES)?))
    })
    .await?;
    let (path, page) = if unit {
        (format!("/feeds/units/{raw}.atom"), format!("/units/{raw}"))
    } else {
        (
            format!("/feeds/sub-platforms/{raw}.atom"),
            format!("/sub-platforms/{raw}"),
        )
    };
    Ok(atom(crate::publishing::feeds::atom(
        &format!("{title} · 信息发布"),
        &path,
        &page,
        &list,
    )))
}

/// 报名 / 取消报名 from a training's page.
#[tracing::instrument(name = "web.articles.signup", skip_all)]
pub async fn signup(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
    _checked: super::forms::CsrfChecked,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: ArticleId = path_id(&id)?;
    let cancel = req.path().ends_with("/cancel-signup");
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        if cancel {
            service::cancel_signup(c, &who, id, now)
        } else {
            service::sign_up(c, &who, id, now)
        }
    })
    .await?;
    Ok(see_other(&format!("/articles/{id}")))
}

/// 上传附件 from the article's page: the form's CSRF token is checked before the file is kept.
#[tracing::instrument(name = "web.articles.upload", skip_all)]
pub async fn upload(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: ArticleId = path_id(&id)?;
    let session = ctx.csrf.clone();
    // The token travels inside the multipart form: a form of any other kind has none.
    if !crate::publishing::files::is_multipart(req.headers()) {
        Ctx::verify_csrf(&session, "")?;
    }
    crate::publishing::handlers::upload(&state, who, id, &req, payload, move |u| {
        Ctx::verify_csrf(&session, u.field("csrf").unwrap_or_default()).map_err(|e| e.0)
    })
    .await?;
    Ok(see_other(&format!("/articles/{id}#files")))
}

/// 删除附件 from the article's page.
#[tracing::instrument(name = "web.articles.remove_file", skip_all)]
pub async fn remove_file(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
    _checked: super::forms::CsrfChecked,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id: ArticleId = path_id(&path.0)?;
    let file = path_id(&path.1)?;
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        service::detach(c, &who, id, file, now)
    })
    .await?;
    Ok(see_other(&format!("/articles/{id}#files")))
}

/// A file of an article the reader may see (drafts' files for their writers).
#[tracing::instrument(name = "web.articles.file", skip_all)]
pub async fn file(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id: ArticleId = path_id(&path.0)?;
    let file = path_id(&path.1)?;
    Ok(crate::publishing::handlers::file_response(&state, ctx.user.clone(), id, file).await?)
}
