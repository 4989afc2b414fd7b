//! Turns a plain HTTP request into the API Gateway HTTP API (v2) event a Lambda would receive,
//! so the local server exercises the same request decoding as production.

use std::collections::BTreeMap;

use backup_codes::functions::path_parameters;
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use lambda_http::http::{request::Parts, HeaderMap};
use serde_json::{json, Map, Value};

/// Claims of a `Authorization: Bearer <JWT>` header, decoded without checking the signature:
/// in production API Gateway's JWT authorizer checks it before the function runs.
pub fn bearer_claims(headers: &HeaderMap) -> Option<Map<String, Value>> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    let payload = token.trim().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// API Gateway passes claims as strings and flattens arrays to `[a b]`; so do we.
fn flatten_claim(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(flatten_claim).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

/// Why lambda_http could not form a request URI from this event's `Host` and
/// `X-Forwarded-Proto` (it unwraps that parse). API Gateway only forwards a Host it routed;
/// the local server must refuse what it cannot route instead of panicking.
pub fn unroutable(event: &Value) -> Option<String> {
    let host = event["headers"]["host"].as_str()?;
    let scheme = event["headers"]["x-forwarded-proto"]
        .as_str()
        .unwrap_or("https");
    let path = event["rawPath"].as_str().unwrap_or("/");
    url::Url::parse(&format!("{scheme}://{host}{path}"))
        .err()
        .map(|_| format!("headers Host ({host:?}) and X-Forwarded-Proto do not form a valid URL"))
}

pub fn api_gateway_event(parts: &Parts, body: &[u8]) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut context = json!({
        "accountId": "local",
        "apiId": "local",
        "domainName": "localhost",
        "domainPrefix": "localhost",
        "requestId": "local",
        "routeKey": "$default",
        "stage": "$default",
        "time": "",
        "timeEpoch": 0,
        "http": {
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
    });
    if let Some(claims) = bearer_claims(&parts.headers) {
        let claims: Map<String, Value> = claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(flatten_claim(v))))
            .collect();
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": context,
        "body": STANDARD.encode(body),
        "isBase64Encoded": true,
    });
    // API Gateway parses the query string too, joining a repeated name's values with commas.
    let mut query = Map::new();
    for (name, value) in url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        match query.get_mut(name.as_ref()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                query.insert(name.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    // API Gateway matches the route and decodes `{user_id}` before the function runs.
    if let Some(params) = path_parameters(parts.uri.path()) {
        let params: Map<String, Value> = params
            .iter()
            .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
            .collect();
        event["pathParameters"] = Value::Object(params);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_that_forms_no_url_is_named() {
        let event = |host: &str, proto: Option<&str>| {
            let mut e = json!({ "rawPath": "/v1/verify", "headers": { "host": host } });
            if let Some(p) = proto {
                e["headers"]["x-forwarded-proto"] = json!(p);
            }
            e
        };
        assert_eq!(unroutable(&event("127.0.0.1:3000", None)), None);
        for (host, proto) in [
            ("a b", None),
            ("[::1", None),
            ("x:99999", None),
            ("ok", Some("a b")),
        ] {
            let problem = unroutable(&event(host, proto)).expect(host);
            assert!(problem.contains("Host"), "{problem}");
        }
    }

    #[test]
    fn arrays_flatten_like_api_gateway() {
        assert_eq!(flatten_claim(&json!(["a", "b"])), "[a b]");
        assert_eq!(flatten_claim(&json!("x")), "x");
        assert_eq!(flatten_claim(&json!(5)), "5");
    }

    #[test]
    fn claims_come_from_the_bearer_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"ana","cognito:groups":["admins"]}"#);
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer e30.{payload}.sig").parse().unwrap(),
        );
        let claims = bearer_claims(&headers).unwrap();
        assert_eq!(claims["sub"], "ana");
        headers.insert("authorization", "Bearer not-a-jwt".parse().unwrap());
        assert!(bearer_claims(&headers).is_none());
    }
}
