//! The mail queue for platform admins: read it, put a dead message back in the queue.

use actix_web::{web, HttpRequest, HttpResponse};

use super::model::OutboxStatus;
use super::store;
use crate::audit::{self, Target};
use crate::auth::{authorize, Action, Auth};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::http::routes::Routes;
use crate::params::{path_id, QueryParams};
use crate::types::Paged;
use crate::AppState;

#[tracing::instrument(name = "admin.mail", skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    Auth(who): Auth,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ManageMail)?;
    let params = QueryParams::parse(req.query_string(), &["status", "page", "per_page"])?;
    let status = params.code("status", OutboxStatus::from_code, &OutboxStatus::codes())?;
    let page = params.page()?;
    let (rows, total) = db::run(&state.pool, move |conn| {
        Ok(store::list(conn, status, page)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, page)))
}

#[tracing::instrument(name = "admin.mail_retry", skip_all)]
pub async fn retry(
    state: web::Data<AppState>,
    Auth(who): Auth,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    authorize(&who, Action::ManageMail)?;
    let id = path_id(&id)?;
    let now = state.clock.now_naive();
    let row = db::run(&state.pool, move |conn| {
        db::write_tx(conn, |conn| {
            store::find(conn, id)?.ok_or(AppError::NotFound { what: "message" })?;
            if store::requeue_dead(conn, Some(id), now)? == 0 {
                return Err(AppError::conflict(
                    "not_dead",
                    "只有发送失败的邮件可以重发 (only dead messages are retried)",
                ));
            }
            audit::record(
                conn,
                Some(who.id),
                "mail.retry",
                Target("mail", Some(id)),
                None::<&()>,
                None::<&()>,
                now,
            )?;
            Ok(store::find(conn, id)?)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(row))
}

pub fn routes(r: &mut Routes) {
    r.get("/admin/mail", list)
        .post("/admin/mail/{id}/retry", retry);
}
