//! What the derives cannot say, added to the generated OpenAPI document: create bodies with
//! their required fields, each data-source type's `config` (from the core's field table),
//! every documented error status with the error body and headers, the streamed `/query`
//! events, and the error codes. Works on the JSON form of the document.

use serde_json::{json, Map, Value};
use twig_core::datasource::{config_schema, DataSourceType};
use twig_core::id::{id_pattern, RequestId};
use twig_core::webhook::EventKind;
use twig_core::ErrorCode;

/// Request bodies of create operations: (path, component to copy, new name, required fields).
const CREATES: &[(&str, &str, &str, &[&str])] = &[
    (
        "/api/v1/agents",
        "AgentInput",
        "AgentCreate",
        &["name", "data_source_ids"],
    ),
    (
        "/api/v1/users",
        "UserInput",
        "UserCreate",
        &["email", "role"],
    ),
    (
        "/api/v1/kb",
        "ArticleInput",
        "ArticleCreate",
        &["title", "content"],
    ),
    (
        "/api/v1/webhooks",
        "WebhookInput",
        "WebhookCreate",
        &["url", "events"],
    ),
];

/// The value at `keys` if it exists (indexing would create missing objects).
fn at<'a>(v: &'a mut Value, keys: &[&str]) -> Option<&'a mut Value> {
    keys.iter().try_fold(v, |v, k| v.get_mut(*k))
}

/// Applies every refinement.
pub fn refine(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    close_inputs(schemas);
    // Repeated data sources are refused, not folded.
    for name in ["AgentInput", "SemanticSearchInput"] {
        on_array(&mut schemas[name]["properties"]["data_source_ids"], |a| {
            a["uniqueItems"] = Value::Bool(true);
        });
    }
    // Each allowed channel is a conversation id, as `SlackSettingsInput::parse` checks.
    on_array(
        &mut schemas["SlackSettingsInput"]["properties"]["allowed_channel_ids"],
        |a| {
            a["items"]["pattern"] = Value::from(twig_core::slack::CHANNEL_ID_PATTERN);
        },
    );
    subscribable_events(schemas);
    // An upload needs at least one file.
    schemas["UploadForm"]["required"] = json!(["files"]);
    schemas["UploadForm"]["properties"]["files"]["minItems"] = Value::from(1);
    // The derive knows no `uri` format.
    schemas["WebhookInput"]["properties"]["url"]["format"] = Value::from("uri");
    error_codes(schemas);
    data_source_schemas(schemas);
    for (_, from, to, required) in CREATES {
        let s = create_schema(&schemas[*from], required);
        schemas[*to] = s;
    }
    stream_events(schemas);
    for (path, _, to, _) in CREATES {
        set_body(doc, path, "post", to);
    }
    set_body(doc, "/api/v1/data-sources", "post", "DataSourceCreate");
    stream_response(doc);
    responses(doc);
    examples(doc);
    operation_ids(doc);
}

/// Operation ids unique in the document, as OpenAPI requires: `<tag>_<handler>`, e.g.
/// `agents_create` (the derive names them after the handler alone).
fn operation_ids(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let tag = op["tags"][0].as_str().unwrap_or("api").replace('-', "_");
            if let Some(id) = op["operationId"].as_str() {
                op["operationId"] = Value::from(format!("{tag}_{id}"));
            }
        }
    }
}

