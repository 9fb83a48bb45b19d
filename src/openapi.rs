//! The OpenAPI 3.1 document, generated from the catalog (served at `/openapi.json`, printed by
//! `favcrm openapi`, committed as `tests/openapi.json` and checked for drift by the tests).

use serde_json::{Map, Value, json};

use crate::catalog::{self, Method};
use crate::render;

/// The 4xx answers an operation can give, each a Problem: what every call can meet (bad input,
/// limits), what a key brings (401, 403), what naming a record brings (404), what writing brings
/// (409), and the confirmation step (428).
fn client_errors(op: &catalog::Operation) -> Vec<(u16, &'static str)> {
    let mut errors = vec![(400, "Malformed JSON or query string")];
    if !op.is_public() {
        errors.push((401, "Missing, unknown, revoked or expired key"));
        errors.push((403, "Missing scope or role, or refused for this caller"));
    }
    if op.path_params().next().is_some() || !op.read_only() {
        errors.push((404, "A record named in the request does not exist in the caller's organisation"));
    }
    if !op.read_only() {
        errors.push((409, "Conflicts with the current state (taken, duplicate, wrong status)"));
    }
    if op.method != Method::Get {
        errors.push((413, "Body larger than 1 MiB"));
        errors.push((415, "Body not sent as application/json"));
    }
    errors.push((422, "Input refused: validation_failed (see errors[]) or the operation's own code"));
    if op.confirm {
        errors.push((428, "confirmation_required: repeat with the Confirmation-Token header"));
    }
    errors.push((429, "Rate limited: retry after Retry-After seconds"));
    errors
}

