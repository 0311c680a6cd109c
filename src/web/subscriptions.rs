//! 订阅: a person's subscriptions to articles, and the one-click unsubscribe page the
//! e-mails link to (no sign-in: the link's token is the key).

use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::{
    get, see_other, Cell, Field, Form, FormPage, MessagePage, RowAction, TablePage,
};
use super::session::Ctx;
use super::{PageResult, WebError};
use crate::navigation::{model::UnitFilter, store as catalogue};
use crate::params::path_id;
use crate::publishing::model::ArticleKind;
use crate::publishing::subscriptions::model::{Delivery, SubscriptionInput, ALL_KINDS};
use crate::publishing::subscriptions::service;
use crate::types::{local_date, PageRequest};
use crate::{db, state::AppState};

/// The caller's subscriptions, each with its 退订 button.
#[tracing::instrument(name = "web.subscriptions.mine", skip_all)]
pub async fn mine(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let who = ctx.require()?.clone();
    let list = db::run(&state.pool, move |c| service::mine(c, &who)).await?;
    let mut t = TablePage::new(&ctx, "我的订阅", vec!["订阅内容", "方式", "订阅日期", ""]);
    t.intro = vec![
        "新文章发布后，按您选择的方式发邮件通知：即时邮件，或每天北京时间 8:00 的摘要。每封邮件都带退订链接。"
            .to_owned(),
    ];
    t.links = vec![("/me/subscriptions/new".to_owned(), "添加订阅".to_owned())];
    t.rows = list
        .into_iter()
        .map(|s| {
            vec![
                Cell::Text(s.describe()),
                Cell::Text(s.mode_label.to_owned()),
                Cell::Text(local_date(s.created_at)),
                Cell::Actions(vec![RowAction {
                    action: format!("/me/subscriptions/{}/delete", s.id),
                    label: "退订",
                    fields: Vec::new(),
                }]),
            ]
        })
        .collect();
    t.render()
}

async fn subscription_form(
    state: &AppState,
    ctx: &Ctx,
    v: &std::collections::HashMap<String, String>,
) -> Result<FormPage, WebError> {
    let (sub_platforms, units) = db::run(&state.pool, |c| {
        let all = PageRequest {
            page: 1,
            per_page: 1000,
        };
        Ok((
            catalogue::sub_platforms(c)?,
            catalogue::list_units(c, &UnitFilter::default(), all)?.0,
        ))
    })
    .await?;
    let mut scopes = vec![("platform".to_owned(), "平台栏目（全省）".to_owned())];
    scopes.extend(sub_platforms.into_iter().map(|s| {
        (
            format!("sub_platform:{}", s.id),
            format!("子平台：{}", s.name),
        )
    }));
    scopes.extend(
        units
            .into_iter()
            .map(|u| (format!("unit:{}", u.id), format!("单位：{}", u.name))),
    );
    let mut kinds = vec![(ALL_KINDS.to_owned(), "全部信息".to_owned())];
    kinds.extend(
        ArticleKind::ALL
            .iter()
            .map(|k| (k.code().to_owned(), k.label_zh().to_owned())),
    );
    let modes = Delivery::ALL
        .iter()
        .map(|m| (m.code().to_owned(), m.label_zh().to_owned()))
        .collect();
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    let mut page = FormPage::new(
        ctx,
        "添加订阅",
        "/me/subscriptions/new",
        vec![
            Field::new("scope", "发布方", "select", g("scope")).options(scopes),
            Field::new("kind", "栏目", "select", g("kind")).options(kinds),
            Field::new("mode", "通知方式", "select", g("mode")).options(modes),
        ],
        "订阅",
    );
    page.links = vec![("/me/subscriptions".to_owned(), "我的订阅".to_owned())];
    Ok(page)
}

/// The form, with what the link that led here chose (`?scope=unit:3&kind=notice`).
#[tracing::instrument(name = "web.subscriptions.new_page", skip_all)]
pub async fn new_page(state: web::Data<AppState>, ctx: Ctx, req: HttpRequest) -> PageResult {
    ctx.require()?;
    let v: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    subscription_form(&state, &ctx, &v).await?.render()
}

fn input_of(v: &std::collections::HashMap<String, String>) -> SubscriptionInput {
    let (scope, scope_id) = match get(v, "scope").split_once(':') {
        Some((s, id)) => (s.to_owned(), Some(id.parse().unwrap_or(-1))),
        None => (get(v, "scope").to_owned(), None),
    };
    SubscriptionInput {
        kind: Some(get(v, "kind").to_owned()),
        scope: Some(scope),
        scope_id,
        mode: Some(get(v, "mode").to_owned()),
    }
}

#[tracing::instrument(name = "web.subscriptions.subscribe", skip_all)]
pub async fn subscribe(state: web::Data<AppState>, ctx: Ctx, form: Form) -> PageResult {
    let who = ctx.require()?.clone();
    let v = form.0;
    let input = input_of(&v);
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        Ok(service::subscribe(c, &who, input, now))
    })
    .await?;
    match r {
        Ok(_) => Ok(see_other("/me/subscriptions")),
        Err(e) => subscription_form(&state, &ctx, &v).await?.failed(e),
    }
}

#[tracing::instrument(name = "web.subscriptions.remove", skip_all)]
pub async fn remove(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    _checked: super::forms::CsrfChecked,
) -> Result<HttpResponse, WebError> {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    db::run(&state.pool, move |c| service::remove(c, &who, id)).await?;
    Ok(see_other("/me/subscriptions"))
}

/// The e-mail's link opened in a browser: what it undoes, and a button. (A GET never
/// unsubscribes: mail scanners open links.)
#[tracing::instrument(name = "web.subscriptions.unsubscribe_page", skip_all)]
pub async fn unsubscribe_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
) -> PageResult {
    let t = token.into_inner();
    let sub = db::run(&state.pool, move |c| service::by_token(c, &t)).await?;
    let mut page = FormPage::new(&ctx, "退订", String::new(), Vec::new(), "退订");
    page.intro = vec![format!(
        "退订「{}」（{}）后，将不再收到这项订阅的邮件。",
        sub.describe(),
        sub.mode_label
    )];
    page.render()
}

/// One click: from the page's button, or a mail client's RFC 8058 POST
/// (`List-Unsubscribe=One-Click`, without cookies or a CSRF token: the token is the key).
#[tracing::instrument(name = "web.subscriptions.unsubscribe", skip_all)]
pub async fn unsubscribe(state: web::Data<AppState>, token: web::Path<String>) -> PageResult {
    let t = token.into_inner();
    let sub = db::run(&state.pool, move |c| service::unsubscribe(c, &t)).await?;
    // A second click (or a mail client posting twice) finds nothing left to undo: the same
    // answer, so nobody is told "not found" after doing the right thing.
    let said = match sub {
        Some(s) => format!("已退订「{}」，不会再收到这项订阅的邮件。", s.describe()),
        None => "这项订阅已经退订（或链接已失效），不会再收到它的邮件。".to_owned(),
    };
    MessagePage {
        title: "已退订".to_owned(),
        paragraphs: vec![said],
        links: vec![("/me/subscriptions".to_owned(), "管理我的订阅".to_owned())],
    }
    .render()
}
