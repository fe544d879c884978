mod common;
use apitap_model::diff::diff_models;
use apitap_model::{diff, ApiModel, ExportOptions, LearnConfig};
use common::*;
use serde_json::json;

fn old_doc() -> serde_json::Value {
    json!({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {
            "/users/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                               {"name": "fields", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}},
                    "404": {"description": "nf"}
                }}},
            "/users": {"post": {
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "string"]}}}}}},
                "responses": {"201": {"description": "created"}}}},
            "/legacy": {"get": {"responses": {"200": {"description": "ok"}}}}
        },
        "components": {"schemas": {"User": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}}}}}
    })
}

fn new_doc() -> serde_json::Value {
    json!({
        "openapi": "3.1.0", "info": {"title": "t", "version": "2"},
        "paths": {
            "/users/{userId}": {"get": {
                "parameters": [{"name": "userId", "in": "path", "required": true, "schema": {"type": "integer"}},
                               {"name": "X-Tenant", "in": "header", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "required": ["id"], "properties": {
                        "id": {"type": "number"}, "name": {"type": "string"}, "avatar": {"type": "string"}}}}}}
                }}},
            "/users": {"post": {
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "org"], "properties": {"name": {"type": "string"}, "org": {"type": "string"}, "age": {"type": "integer"}}}}}},
                "responses": {"201": {"description": "created"}, "409": {"description": "conflict"}}}},
            "/health": {"get": {"responses": {"200": {"description": "ok"}}}}
        }
    })
}

#[test]
fn classifies_changes() {
    let d = diff(&old_doc(), &new_doc());
    assert!(d.has_breaking());
    assert_eq!(d.added_endpoints, vec!["GET /health"]);
    assert_eq!(d.removed_endpoints, vec!["GET /legacy"]);
    let kinds = |v: &[apitap_model::Change]| {
        v.iter()
            .map(|c| format!("{} {}", c.kind, c.location))
            .collect::<Vec<_>>()
    };
    let b = kinds(&d.breaking);
    for want in [
        "endpoint-removed ",
        "status-removed 404",
        "response-property-removed 200 application/json $.email",
        "response-property-optional 200 application/json $.name",
        "type-changed-incompatibly 200 application/json $.id",
        "parameter-added-required header parameter x-tenant",
        "request-property-added-required requestBody application/json $.org",
        "type-changed-incompatibly requestBody application/json $.age",
    ] {
        assert!(
            b.iter().any(|x| x == want),
            "missing breaking {want:?} in {b:#?}"
        );
    }
    let c = kinds(&d.compatible);
    for want in [
        "response-property-added 200 application/json $.avatar",
        "status-added 409",
        "parameter-removed query parameter fields",
    ] {
        assert!(
            c.iter().any(|x| x == want),
            "missing compatible {want:?} in {c:#?}"
        );
    }
    assert_eq!(d.breaking.len(), 8, "{b:#?}");
    let text = d.to_text();
    assert!(text.contains("BREAKING changes (8)"), "{text}");
    assert_eq!(d.to_json()["has_breaking"], true);
}

#[test]
fn identical_documents_have_no_changes() {
    let d = diff(&old_doc(), &old_doc());
    assert!(!d.has_breaking());
    assert!(d.compatible.is_empty() && d.added_endpoints.is_empty());
    assert_eq!(d.to_text(), "No changes.\n");
}

#[test]
fn diff_of_learned_models() {
    let cfg = LearnConfig::default();
    let mut old = ApiModel::new();
    let mut new = ApiModel::new();
    for i in 0..5 {
        old.observe(
            &obs("GET", &format!("/items/{i}"), 200, r#"{"id":1,"price":2}"#),
            &cfg,
        );
        old.observe(&obs("DELETE", &format!("/items/{i}"), 204, ""), &cfg);
        new.observe(
            &obs(
                "GET",
                &format!("/items/{}", i + 10),
                200,
                r#"{"id":1,"price":2.5,"stock":3}"#,
            ),
            &cfg,
        );
    }
    let d = diff_models(&old, &new, &ExportOptions::default());
    assert_eq!(d.removed_endpoints, vec!["DELETE /items/{itemId}"]);
    assert!(
        d.breaking
            .iter()
            .any(|c| c.kind == "type-changed-incompatibly" && c.location.ends_with("$.price")),
        "{:#?}",
        d.breaking
    );
    assert!(d
        .compatible
        .iter()
        .any(|c| c.kind == "response-property-added"));
}
