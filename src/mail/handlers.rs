//! The mail queue for platform admins: read it, put a dead message back in the queue.

use actix_web::{web, HttpRequest, HttpResponse};

use super::model::{OutboxRow, OutboxStatus};
use super::store;
use crate::auth::{authorize, Action, Auth};
use crate::db;
use crate::error::{AppResult, Problem};
use crate::http::routes::Routes;
use crate::params::{path_id, query_params};
use crate::state::AppState;
use crate::types::Paged;

query_params! {
    /// The query of `GET /api/v1/admin/mail`.
    pub struct MailListParams {
        /// status
        status: code(OutboxStatus),
        /// paging
        page: page,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/mail",
    tag = "mail",
    summary = "The mail queue (platform admin)",
    params(MailListParams),
    responses(
        (status = 200, description = "a page", body = Paged<OutboxRow>)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "admin.mail", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ManageMail)?;
    let MailListParams { status, page } = MailListParams::parse(req.query_string())?;
    let (rows, total) = db::run(&state.pool, move |conn| {
        Ok(store::list(conn, status, page)?)
    })
    .await?;
    let rows = rows.into_iter().map(OutboxRow::redacted).collect();
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, page)))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/mail/{id}/retry",
    tag = "mail",
    summary = "Queue a dead message again (platform admin)",
    params(
        ("id" = i64, Path, description = "the id")
    ),
    responses(
        (status = 200, description = "queued", body = OutboxRow),
        (status = 409, description = "not dead", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "admin.mail_retry", skip_all)]
pub async fn retry(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(&id)?;
    let now = state.clock.now_naive();
    let row = db::run(&state.pool, move |conn| {
        super::service::retry(conn, &who, id, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(row.map(OutboxRow::redacted)))
}

pub fn routes(r: &mut Routes) {
    r.get("/admin/mail", list)
        .post("/admin/mail/{id}/retry", retry);
}
