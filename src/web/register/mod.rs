//! `/register`: self-service sign-up, served only with `auth.registration`.

pub mod get;
pub mod post;

use askama::Template;

use super::Nav;
use super::form_errors::FieldErrors;

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub nav: Nav,
    pub errors: FieldErrors,
    pub username: String,
    pub min_length: usize,
}
