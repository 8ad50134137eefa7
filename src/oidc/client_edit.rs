//! `/admin/clients/{id}/edit`: an admin changes a client's name, redirect URIs, post-logout
//! URIs and whether it skips the consent page (SPEC §11: "the admin page lists and edits
//! them"). A client's type (public or confidential) and secret are not edited here: the type
//! decides how it authenticates, so changing it means registering a new client.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::clients::{self, ClientEdit, ClientError, ClientView};
use crate::auth::csrf;
use crate::db::oidc_clients;
use crate::error::Failure;
use crate::i18n::Lang;
use crate::session_store::TypedSession;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::form_errors::FieldErrors;
use crate::web::lang::lang_of;
use crate::web::{AdminUser, Nav, messages, render, see_other};

/// Most URIs of one kind a client may list (a form is not a place for thousands).
const MAX_URIS: usize = 20;

/// The submitted edit form.
#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_uris: String,
    #[serde(default)]
    skip_consent: Option<String>,
}

#[derive(Template)]
#[template(path = "oidc_admin_client_edit.html")]
struct EditPage {
    nav: Nav,
    client: ClientView,
    name: String,
    redirect_uris: String,
    post_logout_uris: String,
    skip_consent: bool,
    errors: FieldErrors,
}

/// The lines of a textarea, trimmed, blank ones dropped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

async fn find(state: &AppState, client_id: String) -> Result<ClientView, PageError> {
    let row = state
        .db
        .run(move |conn| oidc_clients::find(conn, &client_id).map_err(Failure::from))
        .await?;
    row.as_ref()
        .map(ClientView::from)
        .ok_or(PageError::NotFound)
}

/// `GET /admin/clients/{id}/edit`.
pub async fn edit_page(
    req: HttpRequest,
    admin: AdminUser,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let client = find(&state, path.into_inner()).await?;
    render(
        StatusCode::OK,
        &EditPage {
            nav: Nav::for_user(&req, &admin.user, &session),
            name: client.name.clone(),
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_uris: client.post_logout_uris.join("\n"),
            skip_consent: client.skip_consent,
            client,
            errors: FieldErrors::none(),
        },
    )
}

/// Checks the form field by field, so that each error sits under its input, in `lang`.
fn check(form: &EditForm, lang: Lang) -> (ClientEdit, FieldErrors) {
    let edit = ClientEdit {
        name: form.name.trim().to_string(),
        redirect_uris: lines(&form.redirect_uris),
        post_logout_uris: lines(&form.post_logout_uris),
        skip_consent: form.skip_consent.is_some(),
    };
    let mut errors = FieldErrors::none();
    if edit.name.is_empty() {
        errors.add("name", lang.t("client-edit-name-missing"));
    } else if edit.name.chars().count() > 100 || edit.name.chars().any(char::is_control) {
        errors.add("name", lang.t("client-edit-name-invalid"));
    }
    if edit.redirect_uris.is_empty() {
        errors.add("redirect_uris", lang.t("client-edit-no-redirect-uri"));
    }
    for (field, list) in [
        ("redirect_uris", &edit.redirect_uris),
        ("post_logout_uris", &edit.post_logout_uris),
    ] {
        if list.len() > MAX_URIS {
            errors.add(
                field,
                lang.t_with("client-edit-too-many-uris", &[("max", MAX_URIS.into())]),
            );
            continue;
        }
        for uri in list {
            if let Err(message) = clients::validate_redirect_uri(uri) {
                errors.add(field, messages::redirect_uri(lang, &message));
            }
        }
    }
    (edit, errors)
}

/// `POST /admin/clients/{id}/edit`: 303 back to the list with a notice, or the form again
/// (422) with every error by its field.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    path: web::Path<String>,
    form: Option<web::Form<EditForm>>,
) -> Result<HttpResponse, PageError> {
    let form = form.map(web::Form::into_inner);
    let submitted = form.as_ref().map(|f| f.csrf_token.as_str()).unwrap_or("");
    csrf::verify(&session, submitted).map_err(|_| PageError::Csrf)?;
    let admin = AdminUser::after_body(&req).await?;
    let form = form.ok_or_else(|| PageError::Said {
        status: StatusCode::BAD_REQUEST,
        key: crate::i18n::key("error-form-unreadable"),
        name: None,
    })?;
    let client_id = path.into_inner();
    let lang = lang_of(&req);
    let (edit, errors) = check(&form, lang);
    if !errors.is_empty() {
        let client = find(&state, client_id).await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditPage {
                nav: Nav::for_user(&req, &admin.user, &session),
                client,
                name: form.name,
                redirect_uris: form.redirect_uris,
                post_logout_uris: form.post_logout_uris,
                skip_consent: edit.skip_consent,
                errors,
            },
        );
    }
    let id = client_id.clone();
    state
        .db
        .run(move |conn| clients::update(conn, &id, &edit))
        .await
        .map_err(|e| match e {
            ClientError::NotFound(_) => PageError::NotFound,
            ClientError::Invalid(m) => PageError::Client(StatusCode::UNPROCESSABLE_ENTITY, m),
            ClientError::Public(_) => PageError::NotFound,
            ClientError::Db(db) => Failure::from(db).into(),
        })?;
    session.flash(lang.t("client-edit-saved"));
    Ok(see_other("/admin/clients"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, redirect: &str, logout: &str) -> EditForm {
        EditForm {
            csrf_token: String::new(),
            name: name.into(),
            redirect_uris: redirect.into(),
            post_logout_uris: logout.into(),
            skip_consent: None,
        }
    }

    #[test]
    fn every_error_is_tied_to_its_field() {
        let (_, errors) = check(&form(" ", "", "http://example.com/bye"), Lang::default());
        assert!(errors.has("name"));
        assert!(errors.has("redirect_uris"));
        assert!(errors.has("post_logout_uris"));

        let (edit, errors) = check(
            &form(
                " Grafana ",
                "https://a.example/cb\r\n\r\n  http://localhost:3000/cb  \n",
                "",
            ),
            Lang::default(),
        );
        assert!(errors.is_empty(), "{:?}", errors.all());
        assert_eq!(edit.name, "Grafana");
        assert_eq!(
            edit.redirect_uris,
            ["https://a.example/cb", "http://localhost:3000/cb"]
        );
    }

    #[test]
    fn too_many_uris_is_one_error() {
        let many: Vec<String> = (0..=MAX_URIS)
            .map(|i| format!("https://a.example/{i}"))
            .collect();
        let (_, errors) = check(&form("x", &many.join("\n"), ""), Lang::default());
        assert_eq!(
            errors.on("redirect_uris").as_deref(),
            Some("List at most 20 URIs.")
        );
    }
}
