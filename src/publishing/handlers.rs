//! Article endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::model::{Article, ArticleInput, ArticleKind, ArticleStep, ArticleStepInput};
use super::service;
use super::store::Listing;
use crate::auth::Auth;
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, query_params};
use crate::state::AppState;
use crate::types::{Paged, SubPlatformId, UnitId};

query_params! {
    /// The query of `GET /api/v1/articles`.
    pub struct ArticleListParams {
        /// one kind: news, notice, policy, training, case
        kind: code(ArticleKind),
        /// a unit's page: its articles published or sent to the platform
        unit: id(UnitId),
        /// a sub-platform's page
        sub_platform: id(SubPlatformId),
        /// the articles the caller may edit, drafts included (administrators)
        mine: flag,
        /// paging
        page: page,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/articles",
    tag = "publishing",
    summary = "Published articles, pinned first, newest first: platform-wide, or a unit's or a sub-platform's; `mine` lists what the caller may edit",
    params(ArticleListParams),
    responses(
        (status = 200, description = "a page", body = Paged<Article>),
        (status = 401, description = "`mine` without a valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`mine` for someone who writes no articles", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "publishing.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    who: Option<Auth>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = ArticleListParams::parse(req.query_string())?;
    let now = state.clock.now();
    let listing = match (p.unit, p.sub_platform) {
        (Some(u), _) => Listing::Unit(u),
        (None, Some(sp)) => Listing::SubPlatform(sp),
        (None, None) => Listing::Platform,
    };
    let r = if p.mine {
        let who = who
            .ok_or_else(|| AppError::unauthorized("请先登录 (sign in)"))?
            .0;
        db::run(&state.pool, move |c| service::editable(c, &who, p.page)).await?
    } else {
        db::run(&state.pool, move |c| {
            service::list(c, listing, p.kind, now, p.page)
        })
        .await?
    };
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/articles/{id}",
    tag = "publishing",
    summary = "One article with its body rendered and cleaned; drafts and returned articles only for their author and the platform's admins",
    params(("id" = i64, Path, description = "the article's id")),
    responses(
        (status = 200, description = "the article", body = Article),
        (status = 404, description = "no such article, or not yet public", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "publishing.get", skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    who: Option<Auth>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let who = who.map(|a| a.0);
    let r = db::run(&state.pool, move |c| service::get(c, who.as_ref(), id, now)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/articles",
    tag = "publishing",
    summary = "Write a draft: platform admins for any scope, a unit's admins for their unit",
    request_body = ArticleInput,
    responses(
        (status = 201, description = "the draft", body = Article),
        (status = 403, description = "not the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field out of its rules", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.create", skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<ArticleInput>,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| service::create(c, &who, input, now)).await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    patch,
    path = "/api/v1/articles/{id}",
    tag = "publishing",
    summary = "Edit an article (its author or a platform admin); a visible article keeps its previous text as a revision",
    params(("id" = i64, Path, description = "the article's id")),
    request_body = ArticleInput,
    responses(
        (status = 200, description = "the article", body = Article),
        (status = 403, description = "not the caller's article", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such article the caller may see", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.edit", skip_all)]
pub async fn edit(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<ArticleInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let input = body.into_inner();
    let r = db::run(&state.pool, move |c| service::edit(c, &who, id, input, now)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/articles/{id}/{step}",
    tag = "publishing",
    summary = "`submit` (a unit's admin: onto the unit's pages and to the platform), `publish` (a platform admin: platform-wide), `return` (a platform admin, with a `reason`)",
    params(
        ("id" = i64, Path, description = "the article's id"),
        ("step" = String, Path, description = "submit | publish | return")
    ),
    request_body = ArticleStepInput,
    responses(
        (status = 200, description = "done", body = Article),
        (status = 403, description = "not the caller's step", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such article the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.step", skip_all, fields(step = %path.1))]
pub async fn step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: OptionalJson<ArticleStepInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = ArticleStep::from_code(&path.1).ok_or(AppError::NotFound { what: "step" })?;
    let OptionalJson(input) = body;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::step(c, &who, id, step, input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/articles/{id}/signups",
    tag = "publishing",
    summary = "Sign up for a published training (a verified account), before it begins and while places are left",
    params(("id" = i64, Path, description = "the training's id")),
    responses(
        (status = 201, description = "signed up: the training with the places taken", body = Article),
        (status = 403, description = "`email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such published training", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_signed_up`, `training_full`, `signup_closed`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.sign_up", skip_all)]
pub async fn sign_up(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| service::sign_up(c, &who, id, now)).await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    delete,
    path = "/api/v1/articles/{id}/signups",
    tag = "publishing",
    summary = "Give one's place in a training back, before it begins",
    params(("id" = i64, Path, description = "the training's id")),
    responses(
        (status = 200, description = "the training with the places taken", body = Article),
        (status = 404, description = "no such training, or not signed up", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`signup_closed`", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.cancel_signup", skip_all)]
pub async fn cancel_signup(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::cancel_signup(c, &who, id, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}