/// Request examples, as the API reference gives them.
fn examples(doc: &mut Value) {
    let bodies = [
        (
            "/api/v1/query",
            json!({"agent_id": "agent_abc123", "query": "What is your refund policy?",
            "session_id": "sess_xyz789", "stream": false, "temperature": 0.7, "max_tokens": 500}),
        ),
        (
            "/api/v1/semantic-search",
            json!({"query": "pricing information", "org_id": "org_123",
            "top_k": 10, "similarity_threshold": 0.7, "data_source_ids": ["ds_1", "ds_2"]}),
        ),
        (
            "/api/v1/agents",
            json!({"name": "Support Agent",
            "system_prompt": "You are a helpful support assistant.", "rag_strategy": "cedar",
            "temperature": 0.7, "max_tokens": 500, "data_source_ids": ["ds_1", "ds_2"]}),
        ),
        (
            "/api/v1/data-sources",
            json!({"type": "website", "name": "Product Documentation",
            "config": {"url": "https://docs.example.com", "max_pages": 1000},
            "sync_frequency": "daily"}),
        ),
        (
            "/api/v1/interactions/{id}/feedback",
            json!({"feedback": "positive", "comment": "Very helpful!"}),
        ),
    ];
    for (path, example) in bodies {
        let keys = [
            "paths",
            path,
            "post",
            "requestBody",
            "content",
            "application/json",
        ];
        if let Some(media) = at(doc, &keys) {
            media["example"] = example;
        }
    }
}

/// Limits `model` in agent bodies to the models this deployment serves.
pub fn restrict_models(doc: &mut Value, models: &[String]) {
    if models.is_empty() {
        return;
    }
    for name in ["AgentInput", "AgentCreate"] {
        if let Some(model) = at(doc, &["components", "schemas", name, "properties", "model"]) {
            // `model` is optional in both, and null means absent.
            let mut values: Vec<Value> = models.iter().map(|m| Value::from(m.as_str())).collect();
            values.push(Value::Null);
            if let Some(m) = model.as_object_mut() {
                m.insert("enum".into(), Value::Array(values));
                m.remove("pattern");
                m.remove("maxLength");
            }
        }
    }
}

/// Inputs refuse unknown fields (`deny_unknown_fields`), and the document says so.
fn close_inputs(schemas: &mut Value) {
    let Some(all) = schemas.as_object_mut() else {
        return;
    };
    for (name, s) in all.iter_mut() {
        let input = name.ends_with("Input")
            || ["KeyUpdate", "LimitChanges", "RateLimit", "UploadForm"].contains(&name.as_str());
        if input && s["type"] == "object" {
            s["additionalProperties"] = Value::Bool(false);
        }
    }
}

/// Applies `f` to the array schema `s` is, or is one alternative of (an `Option<Vec<_>>`).
fn on_array(s: &mut Value, f: impl Fn(&mut Value)) {
    if let Some(alts) = s.get_mut("oneOf").and_then(Value::as_array_mut) {
        alts.iter_mut()
            .filter(|a| a["type"] == "array")
            .for_each(&f);
    } else if s["type"] == "array"
        || s["type"]
            .as_array()
            .is_some_and(|t| t.contains(&"array".into()))
    {
        f(s);
    }
}

/// `ping` is sent by `/test` but cannot be subscribed to.
fn subscribable_events(schemas: &mut Value) {
    let names: Vec<Value> = EventKind::SUBSCRIBABLE
        .iter()
        .map(|k| Value::from(k.as_str()))
        .collect();
    schemas["SubscribableEvent"] = json!({
        "type": "string", "enum": names,
        "description": "An event an endpoint can subscribe to (`ping` comes only from `/test`)."
    });
    on_array(&mut schemas["WebhookInput"]["properties"]["events"], |a| {
        a["items"] = json!({"$ref": "#/components/schemas/SubscribableEvent"});
    });
}

fn error_codes(schemas: &mut Value) {
    let codes: Vec<Value> = ErrorCode::ALL
        .iter()
        .map(|c| Value::from(c.as_str()))
        .collect();
    schemas["ErrorObject"]["properties"]["code"]["enum"] = Value::Array(codes);
    schemas["ErrorBody"]["properties"]["request_id"]["pattern"] =
        Value::from(id_pattern(RequestId::PREFIX));
}

