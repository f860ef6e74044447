//! The OpenAPI document of the API: the base document (`openapi/base.json`) and the paths each area
//! of the interface adds in its own file (`openapi/<area>.json`), completed here so that it cannot
//! drift from the code:
//! - every request body is the JSON schema of the Rust type its handler reads (`schemars`), with
//!   its required fields — what the server accepts is what the document says;
//! - every error is problem details (RFC 9457, `application/problem+json`, schema `Problem`), and
//!   every status a route can answer is declared: the framework's own (400 for a query or body that
//!   does not parse, 415 for a body that is not JSON), the register's refusals (404, 409, 422), the
//!   guards (401, 403) and the server's (500 with an error id, 503 when the database is out of
//!   reach or a query ran out of time, 507 when the disk is full);
//! - path ids are 64-bit integers, as the router reads them.
//!
//! A test keeps the document equal to the routes; `tests/api_contract.rs` runs Schemathesis
//! against it.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Value};

const PARTS: &[&str] = &[
    include_str!("openapi/register.json"),
    include_str!("openapi/execution.json"),
    include_str!("openapi/stats.json"),
    include_str!("openapi/admin.json"),
    include_str!("openapi/diagnostics.json"),
    include_str!("openapi/tsr.json"),
    include_str!("openapi/egisso.json"),
    include_str!("openapi/recipients.json"),
];

/// One request body: the route and method, and its schema drawn from the handler's type.
struct Body {
    method: &'static str,
    path: &'static str,
    schema: Value,
}

fn body<T: JsonSchema>(generator: &mut SchemaGenerator, method: &'static str, path: &'static str) -> Body {
    let schema = serde_json::to_value(generator.subschema_for::<T>()).expect("a schema serialises");
    Body { method, path, schema }
}

/// Every JSON body the API reads, by the type its handler takes.
fn bodies(g: &mut SchemaGenerator) -> Vec<Body> {
    use super::ui::admin::api as admin;
    use super::ui::admin::organisations::Profile;
    use super::ui::register::api as register;
    use super::{api, exchange_api as exchange};
    use crate::register::directory::Organisation;
    use crate::register::execution::ExecutionForm;
    vec![
        body::<crate::auth::web::Credentials>(g, "post", "/api/v1/session"),
        body::<Organisation>(g, "post", "/api/v1/organisations"),
        body::<Profile>(g, "put", "/api/v1/organisations/{ogrn}"),
        body::<api::RuleRequest>(g, "post", "/api/v1/routing/rules"),
        body::<api::RuleRequest>(g, "post", "/api/v1/routing/preview"),
        body::<api::AssignRequest>(g, "post", "/api/v1/measures/{id}/assign"),
        body::<ExecutionForm>(g, "post", "/api/v1/executions"),
        body::<ExecutionForm>(g, "put", "/api/v1/executions/{id}"),
        body::<api::AssembleRequest>(g, "post", "/api/v1/ipras/{id}/reports"),
        body::<api::AnswerRequest>(g, "post", "/api/v1/reports/{id}/answer"),
        body::<api::ReferenceUpdate>(g, "put", "/api/v1/reference/{list}"),
        body::<exchange::SignatureUpload>(g, "post", "/api/v1/reports/{id}/signature"),
        body::<exchange::DeathDecision>(g, "post", "/api/v1/exchange/deaths/{id}/decide"),
        body::<crate::register::clarification::Raise>(g, "post", "/api/v1/ipras/{id}/tsr-clarifications"),
        body::<crate::register::clarification::Raise>(g, "put", "/api/v1/tsr-clarifications/{id}"),
        body::<super::ui::register::tsr::Withdraw>(g, "post", "/api/v1/tsr-clarifications/{id}/withdraw"),
        body::<admin::NewUserRequest>(g, "post", "/api/v1/users"),
        body::<admin::UserUpdate>(g, "put", "/api/v1/users/{login}"),
        body::<admin::PasswordRequest>(g, "post", "/api/v1/users/{login}/password"),
        body::<admin::ActiveRequest>(g, "post", "/api/v1/users/{login}/active"),
        body::<admin::TokenRequest>(g, "post", "/api/v1/users/{login}/tokens"),
        body::<admin::NewJob>(g, "post", "/api/v1/jobs"),
        body::<admin::JobChange>(g, "put", "/api/v1/jobs/{name}"),
        body::<admin::DayRequest>(g, "put", "/api/v1/calendar/days/{date}"),
        body::<register::NewFilter>(g, "post", "/api/v1/saved-filters"),
        body::<register::ColumnsRequest>(g, "put", "/api/v1/settings/register-columns"),
        body::<super::ui::egisso::MappingRequest>(g, "put", "/api/v1/egisso/mappings/{code}"),
    ]
}

/// Routes open without a login.
const OPEN: &[&str] = &["/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json"];

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "Проблема (RFC 9457): detail — сообщение на русском языке; field — поле запроса, которое не прошло проверку; errors — все такие поля; error_id — код внутренней ошибки в журнале сервера.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "field": {"type": "string"},
            "ok": {"type": "boolean"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}}
                }
            },
            "error_id": {"type": "string"},
            "error": {
                "type": "object",
                "description": "Прежняя форма ответа об ошибке (для клиентов, написанных под неё)",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}
            }
        }
    })
}

fn problem_ref() -> Value {
    json!({"$ref": "#/components/responses/Error"})
}

/// The document as served.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string_pretty(&build()).expect("a JSON value serialises"))
}

