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

/// The request side's and the response side's schema generators: a field that is left out when empty is optional
/// in an answer but may be required in a request, so the two are described apart (see [`document`]).
struct Generators {
    requests: schemars::SchemaGenerator,
    responses: schemars::SchemaGenerator,
}

fn operation(spec: &RouteSpec, gens: &mut Generators, problem: &Value) -> Value {
    let g = &mut gens.requests;
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
            "content": { "application/json": { "schema": f(&mut gens.responses) } }
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
            "401",
            "The login or the password is wrong, or the account is disabled.",
        ));
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
            "content": { "application/json": { "schema": body(&mut gens.requests) } }
        });
    }
    op["security"] = if spec.public() {
        json!([])
    } else {
        json!([{ "bearer": [] }, { "session": [] }])
    };
    op
}

const SCHEMAS: &str = "#/components/schemas/";

/// Point every `$ref` to a renamed response schema at its new name.
fn rename_refs(v: &mut Value, renamed: &std::collections::BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix(SCHEMAS)
                && let Some(new) = renamed.get(name)
            {
                *r = format!("{SCHEMAS}{new}");
            }
            for child in map.values_mut() {
                rename_refs(child, renamed);
            }
        }
        Value::Array(items) => {
            for child in items {
                rename_refs(child, renamed);
            }
        }
        _ => {}
    }
}

/// The whole document.
pub fn document() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let mut gens = Generators {
        requests: settings.clone().for_deserialize().into_generator(),
        responses: settings.for_serialize().into_generator(),
    };
    let problem =
        serde_json::to_value(schema::<Problem>(&mut gens.responses)).unwrap_or(Value::Null);
    let mut paths: Map<String, Value> = Map::new();
    for spec in ROUTES {
        let op = operation(spec, &mut gens, &problem);
        let item = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        item[spec.method.as_str().to_ascii_lowercase()] = op;
    }
    // A type described both ways keeps one name where the two descriptions agree; where they differ, the
    // answer's description is named `<Name>Response`.
    let mut schemas = gens.requests.take_definitions(true);
    let mut answers = gens.responses.take_definitions(true);
    let renamed: std::collections::BTreeMap<String, String> = answers
        .iter()
        .filter(|(name, v)| schemas.get(*name).is_some_and(|r| r != *v))
        .map(|(name, _)| (name.clone(), format!("{name}Response")))
        .collect();
    for (name, mut v) in std::mem::take(&mut answers) {
        rename_refs(&mut v, &renamed);
        let name = renamed.get(&name).cloned().unwrap_or(name);
        schemas.insert(name, v);
    }
    let mut paths = Value::Object(paths);
    for item in paths
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            if let Some(responses) = op.get_mut("responses") {
                rename_refs(responses, &renamed);
            }
        }
    }

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
