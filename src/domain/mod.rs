//! The bottom layer: types for what people type in, the clock and random tokens. Imports
//! nothing else of the crate, so every other module may use it.

pub mod clock;
pub mod credentials;
pub mod random;
pub mod user_state;

pub use credentials::{MAX_PASSWORD_BYTES, MAX_USERNAME_CHARS, Password, PasswordPolicy, Username};
pub use random::random_token;
pub use user_state::UserState;
