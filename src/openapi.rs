//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, assembled from the
//! `#[utoipa::path]` attributes on the handlers themselves (each module's `Api`), with the real
//! request and response types. `tests/it/openapi.rs` checks that the route table and the
//! document list the same operations and calls each one on a running server.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::Role;
use crate::error::Problem;
use crate::users::model::{Ban, Violation};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The answers every operation can give, documented once: 400 for bad input (the `field`
/// names it), 413 for a body over the route's limit, 405 with `Allow` for another method; for
/// those that need a token 401 without one and 403 outside one's role or unit; 404 where the
/// path names a resource; 409 and 422 for writes (`code` says which rule); 503 when the
/// database is busy or unreachable. An operation's own description of a status wins.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_resource = path.contains('{');
            let uses_database = path.starts_with("/api/v1/") && path != "/api/v1/openapi.json";
            for (op, write) in [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ]
            .into_iter()
            .filter_map(|(op, write)| op.as_mut().map(|op| (op, write)))
            {
                let has_body = op.request_body.is_some();
                let signed_in = op.security.is_some();
                let responses = &mut op.responses.responses;
                if signed_in {
                    responses
                        .entry("401".into())
                        .or_insert_with(|| problem("no valid access token").into());
                    responses
                        .entry("403".into())
                        .or_insert_with(|| problem("not allowed for this role or unit").into());
                }
                responses.entry("400".into()).or_insert_with(|| {
                    problem("bad input: a malformed or unknown parameter or field, a NUL character; `field` names it").into()
                });
                responses.entry("405".into()).or_insert_with(|| {
                    problem("another method: `Allow` lists the ones this path takes").into()
                });
                if has_body {
                    responses.entry("413".into()).or_insert_with(|| {
                        problem("the body is larger than this route takes (64 KiB for JSON)").into()
                    });
                }
                if names_resource {
                    responses.entry("404".into()).or_insert_with(|| {
                        problem("no such resource, or not one the caller may see").into()
                    });
                }
                if write {
                    responses.entry("409".into()).or_insert_with(|| {
                        problem("conflicts with the current state; `code` says how").into()
                    });
                    responses.entry("422".into()).or_insert_with(|| {
                        problem("a field breaks a rule; `field` names it and `code` the rule")
                            .into()
                    });
                }
                if uses_database {
                    responses.entry("503".into()).or_insert_with(|| {
                        problem("the database is busy or unreachable: retry after `Retry-After`")
                            .into()
                    });
                }
            }
        }
    }
}

/// The root of the document: the operational routes (`/health`, `/ready`, this document);
/// each module adds its own part (`Api` in its `mod.rs`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "yiqi 仪器",
        description = "Booking service for shared research instruments (仪器共享平台). Errors are `application/problem+json` with a stable `code` and the offending `field`."
    ),
    paths(
        crate::app::health,
        crate::app::ready,
        crate::app::openapi_json,
        crate::app::api_docs,
        crate::app::api_docs_file
    ),
    components(schemas(Problem, Role, Violation, Ban))
)]
pub struct ApiDoc;

/// Every module's part of the document.
pub fn parts() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        crate::usage::Api::openapi(),
        crate::navigation::Api::openapi(),
        crate::search::Api::openapi(),
        crate::users::Api::openapi(),
        crate::mail::Api::openapi(),
        crate::reservations::Api::openapi(),
        crate::evaluation::Api::openapi(),
        crate::publishing::Api::openapi(),
        crate::vouchers::Api::openapi(),
    ]
}

/// The whole document: the root and every module's part, then what applies to all of them.
pub fn build() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in parts() {
        doc.merge(part);
    }
    BearerAuth.modify(&mut doc);
    CommonProblems.modify(&mut doc);
    doc
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| build().to_json().unwrap_or_else(|_| "{}".to_owned()))
}