/// `create_booking` → `CreateBooking`.
fn pascal(op: &catalog::Operation) -> String {
    op.name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// `create_booking` → `CreateBookingRequest` (the body).
fn request_name(op: &catalog::Operation) -> String {
    format!("{}Request", pascal(op))
}

/// `create_booking` → `CreateBookingInput` (path, query and body members together).
fn input_name(op: &catalog::Operation) -> String {
    format!("{}Input", pascal(op))
}

pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let mut schemas: Map<String, Value> = Map::new();
    schemas.insert("Problem".into(), problem_schema());
    for op in catalog::all() {
        let path_params: Vec<&str> = op.path_params().collect();
        let properties = op.input_schema["properties"].as_object().cloned().unwrap_or_default();
        let required: Vec<&str> = op.input_schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut parameters: Vec<Value> = path_params
            .iter()
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true,
                        "schema": properties.get(*name).cloned().unwrap_or(json!({"type": "string"})) })
            })
            .collect();
        let body_properties: Map<String, Value> = properties
            .iter()
            .filter(|(k, _)| !path_params.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut operation = json!({
            "operationId": op.name,
            "summary": op.title,
            "description": op.client_description(),
            "tags": [op.toolset],
            // The no-key flows (registration, joining a team) need no key.
            "security": if op.is_public() { json!([]) } else { json!([{ "bearer": [] }, { "oauth2": [op.scope] }]) },
            "x-favcrm-scope": if op.is_public() { Value::Null } else { op.scope.into() },
            "x-favcrm-effect": format!("{:?}", op.effect).to_lowercase(),
            "x-favcrm-idempotent": op.idempotent,
            "responses": {
                op.success_status.to_string(): {
                    "description": op.title,
                    "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{}", op.output_name) } } }
                },
                "default": { "$ref": "#/components/responses/Problem" }
            }
        });
        // Every operation's whole input (path, query and body members together) as a named
        // type, for typed clients that call operations by name (sdk/js).
        let input_name = input_name(op);
        assert!(!schemas.contains_key(&input_name), "two schemas named {input_name}");
        schemas.insert(input_name.clone(), op.input_schema.clone());
        operation["x-favcrm-input"] = json!({ "$ref": format!("#/components/schemas/{input_name}") });
        if catalog::WEB_OPERATIONS.contains(&op.name) {
            // A web page may call it with a publishable key (fav_pk_…) from the visitor's browser.
            operation["x-favcrm-publishable"] = json!(true);
        }
        // One named schema per output type, shared by the operations that answer with it.
        match schemas.get(&op.output_name) {
            Some(existing) => assert_eq!(existing, &op.output_schema, "two output types named {}", op.output_name),
            None => {
                schemas.insert(op.output_name.clone(), op.output_schema.clone());
            }
        }
        for (status, description) in client_errors(op) {
            operation["responses"][status.to_string()] = json!({
                "description": description,
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
            });
        }
        if op.needs_approval_for_agents() {
            operation["responses"]["202"] = json!({
                "description": "approval_required: with an agent key, when the organisation puts this operation behind \
                                approval, nothing is done yet; approvalId and approval (its snapshot) say what waits for a person",
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
            });
        }
        if op.method == Method::Get {
            for (name, schema) in &body_properties {
                parameters.push(json!({ "name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": schema }));
            }
        } else if !body_properties.is_empty() {
            let body_required: Vec<&str> = required.iter().copied().filter(|r| !path_params.contains(r)).collect();
            let schema = json!({ "type": "object", "additionalProperties": false, "properties": body_properties, "required": body_required });
            let name = request_name(op);
            schemas.insert(name.clone(), schema);
            operation["requestBody"] = json!({ "required": !body_required.is_empty(),
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } });
        }
        if op.name == "preview_customer_import" {
            csv_upload(&mut operation, &mut parameters);
        }
        if render::has_csv(op) {
            parameters.push(json!({ "$ref": "#/components/parameters/Format" }));
            if render::is_report(op) {
                parameters.push(table_parameter(op));
            }
            operation["responses"][op.success_status.to_string()]["content"]["text/csv"] = json!({
                "schema": { "type": "string", "description": csv_description(op) }
            });
        }
        if render::is_report(op) {
            let mut chart = json!({
                "operationId": format!("{}_chart", op.name),
                "summary": format!("{} as an SVG chart", op.title),
                "description": "The report drawn as bars or a line (one per row of a table, its periods by default), \
                                with labelled axes and money in the report's currency. Takes the report's own \
                                parameters and table, metric (a number column of the table) and chart (bar or line).",
                "tags": [op.toolset],
                "security": [{ "bearer": [] }, { "oauth2": [op.scope] }],
                "x-favcrm-scope": op.scope,
                "responses": {
                    "200": { "description": "The chart", "content": { "image/svg+xml": { "schema": { "type": "string" } } } },
                    "default": { "$ref": "#/components/responses/Problem" }
                }
            });
            let mut chart_parameters: Vec<Value> =
                parameters.iter().filter(|p| p["$ref"] != "#/components/parameters/Format").cloned().collect();
            chart_parameters.push(json!({ "name": "metric", "in": "query", "required": false,
                "schema": { "type": "string" }, "description": "The figure drawn, a number column of the table (e.g. net.amount)." }));
            chart_parameters.push(json!({ "name": "chart", "in": "query", "required": false,
                "schema": { "type": "string", "enum": ["bar", "line"], "default": "bar" } }));
            chart["parameters"] = Value::Array(chart_parameters);
            paths.insert(format!("{}.svg", op.path), json!({ "get": chart }));
        }
        if op.method == Method::Post && !op.is_public() {
            parameters.push(json!({ "$ref": "#/components/parameters/IdempotencyKey" }));
        }
        if op.confirm {
            parameters.push(json!({ "$ref": "#/components/parameters/ConfirmationToken" }));
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let entry = paths.entry(op.path.to_string()).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "favcrm",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Agentic headless backend for service businesses. Every operation is also an MCP tool at /mcp."
        },
        "servers": [{ "url": "http://127.0.0.1:8080" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "An API key: fav_mcp_… (agents) or fav_sk_… (app back ends); or an OAuth access token (fav_oat_…)." },
                "oauth2": { "type": "oauth2", "description": "OAuth 2.1: authorization code with PKCE S256 only; clients register at /oauth/register (RFC 7591) or use the URL of their metadata document as client_id; tokens are bound to a resource (RFC 8707): the server's base URL, or its /mcp endpoint only.",
                    "flows": { "authorizationCode": { "authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token", "refreshUrl": "/oauth/token",
                        "scopes": oauth_scopes() } } }
            },
            "parameters": {
                "IdempotencyKey": { "name": "Idempotency-Key", "in": "header", "required": false,
                    "description": "Replays the first successful response for 24 hours; a different body with the same key is 422 idempotency_key_reused.",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 255 } },
                "ConfirmationToken": { "name": "Confirmation-Token", "in": "header", "required": false,
                    "description": "For agent keys: the confirmationToken from a 428 confirmation_required answer for the same arguments.",
                    "schema": { "type": "string" } },
                "Format": { "name": "format", "in": "query", "required": false,
                    "description": "json (the default) or csv: RFC 4180, UTF-8, a header row, sent as text/csv.",
                    "schema": { "type": "string", "enum": ["json", "csv"], "default": "json" } }
            },
            "responses": {
                "Problem": {
                    "description": "An RFC 9457 problem with a stable code",
                    "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
                }
            }
        }
    })
}

