//! The provider's pages for people: `/account/apps` (a user's grants, each revocable) and
//! `/admin/clients` (the registered clients, their redirect URIs and the users who granted
//! them; delete after a confirm step, rotate a secret shown once).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::clients::{self, ClientError, ClientView};
use crate::auth::csrf;
use crate::db::{oidc_clients, oidc_grants, write_transaction};
use crate::domain::clock::now;
use crate::error::Failure;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::{AdminUser, Nav, SignedIn, render, see_other};

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// One grant as `/account/apps` lists it.
struct AppView {
    client_id: String,
    name: String,
    scope: String,
    granted: String,
}

#[derive(Template)]
#[template(path = "oidc_account_apps.html")]
struct AppsPage {
    nav: Nav,
    notice: Option<String>,
    apps: Vec<AppView>,
}

/// `GET /account/apps`.
pub async fn account_apps(
    req: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    let user_id = who.user.id;
    let grants = state
        .db
        .run(move |conn| oidc_grants::for_user(conn, user_id).map_err(Failure::from))
        .await?;
    let apps = grants
        .into_iter()
        .map(|(g, name)| AppView {
            client_id: g.client_id,
            name,
            scope: g.scope,
            granted: lang_of(&req).datetime(g.updated_at),
        })
        .collect();
    render(
        StatusCode::OK,
        &AppsPage {
            nav: Nav::for_user(&req, &who.user, &session),
            notice: session.take_flash(),
            apps,
        },
    )
}

/// `POST /account/apps/{client_id}/revoke`: removes the grant and revokes every refresh-token
/// family (and so access token) issued to that client for this user.
pub async fn revoke_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    form: Option<web::Form<CsrfForm>>,
) -> Result<HttpResponse, PageError> {
    let submitted = form.map(|f| f.into_inner().csrf_token).unwrap_or_default();
    csrf::verify(&session, &submitted).map_err(|_| PageError::Csrf)?;
    let who = SignedIn::after_body(&req).await?;
    let (user_id, client_id) = (who.user.id, path.into_inner());
    let made = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let removed = oidc_grants::delete(conn, user_id, &client_id)?;
                let made = clients::revoke_client_families(conn, &client_id, Some(user_id), now())?;
                Ok::<_, crate::db::DbError>((removed, made))
            })
            .map_err(Failure::from)
        })
        .await?;
    let (removed, made) = made;
    state.accounts.publish_all(made).await;
    tracing::info!(target: "audit", event = "oidc_grant_revoked", user_id);
    let lang = lang_of(&req);
    session.flash(if removed > 0 {
        lang.t("apps-revoked")
    } else {
        lang.t("apps-had-no-access")
    });
    Ok(see_other("/account/apps"))
}

/// A client's new secret, shown once.
struct NewSecret {
    client_id: String,
    secret: String,
}

/// A client as the admin page lists it, with the users who granted it.
struct AdminClient {
    client: ClientView,
    users: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "oidc_admin_clients.html")]
struct ClientsPage {
    nav: Nav,
    notice: Option<String>,
    clients: Vec<AdminClient>,
    /// A secret just made (shown once).
    new_secret: Option<NewSecret>,
    /// A client whose deletion awaits confirmation.
    confirm_delete: Option<ClientView>,
}

async fn clients_page(
    req: &HttpRequest,
    state: &AppState,
    admin: &AdminUser,
    session: &TypedSession,
    new_secret: Option<NewSecret>,
    confirm_delete: Option<String>,
) -> Result<HttpResponse, PageError> {
    let listed = state
        .db
        .run(move |conn| {
            let rows = oidc_clients::all(conn)?;
            let mut out = Vec::new();
            for row in &rows {
                let users = oidc_grants::users_of_client(conn, &row.client_id)?
                    .into_iter()
                    .map(|(_, name, scope)| (name, scope))
                    .collect();
                out.push(AdminClient {
                    client: ClientView::from(row),
                    users,
                });
            }
            Ok::<_, crate::db::DbError>(out)
        })
        .await
        .map_err(Failure::from)?;
    let confirm_delete = match confirm_delete {
        Some(id) => Some(
            listed
                .iter()
                .find(|c| c.client.client_id == id)
                .map(|c| c.client.clone())
                .ok_or(PageError::NotFound)?,
        ),
        None => None,
    };
    render(
        StatusCode::OK,
        &ClientsPage {
            nav: Nav::for_user(req, &admin.user, session),
            notice: session.take_flash(),
            clients: listed,
            new_secret,
            confirm_delete,
        },
    )
}

/// `GET /admin/clients`.
pub async fn admin_clients(
    req: HttpRequest,
    admin: AdminUser,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    clients_page(&req, &state, &admin, &session, None, None).await
}

/// `GET /admin/clients/{id}/delete`: the confirm step.
pub async fn confirm_delete(
    req: HttpRequest,
    admin: AdminUser,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    clients_page(
        &req,
        &state,
        &admin,
        &session,
        None,
        Some(path.into_inner()),
    )
    .await
}

/// `POST /admin/clients/{id}/{action}`: `delete` (after the confirm step) or `rotate-secret`.
pub async fn client_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<(String, String)>,
    form: Option<web::Form<CsrfForm>>,
) -> Result<HttpResponse, PageError> {
    let submitted = form.map(|f| f.into_inner().csrf_token).unwrap_or_default();
    csrf::verify(&session, &submitted).map_err(|_| PageError::Csrf)?;
    let admin = AdminUser::after_body(&req).await?;
    let (client_id, action) = path.into_inner();
    let not_found = |e: ClientError| match e {
        ClientError::NotFound(_) => PageError::NotFound,
        ClientError::Public(_) => PageError::Said {
            status: StatusCode::CONFLICT,
            key: crate::i18n::key("clients-public-no-secret"),
            name: None,
        },
        ClientError::Db(db) => Failure::from(db).into(),
        ClientError::Invalid(m) => PageError::Client(StatusCode::UNPROCESSABLE_ENTITY, m),
    };
    match action.as_str() {
        "delete" => {
            let id = client_id.clone();
            let made = state
                .db
                .run(move |conn| clients::delete(conn, &id))
                .await
                .map_err(not_found)?;
            state.accounts.publish_all(made).await;
            session.flash(lang_of(&req).t("clients-deleted"));
            Ok(see_other("/admin/clients"))
        }
        "rotate-secret" => {
            let id = client_id.clone();
            let rotated = state
                .db
                .run(move |conn| clients::rotate_secret(conn, &id))
                .await
                .map_err(not_found)?;
            let secret = rotated.client_secret.unwrap_or_default();
            let shown = NewSecret { client_id, secret };
            clients_page(&req, &state, &admin, &session, Some(shown), None).await
        }
        _ => Err(PageError::NotFound),
    }
}
