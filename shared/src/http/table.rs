//! What a route table is: the rows each HTTP function keeps beside its handlers
//! (`LambdaFunction::INVOKED`), and the facts about them the template and the spec must agree
//! with. It imports no handler, so the function modules and the dispatcher both build on it.

use std::{future::Future, pin::Pin};

use lambda_http::{Body, Request, Response};

use super::response::ApiError;

/// A handler's future, boxed so that one route table can name every handler.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// What a route of the function built from `D` runs.
pub type Handler<D> = for<'a> fn(&'a D, &'a Request) -> HandlerFuture<'a>;

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

/// What the template and the spec must agree with: a route, without its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    /// The function's name (`LambdaFunction::NAME`).
    pub function: &'static str,
    pub authorization: Authorization,
}
