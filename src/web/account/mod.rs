//! `/account`: the signed-in user's own settings.

pub mod get;
pub mod post;

use askama::Template;

use super::Nav;

/// Session key of a one-time notice shown on the next page.
pub const FLASH_KEY: &str = "flash";

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub nav: Nav,
    pub username: String,
    pub notice: Option<String>,
    pub errors: Vec<String>,
    pub min_length: usize,
}
