//! The OpenAPI document matches the server: every documented operation is answered by a route
//! of the server (no 404 "page not found", no 405), never with a 500, and every body the
//! document names is a schema it defines.

mod common;

use common::{TestApp, TestDb};
use serde_json::{json, Value};

on_both_backends!(every_documented_operation_exists);

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
            let concrete = path
                .replace("{id}", "1")
                .replace("{user}", "1")
                .replace("{step}", "approve")
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
