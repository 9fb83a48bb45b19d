//! REST routes generated from the catalog. A handler turns path, query and body into one
//! JSON input, checks its shape against the operation, and hands it to the executor.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use http::StatusCode;
use serde_json::{Map, Value};
use sha2::Digest;

use super::cors::{WEB_OPERATIONS, preflight, with_cors};
use super::request::{RequestId, caller, declared_length, publishable_key, read_limited};
use super::{WebState, problem};
use crate::call::{self, AppState};
use crate::catalog::{self, Method, Operation};
use crate::db::tx::{self, Call, Caller, Via};
use crate::error::ApiError;
use crate::render;

/// Registers one route per catalog operation.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&'static str> = catalog::all().iter().map(|op| op.path).collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let mut allowed: Vec<&'static str> =
            catalog::all().iter().filter(|op| op.path == path).map(|op| op.method.as_str()).collect();
        if catalog::all().iter().any(|op| op.path == path && WEB_OPERATIONS.contains(&op.name)) {
            allowed.push("OPTIONS");
        }
        let allow = allowed.join(", ");
        let mut resource = web::resource(path)
            .default_service(web::to(move |req: HttpRequest| method_not_allowed(req, allow.clone())));
        if catalog::all().iter().any(|op| op.path == path && WEB_OPERATIONS.contains(&op.name)) {
            resource = resource.route(web::method(actix_web::http::Method::OPTIONS).to(preflight));
        }
        for op in catalog::all().iter().filter(|op| op.path == path) {
            if render::is_report(op) {
                cfg.service(web::resource(format!("{}.svg", op.path)).route(web::get().to(
                    move |req: HttpRequest,
                          body: web::Payload,
                          state: web::Data<AppState>,
                          web: web::Data<WebState>| { chart(op, req, body, state, web) },
                )));
            }
            let method = match op.method {
                Method::Get => web::get(),
                Method::Post => web::post(),
                Method::Put => web::put(),
                Method::Patch => web::patch(),
                Method::Delete => web::delete(),
            };
            resource = resource.route(method.to(
                move |req: HttpRequest, body: web::Payload, state: web::Data<AppState>, web: web::Data<WebState>| {
                    handle(op, req, body, state, web)
                },
            ));
        }
        cfg.service(resource);
    }
}

/// 405 with the `Allow` header RFC 9110 asks for.
async fn method_not_allowed(req: HttpRequest, allow: String) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}; use {allow}.", req.method(), req.path()),
    )
    .header("Allow", allow))
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "route_not_found", format!("No route {} {}", req.method(), req.path())))
}

#[tracing::instrument(skip_all, fields(op = op.name))]
async fn handle(
    op: &'static Operation,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    web: web::Data<WebState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(key) = publishable_key(req.headers()) {
        let key = key.to_string();
        return publishable(op, &req, body, &state, &web, key).await;
    }
    if op.name == "preview_customer_import" && is_csv(&req) {
        return csv_import(op, req, body, state).await;
    }
    // The no-key flows ignore any key sent along: they act for nobody yet.
    let caller =
        if op.is_public() { Caller::Anonymous } else { caller(req.headers(), || super::oauth::resource(&req, ""))? };
    let mut input = input_from(op, &req, body).await?;
    let format = Format::take(op, &mut input)?;
    op.check_input(&mut input)?;
    if let Format::Csv { table } = format {
        let read = Read::new(op, &req, &state, caller, web.client_ip(&req));
        return csv_answer(read, input, table).await;
    }
    let idempotency_key = idempotency_key(&req, op)?;
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let confirmation_token = req.headers().get("confirmation-token").and_then(|v| v.to_str().ok());
    let client_ip = web.client_ip(&req);
    let outcome = call::dispatch(
        &state,
        Call {
            op,
            caller: &caller,
            input: &input,
            via: Via::Rest,
            request_id: &request_id,
            idempotency_key,
            confirmation_token,
            person_secret: None,
        },
        client_ip,
    )
    .await?;
    Ok(answer(outcome))
}

/// An operation's answer as JSON, with `Idempotent-Replayed` when it is a replay.
fn answer(outcome: tx::Outcome) -> HttpResponse {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(problem::status(status));
    if outcome.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.content_type("application/json").body(outcome.body.into_text())
}

