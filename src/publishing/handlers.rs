//! Article endpoints: HTTP in, JSON out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::files;
use super::model::{Article, ArticleInput, ArticleKind, ArticleStep, ArticleStepInput, Attachment};
use super::service;
use super::store::{Filter, Listing};
use crate::auth::{Auth, Principal};
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, query_params};
use crate::state::AppState;
use crate::types::{ArticleId, AttachmentId, Paged, SubPlatformId, UnitId};

query_params! {
    /// The query of `GET /api/v1/articles`.
    pub struct ArticleListParams {
        /// one kind: news, notice, policy, training, case
        kind: code(ArticleKind),
        /// words every article listed contains (title, summary or body; up to five)
        q: text(200),
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
            service::list(
                c,
                listing,
                &Filter::search(p.kind, p.q.as_deref()),
                now,
                p.page,
            )
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

/// Body of `POST /api/v1/articles/{id}/attachments`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// PDF, Word/Excel/PowerPoint (old and new), OpenDocument, PNG, JPEG, GIF or WebP, at
    /// most `publishing.max_attachment_mb` MiB; the type is found from the bytes and must
    /// agree with the name's extension.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(
    post,
    path = "/api/v1/articles/{id}/attachments",
    tag = "publishing",
    summary = "Attach a file to an article (its writers): multipart/form-data with one `file` part",
    params(("id" = i64, Path, description = "the article's id")),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "attached", body = Attachment),
        (status = 400, description = "not a multipart form with a `file` part", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not the caller's article", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such article the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than `publishing.max_attachment_mb`, refused before it is read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`attachment_type`: not a kind an article may carry, or the name's extension does not match the bytes; or too many files", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.attach", skip_all)]
pub async fn attach(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let r = upload(&state, who, id, &req, payload, |_| Ok(())).await?;
    Ok(HttpResponse::Created().json(r))
}

/// Checks the caller may write the article before reading a byte, then reads, checks and
/// keeps the file and attaches it. `check` sees the form's other fields first (a web form's
/// CSRF token).
pub async fn upload(
    state: &AppState,
    who: Principal,
    id: ArticleId,
    req: &HttpRequest,
    payload: web::Payload,
    check: impl FnOnce(&files::Upload) -> AppResult<()>,
) -> AppResult<Attachment> {
    let now = state.clock.now();
    let w = who.clone();
    db::run(&state.pool, move |c| {
        service::writable(c, &w, id, now)?;
        service::room_for_a_file(c, id)
    })
    .await?;
    let limit = state.publishing.max_attachment_mb as usize * 1024 * 1024;
    let upload = files::receive(req.headers(), payload, limit).await?;
    check(&upload)?;
    let dir = std::path::PathBuf::from(&state.publishing.attachment_dir);
    let received = web::block(move || service::receive(&dir, &upload))
        .await
        .map_err(AppError::internal)??;
    db::run(&state.pool, move |c| {
        service::attach(c, &who, id, received, now)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/articles/{id}/attachments/{file}",
    tag = "publishing",
    summary = "Download a file of an article the caller may read, with its original name",
    params(
        ("id" = i64, Path, description = "the article's id"),
        ("file" = i64, Path, description = "the file's id")
    ),
    responses(
        (status = 200, description = "the bytes, with `Content-Disposition: attachment` and the type found at upload", content(
            (String = "application/pdf"),
            (String = "image/png"),
            (String = "image/jpeg"),
            (String = "image/gif"),
            (String = "image/webp"),
            (String = "application/msword"),
            (String = "application/vnd.ms-excel"),
            (String = "application/vnd.ms-powerpoint"),
            (String = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            (String = "application/vnd.oasis.opendocument.text"),
            (String = "application/vnd.oasis.opendocument.spreadsheet"),
            (String = "application/vnd.oasis.opendocument.presentation")
        )),
        (status = 404, description = "no such file, or its article is not the caller's to see", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "publishing.download", skip_all)]
pub async fn download(
    state: web::Data<AppState>,
    who: Option<Auth>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (id, file) = (path_id(&path.0)?, path_id(&path.1)?);
    file_response(&state, who.map(|a| a.0), id, file).await
}

/// The file as a download: its type from upload, its original name, and no sniffing.
pub async fn file_response(
    state: &AppState,
    who: Option<Principal>,
    id: ArticleId,
    file: AttachmentId,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let row = db::run(&state.pool, move |c| {
        service::attachment(c, who.as_ref(), id, file, now)
    })
    .await?;
    let dir = std::path::PathBuf::from(&state.publishing.attachment_dir);
    files::download(dir, row.sha256, &row.content_type, &row.name).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/articles/{id}/attachments/{file}",
    tag = "publishing",
    summary = "Take a file off an article (its writers)",
    params(
        ("id" = i64, Path, description = "the article's id"),
        ("file" = i64, Path, description = "the file's id")
    ),
    responses(
        (status = 204, description = "taken off"),
        (status = 403, description = "not the caller's article", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such file on an article the caller may see", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "publishing.detach", skip_all)]
pub async fn detach(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (id, file) = (path_id(&path.0)?, path_id(&path.1)?);
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        service::detach(c, &who, id, file, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
