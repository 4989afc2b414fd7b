//! What a route table is: the rows each function module keeps beside its handlers, and the
//! facts about them the template and the spec must agree with. It imports no handler, so the
//! function modules and the dispatcher both build on it.

use std::{future::Future, pin::Pin};

use lambda_http::{Body, Request, Response};

use super::response::ApiError;
use crate::app::address::KeepsAddress;

/// A handler's future, boxed so that one route table can name every handler.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// What a route of the function built from `D` runs.
pub type Handler<D> = for<'a> fn(&'a D, &'a Request) -> HandlerFuture<'a>;

/// One Lambda binary each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Enroll,
    Verify,
    Regenerate,
    AdminRegenerate,
    Download,
    Audit,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::Enroll,
        Function::Verify,
        Function::Regenerate,
        Function::AdminRegenerate,
        Function::Download,
        Function::Audit,
    ];

    /// The binary's package name under `functions/`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Enroll => "enroll",
            Function::Verify => "verify",
            Function::Regenerate => "regenerate",
            Function::AdminRegenerate => "admin-regenerate",
            Function::Download => "download",
            Function::Audit => "audit",
        }
    }
}

/// How API Gateway authorizes a route before the function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// A JWT from the team's identity provider; the handler reads the claims.
    Jwt,
    /// SigV4-signed by the team's auth server.
    Iam,
    /// Public: the download pages, protected by the signed token instead.
    None,
}

/// One route a function serves, and the handler that serves it.
pub struct Route<D: 'static> {
    pub method: &'static str,
    pub path: &'static str,
    pub authorization: Authorization,
    pub handler: Handler<D>,
}

/// A Lambda function's dependencies, and the routes it serves with them: each function's
/// table sits beside its handlers in `http::functions`.
pub trait Served: Sized + Send + Sync + 'static {
    const FUNCTION: Function;
    const ROUTES: &'static [Route<Self>];

    /// What keeps a signed-in caller's stored address current before a JWT route's handler
    /// runs (`app::address`); a function with no JWT route has none.
    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        None
    }
}

/// What the template and the spec must agree with: a route, without its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    pub authorization: Authorization,
}
