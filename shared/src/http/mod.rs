//! HTTP mapping: API Gateway requests in, JSON (or text) responses out.

mod handlers;
pub mod identity;
pub mod request;
pub mod response;
pub mod routes;

pub use routes::{dispatch, Authorization, Function, Route, ROUTES};

use crate::{app::Services, config::IdentitySettings};

/// What a handler needs: the use cases' services and how to read identity.
#[derive(Clone)]
pub struct Api {
    pub services: Services,
    pub identity: IdentitySettings,
    /// Where download links point; `None`: the public address the admin's request came through.
    pub link_base_url: Option<String>,
}