/// Upper camel case of a wire name: `google_drive` -> `GoogleDrive`.
fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// `config` per type, and the create body as a `oneOf` by `type`.
fn data_source_schemas(schemas: &mut Value) {
    let input = schemas["DataSourceInput"].clone();
    let name = non_null(input["properties"]["name"].clone());
    let frequency = input["properties"]["sync_frequency"].clone();
    let mut variants = Vec::new();
    let mut mapping = Map::new();
    let mut configs = Vec::new();
    for kind in DataSourceType::ALL {
        let t = kind.as_str();
        let config_name = format!("{}Config", camel(t));
        let config = config_schema(kind);
        // A type that needs one of several fields needs a config too.
        let config_required = config.get("required").is_some() || config.get("anyOf").is_some();
        schemas[&config_name] = config;
        let config_ref = json!({"$ref": format!("#/components/schemas/{config_name}")});
        configs.push(config_ref.clone());
        let mut required = vec!["type", "name"];
        let config_prop = if config_required {
            required.push("config");
            config_ref
        } else {
            json!({"oneOf": [config_ref, {"type": "null"}]})
        };
        let variant_name = format!("DataSourceCreate{}", camel(t));
        schemas[&variant_name] = json!({
            "type": "object",
            "description": format!("Body of `POST /data-sources` for a {t} source."),
            "properties": {
                "type": {"type": "string", "enum": [t]},
                "name": name,
                "config": config_prop,
                "sync_frequency": frequency,
            },
            "required": required,
            "additionalProperties": false,
        });
        let r = format!("#/components/schemas/{variant_name}");
        mapping.insert(t.into(), Value::from(r.as_str()));
        variants.push(json!({"$ref": r}));
    }
    schemas["DataSourceCreate"] = json!({
        "description": "Body of `POST /data-sources`: `config` depends on `type`.",
        "oneOf": variants,
        "discriminator": {"propertyName": "type", "mapping": mapping},
    });
    // An update keeps the type; its config is the one of that type.
    let types: Vec<Value> = DataSourceType::ALL
        .iter()
        .map(|k| Value::from(k.as_str()))
        .chain([Value::Null])
        .collect();
    let props = &mut schemas["DataSourceInput"]["properties"];
    props["type"] = json!({"type": ["string", "null"], "enum": types,
        "description": "The source's type, if given (it cannot change)."});
    configs.push(json!({"type": "null"}));
    props["config"] = json!({"anyOf": configs,
        "description": "Replaces the config; the schema of the source's type applies."});
}

/// The schema without its `null` alternative.
fn non_null(mut s: Value) -> Value {
    if let Some(types) = s.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            s["type"] = types[0].clone();
        }
        return s;
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array).cloned() {
        let kept: Vec<Value> = alts.into_iter().filter(|a| a["type"] != "null").collect();
        if kept.len() == 1 {
            let mut out = kept[0].clone();
            if let (Some(o), Some(d)) = (out.as_object_mut(), s.get("description")) {
                o.insert("description".into(), d.clone());
            }
            return out;
        }
        s["oneOf"] = Value::Array(kept);
    }
    s
}

/// A copy of an update body whose `required` fields must be present and not null.
fn create_schema(input: &Value, required: &[&str]) -> Value {
    let mut s = input.clone();
    for r in required {
        let p = s["properties"][*r].clone();
        s["properties"][*r] = non_null(p);
    }
    s["required"] = json!(required);
    s
}

fn set_body(doc: &mut Value, path: &str, method: &str, schema: &str) {
    if let Some(body) = at(doc, &["paths", path, method, "requestBody"]) {
        body["content"]["application/json"]["schema"] =
            json!({"$ref": format!("#/components/schemas/{schema}")});
        body["required"] = Value::Bool(true);
    }
}

