//! `server.request_timeout` (SPEC §3): a request whose head and body have not fully arrived
//! within it gets 408 and is not processed.
//!
//! actix's `client_request_timeout` bounds only the head; a body may trickle in for as long
//! as the client likes, while extractors that run before the body (the session, the caller)
//! decide on facts from before it arrived. [`within`] gives the body a deadline: a read that is
//! still waiting on the client when the time is up fails, so no handler ever sees that body,
//! and whatever answer the failed read led to is replaced by 408 with `Connection: close`.
//! Time the server itself takes is not held against the client: a request whose body is in
//! runs to its end, however long its handler takes (a slow password check is not cut).
//!
//! The future of the request is not simply dropped at the deadline instead: the middleware
//! runs before routing, which needs the only handle on the request, so none would be left to
//! answer with.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::Stream;
use tokio::time::Sleep;

/// Runs `req` through `next`, answering 408 if its body has not fully arrived within `limit`
/// (wired in `Application::build` with `server.request_timeout`).
pub async fn within<B: MessageBody + 'static>(
    limit: Duration,
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let timed_out = Rc::new(Cell::new(false));
    match req.take_payload() {
        Payload::None => {}
        body => req.set_payload(Payload::Stream {
            payload: Box::pin(Deadline {
                body,
                sleep: Box::pin(tokio::time::sleep(limit)),
                complete: false,
                timed_out: Rc::clone(&timed_out),
            }),
        }),
    }
    let api = req.path().starts_with("/api/");
    let res = next.call(req).await?;
    if !timed_out.get() {
        return Ok(res.map_into_left_body());
    }
    tracing::info!(
        target: "gatehouse::request",
        limit_ms = limit.as_millis(),
        "request body incomplete at the request timeout: answered 408"
    );
    Ok(res
        .into_response(timed_out_response(api))
        .map_into_right_body())
}

/// The 408 in the shape of the surface the path belongs to; the connection is closed, since
/// the rest of the body may still be on its way.
fn timed_out_response(api: bool) -> HttpResponse {
    let mut response = HttpResponse::RequestTimeout();
    response.force_close();
    if api {
        response.json(serde_json::json!({
            "error": "request_timeout",
            "error_description": "the request did not arrive in time",
        }))
    } else {
        response
            .content_type("text/plain; charset=utf-8")
            .body("Request timeout: the request did not arrive in time.\n")
    }
}

/// A request body that fails once its deadline passes while it still waits on the client.
struct Deadline {
    body: Payload,
    sleep: Pin<Box<Sleep>>,
    /// Read to its end (or failed on its own): no deadline any more.
    complete: bool,
    timed_out: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.timed_out.get() {
            return Poll::Ready(None);
        }
        let next = Pin::new(&mut self.body).poll_next(cx);
        match next {
            Poll::Ready(None | Some(Err(_))) => self.complete = true,
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Pending if !self.complete && self.sleep.as_mut().poll(cx).is_ready() => {
                self.timed_out.set(true);
                return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body did not arrive within server.request_timeout",
                )))));
            }
            Poll::Pending => {}
        }
        next
    }
}