/// A call with a publishable key: checked by `auth.publishable_call` (key, origin, operation),
/// answered with CORS headers for the calling origin.
async fn publishable(
    op: &'static Operation,
    req: &HttpRequest,
    body: web::Payload,
    state: &AppState,
    web: &WebState,
    key: String,
) -> Result<HttpResponse, ApiError> {
    let origin = req.headers().get(actix_web::http::header::ORIGIN).and_then(|v| v.to_str().ok());
    // A page's key is shared by all its visitors: each visitor's address has its own budget.
    let client_ip = web.client_ip(req);
    let checked = match state.abuse.web_request(client_ip, op.name == "create_booking") {
        Ok(()) => input_from(op, req, body).await.and_then(|mut input| op.check_input(&mut input).map(|()| input)),
        Err(e) => Err(e),
    };
    let input = match checked {
        Ok(input) => input,
        Err(error) => return Ok(with_cors(error.error_response(), origin)),
    };
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let digest: [u8; 32] = sha2::Sha256::digest(key.as_bytes()).into();
    let result = tx::call_publishable(&state.pool, &digest, origin, op, &input, &request_id).await;
    match result {
        Ok(body) => {
            let status = StatusCode::from_u16(op.success_status).unwrap_or(StatusCode::OK);
            Ok(with_cors(HttpResponse::build(problem::status(status)).json(body), origin))
        }
        Err(error) => Ok(with_cors(error.error_response(), origin)),
    }
}