/// Every scope a key or token can hold, in plain words.
fn oauth_scopes() -> Map<String, Value> {
    let mut scopes: Vec<&str> = catalog::all().iter().filter(|op| !op.is_public()).map(|op| op.scope).collect();
    scopes.push("approvals:decide");
    scopes.sort_unstable();
    scopes.dedup();
    scopes.into_iter().map(|s| (s.to_string(), Value::String(catalog::scope_words(s)))).collect()
}

fn table_parameter(op: &catalog::Operation) -> Value {
    json!({ "name": "table", "in": "query", "required": false,
            "description": format!("Which table of the report a CSV (or chart) holds, by its path: {} (a number \
                                    picks an element of an array, as in currencies.0.buckets).", render::tables(op).join(", ")),
            "schema": { "type": "string", "default": render::default_table(op) } })
}

fn csv_description(op: &catalog::Operation) -> &'static str {
    if render::is_report(op) {
        "With format=csv: one table of the report (table=, its periods by default) as RFC 4180 CSV, UTF-8, a header row."
    } else {
        "With format=csv: every item the list matches (page after page; leave out limit and cursor) as RFC 4180 \
         CSV, UTF-8, a header row; nested fields as dotted columns (total.amount)."
    }
}

/// An RFC 9457 problem, with every member some answer carries.
fn problem_schema() -> Value {
    let slot = json!({ "type": "object", "properties": {
        "start": { "type": "string", "format": "date-time" }, "end": { "type": "string", "format": "date-time" },
        "staff": { "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" } } } },
        "resourceIds": { "type": "array", "items": { "type": "string", "format": "uuid" } } } });
    json!({
        "type": "object",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": {
            "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
            "code": { "type": "string", "description": "validation_failed: the input does not match the schema (see errors); any other code names the refusal." },
            "detail": { "type": "string" },
            "errors": { "type": "array", "items": { "type": "object", "required": ["field", "code", "detail"], "properties": {
                "field": { "type": "string" }, "code": { "type": "string" }, "detail": { "type": "string" } } } },
            "confirmationToken": { "type": "string", "description": "On 428 confirmation_required: send it back as Confirmation-Token." },
            "approvalId": { "type": "string", "format": "uuid", "description": "On 202 approval_required: the approval a person decides (get_approval)." },
            "approval": { "type": "object", "description": "On 202 approval_required: the approval, with the snapshot of exactly what approving carries out." },
            "expiresAt": { "type": "string", "format": "date-time" },
            "preview": { "type": "object", "description": "On 428: what the confirmed call would do.", "properties": {
                "operation": { "type": "string" },
                "arguments": { "type": "object" },
                "target": { "description": "The record the call acts on, as the matching get_ operation returns it." },
                "effect": { "type": "object", "description": "For bookings: the new status, lateCancel, fee, timeFreed, customerNotified." } } },
            "nearbySlots": { "type": "array", "items": slot, "description": "On slot_taken and not_on_slot_grid: open slots near the one asked for." },
            "candidates": { "type": "array", "description": "On ambiguous_customer: the customers the name matches.", "items": { "type": "object", "properties": {
                "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" },
                "email": { "type": ["string", "null"] }, "phone": { "type": ["string", "null"] } } } },
            "toolsets": { "type": "array", "items": { "type": "string" }, "description": "On unknown_toolset: the valid names." },
            "retryAfterSeconds": { "type": "integer", "description": "On 429: seconds to wait (also in Retry-After)." },
            "attemptsRemaining": { "type": "integer", "description": "On invalid_code: attempts left for this code." }
        }
    })
}

/// `POST /v1/customer-imports` also takes the file itself as a `text/csv` body (any size up to
/// 100,000 rows, read as it arrives), with the options in the query string.
fn csv_upload(operation: &mut Value, parameters: &mut Vec<Value>) {
    operation["requestBody"]["content"]["text/csv"] = json!({
        "schema": { "type": "string", "description": "The file: RFC 4180, UTF-8, a header row naming the columns. \
            The options go in the query string (mapping as JSON text)." }
    });
    let only_csv = "With a text/csv body only (a JSON body carries its options itself).";
    parameters.push(json!({ "name": "mapping", "in": "query", "required": false,
        "description": format!("Column → field, as JSON text: {{\"E-mail\":\"email\"}}. {only_csv}"),
        "schema": { "type": "string" } }));
    parameters.push(json!({ "name": "onExisting", "in": "query", "required": false,
        "description": format!("update (the default) or skip. {only_csv}"),
        "schema": { "type": "string", "enum": ["update", "skip"] } }));
    parameters.push(json!({ "name": "tags", "in": "query", "required": false,
        "description": format!("Tags for every customer imported, comma-separated. {only_csv}"),
        "schema": { "type": "string" } }));
}
