//! `/`: the signed-in user's start page.

pub mod get;