/// The media type of the request's body, lower-cased, without parameters.
fn mime(req: &HttpRequest) -> String {
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn is_csv(req: &HttpRequest) -> bool {
    mime(req) == "text/csv"
}

/// `POST /v1/customer-imports` with a CSV file as the body (`Content-Type: text/csv`, options in
/// the query string): the file is read as it arrives, through a small channel, into the
/// preview (`crate::call::imports`), so its size does not matter to memory.
async fn csv_import(
    op: &'static Operation,
    req: HttpRequest,
    mut body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    use futures_util::StreamExt;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("A CSV file sent for import is at most {} bytes: split it.", call::imports::MAX_CSV_BYTES),
        )
    };
    let caller = caller(req.headers(), || super::oauth::resource(&req, ""))?;
    if declared_length(req.headers()).is_some_and(|n| n > call::imports::MAX_CSV_BYTES) {
        return Err(too_large());
    }
    // The options come in the query string, mapping as JSON text.
    let mut options = query_input(op, &req)?;
    if let Some(Value::String(text)) = options.get("mapping") {
        let mapping = serde_json::from_str::<Value>(text).map_err(|_| {
            ApiError::invalid(
                "mapping",
                "invalid_mapping",
                "mapping is a JSON object of column → field, such as {\"E-mail\":\"email\",\"Full name\":\"name\"}.",
            )
        })?;
        options.insert("mapping".into(), mapping);
    }
    let mut input = Value::Object(options);
    op.check_input(&mut input)?;
    let idempotency_key = idempotency_key(&req, op)?;
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    // The body's chunks go through a channel of a few, so the reader (which must be Send) holds
    // at most those; past the size limit the reader gets an error instead of more.
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<web::Bytes>>(4);
    let feeder = actix_web::rt::spawn(async move {
        let mut read = 0usize;
        while let Some(chunk) = body.next().await {
            let item = match chunk {
                Ok(bytes) if read + bytes.len() > call::imports::MAX_CSV_BYTES => {
                    Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, "payload_too_large"))
                }
                Ok(bytes) => {
                    read += bytes.len();
                    Ok(bytes)
                }
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let stop = item.is_err();
            if sender.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    let reader = tokio_util::io::StreamReader::new(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let call = Call {
        op,
        caller: &caller,
        input: &input,
        via: Via::Rest,
        request_id: &request_id,
        idempotency_key,
        confirmation_token: None,
        person_secret: None,
    };
    let result = call::imports::preview(&state.pool, call, call::imports::Source::Csv(Box::new(reader))).await;
    feeder.abort();
    let outcome = result.map_err(|e| if e.code == "payload_too_large" { too_large() } else { e })?;
    Ok(answer(outcome))
}

/// How a GET answers: JSON, or CSV (`?format=csv`) — of every item a list matches, or of a
/// report's table (`&table=`, its periods by default).
enum Format {
    Json,
    Csv { table: Option<String> },
}

impl Format {
    /// Takes `format` (and a report's `table`) out of the input, which the operation never sees.
    fn take(op: &Operation, input: &mut Value) -> Result<Self, ApiError> {
        let Some(map) = input.as_object_mut() else { return Ok(Format::Json) };
        if !render::has_csv(op) {
            return Ok(Format::Json);
        }
        let format = match map.remove("format") {
            None => return Ok(Format::Json),
            Some(Value::String(f)) if f == "json" => return Ok(Format::Json),
            Some(Value::String(f)) if f == "csv" => f,
            Some(_) => {
                return Err(ApiError::invalid("format", "invalid_format", "format is json (the default) or csv."));
            }
        };
        debug_assert_eq!(format, "csv");
        if render::is_report(op) {
            let table = map.remove("table").map(|t| t.as_str().unwrap_or_default().to_string());
            return Ok(Format::Csv { table });
        }
        for paging in ["limit", "cursor"] {
            if map.contains_key(paging) {
                return Err(ApiError::invalid(
                    paging,
                    "not_with_csv",
                    format!("A CSV export holds every matching row, page after page: leave out {paging}."),
                ));
            }
        }
        Ok(Format::Csv { table: None })
    }
}

/// A read for another representation of an answer (CSV, a chart): the operation called as a
/// plain REST GET by the request's caller, its answer parsed. Cloned into a streaming export.
#[derive(Clone)]
struct Read {
    op: &'static Operation,
    state: web::Data<AppState>,
    caller: Caller,
    request_id: String,
    client_ip: Option<std::net::IpAddr>,
}

impl Read {
    fn new(
        op: &'static Operation,
        req: &HttpRequest,
        state: &web::Data<AppState>,
        caller: Caller,
        client_ip: Option<std::net::IpAddr>,
    ) -> Self {
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
        Read { op, state: state.clone(), caller, request_id, client_ip }
    }

    async fn answer(&self, input: &Value) -> Result<Value, ApiError> {
        let call = Call {
            op: self.op,
            caller: &self.caller,
            input,
            via: Via::Rest,
            request_id: &self.request_id,
            idempotency_key: None,
            confirmation_token: None,
            person_secret: None,
        };
        let outcome = call::dispatch(&self.state, call, self.client_ip).await?;
        serde_json::from_str(&outcome.body.into_text()).map_err(ApiError::internal)
    }
}

/// A list as CSV: every item it matches, page after page (each page a call of the operation
/// as usual, so the same checks and rows), streamed as it is read. The first page is read before
/// answering, so a refusal is a problem answer; a failure later cuts the download short (the
/// body ends without its last chunk), never passing a partial file off as whole.
async fn csv_answer(read: Read, input: Value, table: Option<String>) -> Result<HttpResponse, ApiError> {
    let op = read.op;
    let name = op.name.trim_start_matches("list_").trim_start_matches("report_").replace('_', "-");
    let response = || {
        let mut r = HttpResponse::Ok();
        r.content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}.csv\"")));
        r
    };
    if render::is_report(op) {
        let answer = read.answer(&input).await?;
        let table = render::report_table(op, &answer, table.as_deref().unwrap_or(render::default_table(op)))?;
        return Ok(response().body(render::csv::sheet(&table.columns, table.rows)));
    }
    let columns = render::list_columns(op).ok_or_else(|| ApiError::internal("a list without a page schema"))?;
    let mut input = input;
    input["limit"] = 100.into();
    let first = read.answer(&input).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(2);
    actix_web::rt::spawn(async move {
        let mut sheet = render::csv::Sheet::new(&columns);
        let mut page = first;
        loop {
            for item in page["items"].as_array().into_iter().flatten() {
                sheet.row(&columns, item);
            }
            if sender.send(Ok(web::Bytes::from(sheet.take()))).await.is_err() {
                return; // The client went away.
            }
            let Some(cursor) = page["nextCursor"].as_str().map(str::to_string) else { return };
            input["cursor"] = cursor.into();
            page = match read.answer(&input).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(op = op.name, code = %error.code, "a CSV export stopped part-way");
                    let _ = sender.send(Err(std::io::Error::other(error.code))).await;
                    return;
                }
            };
        }
    });
    Ok(response().streaming(tokio_stream::wrappers::ReceiverStream::new(receiver)))
}

