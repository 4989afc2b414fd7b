//! Which function serves which route. The local server and the Lambda binaries both dispatch here.

use lambda_http::{
    http::{header, StatusCode},
    Body, Request, Response,
};

use super::{handlers, response::ApiError, Api};

/// One Lambda binary each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Enroll,
    Verify,
    Regenerate,
}

impl Function {
    pub const ALL: [Function; 3] = [Function::Enroll, Function::Verify, Function::Regenerate];

    /// The binary's package name under `functions/`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Enroll => "enroll",
            Function::Verify => "verify",
            Function::Regenerate => "regenerate",
        }
    }
}

/// What each route does; handlers are chosen by this, not by re-matching strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    StartEnrollment,
    ConfirmEnrollment,
    Verify,
    CodeSetStatus,
    RegenerateCodeSet,
    DeleteCodeSet,
}

/// How API Gateway authorizes a route before the function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// A JWT from the team's identity provider; the handler reads the claims.
    Jwt,
    /// SigV4-signed by the team's auth server.
    Iam,
}

#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    pub endpoint: Endpoint,
    pub authorization: Authorization,
}

pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/v1/totp/enrollment",
        function: Function::Enroll,
        endpoint: Endpoint::StartEnrollment,
        authorization: Authorization::Jwt,
    },
    Route {
        method: "POST",
        path: "/v1/totp/enrollment/confirm",
        function: Function::Enroll,
        endpoint: Endpoint::ConfirmEnrollment,
        authorization: Authorization::Jwt,
    },
    Route {
        method: "POST",
        path: "/v1/verify",
        function: Function::Verify,
        endpoint: Endpoint::Verify,
        authorization: Authorization::Iam,
    },
    Route {
        method: "GET",
        path: "/v1/backup-codes",
        function: Function::Regenerate,
        endpoint: Endpoint::CodeSetStatus,
        authorization: Authorization::Jwt,
    },
    Route {
        method: "POST",
        path: "/v1/backup-codes",
        function: Function::Regenerate,
        endpoint: Endpoint::RegenerateCodeSet,
        authorization: Authorization::Jwt,
    },
    Route {
        method: "DELETE",
        path: "/v1/backup-codes",
        function: Function::Regenerate,
        endpoint: Endpoint::DeleteCodeSet,
        authorization: Authorization::Jwt,
    },
];

/// Serves a request as `only` would (one Lambda), or as any function (the local server with `None`).
pub async fn dispatch(api: &Api, only: Option<Function>, req: Request) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let served: Vec<&Route> = ROUTES
        .iter()
        .filter(|r| only.is_none_or(|f| r.function == f) && r.path == path)
        .collect();
    if served.is_empty() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {path}"),
        )
        .into_response();
    }
    let method = req.method().clone();
    let Some(route) = served.iter().find(|r| r.method == method.as_str()) else {
        let allow: Vec<&str> = served.iter().map(|r| r.method).collect();
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{path} accepts {}, not {method}", allow.join(", ")),
        )
        .into_response();
        if let Ok(value) = allow.join(", ").parse() {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    };
    handlers::handle(api, route.endpoint, req)
        .await
        .unwrap_or_else(ApiError::into_response)
}
