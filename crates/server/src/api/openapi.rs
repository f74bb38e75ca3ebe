//! The OpenAPI 3.1 document, built from the route table and the JSON Schemas of the request and response types
//! (schemars writes JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect).

use super::problem::Problem;
use super::routes::{ROUTES, RouteSpec, schema};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn problem_response(description: &str, problem: &Value) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": problem } }
    })
}

fn operation(spec: &RouteSpec, g: &mut schemars::SchemaGenerator, problem: &Value) -> Value {
    let mut params: Vec<Value> = path_params(spec.path)
        .into_iter()
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true,
                    "schema": { "type": "string", "minLength": 1 } })
        })
        .collect();
    for q in spec.query {
        params.push(json!({
            "name": q.name, "in": "query", "required": q.required, "description": q.description,
            "schema": (q.schema)(g),
        }));
    }
    if spec.command {
        params.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": true,
            "description": "New for each command; a retry sends the same key and gets the first answer.",
            "schema": { "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$" }
        }));
    }
    if !spec.public() && spec.method != axum::http::Method::GET {
        params.push(json!({
            "name": "X-CSRF-Token", "in": "header", "required": false,
            "description": "With a session cookie: the session's CSRF token (from the login answer).",
            "schema": { "type": "string" }
        }));
    }
    let mut responses = Map::new();
    let ok = match spec.response {
        Some(f) => json!({
            "description": "Success.",
            "content": { "application/json": { "schema": f(g) } }
        }),
        None => json!({ "description": "Success (no body)." }),
    };
    responses.insert(spec.status.to_string(), ok);
    let mut errors: Vec<(&str, &str)> =
        vec![("400", "A parameter, header or body field is not accepted.")];
    if !spec.public() {
        errors.push((
            "401",
            "No credentials, or unknown, expired or revoked ones.",
        ));
        errors.push(("403", "The caller's role or relation to the object does not allow this, or a session's CSRF token is missing."));
    }
    errors.push(("404", "No such object."));
    errors.push(("405", "The path does not answer this method."));
    if spec.command || spec.body.is_some() || !spec.public() {
        errors.push(("409", "Refused by the program rules (with every reason and its fix), or a conflict with the records."));
    }
    if spec.body.is_some() {
        errors.push(("413", "The body is too large."));
        errors.push(("415", "The body is not application/json."));
    }
    if spec.id == "session.login" {
        errors.push((
            "429",
            "Too many failed logins for this account: wait (Retry-After).",
        ));
    }
    errors.push((
        "503",
        "The database does not answer, or the request took too long.",
    ));
    for (code, text) in errors {
        responses.insert(code.into(), problem_response(text, problem));
    }
    let mut op = json!({
        "operationId": spec.id,
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": params,
        "responses": responses,
        "x-lenaguard-roles": spec.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "x-lenaguard-audited": spec.audited,
    });
    if let Some(body) = spec.body {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body(g) } }
        });
    }
    op["security"] = if spec.public() {
        json!([])
    } else {
        json!([{ "bearer": [] }, { "session": [] }])
    };
    op
}

/// The whole document.
pub fn document() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let mut g = settings.into_generator();
    let problem = serde_json::to_value(schema::<Problem>(&mut g)).unwrap_or(Value::Null);
    let mut paths: Map<String, Value> = Map::new();
    for spec in ROUTES {
        let op = operation(spec, &mut g, &problem);
        let item = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        item[spec.method.as_str().to_ascii_lowercase()] = op;
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Lenaguard REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Lenalidomide dosing, safety and REMS program rules and the program workflow. Authenticate with a session (POST /api/v1/session; state-changing requests then send X-CSRF-Token) or an API token (Authorization: Bearer lgt_...). Every route lists the roles that may call it (x-lenaguard-roles); reads of patient data are written to the access log (x-lenaguard-audited). Errors are RFC 9457 problem documents.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "An API token: lgt_{id}_{secret}." },
                "session": { "type": "apiKey", "in": "cookie", "name": super::identity::COOKIE }
            }
        }
    })
}
