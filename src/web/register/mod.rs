//! `/register`: self-service sign-up, served only with `auth.registration`.

pub mod get;
pub mod post;

use askama::Template;

use super::Nav;

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub nav: Nav,
    pub errors: Vec<String>,
    pub username: String,
    pub min_length: usize,
    /// zxcvbn's advice on the password just refused as too easy to guess, shown under the
    /// field and tied to it (`aria-describedby`).
    pub password_feedback: Option<crate::auth::password::StrengthFeedback>,
}
