//! The chain of strategies (SPEC §7). Every strategy is always in the chain; the current
//! configuration (`auth.mode`, `auth.basic`), read per request, says which are asked, so a
//! reload switches modes without rebuilding anything.
//!
//! The first strategy that recognises its credentials decides: it accepts them or refuses
//! them, and refused credentials are never passed on to the next strategy.

use actix_web::HttpRequest;

use super::strategy::{AuthStrategy, Verdict, basic, bearer, session};
use super::{AuthCheck, AuthFailure, Authenticated, Authenticator, CredentialKind, Refusal};
use crate::config::Settings;

/// The strategies in the order they are asked.
pub struct AuthChain {
    strategies: Vec<Box<dyn AuthStrategy>>,
}

impl AuthChain {
    /// Header-borne credentials first, then the session cookie.
    pub fn standard() -> Self {
        Self {
            strategies: vec![
                Box::new(bearer::BearerStrategy),
                Box::new(basic::BasicStrategy),
                Box::new(session::SessionStrategy),
            ],
        }
    }

    fn enabled<'a>(
        &'a self,
        config: &'a Settings,
        check: AuthCheck,
    ) -> impl Iterator<Item = &'a dyn AuthStrategy> + 'a {
        self.strategies
            .iter()
            .map(AsRef::as_ref)
            .filter(move |s| s.enabled(config) && check.allows(s.kind()))
    }

    pub fn names(&self, config: &Settings) -> Vec<&'static str> {
        self.enabled(config, AuthCheck::any())
            .map(|s| s.name())
            .collect()
    }

    pub fn has_header_credentials(&self, req: &HttpRequest, config: &Settings) -> bool {
        self.enabled(config, AuthCheck::any())
            .any(|s| s.kind() != CredentialKind::Session && s.present(req))
    }

    /// Asks each enabled strategy in turn.
    pub async fn resolve(
        &self,
        req: &HttpRequest,
        auth: &Authenticator,
        config: &Settings,
        check: AuthCheck,
    ) -> Result<Authenticated, AuthFailure> {
        let asked: Vec<&dyn AuthStrategy> = self.enabled(config, check).collect();
        for (i, strategy) in asked.iter().enumerate() {
            match strategy.verify(req, auth, config).await {
                Verdict::Absent => continue,
                Verdict::Accepted(who) => return Ok(*who),
                Verdict::Refused { description } => {
                    let challenges = strategy
                        .challenge(Some(description))
                        .into_iter()
                        .chain(asked[i + 1..].iter().filter_map(|s| s.challenge(None)))
                        .collect();
                    return Err(AuthFailure::Refused(Refusal {
                        description,
                        challenges,
                    }));
                }
                Verdict::Failed(failure) => return Err(AuthFailure::Failed(failure)),
            }
        }
        Err(AuthFailure::Missing {
            challenges: asked.iter().filter_map(|s| s.challenge(None)).collect(),
        })
    }
}
