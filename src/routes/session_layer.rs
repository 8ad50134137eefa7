//! Session middleware only where a session is used.
//!
//! actix-session loads the session before the handler runs. The HTML pages always need it; the
//! JSON routes that accept a session (`/api/me`, `/api/logout-all`, …) need it only when no
//! header credential decides the request. [`When`] runs a middleware for the requests that a
//! predicate picks and passes the others straight to the service, so a bearer request never
//! touches the session store even when a cookie rides along.
//!
//! Written by hand: actix-web's `Condition` is fixed when the app is built, not per request.

use std::rc::Rc;
use std::time::Duration;

use actix_identity::IdentityMiddleware;
use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, TtlExtensionPolicy};
use actix_web::cookie::SameSite;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage, web};
use futures_util::future::{Either, LocalBoxFuture};

use crate::session_store::AnyStore;
use crate::state::AppState;

/// Which requests a wrapped middleware runs for.
pub type Predicate = fn(&ServiceRequest) -> bool;

/// Runs `inner` for the requests `applies` picks; the others bypass it.
pub struct When<T> {
    inner: T,
    applies: Predicate,
}

impl<T> When<T> {
    pub fn new(inner: T, applies: Predicate) -> Self {
        Self { inner, applies }
    }
}

/// Lets the bypass and the wrapped path share one inner service.
pub struct Shared<S>(Rc<S>);

impl<S: Service<ServiceRequest>> Service<ServiceRequest> for Shared<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.0.call(req)
    }
}

impl<S, B, T> Transform<S, ServiceRequest> for When<T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
    T: Transform<
            Shared<S>,
            ServiceRequest,
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        >,
    T::Transform: 'static,
    T::Future: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = WhenService<S, T::Transform>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let plain = Rc::new(service);
        let wrapped = self.inner.new_transform(Shared(plain.clone()));
        let applies = self.applies;
        Box::pin(async move {
            Ok(WhenService {
                plain,
                wrapped: wrapped.await?,
                applies,
            })
        })
    }
}

pub struct WhenService<S, W> {
    plain: Rc<S>,
    wrapped: W,
    applies: Predicate,
}

impl<S, W, B> Service<ServiceRequest> for WhenService<S, W>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    W: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Either<S::Future, W::Future>;

    forward_ready!(wrapped);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if (self.applies)(&req) {
            Either::Right(self.wrapped.call(req))
        } else {
            Either::Left(self.plain.call(req))
        }
    }
}

/// Every request of the scope.
pub fn always(_: &ServiceRequest) -> bool {
    true
}

/// Whether a request's session middleware runs, decided once per request (both the session and
/// the identity middleware ask).
#[derive(Clone, Copy)]
struct SessionDecided(bool);

/// JSON routes: the session is loaded only when the session strategy could decide, that is
/// when sessions are on and no enabled header strategy recognises the request's credentials.
pub fn unless_header_credentials(req: &ServiceRequest) -> bool {
    if let Some(&SessionDecided(applies)) = req.extensions().get::<SessionDecided>() {
        return applies;
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return true;
    };
    let config = state.current_config();
    let applies =
        config.auth.mode.sessions() && !state.auth.has_header_credentials(req.request(), &config);
    req.extensions_mut().insert(SessionDecided(applies));
    applies
}

/// actix-session over our store, with the cookie of `session.*`. The cookie's name and `Secure`
/// flag are fixed here, when the app is built; the lifetimes are not: the store writes the idle
/// expiry of the configuration in force whatever TTL this middleware hands it (the browser
/// cookie carries no `Max-Age`), and `session.ttl` is enforced by the store and the session
/// strategy.
pub fn session_middleware(state: &AppState) -> SessionMiddleware<AnyStore> {
    let config = state.config();
    SessionMiddleware::builder(state.sessions.clone(), state.session_key.clone())
        .cookie_name(config.session.cookie_name.clone())
        .cookie_secure(config.cookie_secure())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".into())
        // `session.cookie_domain`: the same on the removal cookie of a logout (actix-session
        // builds it from this configuration).
        .cookie_domain(config.cookie_domain())
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(to_cookie_duration(config.session.idle_timeout.0))
                .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
        )
        .build()
}

/// actix-identity. Its own login deadline would fix `session.ttl` when the app is built; the
/// absolute limit is enforced instead by the store (from the session's creation) and by the
/// session strategy (from its sign-in), both with the value in force.
pub fn identity_middleware(_state: &AppState) -> IdentityMiddleware {
    IdentityMiddleware::builder().login_deadline(None).build()
}

fn to_cookie_duration(d: Duration) -> actix_web::cookie::time::Duration {
    actix_web::cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
