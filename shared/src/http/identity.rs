//! The caller, as API Gateway's JWT authorizer already validated it: claims in the request context.

use lambda_http::http::StatusCode;
use lambda_http::{request::RequestContext, Request, RequestExt};

use super::response::ApiError;
use crate::domain::user::{Email, UserId};

#[derive(Clone, Debug)]
pub struct Caller {
    pub user: UserId,
    pub email: Option<Email>,
    pub groups: Vec<String>,
}

impl Caller {
    pub fn is_in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

pub fn caller(req: &Request, groups_claim: &str) -> Result<Caller, ApiError> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
    .ok_or_else(|| unauthenticated("missing identity: the request carries no JWT claims"))?;
    let sub = claims
        .get("sub")
        .ok_or_else(|| unauthenticated("missing identity: the token has no `sub` claim"))?;
    let user =
        UserId::parse(sub).map_err(|e| unauthenticated(&format!("the token's `sub` claim {e}")))?;
    Ok(Caller {
        user,
        email: claims.get("email").and_then(|e| Email::parse(e)),
        groups: claims
            .get(groups_claim)
            .map(|g| parse_groups(g))
            .unwrap_or_default(),
    })
}

/// API Gateway HTTP APIs flatten an array claim to `[a b]`; other setups pass a JSON array or one name.
pub fn parse_groups(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    raw.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw)
        .split([' ', ','])
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_groups;

    #[test]
    fn groups_in_every_form_api_gateway_and_issuers_send() {
        assert_eq!(parse_groups("[admins users]"), vec!["admins", "users"]);
        assert_eq!(
            parse_groups(r#"["admins","users"]"#),
            vec!["admins", "users"]
        );
        assert_eq!(parse_groups("admins"), vec!["admins"]);
        assert_eq!(parse_groups("[]"), Vec::<String>::new());
    }
}
