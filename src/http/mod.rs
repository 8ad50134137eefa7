//! Plain HTTP helpers with no knowledge of users or state: the client address behind trusted
//! proxies, local redirect targets, the security headers of every response, and the request
//! timeout.

pub mod client_ip;
pub mod headers;
pub mod redirect;
pub mod timeout;
