//! Every route of the server, wired in one place: [`configure`] is used by
//! `Application::build`, and by tests and benchmarks that run routes without a socket
//! (`App::new().app_data(state.clone()).configure(|cfg| configure(cfg, &state))`).
//!
//! Routes are always mounted. Guards read the configuration in force for each request, so a
//! reload of `auth.mode` or `auth.registration` opens or closes a surface without rebuilding
//! the app; a closed route answers 404 as if it did not exist. Session middleware wraps only
//! the routes that use sessions (see `session_layer`).

pub mod session_layer;

use actix_web::guard::{self, Guard};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use self::session_layer::{
    When, identity_middleware, session_middleware, unless_header_credentials,
};
use crate::config::Settings;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::{api, oidc, ops, web as pages};

/// A guard that passes while `open` holds for the configuration in force.
fn gate(open: fn(&Settings) -> bool) -> impl Guard {
    guard::fn_guard(move |ctx| {
        ctx.app_data::<web::Data<AppState>>()
            .is_some_and(|state| open(&state.config()))
    })
}

/// A guard that passes for a peer in `server.metrics_allow`: the peer address itself, never a
/// forwarded one, so that no header can open `/metrics`. Others meet the 404 of an unknown path.
fn metrics_client() -> impl Guard {
    guard::fn_guard(|ctx| {
        let Some(peer) = ctx.head().peer_addr else {
            return false;
        };
        ctx.app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.config().server.metrics_allowed(peer.ip()))
    })
}

fn token_api(c: &Settings) -> bool {
    c.auth.mode.tokens()
}

fn html(c: &Settings) -> bool {
    c.auth.mode.sessions()
}

fn html_registration(c: &Settings) -> bool {
    c.auth.registration
}

fn oidc_provider(c: &Settings) -> bool {
    oidc::enabled(c)
}

fn passkey_login(c: &Settings) -> bool {
    c.auth.passkey_login
}

pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    let max_body = usize::try_from(state.config().server.max_body.0).unwrap_or(usize::MAX);
    cfg.app_data(
        web::FormConfig::default()
            .limit(max_body)
            .error_handler(pages::error::form_error),
    )
    .app_data(web::PayloadConfig::default().limit(max_body));

    // Operations and assets: no session.
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route(
            "/metrics",
            web::get().guard(metrics_client()).to(ops::metrics),
        )
        .route("/static/{name}", web::get().to(pages::assets::asset));

    // The token API (SPEC §6): no session.
    cfg.service(
        json_resource("/api/token", token_api)
            // The OpenID Connect provider takes its grants first and hands the rest to
            // `api::token`.
            .route(web::post().guard(gate(token_api)).to(oidc::token::token)),
    )
    .service(
        json_resource("/api/token/introspect", oidc_provider).route(
            web::post()
                .guard(gate(oidc_provider))
                .to(oidc::token::introspect),
        ),
    )
    .service(
        json_resource("/.well-known/openid-configuration", oidc_provider).route(
            web::get()
                .guard(gate(oidc_provider))
                .to(oidc::discovery::configuration),
        ),
    )
    .service(
        json_resource("/userinfo", oidc_provider)
            .route(
                web::get()
                    .guard(gate(oidc_provider))
                    .to(oidc::userinfo::userinfo),
            )
            .route(
                web::post()
                    .guard(gate(oidc_provider))
                    .to(oidc::userinfo::userinfo),
            ),
    )
    .service(
        json_resource("/api/token/revoke", token_api)
            .route(web::post().guard(gate(token_api)).to(api::revoke::revoke)),
    )
    .service(
        json_resource("/.well-known/jwks.json", token_api)
            .route(web::get().guard(gate(token_api)).to(api::well_known::jwks)),
    )
    .service(
        json_resource("/.well-known/oauth-authorization-server", token_api).route(
            web::get()
                .guard(gate(token_api))
                .to(api::well_known::metadata),
        ),
    )
    .service(
        json_resource("/api/openapi.json", token_api).route(
            web::get()
                .guard(gate(token_api))
                .to(api::openapi::openapi_json),
        ),
    );

    // JSON routes that also take the session cookie (in every mode).
    cfg.service(
        web::scope("/api")
            .wrap(When::new(
                identity_middleware(state),
                unless_header_credentials,
            ))
            .wrap(When::new(
                session_middleware(state),
                unless_header_credentials,
            ))
            .service(api_resource("/api/me", always).route(web::get().to(api::me::me)))
            .service(
                api_resource("/api/logout-all", always).route(web::post().to(api::me::logout_all)),
            )
            .service(
                api_resource("/api/users", token_api)
                    .route(web::get().guard(gate(token_api)).to(api::users::list))
                    // Admins create users in every case; others only with `auth.registration`.
                    .route(web::post().guard(gate(token_api)).to(api::users::register)),
            )
            .service(
                api_resource("/api/users/{id}", token_api)
                    .route(web::patch().guard(gate(token_api)).to(api::users::update))
                    .route(web::delete().guard(gate(token_api)).to(api::users::delete)),
            )
            .service(
                api_resource("/api/users/{id}/logout", token_api)
                    .route(web::post().guard(gate(token_api)).to(api::users::logout)),
            )
            .service(
                api_resource("/api/users/{id}/password-reset", token_api).route(
                    web::post()
                        .guard(gate(token_api))
                        .to(api::users::password_reset),
                ),
            )
            .service(
                api_resource("/api/users/{id}/unlock", token_api)
                    .route(web::post().guard(gate(token_api)).to(api::users::unlock)),
            )
            .service(
                api_resource("/api/users/{id}/mfa", token_api).route(
                    web::delete()
                        .guard(gate(token_api))
                        .to(api::users::reset_mfa),
                ),
            )
            .service(
                api_resource("/api/account/totp", always)
                    .route(web::post().to(api::account::start))
                    .route(web::delete().to(api::account::remove)),
            )
            .service(
                api_resource("/api/account/totp/confirm", always)
                    .route(web::post().to(api::account::confirm)),
            )
            .service(
                api_resource("/api/account/totp/recovery-codes", always)
                    .route(web::post().to(api::account::regenerate)),
            ),
    );

    // The language switcher of every page, the reset pages' too: served in every mode, with
    // no session (it sets the `lang` cookie and nothing else).
    cfg.route("/lang", web::get().to(pages::lang::switch));

    // Password-reset links: served in every mode (also `token`), with no session (the form's
    // CSRF token is stateless).
    cfg.service(
        web::resource("/reset/{token}")
            .wrap(actix_web::middleware::from_fn(pages::lang::negotiate))
            .route(web::get().to(pages::reset::get::reset_form))
            .route(web::post().to(pages::reset::post::reset)),
    );

    // Forward-auth for reverse proxies (SPEC §12), with the HTML surface: every method (the
    // proxies' own requests are GETs; the original method travels in a header). No session
    // middleware: the handler reads the session itself, and only when a rule needs to know
    // who is asking (`session_store::peek`).
    cfg.service(
        web::resource("/auth/request")
            .guard(gate(html))
            .route(web::route().to(crate::forward_auth::handler::request)),
    )
    .service(
        web::resource("/auth/forward")
            .guard(gate(html))
            .route(web::route().to(crate::forward_auth::handler::forward)),
    );

    // The HTML surface (SPEC §5).
    cfg.service(
        web::scope("")
            .guard(gate(html))
            // Innermost: the session middleware sees the page it writes in the language.
            .wrap(actix_web::middleware::from_fn(pages::lang::negotiate))
            .wrap(identity_middleware(state))
            .wrap(session_middleware(state))
            .route("/", web::get().to(pages::home::get::home))
            .route("/login", web::get().to(pages::login::get::login_form))
            .route("/login", web::post().to(pages::login::post::login))
            .route(
                "/login/mfa",
                web::get().to(pages::login::mfa::second_step_form),
            )
            .route("/login/mfa", web::post().to(pages::login::mfa::second_step))
            .route(
                "/login/mfa/cancel",
                web::post().to(pages::login::mfa::cancel),
            )
            .route(
                "/login/mfa/passkey/options",
                web::post().to(pages::login::passkey::second_step_options),
            )
            .route(
                "/login/mfa/passkey",
                web::post().to(pages::login::passkey::second_step),
            )
            .route(
                "/login/passkey/options",
                web::post()
                    .guard(gate(passkey_login))
                    .to(pages::login::passkey::sign_in_options),
            )
            .route(
                "/login/passkey",
                web::post()
                    .guard(gate(passkey_login))
                    .to(pages::login::passkey::sign_in),
            )
            .route("/logout", web::get().to(pages::logout::confirm))
            .route("/logout", web::post().to(pages::logout::logout))
            .route("/account", web::get().to(pages::account::get::account))
            .route(
                "/account/password",
                web::post().to(pages::account::post::change_password),
            )
            .route(
                "/account/logout-all",
                web::post().to(pages::account::post::logout_everywhere),
            )
            .route(
                "/account/sessions/{id}/end",
                web::post().to(pages::account::post::end_session),
            )
            .route(
                "/account/tokens/{id}/revoke",
                web::post().to(pages::account::post::revoke_family),
            )
            .route(
                "/account/totp",
                web::post().to(pages::account::post::start_totp),
            )
            .route(
                "/account/totp/confirm",
                web::post().to(pages::account::post::confirm_totp),
            )
            .route(
                "/account/totp/remove",
                web::post().to(pages::account::post::remove_totp),
            )
            .route(
                "/account/recovery-codes",
                web::post().to(pages::account::post::regenerate_codes),
            )
            .route(
                "/account/passkeys/options",
                web::post().to(pages::account::passkeys::options),
            )
            .route(
                "/account/passkeys",
                web::post().to(pages::account::passkeys::register),
            )
            .route(
                "/account/passkeys/{id}/remove",
                web::get().to(pages::account::passkeys::confirm_remove),
            )
            .route(
                "/account/passkeys/{id}/remove",
                web::post().to(pages::account::passkeys::remove),
            )
            .route(
                "/authorize",
                web::get()
                    .guard(gate(oidc_provider))
                    .to(oidc::authorize::authorize),
            )
            .route(
                "/authorize/consent",
                web::post()
                    .guard(gate(oidc_provider))
                    .to(oidc::authorize::consent),
            )
            .route(
                "/oidc/logout",
                web::get()
                    .guard(gate(oidc_provider))
                    .to(oidc::logout::confirm),
            )
            .route(
                "/oidc/logout",
                web::post()
                    .guard(gate(oidc_provider))
                    .to(oidc::logout::logout),
            )
            .route("/account/apps", web::get().to(oidc::pages::account_apps))
            .route(
                "/account/apps/{client_id}/revoke",
                web::post().to(oidc::pages::revoke_app),
            )
            .route("/admin/clients", web::get().to(oidc::pages::admin_clients))
            .route(
                "/admin/clients/{id}/delete",
                web::get().to(oidc::pages::confirm_delete),
            )
            .route(
                "/admin/clients/{id}/edit",
                web::get().to(oidc::client_edit::edit_page),
            )
            .route(
                "/admin/clients/{id}/edit",
                web::post().to(oidc::client_edit::edit),
            )
            .route(
                "/admin/clients/{id}/{action}",
                web::post().to(oidc::pages::client_action),
            )
            .route("/admin", web::get().to(pages::admin::get::admin))
            .route(
                "/admin/users",
                web::post().to(pages::admin::post::create_user),
            )
            .route(
                "/admin/users/{id}/{action}",
                web::get().to(pages::admin::get::confirm),
            )
            .route(
                "/admin/users/{id}/{action}",
                web::post().to(pages::admin::post::user_action),
            )
            .route(
                "/register",
                web::get()
                    .guard(gate(html_registration))
                    .to(pages::register::get::register_form),
            )
            .route(
                "/register",
                web::post()
                    .guard(gate(html_registration))
                    .to(pages::register::post::register),
            ),
    );

    cfg.default_service(web::to(not_found));
}

