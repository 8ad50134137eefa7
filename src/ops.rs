//! Operations endpoints and the per-request middleware (SPEC §10): `/healthz`, `/readyz`,
//! `/metrics`, one structured log line per request with its request id, and request metrics.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use tracing_actix_web::RequestId;

use crate::db::DbError;
use crate::state::AppState;
use crate::telemetry::quoted;

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// 200 when the database answers a query in time, else 503.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let check = state.db.run(|conn| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    });
    let mut problem = match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("database: {e}")),
        Err(_) => Some("database: no answer in time".to_string()),
    };
    if problem.is_none() {
        problem = match tokio::time::timeout(READY_TIMEOUT, state.sessions.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("session store: {e}")),
            Err(_) => Some("session store: no answer in time".to_string()),
        };
    }
    match problem {
        None => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Some(p) => {
            tracing::warn!(problem = %p, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .insert_header((header::RETRY_AFTER, "5"))
                .body(format!("not ready: {p}\n"))
        }
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}

/// The method as a metric label: one of a fixed set, so that clients cannot create label
/// values (an extension method may be any token, 100 KB long).
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts and times every request by its route pattern (not its raw path, which would let
/// clients create unbounded label values), logs one line, and returns the request id.
///
/// The line (target `gatehouse::request`) holds each field once:
/// `request_id=… method="GET" path="/login" status=200 latency_us=812 client_ip=127.0.0.1`.
/// This middleware wraps tracing-actix-web's `TracingLogger` (which makes the request id and
/// the request's span) rather than running inside it, and the line is a root event
/// (`parent: None`): logged inside the span, the text format would repeat the span's
/// `request_id`, `method` and `path` in front of the line's own, and the JSON format would add
/// them as `span` and `spans`. Method and path are quoted and escaped, the client address too
/// when it is not an address (see `ClientAddr`).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let client = state.as_ref().map(|s| s.client_ip(req.request()));
    let mut res = next.call(req).await?;
    let elapsed = started.elapsed();
    // Made by `TracingLogger`, inside this middleware, in the request's extensions.
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string());
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(state) = state {
        state
            .metrics
            .http_requests
            .with_label_values(&[&route, method_label(&method), &status.to_string()])
            .inc();
        state
            .metrics
            .http_latency
            .with_label_values(&[&route])
            .observe(elapsed.as_secs_f64());
    }
    if let Some(id) = &request_id
        && let Ok(value) = HeaderValue::from_str(id)
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    // The path only: query strings may carry tokens in some clients. Whole microseconds: a
    // float in milliseconds printed as `0.8198460000000001`.
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    match client {
        Some(client) => tracing::info!(
            target: "gatehouse::request",
            parent: None,
            request_id = %request_id.as_deref().unwrap_or("-"),
            method = %quoted(method.as_str()),
            path = %quoted(&path),
            status,
            latency_us,
            client_ip = %client,
        ),
        None => tracing::info!(
            target: "gatehouse::request",
            parent: None,
            request_id = %request_id.as_deref().unwrap_or("-"),
            method = %quoted(method.as_str()),
            path = %quoted(&path),
            status,
            latency_us,
        ),
    }
    Ok(res)
}

/// The span every request runs in: its id, method and path, and nothing a client could use to
/// smuggle secrets into the logs (no query string, no headers).
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %quoted(request.method().as_str()),
            path = %quoted(request.path()),
        )
    }

    fn on_request_end<B: MessageBody>(
        _span: tracing::Span,
        _outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        // `observe` writes the one line per request; server errors log their cause themselves.
    }
}
