//! Plain HTTP helpers with no knowledge of users or state: the client address behind trusted
//! proxies, local redirect targets, and the security headers of every response.

pub mod client_ip;
pub mod headers;
pub mod redirect;
