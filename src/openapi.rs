//! The OpenAPI 3.1 document, generated from the catalog (served at `/openapi.json`, printed by
//! `favcrm openapi`, committed as `tests/openapi.json` and checked for drift by the tests).

use serde_json::{Map, Value, json};

use crate::catalog::{self, Method};

pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
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
            "security": if op.is_public() { json!([]) } else { json!([{ "bearer": [] }]) },
            "x-favcrm-scope": if op.is_public() { Value::Null } else { op.scope.into() },
            "x-favcrm-effect": format!("{:?}", op.effect).to_lowercase(),
            "x-favcrm-idempotent": op.idempotent,
            "responses": {
                op.success_status.to_string(): {
                    "description": op.title,
                    "content": { "application/json": { "schema": op.output_schema } }
                },
                "default": { "$ref": "#/components/responses/Problem" }
            }
        });
        if op.method == Method::Get {
            for (name, schema) in &body_properties {
                parameters.push(json!({ "name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": schema }));
            }
        } else if !body_properties.is_empty() {
            let body_required: Vec<&str> = required.iter().copied().filter(|r| !path_params.contains(r)).collect();
            let schema = json!({ "type": "object", "additionalProperties": false, "properties": body_properties, "required": body_required });
            operation["requestBody"] = json!({ "required": !body_required.is_empty(), "content": { "application/json": { "schema": schema } } });
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
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "An API key: fav_mcp_… (agents) or fav_sk_… (app back ends)." } },
            "parameters": {
                "IdempotencyKey": { "name": "Idempotency-Key", "in": "header", "required": false,
                    "description": "Replays the first successful response for 24 hours; a different body with the same key is 422 idempotency_key_reused.",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 255 } },
                "ConfirmationToken": { "name": "Confirmation-Token", "in": "header", "required": false,
                    "description": "For agent keys: the confirmationToken from a 428 confirmation_required answer for the same arguments.",
                    "schema": { "type": "string" } }
            },
            "responses": {
                "Problem": {
                    "description": "An RFC 9457 problem with a stable code",
                    "content": { "application/problem+json": { "schema": {
                        "type": "object",
                        "required": ["type", "title", "status", "code", "detail"],
                        "properties": {
                            "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                            "code": { "type": "string" }, "detail": { "type": "string" },
                            "errors": { "type": "array", "items": { "type": "object", "properties": {
                                "field": { "type": "string" }, "code": { "type": "string" }, "detail": { "type": "string" } } } },
                            "confirmationToken": { "type": "string" }, "expiresAt": { "type": "string" }, "preview": { "type": "object" },
                            "retryAfterSeconds": { "type": "integer", "description": "On 429: seconds to wait (also in Retry-After)." },
                            "attemptsRemaining": { "type": "integer", "description": "On invalid_code: attempts left for this code." }
                        }
                    } } }
                }
            }
        }
    })
}
