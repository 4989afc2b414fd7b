//! A team's customer accounts and who belongs to them: written only by the team's backend,
//! never from a caller's word, and read fresh at every request that relies on them.

use std::fmt;

use super::user::{UserId, UserIdError};

/// A customer account of the team's SaaS, as its backend names it: the user-id grammar and
/// limits (not empty, at most `UserId::MAX_LEN` characters, no control characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, UserIdError> {
        UserId::parse(raw).map(|id| Self(id.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a member may do in their account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Belongs to the account: its two-factor rule applies to them.
    Member,
    /// Also acts on the account's members: resets, turn-offs, their activity, the rule.
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

/// How many accounts one user may belong to. A user's accounts are read whole at every request
/// that asks which rules apply to them, so the list is bounded; a SaaS user in more than this
/// many customer accounts is a support login, which the platform admin group serves.
pub const MAX_ACCOUNTS_PER_USER: usize = 100;

/// How many admins one account may have. A change of the account's two-factor rule is mailed
/// to each of them in the transaction that makes it, which holds at most 100 items; 50 is more
/// than a customer account needs, and the platform's admin group has no limit.
pub const MAX_ADMINS_PER_ACCOUNT: usize = 50;

/// Whether an account's members must have two-factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TwoFactorRule {
    /// Each member chooses: what an account is until an admin says otherwise.
    #[default]
    Optional,
    /// No member signs in without a second factor, enrolling first if they have none, and no
    /// member turns it off.
    Required,
}

impl TwoFactorRule {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "optional" => Some(TwoFactorRule::Optional),
            "required" => Some(TwoFactorRule::Required),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TwoFactorRule::Optional => "optional",
            TwoFactorRule::Required => "required",
        }
    }
}

/// An account's own settings, as stored: its rule, and who administers it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountSettings {
    pub rule: TwoFactorRule,
    /// At most `MAX_ADMINS_PER_ACCOUNT`, sorted.
    pub admins: Vec<UserId>,
}

/// What a membership write did, for the event it records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    /// The user was not a member and now is, with this role.
    Added(Role),
    /// The user was a member with `from` and now has `to`.
    RoleChanged { from: Role, to: Role },
    /// The same role was written again: nothing changed, nothing is recorded.
    Unchanged(Role),
    /// The user was a member with this role and no longer is.
    Removed(Role),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_follow_the_user_id_grammar() {
        assert!(AccountId::parse("acme").is_ok());
        assert!(AccountId::parse("a/b%2F#é").is_ok());
        assert_eq!(AccountId::parse(""), Err(UserIdError::Empty));
        assert_eq!(
            AccountId::parse(&"a".repeat(UserId::MAX_LEN + 1)),
            Err(UserIdError::TooLong {
                max: UserId::MAX_LEN
            })
        );
        assert_eq!(
            AccountId::parse("acme\n"),
            Err(UserIdError::ControlCharacter)
        );
    }

    #[test]
    fn only_the_two_rules_parse() {
        assert_eq!(
            TwoFactorRule::parse("required"),
            Some(TwoFactorRule::Required)
        );
        assert_eq!(
            TwoFactorRule::parse("optional"),
            Some(TwoFactorRule::Optional)
        );
        for other in ["Required", "on", "", "required "] {
            assert_eq!(TwoFactorRule::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn only_the_two_roles_parse() {
        assert_eq!(Role::parse("member"), Some(Role::Member));
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        for other in ["Admin", "owner", "", " admin"] {
            assert_eq!(Role::parse(other), None, "{other:?}");
        }
    }
}
