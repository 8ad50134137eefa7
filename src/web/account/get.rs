//! `GET /account`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AccountPage, FamilyView, MfaView, PasskeyRowView, PasskeysView, SessionView};
use crate::auth::mfa::totp::qr_svg;
use crate::auth::mfa::{self, Factors};
use crate::auth::strategy::session::is_current;
use crate::domain::UserState;
use crate::domain::clock::chrono_duration;
use crate::error::Failure;
use crate::i18n::Lang;
use crate::session_store::{SessionMeta, TypedSession};
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::lang::lang_of;
use crate::web::login::mfa::{EnrolView, issuer_name};
use crate::web::passkey::PasskeyView;
use crate::web::{Nav, SignedIn, render};

/// The user's live sessions, this one first.
pub async fn list_sessions(
    state: &AppState,
    user: &UserState,
    session: &TypedSession,
    lang: Lang,
) -> Result<Vec<SessionView>, PageError> {
    let idle = chrono_duration(state.config().session.idle_timeout.0);
    let rows = state
        .sessions
        .list_for_user(user.id)
        .await
        .map_err(|e| e.context("listing the user's sessions"))?;
    let mine = session.sid();
    let mut views: Vec<SessionView> = rows
        .into_iter()
        .map(|row| (SessionMeta::from_state(&row.state), row))
        .filter(|(meta, _)| is_current(meta.login_at, user))
        .map(|(meta, row)| SessionView {
            current: mine.is_some() && meta.sid == mine,
            device: crate::web::device::describe_in(meta.user_agent.as_deref().unwrap_or(""), lang),
            ip: meta.ip.unwrap_or_else(|| lang.t("address-unknown")),
            started: lang.datetime(row.created_at),
            last_active: lang.datetime(
                row.expires_at
                    .checked_sub_signed(idle)
                    .unwrap_or(row.created_at),
            ),
            id: row.id,
        })
        .collect();
    views.sort_by_key(|v| !v.current);
    Ok(views)
}

/// The user's API sign-ins (live refresh-token families), newest first.
pub async fn list_families(
    state: &AppState,
    user: &UserState,
    lang: Lang,
) -> Result<Vec<FamilyView>, PageError> {
    let stamp = |t: chrono::NaiveDateTime| lang.datetime(t);
    let rows = state
        .accounts
        .refresh_families(user.id)
        .await
        .map_err(super::post::account_failure)?;
    Ok(rows
        .into_iter()
        .map(|row| FamilyView {
            started: stamp(row.family_started_at()),
            last_refreshed: stamp(row.created_at),
            expires: stamp(row.expires_at),
            id: row.family_id,
        })
        .collect())
}

/// What the page shows of the user's second factors.
pub async fn mfa_view(
    state: &AppState,
    user: &UserState,
    session: &TypedSession,
    lang: Lang,
) -> Result<MfaView, PageError> {
    let user_id = user.id;
    let factors: Factors = state
        .db
        .run(move |conn| {
            mfa::factors(conn, user_id, crate::domain::clock::now()).map_err(Failure::from)
        })
        .await?;
    let enrol = if factors.totp_pending {
        state
            .accounts
            .pending_totp(&state.auth, user_id)
            .await
            .map_err(super::post::account_failure)?
            .map(|secret| {
                let uri = secret.otpauth_uri(&issuer_name(state), &user.username);
                EnrolView {
                    qr: qr_svg(&uri, &lang.t("totp-qr-title")).unwrap_or_default(),
                    secret: secret.base32(),
                    uri,
                }
            })
    } else {
        None
    };
    Ok(MfaView {
        on: factors.totp,
        recovery_left: factors.recovery_left,
        enrol,
        needs_password: !mfa::recent(session.auth_at(), crate::domain::clock::now()),
    })
}

/// What the page shows of the user's passkeys.
pub async fn passkeys_view(
    state: &AppState,
    user: &UserState,
    lang: Lang,
) -> Result<PasskeysView, PageError> {
    let stamp = |t: chrono::NaiveDateTime| lang.datetime(t);
    let rows = state
        .accounts
        .passkeys(user.id)
        .await
        .map_err(super::post::account_failure)?
        .into_iter()
        .map(|p| PasskeyRowView {
            id: p.id,
            name: p.name,
            added: stamp(p.created_at),
            last_used: p.last_used_at.map_or_else(|| lang.t("time-never"), stamp),
            discoverable: p.discoverable,
        })
        .collect();
    Ok(PasskeysView {
        rows,
        server: PasskeyView::of(&state.auth.passkeys, lang),
        passkey_login: state.config().auth.passkey_login,
    })
}

/// Renders the account page.
pub async fn page(
    req: &HttpRequest,
    state: &AppState,
    user: &UserState,
    session: &TypedSession,
    status: StatusCode,
    errors: impl Into<crate::web::form_errors::FieldErrors>,
) -> Result<HttpResponse, PageError> {
    let errors = errors.into();
    let notice = session.take_flash();
    let lang = lang_of(req);
    let sessions = list_sessions(state, user, session, lang).await?;
    let families = list_families(state, user, lang).await?;
    let mfa = mfa_view(state, user, session, lang).await?;
    let passkeys = passkeys_view(state, user, lang).await?;
    render(
        status,
        &AccountPage {
            nav: Nav::for_user(req, user, session),
            username: user.username.clone(),
            notice,
            errors,
            min_length: state.config().password.min_length,
            sessions,
            families,
            mfa,
            passkeys,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn account(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    session: TypedSession,
) -> Result<HttpResponse, PageError> {
    page(
        &req,
        &state,
        &signed_in.user,
        &session,
        StatusCode::OK,
        Vec::new(),
    )
    .await
}
