//! Rating pages: the client's rating form (from their service list or the invitation e-mail)
//! and the staff's list of ratings with the unit's reply.

use std::collections::HashMap;

use actix_web::web;

use super::forms::{get, see_other, Cell, Field, Form, FormPage, Line, RowAction, TablePage};
use super::session::Ctx;
use super::PageResult;
use crate::evaluation::model::{Level, Rating, RatingInput, ReplyInput};
use crate::evaluation::service;
use crate::params::path_id;
use crate::types::{local_date_time, ServiceRecordId};
use crate::{db, state::AppState};

/// The scores asked for, as (field, label).
const SCORES: [(&str, &str); 6] = [
    ("overall", "总体评价"),
    ("attitude", "服务态度"),
    ("quality", "技术水平"),
    ("timeliness", "及时性"),
    ("price", "收费合理性"),
    ("condition", "仪器状态"),
];

fn levels() -> Vec<(String, String)> {
    Level::ALL
        .iter()
        .map(|l| (l.code().to_owned(), l.label_zh().to_owned()))
        .collect()
}

fn rating_form(
    ctx: &Ctx,
    id: ServiceRecordId,
    values: &HashMap<String, String>,
    editing: bool,
) -> FormPage {
    let g = |k: &str, d: &str| values.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let mut fields: Vec<Field> = SCORES
        .iter()
        .map(|&(name, label)| {
            Field::new(name, label, "select", g(name, "very_satisfied"))
                .options(levels())
                .required()
        })
        .collect();
    fields.push(Field::new("comment", "评价内容", "textarea", g("comment", "")).max(500));
    let mut page = FormPage::new(
        ctx,
        if editing {
            "修改评价"
        } else {
            "评价这次服务"
        },
        format!("/me/services/{id}/rate"),
        fields,
        if editing {
            "保存修改"
        } else {
            "提交评价"
        },
    );
    page.intro = vec![
        "评价会显示在仪器页面上，只显示您所在的单位，不显示姓名；仪器所在单位可以公开回复一次。"
            .to_owned(),
    ];
    page.links = vec![("/me/services".to_owned(), "返回我的服务记录".to_owned())];
    page
}

fn values_of(r: &Rating) -> HashMap<String, String> {
    [
        ("overall", r.overall.code()),
        ("attitude", r.attitude.code()),
        ("quality", r.quality.code()),
        ("timeliness", r.timeliness.code()),
        ("price", r.price.code()),
        ("condition", r.condition.code()),
        ("comment", r.comment.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The rating form, filled with the client's rating when they gave one.
#[tracing::instrument(name = "web.evaluation.rate_page", skip_all)]
pub async fn rate_page(state: web::Data<AppState>, ctx: Ctx, id: web::Path<String>) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    let mine = db::run(&state.pool, move |c| service::mine(c, &who, id)).await?;
    match mine {
        Some(r) => rating_form(&ctx, id, &values_of(&r), true).render(),
        None => rating_form(&ctx, id, &HashMap::new(), false).render(),
    }
}

/// Gives the rating, or changes it when there is one.
#[tracing::instrument(name = "web.evaluation.rate", skip_all)]
pub async fn rate(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    let values = form.0;
    let input = RatingInput {
        overall: get(&values, "overall").to_owned(),
        attitude: get(&values, "attitude").to_owned(),
        quality: get(&values, "quality").to_owned(),
        timeliness: get(&values, "timeliness").to_owned(),
        price: get(&values, "price").to_owned(),
        condition: get(&values, "condition").to_owned(),
        comment: get(&values, "comment").to_owned(),
    };
    let settings = state.evaluation;
    let now = state.clock.now();
    // Whether it was an edit, and how it went: a refused edit is shown as the edit form.
    let (editing, result) = db::run(&state.pool, move |c| {
        Ok(if service::mine(c, &who, id)?.is_some() {
            (true, service::edit(c, &who, id, input, &settings, now))
        } else {
            (false, service::rate(c, &who, id, input, &settings, now))
        })
    })
    .await?;
    match result {
        Ok(_) => {
            state.rating_summaries.invalidate();
            Ok(see_other("/me/services?rated=1"))
        }
        Err(e) => rating_form(&ctx, id, &values, editing).failed(e),
    }
}

/// The ratings of what the person runs, newest first, each answerable once.
#[tracing::instrument(name = "web.evaluation.ratings", skip_all)]
pub async fn ratings(state: web::Data<AppState>, ctx: Ctx) -> PageResult {
    let who = ctx.require()?.clone();
    let (list, names) = db::run(&state.pool, move |c| {
        let list = service::for_staff(c, &who, 200)?;
        let ids: Vec<i64> = list.iter().map(|r| r.instrument_id.0).collect();
        let names: HashMap<i64, String> = crate::usage::store::instrument_names(c, &ids)?
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect();
        Ok((list, names))
    })
    .await?;
    let mut t = TablePage::new(
        &ctx,
        "用户评价",
        vec!["时间", "仪器", "评价", "内容", "单位回复"],
    );
    t.rows = list
        .into_iter()
        .map(|r| {
            let id = r.instrument_id.0;
            vec![
                Cell::Text(local_date_time(r.created_at)),
                Cell::Link(
                    format!("/instruments/{id}"),
                    names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
                ),
                Cell::Lines(vec![
                    Line::text(r.overall_label.to_owned()),
                    Line::muted(format!(
                        "态度 {} · 技术 {} · 及时 {} · 收费 {} · 仪器 {}",
                        r.attitude.label_zh(),
                        r.quality.label_zh(),
                        r.timeliness.label_zh(),
                        r.price.label_zh(),
                        r.condition.label_zh()
                    )),
                ]),
                Cell::Text(r.comment.clone()),
                match r.reply {
                    Some(reply) => Cell::Text(reply),
                    None => Cell::Actions(vec![RowAction {
                        action: format!("/manage/ratings/{}/reply", r.id),
                        label: "公开回复",
                        // The row's text box: what the unit answers.
                        fields: vec![("reason".to_owned(), "回复内容（公开显示）".to_owned())],
                    }]),
                },
            ]
        })
        .collect();
    t.render()
}

/// The unit's reply to a rating, from the list's text box.
#[tracing::instrument(name = "web.evaluation.reply", skip_all)]
pub async fn reply(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let who = ctx.require()?.clone();
    let id = path_id(&id)?;
    let input = ReplyInput {
        reply: get(&form, "reason").to_owned(),
    };
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        service::reply(c, &who, id, input, now)
    })
    .await?;
    state.rating_summaries.invalidate();
    Ok(see_other("/manage/ratings"))
}
