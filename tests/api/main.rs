//! One test binary for the whole HTTP and CLI suite (faster to link than one per file).

mod helpers;

mod account;
mod admin;
mod architecture;
mod browser;
mod caches;
mod cli;
mod config;
mod hostile_tokens;
mod key_store;
mod lockout;
mod login;
mod logout;
mod mfa;
mod models;
mod modes;
mod network;
mod oauth_client;
mod oidc;
mod ops;
mod passkeys;
mod private_files;
mod properties;
mod races;
mod refresh_max_age;
mod register;
mod reload;
mod revocation;
mod robustness;
mod scale_out;
mod sessions;
mod soft_authenticator;
mod startup;
mod token;
mod wiring;
