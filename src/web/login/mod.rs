//! `/login`: the sign-in form.

pub mod get;
pub mod mfa;
pub mod post;

use askama::Template;

use super::Nav;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nav: Nav,
    pub error: Option<String>,
    pub username: String,
    pub next: String,
    pub registration: bool,
}
