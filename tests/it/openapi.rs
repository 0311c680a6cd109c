//! The OpenAPI document matches the server: every documented operation is answered by a route
//! of the server (no 404 "page not found", no 405), never with a 500, and every body the
//! document names is a schema it defines.

use crate::common;

use common::{TestApp, TestDb};
use serde_json::{json, Value};

on_both_backends!(
    every_documented_operation_exists,
    every_api_route_is_documented_with_wire_codes_and_offsets,
    the_documented_query_parameters_are_the_accepted_ones,
);

async fn every_documented_operation_exists(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let doc = app.json("/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let admin = app.token("admin@yiqi.demo").await;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            // Every $ref resolves.
            for r in refs(op) {
                let name = r.trim_start_matches("#/components/schemas/");
                assert!(
                    schemas.contains_key(name),
                    "{method} {path}: no schema {name}"
                );
            }
            assert!(
                op["responses"].get("400").is_some(),
                "{method} {path}: 400 undocumented"
            );
            let concrete = path
                .replace("{id}", "1")
                .replace("{user}", "1")
                .replace("{step}", "approve")
                .replace("{format}", "csv")
                .replace("{token}", "nope.ics");
            let body = op.get("requestBody").map(|_| json!({}));
            let token = op.get("security").map(|_| admin.as_str());
            let (status, got) = app
                .call(&method.to_uppercase(), &concrete, token, body)
                .await;
            assert_ne!(status, 405, "{method} {path}: method not allowed");
            assert!(
                !(status == 404 && got["detail"] == "page not found"),
                "{method} {path} is documented but not served"
            );
            assert!(status < 500, "{method} {path}: {status} {got}");
            // What the document says needs a token does: without one, 401.
            if op.get("security").is_some() {
                let (status, _) = app
                    .call(
                        &method.to_uppercase(),
                        &concrete,
                        None,
                        op.get("requestBody").map(|_| json!({})),
                    )
                    .await;
                assert_eq!(status, 401, "{method} {path} without a token");
            }
        }
    }
    assert!(operations >= 50, "{operations} operations documented");
}

fn refs(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| {
                if k == "$ref" {
                    vec![v.as_str().unwrap_or_default().to_owned()]
                } else {
                    refs(v)
                }
            })
            .collect(),
        Value::Array(a) => a.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

