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

/// Hostile documents: each is small, and each must end quickly with a clear error.
mod hostile {
    use apitap_model::diff::{diff, diff_checked, DiffError};
    use serde_json::{json, Value};

    fn doc(schema: Value, components: Value) -> Value {
        json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"get": {"responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": schema}}}}}}},
            "components": {"schemas": components}
        })
    }

    #[test]
    fn self_referencing_all_of_is_a_cycle_error() {
        let d = doc(
            json!({"$ref": "#/components/schemas/A"}),
            json!({"A": {"allOf": [{"$ref": "#/components/schemas/A"}]}}),
        );
        match diff_checked(&d, &d) {
            Err(DiffError::Cycle(at)) => assert!(at.contains("#/components/schemas/A"), "{at}"),
            other => panic!("expected a cycle error, got {other:?}"),
        }
        // the infallible entry point reports it as a breaking, incomplete diff
        let r = diff(&d, &d);
        assert!(r.breaking.iter().any(|c| c.kind == "diff-incomplete"));
        // mutual recursion through allOf
        let m = doc(
            json!({"$ref": "#/components/schemas/A"}),
            json!({"A": {"allOf": [{"$ref": "#/components/schemas/B"}]},
                   "B": {"allOf": [{"type": "object"}, {"$ref": "#/components/schemas/A"}]}}),
        );
        assert!(matches!(diff_checked(&m, &m), Err(DiffError::Cycle(_))));
    }

    #[test]
    fn properties_referring_back_cost_one_comparison() {
        // two properties referring back to their own schema: was exponential (2^depth)
        let comps = json!({"N": {"type": "object", "properties": {
            "left": {"$ref": "#/components/schemas/N"},
            "right": {"$ref": "#/components/schemas/N"},
            "v": {"type": "integer"}}}});
        let old = doc(json!({"$ref": "#/components/schemas/N"}), comps.clone());
        let mut comps2 = comps;
        comps2["N"]["properties"]["v"] = json!({"type": "number"});
        let new = doc(json!({"$ref": "#/components/schemas/N"}), comps2);
        let r = diff_checked(&old, &new).expect("a recursive tree schema is legitimate");
        assert_eq!(r.breaking.len(), 1, "{:?}", r.breaking);
        assert_eq!(r.breaking[0].kind, "type-changed-incompatibly");
    }

    #[test]
    fn deep_all_of_chain_is_too_deep() {
        let mut comps = serde_json::Map::new();
        for i in 0..200 {
            comps.insert(
                format!("S{i}"),
                json!({"allOf": [{"$ref": format!("#/components/schemas/S{}", i + 1)}]}),
            );
        }
        comps.insert("S200".into(), json!({"type": "object"}));
        let d = doc(
            json!({"$ref": "#/components/schemas/S0"}),
            Value::Object(comps),
        );
        assert!(matches!(diff_checked(&d, &d), Err(DiffError::TooDeep(_))));
    }

    #[test]
    fn huge_fan_out_hits_the_work_budget() {
        // 3,000 operations each expanding a 1,000-member allOf: 3M steps > budget
        let members: Vec<Value> = (0..1000)
            .map(|i| json!({"properties": {format!("p{i}"): {"type": "string"}}}))
            .collect();
        let mut paths = serde_json::Map::new();
        for i in 0..3000 {
            paths.insert(
                format!("/p{i}"),
                json!({"get": {"responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Big"}}}}}}}),
            );
        }
        let d = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": paths, "components": {"schemas": {"Big": {"allOf": members}}}});
        let t = std::time::Instant::now();
        assert!(matches!(diff_checked(&d, &d), Err(DiffError::TooMuchWork)));
        // not a timing assertion on CI speed, a guard against an unbounded loop
        assert!(t.elapsed().as_secs() < 120);
    }
}