/// `GET /v1/reports/{name}.svg`: the report, called as usual, drawn (see `crate::render::chart`).
async fn chart(
    op: &'static Operation,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    web: web::Data<WebState>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(req.headers(), || super::oauth::resource(&req, ""))?;
    let mut input = input_from(op, &req, body).await?;
    let mut ask = render::chart::Ask::default();
    if let Some(map) = input.as_object_mut() {
        let text = |v: Value| v.as_str().map(str::to_string);
        ask.table = map.remove("table").and_then(text);
        ask.metric = map.remove("metric").and_then(text);
        if let Some(kind) = map.remove("chart") {
            ask.chart = Some(
                serde_json::from_value(kind)
                    .map_err(|_| ApiError::invalid("chart", "invalid_chart", "chart is bar (the default) or line."))?,
            );
        }
    }
    op.check_input(&mut input)?;
    let answer = Read::new(op, &req, &state, caller, web.client_ip(&req)).answer(&input).await?;
    let svg = render::chart::render(op, &answer, &ask)?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").insert_header(("Cache-Control", "private, no-store")).body(svg))
}

fn idempotency_key<'a>(req: &'a HttpRequest, op: &Operation) -> Result<Option<&'a str>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    if op.method != Method::Post {
        return Ok(None);
    }
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key)),
        _ => Err(ApiError::invalid(
            "Idempotency-Key",
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
        )),
    }
}

/// Path parameters, query parameters and the JSON body, merged into one object.
async fn input_from(op: &Operation, req: &HttpRequest, body: web::Payload) -> Result<Value, ApiError> {
    let bytes = read_body(req, body).await?;
    let mut input = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        let mime = mime(req);
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::invalid("(body)", "invalid_type", "The body must be a JSON object."));
            }
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("The body is not valid JSON: {e}"),
                ));
            }
        }
    };
    for (name, value) in query_input(op, req)? {
        input.entry(name).or_insert(value);
    }
    for name in op.path_params() {
        let value = req.match_info().get(name).unwrap_or_default();
        input.insert(name.to_string(), Value::String(value.to_string()));
    }
    Ok(Value::Object(input))
}

/// The query string's parameters, each read as the type the input schema asks for.
fn query_input(op: &Operation, req: &HttpRequest) -> Result<Map<String, Value>, ApiError> {
    let mut input = Map::new();
    if req.query_string().is_empty() {
        return Ok(input);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_query", format!("The query string is not valid: {e}"))
    })?;
    for (name, raw) in pairs {
        let value = coerce_query_value(op, &name, &raw);
        input.entry(name).or_insert(value);
    }
    Ok(input)
}

/// Query strings carry text; read it as the type the input schema asks for.
fn coerce_query_value(op: &Operation, name: &str, raw: &str) -> Value {
    let schema = &op.input_schema["properties"][name];
    let mut types = Vec::new();
    collect_types(schema, &mut types);
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("integer")
        && let Ok(n) = raw.parse::<i64>()
    {
        return n.into();
    }
    if has("boolean")
        && let Ok(b) = raw.parse::<bool>()
    {
        return b.into();
    }
    if has("array") {
        return Value::Array(raw.split(',').filter(|s| !s.is_empty()).map(|s| Value::String(s.to_string())).collect());
    }
    Value::String(raw.to_string())
}

fn collect_types(schema: &Value, out: &mut Vec<String>) {
    match &schema["type"] {
        Value::String(t) => out.push(t.clone()),
        Value::Array(ts) => out.extend(ts.iter().filter_map(|t| t.as_str().map(str::to_string))),
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(subs) = schema[key].as_array() {
            subs.iter().for_each(|s| collect_types(s, out));
        }
    }
}

async fn read_body(req: &HttpRequest, body: web::Payload) -> Result<web::BytesMut, ApiError> {
    read_limited(declared_length(req.headers()), body).await
}
