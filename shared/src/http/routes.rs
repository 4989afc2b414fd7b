//! How an HTTP function serves a request from its route table. The local server and the Lambda
//! binaries both dispatch here.

use lambda_http::{
    http::{header, Method, StatusCode},
    Body, Request, Response,
};

use super::{
    identity::{caller, Caller},
    request::caller_source,
    response::{ApiError, ErrorCode},
    table::{Authorization, Route},
};
use crate::entry::{Invoked, LambdaFunction};

/// The values of a route's `{name}` segments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(n, v)| (*n, v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Matches `path` against a pattern like `/v1/admin/users/{user_id}/backup-codes`,
/// percent-decoding each captured segment. Handlers read the event's `pathParameters`, which
/// API Gateway fills; the local server and the tests, standing in for it, fill them from this.
pub fn match_path(pattern: &'static str, path: &str) -> Option<PathParams> {
    let mut params = vec![];
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return Some(PathParams(params)),
            (Some(expected), Some(actual)) => {
                if let Some(name) = expected.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                    let value = percent_encoding::percent_decode_str(actual)
                        .decode_utf8()
                        .ok()?;
                    if value.is_empty() {
                        return None;
                    }
                    params.push((name, value.into_owned()));
                } else if expected != actual {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// How long a request may take before it is answered 503: inside the functions' 10 s Lambda
/// timeout, so a slow dependency yields a clear answer rather than a timed-out invocation.
/// Each store write is one conditional request, so an abandoned request leaves every record
/// as it was before or after that write.
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);

pub(crate) fn no_route(path: &str) -> Response<Body> {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {path}"),
    )
    .into_response()
}

/// A verified `email` in the caller's token becomes their stored address. Claims the handler
/// will refuse are left to it; a store that fails here answers as the handler's would (503).
async fn keep_address_current<D: LambdaFunction>(deps: &D, req: &Request) -> Result<(), ApiError> {
    let Some(services) = deps.signed_in() else {
        return Ok(());
    };
    let Ok(Caller {
        user,
        email: Some(email),
        ..
    }) = caller(req, "")
    else {
        return Ok(());
    };
    services
        .keep_current(&user, &email, &caller_source(req))
        .await?;
    Ok(())
}

/// Serves a request as the Lambda function built from `deps` does.
pub async fn dispatch<D: LambdaFunction>(deps: &D, req: Request) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let routes = match D::INVOKED {
        Invoked::Http(routes) => routes,
        Invoked::Event(_) => &[],
    };
    let mut served: Vec<(&Route<D>, PathParams)> = routes
        .iter()
        .filter_map(|r| match_path(r.path, &path).map(|params| (r, params)))
        .collect();
    if served.is_empty() {
        return no_route(&path);
    }
    let method = req.method().clone();
    // HEAD is GET without a body: it can never do more than the GET would.
    let is_head = method == Method::HEAD;
    let wanted = if is_head { "GET" } else { method.as_str() };
    let Some(index) = served.iter().position(|(r, _)| r.method == wanted) else {
        let allow: Vec<&str> = served.iter().map(|(r, _)| r.method).collect();
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("{path} accepts {}, not {method}", allow.join(", ")),
        )
        .into_response();
        if let Ok(value) = allow.join(", ").parse() {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    };
    let (route, _) = served.swap_remove(index);
    let handled = tokio::time::timeout(REQUEST_DEADLINE, async {
        if route.authorization == Authorization::Jwt {
            keep_address_current(deps, &req).await?;
        }
        (route.handler)(deps, &req).await
    });
    let mut response = match handled.await {
        Ok(answer) => answer.unwrap_or_else(ApiError::into_response),
        Err(_) => {
            tracing::error!(deadline = ?REQUEST_DEADLINE, "request abandoned at its deadline");
            ApiError::unavailable().into_response()
        }
    };
    if is_head {
        *response.body_mut() = Body::Empty;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::match_path;

    #[test]
    fn path_parameters_are_captured_and_decoded() {
        let params = match_path(
            "/v1/admin/users/{user_id}/backup-codes",
            "/v1/admin/users/auth0%7Cana/backup-codes",
        )
        .unwrap();
        assert_eq!(params.get("user_id"), Some("auth0|ana"));
        assert!(match_path(
            "/v1/admin/users/{user_id}/backup-codes",
            "/v1/admin/users//backup-codes"
        )
        .is_none());
        assert!(match_path(
            "/v1/admin/users/{user_id}/backup-codes",
            "/v1/admin/users/a/b/backup-codes"
        )
        .is_none());
        assert!(match_path("/v1/verify", "/v1/verify").is_some());
        assert!(match_path("/v1/verify", "/v1/verify/x").is_none());
    }
}
