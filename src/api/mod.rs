//! The JSON surface (SPEC §6): tokens, `/api/me`, registration and discovery documents.

pub mod body;
pub mod error;
pub mod me;
pub mod revoke;
pub mod token;
pub mod users;
pub mod well_known;

use actix_web::web;

use crate::config::Settings;

/// Routes of the JSON surface. `/api/me` and `/api/logout-all` are served in every mode; the
/// token API only in `token` and `both`.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings) {
    cfg.route("/api/me", web::get().to(me::me))
        .route("/api/logout-all", web::post().to(me::logout_all));
    if settings.auth.mode.tokens() {
        cfg.route("/api/token", web::post().to(token::token))
            .route("/api/token/revoke", web::post().to(revoke::revoke))
            .route("/api/users", web::get().to(users::list))
            .route("/.well-known/jwks.json", web::get().to(well_known::jwks))
            .route(
                "/.well-known/oauth-authorization-server",
                web::get().to(well_known::metadata),
            );
        if settings.auth.registration {
            cfg.route("/api/users", web::post().to(users::register));
        }
    }
}
