//! Single sign-on: a user whose only way in is their organisation's identity provider. The seed
//! says two-factor is not enforced for them, and Cognito agrees in practice: such a user signs
//! in only through the managed login pages, which cannot run our challenge. Their identity
//! provider owns their second factor.
//!
//! What a Pre Token Generation event lets the guard tell apart, and what it cannot:
//!
//! - A **federated-only** user (made by Cognito at their first sign-in through an identity
//!   provider, with no password in the pool): `cognito:user_status` is `EXTERNAL_PROVIDER`, and
//!   `identities` lists the provider. Exempt at a managed-login sign-in (`TokenGeneration_HostedAuth`).
//! - A **native user with linked identities** (`AdminLinkProviderForUser`): `identities` lists
//!   the provider too, but the status is the native one (`CONFIRMED`...), and the event of a
//!   managed-login sign-in is the same whether they typed their password there or went through
//!   the provider. Never exempt: the password alone must not pass.
//! - Anything else: a status other than `EXTERNAL_PROVIDER`, no `identities` or one that is not
//!   a list of identities, another trigger source (the custom flow, a new password, which a
//!   federated user never has). Never exempt.

use serde::Deserialize;

/// The status Cognito gives a user it made for an identity provider's sign-in: no password.
pub const EXTERNAL_PROVIDER: &str = "EXTERNAL_PROVIDER";

/// The ID token claim the guard adds for a federated-only identity, at its sign-in and at each
/// refresh: `"true"`. The API refuses to enroll whoever carries it (`federated_user`); it is
/// Cognito's signature over our trigger's word, never the caller's.
pub const CLAIM_FEDERATED: &str = "backup_codes:federated";

/// One entry of Cognito's `identities` attribute, as far as the rule reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkedIdentity {
    provider_name: String,
    user_id: String,
}

/// Whether the user attributes of a Cognito event are a federated-only identity's: the pool's
/// status says it has no password (`cognito:user_status`), and `identities` is a JSON list of
/// at least one identity naming its provider and its id there. Anything malformed is not.
pub fn is_federated_only(user_status: Option<&str>, identities: Option<&str>) -> bool {
    if user_status != Some(EXTERNAL_PROVIDER) {
        return false;
    }
    let Some(identities) = identities else {
        return false;
    };
    match serde_json::from_str::<Vec<LinkedIdentity>>(identities) {
        Ok(list) => {
            !list.is_empty()
                && list
                    .iter()
                    .all(|i| !i.provider_name.trim().is_empty() && !i.user_id.trim().is_empty())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOGLE: &str = r#"[{"userId":"1234","providerName":"Google","providerType":"Google","issuer":null,"primary":"true","dateCreated":"1700000000000"}]"#;

    #[test]
    fn only_a_pool_made_identity_with_its_provider_listed_is_federated_only() {
        assert!(is_federated_only(Some("EXTERNAL_PROVIDER"), Some(GOOGLE)));
        // A native user with a linked identity: the same list, the native status.
        for status in [
            Some("CONFIRMED"),
            Some("FORCE_CHANGE_PASSWORD"),
            Some("external_provider"),
            None,
        ] {
            assert!(!is_federated_only(status, Some(GOOGLE)), "{status:?}");
        }
        for identities in [
            None,
            Some(""),
            Some("[]"),
            Some("{}"),
            Some("Google"),
            Some(r#"[{"providerName":"Google"}]"#),
            Some(r#"[{"providerName":" ","userId":"1"}]"#),
            Some(r#"[{"providerName":"Google","userId":""}]"#),
            Some(r#"[{"providerName":1,"userId":"1"}]"#),
        ] {
            assert!(
                !is_federated_only(Some("EXTERNAL_PROVIDER"), identities),
                "{identities:?}"
            );
        }
    }
}
