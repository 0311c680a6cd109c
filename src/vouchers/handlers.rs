//! Innovation voucher endpoints: HTTP in, JSON (or a workbook, or a file) out.

use actix_web::{web, HttpRequest, HttpResponse};

use super::model::*;
use super::service;
use crate::auth::Auth;
use crate::db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::input::{Json, OptionalJson};
use crate::params::{path_id, query_params};
use crate::publishing::files;
use crate::state::AppState;
use crate::types::{OrganisationId, ProgrammeId};

query_params! {
    /// The query of `GET /api/v1/voucher-programmes`.
    pub struct ProgrammeListParams {
        /// only this issuer's programmes
        issuer_id: id(OrganisationId),
    }
}

query_params! {
    /// The query of `GET /api/v1/vouchers`.
    pub struct VoucherListParams {
        /// only the caller's company's quotas (else those the caller decides)
        mine: flag,
        /// only this programme's
        programme_id: id(ProgrammeId),
        /// only those in this state
        status: code(VoucherStatus),
    }
}

query_params! {
    /// The query of `GET /api/v1/voucher-uses`.
    pub struct UseListParams {
        /// only the caller's company's (else those the caller serves or decides)
        mine: flag,
        /// only those in this state
        status: code(UseStatus),
    }
}

query_params! {
    /// Which file a redemption upload is.
    pub struct FileParams {
        /// contract | invoice | payment | result
        kind: code(FileKind),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-programmes",
    tag = "vouchers",
    summary = "创新券 programmes, newest first, with their money (budget, committed, claimed, paid, remaining): public",
    params(ProgrammeListParams),
    responses((status = 200, description = "the programmes", body = Vec<Programme>))
)]
#[tracing::instrument(name = "vouchers.programmes", skip_all)]
pub async fn programmes(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let p = ProgrammeListParams::parse(req.query_string())?;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::programmes(c, p.issuer_id, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/voucher-programmes",
    tag = "vouchers",
    summary = "Open a programme for an issuer (its officers, platform admins): budget, share, caps, dates, eligible providers",
    request_body = ProgrammeInput,
    responses(
        (status = 201, description = "the programme", body = Programme),
        (status = 400, description = "a date that is not YYYY-MM-DD", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not the issuer's officer or a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field out of its rules, named; `voucher_outside_dates` for dates out of order or past", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.open_programme", skip_all)]
pub async fn open_programme(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<ProgrammeInput>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner();
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::open_programme(c, &who, input, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-programmes/{id}",
    tag = "vouchers",
    summary = "A programme with its money: public",
    params(("id" = i64, Path, description = "the programme's id")),
    responses(
        (status = 200, description = "the programme", body = Programme),
        (status = 404, description = "no such programme", body = Problem, content_type = "application/problem+json")
    )
)]
#[tracing::instrument(name = "vouchers.programme", skip_all)]
pub async fn programme(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| service::programme(c, id, now)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-programmes/{id}/report.{format}",
    tag = "vouchers",
    summary = "The issuer's report of a programme: budget, committed, claimed, approved, paid and remaining, per company and per provider unit; as JSON or as a workbook for the finance office",
    params(
        ("id" = i64, Path, description = "the programme's id"),
        ("format" = String, Path, description = "`json` or `xlsx` (sheets 汇总, 企业, 服务单位)")
    ),
    responses(
        (status = 200, description = "the report", content(
            (ProgrammeReport = "application/json"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 403, description = "not the issuer's officer or a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such programme, or another format", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.report", skip_all)]
pub async fn report(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let format = path.1.clone();
    if format != "json" && format != "xlsx" {
        return Err(AppError::NotFound { what: "format" });
    }
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| service::report(c, &who, id, now)).await?;
    if format == "json" {
        return Ok(HttpResponse::Ok().json(r));
    }
    let body = web::block(move || service::report_xlsx(&r))
        .await
        .map_err(AppError::internal)??;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"voucher-programme-{id}.xlsx\""),
        ))
        .body(body))
}

#[utoipa::path(
    put,
    path = "/api/v1/organisations/{id}/voucher-officers",
    tag = "vouchers",
    summary = "Platform admins: name an account of the organisation officer of its vouchers (发券机构经办人)",
    params(("id" = i64, Path, description = "the issuing organisation")),
    request_body = OfficerInput,
    responses(
        (status = 204, description = "named"),
        (status = 403, description = "not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`email`: no such account, or not the organisation's", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.appoint_officer", skip_all)]
pub async fn appoint_officer(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    body: Json<OfficerInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let input = body.into_inner();
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        service::appoint_officer(c, &who, id, &input.email, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v1/vouchers",
    tag = "vouchers",
    summary = "A company applies for a quota (申领额度); the issuer's officers are e-mailed",
    request_body = VoucherInput,
    responses(
        (status = 201, description = "the application", body = Voucher),
        (status = 403, description = "`email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`: the company has an application of the programme waiting", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`voucher_not_eligible` (not an enterprise with a credit code, not an SME), `voucher_outside_dates`, `voucher_cap_exceeded` (per application or the company's year), or a field out of its rules", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.apply", skip_all)]
pub async fn apply(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<VoucherInput>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner();
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| service::apply(c, &who, input, now)).await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/vouchers",
    tag = "vouchers",
    summary = "The caller's company's quotas (`mine`), or those the caller decides (an issuer's officers: its programmes'; platform admins: all); newest first, at most 200",
    params(VoucherListParams),
    responses(
        (status = 200, description = "the quotas", body = Vec<Voucher>),
        (status = 403, description = "not an issuer's officer or a platform admin (without `mine`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.list", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = VoucherListParams::parse(req.query_string())?;
    let r = db::run(&state.pool, move |c| {
        service::vouchers(c, &who, p.mine, p.programme_id, p.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/vouchers/{id}",
    tag = "vouchers",
    summary = "A quota with its uses, its history and the steps the caller may take; the company and the issuer only",
    params(("id" = i64, Path, description = "the voucher's id")),
    responses(
        (status = 200, description = "the quota", body = Voucher),
        (status = 404, description = "no such voucher, or not the caller's to see", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.get", skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| service::voucher(c, &who, id, now)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/vouchers/{id}/{step}",
    tag = "vouchers",
    summary = "A step on a quota: the issuer approves (`amount_fen`, at most what was asked, the cap and what is left) or refuses (`text`); the company withdraws",
    params(
        ("id" = i64, Path, description = "the voucher's id"),
        ("step" = String, Path, description = "approve | refuse | withdraw")
    ),
    request_body = VoucherStepInput,
    responses(
        (status = 200, description = "done; the other party is e-mailed", body = Voucher),
        (status = 400, description = "a body that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the step is another party's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such voucher or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`, `voucher_budget_exhausted` (the message says what is left)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`voucher_cap_exceeded`, or `amount_fen` / `text` out of their rules", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.step", skip_all, fields(step = %path.1))]
pub async fn step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: OptionalJson<VoucherStepInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = VoucherStep::from_code(&path.1)
        .filter(|s| matches!(s.party(), Party::Company | Party::Issuer))
        .filter(|s| *s != VoucherStep::Apply)
        .ok_or(AppError::NotFound { what: "step" })?;
    let OptionalJson(input) = body;
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::voucher_step(c, &who, id, step, &input, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/voucher-uses",
    tag = "vouchers",
    summary = "The company uses a voucher on one of its bookings or sample orders (申请使用): the fee estimate splits into the voucher's part and the company's; the provider's staff are e-mailed to confirm",
    request_body = UseInput,
    responses(
        (status = 201, description = "the use", body = VoucherUse),
        (status = 403, description = "`email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition` (the voucher is not usable, the booking already uses one), `voucher_balance`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`voucher_not_eligible` (provider outside the programme), `voucher_related_party`, `voucher_outside_dates`, or `voucher_id` / `reservation_id` not the caller's", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.request_use", skip_all)]
pub async fn request_use(
    state: web::Data<AppState>,
    Auth(who): Auth,
    body: Json<UseInput>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner();
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| {
        service::request_use(c, &who, input, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-uses",
    tag = "vouchers",
    summary = "Uses and redemptions the caller is a party to: the company's (`mine`), a unit's (its admins) or instruments' (their managers), an issuer's, or all (platform admins); newest first, at most 200",
    params(UseListParams),
    responses(
        (status = 200, description = "the uses", body = Vec<VoucherUse>),
        (status = 403, description = "not staff, an issuer's officer or a platform admin (without `mine`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.uses", skip_all)]
pub async fn uses(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let p = UseListParams::parse(req.query_string())?;
    let r = db::run(&state.pool, move |c| {
        service::uses(c, &who, p.mine, p.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-uses/{id}",
    tag = "vouchers",
    summary = "A use with its files and the steps the caller may take; its parties only",
    params(("id" = i64, Path, description = "the use's id")),
    responses(
        (status = 200, description = "the use", body = VoucherUse),
        (status = 404, description = "no such use, or not the caller's to see", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.use", skip_all)]
pub async fn use_of(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let r = db::run(&state.pool, move |c| service::use_of(c, &who, id)).await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(
    post,
    path = "/api/v1/voucher-uses/{id}/{step}",
    tag = "vouchers",
    summary = "A step on a use: the provider confirms (`amount_fen`, at most the part asked) or declines, its unit admins claim redemption (`service_record_id`; the files first); the issuer approves (public notice), returns for correction or refuses (`text`), then pays after the notice; the company cancels",
    params(
        ("id" = i64, Path, description = "the use's id"),
        ("step" = String, Path, description = "confirm | decline | cancel | claim | return | approve | refuse | pay")
    ),
    request_body = VoucherStepInput,
    responses(
        (status = 200, description = "done; the other parties are e-mailed", body = VoucherUse),
        (status = 400, description = "a body that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the step is another party's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such use or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`, `voucher_no_service` (claim before the service), `voucher_notice_running` (pay during the notice)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`voucher_files_missing`, `voucher_outside_dates`, or `amount_fen` / `service_record_id` / `text` out of their rules", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.use_step", skip_all, fields(step = %path.1))]
pub async fn use_step(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
    body: OptionalJson<VoucherStepInput>,
) -> AppResult<HttpResponse> {
    let id = path_id(&path.0)?;
    let step = UseStep::from_code(&path.1)
        .filter(|s| !matches!(s, UseStep::Request | UseStep::Lapse))
        .ok_or(AppError::NotFound { what: "step" })?;
    let OptionalJson(input) = body;
    let now = state.clock.now();
    let days = state.vouchers.notice_days;
    let r = db::run(&state.pool, move |c| {
        service::use_step(c, &who, id, step, &input, days, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Body of `POST /api/v1/voucher-uses/{id}/files`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VoucherFileUpload {
    /// PDF, PNG or JPEG, at most `vouchers.max_file_mb` MiB; the type is found from the
    /// bytes and must agree with the name's extension.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(
    post,
    path = "/api/v1/voucher-uses/{id}/files",
    tag = "vouchers",
    summary = "The provider's unit admins attach a redemption file (contract, invoice, payment proof, result): multipart/form-data with one `file` part",
    params(("id" = i64, Path, description = "the use's id"), FileParams),
    request_body(content = VoucherFileUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "attached", body = VoucherUse),
        (status = 400, description = "not a multipart form with a `file` part, or no `kind`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin of the providing unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such use the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`: files are added while the use is confirmed or returned", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than `vouchers.max_file_mb`, refused before it is read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`attachment_type`: not a PDF, PNG or JPEG, or the name's extension does not match the bytes", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.add_file", skip_all)]
pub async fn add_file(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let kind = FileParams::parse(req.query_string())?
        .kind
        .ok_or_else(|| AppError::bad_request("kind", format!("one of {}", FileKind::codes())))?;
    let r = receive_file(&state, who, id, kind, &req, payload, |_| Ok(())).await?;
    Ok(HttpResponse::Created().json(r))
}

/// Checks the caller may add a file before reading a byte, then reads, checks and keeps it.
/// `check` sees the form's other fields first (a web form's CSRF token).
pub async fn receive_file(
    state: &AppState,
    who: crate::auth::Principal,
    id: crate::types::VoucherUseId,
    kind: FileKind,
    req: &HttpRequest,
    payload: web::Payload,
    check: impl FnOnce(&files::Upload) -> AppResult<()>,
) -> AppResult<VoucherUse> {
    let now = state.clock.now();
    let w = who.clone();
    db::run(&state.pool, move |c| service::may_add_file(c, &w, id)).await?;
    let limit = state.vouchers.max_file_mb as usize * 1024 * 1024;
    let upload = files::receive(req.headers(), payload, limit).await?;
    check(&upload)?;
    let dir = std::path::PathBuf::from(&state.publishing.attachment_dir);
    let received = web::block(move || crate::publishing::service::receive(&dir, &upload))
        .await
        .map_err(AppError::internal)??;
    db::run(&state.pool, move |c| {
        service::add_file(c, &who, id, kind, received, now)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-uses/{id}/files/{file}",
    tag = "vouchers",
    summary = "Download a redemption file; the use's parties only",
    params(
        ("id" = i64, Path, description = "the use's id"),
        ("file" = i64, Path, description = "the file's id")
    ),
    responses(
        (status = 200, description = "the bytes, with `Content-Disposition: attachment`", content(
            (String = "application/pdf"),
            (String = "image/png"),
            (String = "image/jpeg")
        )),
        (status = 404, description = "no such file, or not the caller's to see", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "vouchers.file", skip_all)]
pub async fn file(
    state: web::Data<AppState>,
    Auth(who): Auth,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (id, file) = (path_id(&path.0)?, path_id(&path.1)?);
    file_response(&state, who, id, file).await
}

/// A redemption file as a download: its type from upload, its original name, no sniffing.
pub async fn file_response(
    state: &AppState,
    who: crate::auth::Principal,
    id: crate::types::VoucherUseId,
    file: crate::types::VoucherFileId,
) -> AppResult<HttpResponse> {
    let row = db::run(&state.pool, move |c| service::file(c, &who, id, file)).await?;
    let dir = std::path::PathBuf::from(&state.publishing.attachment_dir);
    files::download(dir, row.sha256, &row.content_type, &row.name).await
}

#[utoipa::path(
    get,
    path = "/api/v1/voucher-notice",
    tag = "vouchers",
    summary = "The public notice (公示) of approved redemptions: company, provider, instrument, fee and the voucher's part, until the notice ends; public",
    responses((status = 200, description = "the redemptions on notice, newest first", body = Vec<NoticeEntry>))
)]
#[tracing::instrument(name = "vouchers.notice", skip_all)]
pub async fn notice(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let r = db::run(&state.pool, move |c| service::notice(c, now)).await?;
    Ok(HttpResponse::Ok().json(r))
}
