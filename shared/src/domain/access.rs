//! Who may act on other users. Admin rights are a value, not a flag: the only ways to hold an
//! `Admin` are the platform group's check (`Admin::by_membership`) and an account's admin role
//! as the team's backend wrote it (`Admin::of_account`), so a use case that takes one cannot be
//! reached by a caller who is neither. Each `Admin` also says whom it reaches.

use super::{
    account::{AccountId, Role},
    user::UserId,
};

/// A caller proven to be an administrator, and the users they may act on.
#[derive(Debug)]
pub struct Admin {
    user: UserId,
    reach: Reach,
}

/// Whom an administrator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The platform's admin group: the team's own support, on any user.
    Everyone,
    /// The members of one account, as they are at the moment of the check.
    MembersOf(AccountId),
}

impl Admin {
    /// `groups` are the caller's, from their verified token; `admin_group` is the configured one.
    pub fn by_membership(user: &UserId, groups: &[String], admin_group: &str) -> Option<Self> {
        groups.iter().any(|g| g == admin_group).then(|| Self {
            user: user.clone(),
            reach: Reach::Everyone,
        })
    }

    /// `role` is the caller's in `account`, read from the store at this request: an admin
    /// there reaches the account's members.
    pub fn of_account(user: &UserId, account: &AccountId, role: Option<Role>) -> Option<Self> {
        (role == Some(Role::Admin)).then(|| Self {
            user: user.clone(),
            reach: Reach::MembersOf(account.clone()),
        })
    }

    /// The same administrator acting through an account's routes: only its members are
    /// reached, whatever the administrator could reach before.
    pub fn within(self, account: &AccountId) -> Self {
        Self {
            reach: Reach::MembersOf(account.clone()),
            ..self
        }
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// The account this administrator acts in, if they act in one.
    pub fn account(&self) -> Option<&AccountId> {
        match &self.reach {
            Reach::Everyone => None,
            Reach::MembersOf(account) => Some(account),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exact_member_is_an_admin() {
        let user = UserId::parse("root").unwrap();
        let admins = "backup-codes-admins";
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(Admin::by_membership(&user, &groups(&["ops", admins]), admins).is_some());
        for not in [
            vec![],
            groups(&["ops"]),
            groups(&["backup-codes-admins2"]),
            groups(&["ops,backup-codes-admins"]),
        ] {
            assert!(
                Admin::by_membership(&user, &not, admins).is_none(),
                "{not:?}"
            );
        }
    }

    #[test]
    fn only_an_admin_of_the_account_reaches_its_members() {
        let user = UserId::parse("ana").unwrap();
        let acme = AccountId::parse("acme").unwrap();
        let admin = Admin::of_account(&user, &acme, Some(Role::Admin)).unwrap();
        assert_eq!(admin.reach(), &Reach::MembersOf(acme.clone()));
        for not in [None, Some(Role::Member)] {
            assert!(Admin::of_account(&user, &acme, not).is_none(), "{not:?}");
        }
        let groups = vec!["admins".to_owned()];
        let support = Admin::by_membership(&user, &groups, "admins").unwrap();
        assert_eq!(support.reach(), &Reach::Everyone);
        assert_eq!(support.within(&acme).account(), Some(&acme));
    }
}