fn always(_: &Settings) -> bool {
    true
}

/// Every route of the JSON surface with the methods it takes: the one list the router answers
/// 405 + `Allow` from, and that the OpenAPI document (`api::openapi`) is checked against.
pub const JSON_ROUTES: &[(&str, &str)] = &[
    ("/api/token", "POST"),
    ("/api/token/revoke", "POST"),
    ("/api/token/introspect", "POST"),
    ("/.well-known/openid-configuration", "GET"),
    ("/userinfo", "GET, POST"),
    ("/api/openapi.json", "GET"),
    ("/.well-known/jwks.json", "GET"),
    ("/.well-known/oauth-authorization-server", "GET"),
    ("/api/me", "GET"),
    ("/api/logout-all", "POST"),
    ("/api/users", "GET, POST"),
    ("/api/users/{id}", "PATCH, DELETE"),
    ("/api/users/{id}/logout", "POST"),
    ("/api/users/{id}/password-reset", "POST"),
    ("/api/users/{id}/unlock", "POST"),
    ("/api/users/{id}/mfa", "DELETE"),
    ("/api/account/totp", "POST, DELETE"),
    ("/api/account/totp/confirm", "POST"),
    ("/api/account/totp/recovery-codes", "POST"),
];

/// The methods `JSON_ROUTES` lists for `path`. A route missing from the list is a bug of this
/// file that every test that starts the app reports at once.
fn allowed(path: &str) -> &'static str {
    JSON_ROUTES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, allow)| *allow)
        .unwrap_or_else(|| panic!("{path} is not listed in routes::JSON_ROUTES"))
}

/// A JSON route inside the `/api` scope (`path` is the full path, as listed).
fn api_resource(path: &'static str, open: fn(&Settings) -> bool) -> actix_web::Resource {
    let allow = allowed(path);
    let relative = path.strip_prefix("/api").unwrap_or(path);
    resource_with_allow(relative, open, allow)
}

/// A resource of the JSON surface that answers any method it has no route for with 405 and
/// `Allow` (RFC 9110 §15.5.6) — while `open` holds for the configuration in force; otherwise
/// it is the 404 of a path that does not exist.
fn json_resource(path: &'static str, open: fn(&Settings) -> bool) -> actix_web::Resource {
    resource_with_allow(path, open, allowed(path))
}

fn resource_with_allow(
    path: &str,
    open: fn(&Settings) -> bool,
    allow: &'static str,
) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        let open = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| open(&state.current_config()));
        if !open {
            return not_found(req).await;
        }
        Ok(HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED)
            .insert_header((actix_web::http::header::ALLOW, allow))
            .json(serde_json::json!({
                "error": "method_not_allowed",
                "error_description": format!("{} takes {allow}", req.path()),
            })))
    }))
}

/// 404 in the shape of the surface the path belongs to.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, PageError> {
    if req.path().starts_with("/api/") {
        return Ok(
            HttpResponse::build(StatusCode::NOT_FOUND).json(serde_json::json!({
                "error": "not_found",
                "error_description": "no such endpoint",
            })),
        );
    }
    Ok(pages::lang::error_page(&req, &PageError::NotFound))
}