/// The route table and the document agree; enums are documented by the codes the API reads
/// and writes; every time the API writes carries its offset.
async fn every_api_route_is_documented_with_wire_codes_and_offsets(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let doc = app.json("/api/v1/openapi.json").await;
    let mut served = std::collections::BTreeSet::new();
    for route in yiqi::http::routes::table(yiqi::routes) {
        let api =
            route.path.starts_with("/api/") || route.path == "/health" || route.path == "/ready";
        if api && route.method != actix_web::http::Method::HEAD {
            served.insert((route.method.as_str().to_lowercase(), route.path));
        }
    }
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    // What the contract fuzzing found undocumented: a missing resource, a rule a write breaks.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses = op["responses"].as_object().unwrap();
            if path.contains('{') {
                assert!(statuses.contains_key("404"), "{method} {path}: no 404");
            }
            if method != "get" {
                for status in ["409", "422"] {
                    assert!(
                        statuses.contains_key(status),
                        "{method} {path}: no {status}"
                    );
                }
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served, not documented: {undocumented:?}"
    );
    assert!(unserved.is_empty(), "documented, not served: {unserved:?}");

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut enums = 0;
    for (name, schema) in schemas {
        let Some(values) = schema["enum"].as_array() else {
            continue;
        };
        enums += 1;
        for v in values {
            let code = v.as_str().unwrap_or_default();
            assert!(
                !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}: {v} is not a wire code"
            );
        }
    }
    assert!(enums >= 15, "{enums} enum schemas");
    let codes = |name: &str| schemas[name]["enum"].clone();
    assert!(codes("Role")
        .as_array()
        .unwrap()
        .contains(&json!("platform_admin")));
    assert!(codes("ReservationKind")
        .as_array()
        .unwrap()
        .contains(&json!("machine_time")));
    // The stable error codes are one list, shown with their statuses, and the problem
    // document's `code` is that list.
    let listed: Vec<&str> = yiqi::error::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(codes("ErrorCode"), json!(listed));
    let described = schemas["ErrorCode"]["description"].as_str().unwrap();
    for probe in [
        "`reservation_conflict` (409)",
        "`too_short` (422)",
        "`account_disabled` (401/403)",
    ] {
        assert!(described.contains(probe), "{probe} in {described}");
    }
    assert_eq!(
        schemas["Problem"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );

    // What a client reads: every timestamp in these answers has an offset.
    let admin = app.token("admin@yiqi.demo").await;
    let mut seen = 0;
    for path in [
        "/api/v1/instruments?per_page=5",
        "/api/v1/instruments/1",
        "/api/v1/units/1",
        "/api/v1/sub-platforms",
        "/api/v1/reservations?per_page=20",
        "/api/v1/admin/users?per_page=20",
        "/api/v1/admin/mail",
        "/api/v1/admin/audit",
        "/api/v1/service-records?per_page=20",
        "/api/v1/qualifications",
        "/api/v1/me",
        "/api/v1/instruments/1/booking-settings",
    ] {
        let (status, body) = app.call("GET", path, Some(&admin), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        for t in timestamps(&body) {
            seen += 1;
            let offset = t.ends_with('Z') || t[19..].contains('+') || t[19..].contains('-');
            assert!(offset, "{path}: {t} has no offset");
        }
    }
    assert!(seen > 20, "only {seen} timestamps seen");
}

/// Strings that look like a date and a time.
fn timestamps(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let looks = b.len() >= 19
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[..4].iter().all(u8::is_ascii_digit);
            if looks {
                vec![s.clone()]
            } else {
                Vec::new()
            }
        }
        Value::Object(m) => m.values().flat_map(timestamps).collect(),
        Value::Array(a) => a.iter().flat_map(timestamps).collect(),
        _ => Vec::new(),
    }
}

/// Query parameters are declared once (`params::query_params!`): what the document lists is
/// what the service reads, and anything else is a 400 naming it.
async fn the_documented_query_parameters_are_the_accepted_ones(db: TestDb) {
    let app = TestApp::spawn(db.seeded()).await;
    let doc = app.json("/api/v1/openapi.json").await;
    let admin = app.token("admin@yiqi.demo").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let params = get["parameters"].as_array().cloned().unwrap_or_default();
        let query: Vec<&str> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        if query.is_empty() || path.contains('{') {
            continue;
        }
        // Each documented parameter, given empty, is accepted (an empty value is no value).
        let empty: Vec<String> = query.iter().map(|q| format!("{q}=")).collect();
        let (status, body) = app
            .call(
                "GET",
                &format!("{path}?{}", empty.join("&")),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "{path}?{}: {body}", empty.join("&"));
        let (status, body) = app
            .call("GET", &format!("{path}?bogus=1"), Some(&admin), None)
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some("bogus")),
            "{path}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked} lists checked");
    // A required parameter is documented as required.
    let year = doc["paths"]["/api/v1/units/{id}/evaluation"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "year")
        .cloned()
        .unwrap();
    assert_eq!(
        (year["in"].as_str(), year["required"].as_bool()),
        (Some("query"), Some(true))
    );
}

/// Two modules' types of one name would be one schema in the merged document, and the one
/// merged last would describe the other's answers wrongly: every name means one shape.
#[test]
fn no_two_modules_name_different_schemas_alike() {
    use std::collections::HashMap;
    let mut seen: HashMap<String, (usize, Value)> = HashMap::new();
    for (i, part) in yiqi::openapi::parts().into_iter().enumerate() {
        let Some(components) = part.components else {
            continue;
        };
        for (name, schema) in components.schemas {
            let schema = serde_json::to_value(schema).unwrap();
            match seen.get(&name) {
                Some((j, other)) => assert_eq!(
                    other, &schema,
                    "schema {name} of module part {j} and of part {i} differ"
                ),
                None => {
                    seen.insert(name, (i, schema));
                }
            }
        }
    }
}