/// One server-sent event of a streamed `/query` (`data` is JSON text).
fn stream_events(schemas: &mut Value) {
    let event = |name: &str, data: Value, what: &str| {
        json!({
            "type": "object",
            "description": what,
            "properties": {
                "event": {"type": "string", "enum": [name]},
                "data": {"type": "string", "contentMediaType": "application/json",
                    "contentSchema": data},
                "id": {"type": "string"},
                "retry": {"type": "integer"},
            },
            "required": ["event", "data"],
        })
    };
    schemas["QueryStreamEvent"] = json!({
        "description": "An event of `POST /query` with `stream: true`: `sources` first, then `token`s, then `done` or `error`.",
        "oneOf": [
            event("sources", json!({"type": "array", "items": {"$ref": "#/components/schemas/Source"}}),
                "The sources given to the model (the answer's `[n]` point into them)."),
            event("token", json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
                "A piece of the answer, to be appended."),
            event("done", json!({"$ref": "#/components/schemas/AnswerMetadata"}),
                "The answer is complete."),
            event("error", json!({"$ref": "#/components/schemas/ErrorBody"}),
                "The answer failed midway."),
        ],
    });
}

fn stream_response(doc: &mut Value) {
    let content = at(
        doc,
        &[
            "paths",
            "/api/v1/query",
            "post",
            "responses",
            "200",
            "content",
        ],
    );
    if let Some(content) = content {
        content["text/event-stream"] = json!({
            "schema": {"$ref": "#/components/schemas/QueryStreamEvent"},
        });
    }
}

/// Every documented status with the error body, and the headers every response carries.
fn responses(doc: &mut Value) {
    let rid = json!({"description": "Id of the request (also `request_id` in error bodies).",
        "required": true, "schema": {"type": "string", "pattern": id_pattern(RequestId::PREFIX)}});
    let int = |d: &str| json!({"description": d, "schema": {"type": "integer", "minimum": 0}});
    let limits = [
        (
            "X-RateLimit-Limit",
            int("Requests per minute of the key's scope."),
        ),
        (
            "X-RateLimit-Remaining",
            int("Requests left before throttling."),
        ),
        (
            "X-RateLimit-Reset",
            int("Unix seconds when the allowance is full again."),
        ),
    ];
    let statuses: [(&str, &str); 7] = [
        (
            "400",
            "Invalid request: a missing or malformed field, body or parameter (`invalid_request`).",
        ),
        (
            "401",
            "Missing, unknown, revoked or expired API key (`unauthorized`).",
        ),
        (
            "403",
            "The key lacks the scope, or its user's role forbids it (`forbidden`).",
        ),
        (
            "404",
            "No such resource in the caller's organisation (`not_found`).",
        ),
        (
            "429",
            "Rate limit exceeded (`rate_limit_exceeded`); retry after `Retry-After` seconds.",
        ),
        (
            "500",
            "Internal error (`internal_error`); never carries internals.",
        ),
        ("503", "Temporarily unavailable (`service_unavailable`)."),
    ];
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let authed = op.get("security").is_some();
            let Some(resp) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            resp.remove("4XX");
            for (code, what) in statuses {
                if !authed && !["500", "503"].contains(&code) {
                    continue;
                }
                let mut r = json!({"description": what,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
                if code == "429" {
                    r["headers"] = json!({"Retry-After": {"required": true,
                        "description": "Seconds until a retry can succeed.",
                        "schema": {"type": "integer", "minimum": 0}}});
                }
                resp.entry(code).or_insert(r);
            }
            for r in resp.values_mut() {
                let headers = r
                    .as_object_mut()
                    .map(|o| o.entry("headers").or_insert_with(|| json!({})));
                if let Some(h) = headers {
                    h["X-Request-Id"] = rid.clone();
                    if authed {
                        for (name, s) in &limits {
                            h[*name] = s.clone();
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_of_type_names() {
        assert_eq!(camel("google_drive"), "GoogleDrive");
        assert_eq!(camel("website"), "Website");
    }

    #[test]
    fn required_fields_lose_null() {
        let s = json!({"properties": {"name": {"type": ["string", "null"]},
            "ids": {"oneOf": [{"type": "null"}, {"type": "array"}], "description": "d"}}});
        let c = create_schema(&s, &["name", "ids"]);
        assert_eq!(c["properties"]["name"]["type"], "string");
        assert_eq!(
            c["properties"]["ids"],
            json!({"type": "array", "description": "d"})
        );
        assert_eq!(c["required"], json!(["name", "ids"]));
    }
}