fn build() -> Value {
    let mut doc: Value = serde_json::from_str(include_str!("openapi/base.json")).expect("openapi/base.json is JSON");
    for part in PARTS {
        let part: Value = serde_json::from_str(part).expect("openapi parts are JSON");
        if let (Some(paths), Some(extra)) = (doc["paths"].as_object_mut(), part.as_object()) {
            for (path, item) in extra {
                paths.insert(path.clone(), item.clone());
            }
        }
    }
    let mut generator = SchemaSettings::openapi3().into_generator();
    let bodies = bodies(&mut generator);
    for b in bodies {
        let operation = &mut doc["paths"][b.path][b.method];
        assert!(operation.is_object(), "{} {} is in the document", b.method, b.path);
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": b.schema}}
        });
    }
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    schemas.insert("Error".into(), problem_schema());
    schemas.remove("FieldErrors");
    doc["components"]["responses"]["Error"] = json!({
        "description": "Ошибка: проблема в формате RFC 9457",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    });
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        let shared_params = item.get("parameters").cloned();
        for (method, operation) in item.iter_mut() {
            if method == "parameters" {
                continue;
            }
            complete(path, method, operation, shared_params.as_ref());
        }
        if let Some(params) = item.get_mut("parameters") {
            for p in params.as_array_mut().into_iter().flatten() {
                as_the_server_reads(p);
            }
        }
    }
    doc
}

/// A parameter as the server reads it: an id in the path is an i64, with its bounds; a filter's
/// date, choice or number may be left blank (an empty form field is no filter); a page number or
/// size out of range is brought into it.
fn as_the_server_reads(parameter: &mut Value) {
    if parameter["in"] == "query" && parameter["schema"]["format"] == "date" {
        let mut date = parameter["schema"].clone();
        date["type"] = json!("string");
        parameter["schema"] = json!({"oneOf": [date, {"type": "string", "maxLength": 0}]});
    }
    // A filter's choice may be left blank, and is read trimmed.
    if parameter["in"] == "query" && parameter["required"] != true {
        if let Some(choices) = parameter["schema"]["enum"].as_array() {
            let words: Vec<String> = choices
                .iter()
                .filter_map(Value::as_str)
                .filter(|c| c.chars().all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_'))
                .map(str::to_string)
                .collect();
            if words.len() == choices.len() {
                parameter["schema"] = json!({
                    "type": "string",
                    "pattern": format!("^\\s*({})?\\s*$", words.join("|")),
                });
            }
        }
    }
    // A page number or size out of range is brought into it (the first page, one row, the most a
    // page holds), as the pages do.
    if parameter["in"] == "query" && parameter["schema"]["type"] == "integer" {
        let name = parameter["name"].as_str().unwrap_or_default();
        if name.ends_with("page") {
            parameter["schema"] = json!({"type": "integer"});
        }
    }
    // A number of a filter may be left blank too.
    if parameter["in"] == "query" && parameter["required"] != true && parameter["schema"]["type"] == "integer" {
        let number = parameter["schema"].clone();
        parameter["schema"] = json!({"anyOf": [number, {"type": "string", "pattern": "^\\s*$"}]});
    }
    if parameter["in"] == "path" && (parameter["schema"]["type"] == "integer" || parameter["name"] == "id") {
        parameter["schema"] = json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX});
    }
}

fn complete(path: &str, method: &str, operation: &mut Value, shared_params: Option<&Value>) {
    // Bodies the handler does not read are not asked for.
    if operation.get("requestBody").is_some()
        && operation["requestBody"]["content"]["application/json"]["schema"] == json!({"type": "object"})
        && method != "get"
    {
        operation.as_object_mut().expect("an operation").remove("requestBody");
    }
    if let Some(params) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
        params.iter_mut().for_each(as_the_server_reads);
    }
    let has_body = operation.get("requestBody").is_some();
    let parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
        + shared_params.and_then(Value::as_array).map_or(0, Vec::len);
    let has_path_params = path.contains('{');
    // The login: open, and throttled (five wrong passwords within 15 minutes lock a login for 15).
    let login = path == "/api/v1/session" && method == "post";
    let open = OPEN.contains(&path) || login;
    if open {
        operation["security"] = json!([]);
    }
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    // Field errors and every other error are the one problem schema.
    for (status, response) in responses.iter_mut() {
        let error = status.parse::<u16>().is_ok_and(|s| s >= 400);
        let field_errors = response["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("/FieldErrors"));
        if error && field_errors {
            *response = problem_ref();
        }
    }
    let mut add = |status: &str| {
        responses.entry(status.to_string()).or_insert_with(problem_ref);
    };
    if parameters > 0 || has_body || has_path_params {
        add("400");
        // Text with the character of code 0 (refused before any handler, see `refuse_nul`).
        add("422");
    }
    if !open {
        add("401");
        add("403");
    }
    if has_path_params {
        add("404");
    }
    if login {
        add("429");
    }
    if has_body {
        add("413");
        add("415");
        add("422");
    }
    if method != "get" {
        add("409");
        add("507");
    }
    add("500");
    add("503");
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every operation that takes a JSON body declares the schema of its handler's type, never a
    /// bare object; every error response is the problem schema.
    #[test]
    fn bodies_and_errors_are_declared() {
        let doc: Value = serde_json::from_str(super::document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                if let Some(body) = operation.get("requestBody") {
                    let schema = &body["content"]["application/json"]["schema"];
                    assert_ne!(schema, &serde_json::json!({"type": "object"}), "{method} {path}");
                }
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if status.parse::<u16>().unwrap_or(0) >= 400 && path != "/api/v1/ready" {
                        assert_eq!(
                            response["$ref"], "#/components/responses/Error",
                            "{method} {path} {status}"
                        );
                    }
                }
                assert!(operation["responses"].get("500").is_some(), "{method} {path}");
            }
        }
        let login = &doc["components"]["schemas"]["Credentials"];
        assert_eq!(login["required"], serde_json::json!(["login", "password"]));
    }
}
