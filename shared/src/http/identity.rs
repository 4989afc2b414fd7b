//! The caller, as API Gateway's JWT authorizer already validated it: claims in the request context.

use lambda_http::http::StatusCode;
use lambda_http::{request::RequestContext, Request, RequestExt};
use tracing::warn;

use super::response::{ApiError, ErrorCode};
use crate::domain::{
    federation::CLAIM_FEDERATED,
    user::{Email, UserId},
};

#[derive(Clone, Debug)]
pub struct Caller {
    pub user: UserId,
    pub email: Option<Email>,
    pub groups: Vec<String>,
    /// The token guard marked this identity federated-only (`CLAIM_FEDERATED`): it signs in
    /// through its identity provider, which owns its second factor.
    pub federated_only: bool,
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
        message,
    )
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
    let email = claims
        .get("email")
        .map(|raw| {
            Email::parse(raw).ok_or_else(|| {
                invalid_claim("the token's `email` claim must be exactly one email address")
            })
        })
        .transpose()?;
    // An address the identity provider says is unverified is never stored or mailed.
    let verified = match claims.get("email_verified").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(invalid_claim(
                "the token's `email_verified` claim must be true or false",
            ))
        }
    };
    let federated_only = match claims.get(CLAIM_FEDERATED).map(String::as_str) {
        None => false,
        Some("true") => true,
        Some(_) => {
            return Err(invalid_claim(&format!(
                "the token's `{CLAIM_FEDERATED}` claim must be true when present"
            )))
        }
    };
    Ok(Caller {
        user,
        federated_only,
        email: email.filter(|_| verified),
        groups: claims
            .get(groups_claim)
            .map(|g| parse_groups(g))
            .unwrap_or_default(),
    })
}

fn invalid_claim(message: &str) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidClaim, message)
}

/// A JSON array of names, or API Gateway's flattening of an array claim, `[a b]`: names
/// separated by exactly one space (group names cannot hold white space; they can hold commas,
/// so a comma never separates). A flattening with an empty name (a leading, trailing or double
/// space) came from a name that held white space: the claim is refused whole, so no part of
/// such a name can pass for a group. Anything else is one group name, as it is. A name with
/// white space is kept as it is, and so never equals a configured group (which has none).
pub fn parse_groups(raw: &str) -> Vec<String> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    match raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some("") => vec![],
        Some(inner) => {
            let names: Vec<&str> = inner.split(' ').collect();
            if names.iter().any(|name| name.is_empty()) {
                warn!("the groups claim holds a name with white space; no group is taken from it");
                return vec![];
            }
            names.into_iter().map(str::to_owned).collect()
        }
        None => vec![raw.to_owned()],
    }
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

    #[test]
    fn a_comma_in_a_group_name_never_splits_it() {
        let admin = "backup-codes-admins".to_owned();
        for raw in [
            "[ops,backup-codes-admins]",
            "ops,backup-codes-admins",
            r#"["ops,backup-codes-admins"]"#,
            "[ops, backup-codes-admins]x",
        ] {
            assert!(!parse_groups(raw).contains(&admin), "{raw}");
        }
        assert!(parse_groups("[ops backup-codes-admins]").contains(&admin));
    }

    /// A group name holding white space never makes its holder an admin, in either form.
    #[test]
    fn a_name_with_white_space_is_never_the_admin_group() {
        let admin = "backup-codes-admins".to_owned();
        for raw in [
            // As a JSON array: the name is kept whole, and equals nothing configured.
            r#"["ops backup-codes-admins"]"#,
            r#"["backup-codes-admins "]"#,
            r#"[" backup-codes-admins"]"#,
            r#"["backup-codes-admins\t"]"#,
            // As API Gateway flattens it: an empty name shows white space was in one.
            "[backup-codes-admins ]",
            "[ backup-codes-admins]",
            "[ops  backup-codes-admins]",
            "[ops backup-codes-admins ]",
            "backup-codes-admins ",
            " backup-codes-admins",
        ] {
            assert!(!parse_groups(raw).contains(&admin), "{raw:?}");
        }
    }
}
