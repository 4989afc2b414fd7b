//! Who may act on other users. Admin rights are a value, not a flag: the only way to hold an
//! `Admin` is to pass the membership check in `Admin::by_membership`, so a use case that takes
//! one cannot be reached by a caller who is not an administrator.

use super::user::UserId;

/// A caller proven to be in the administrators group.
#[derive(Debug)]
pub struct Admin {
    user: UserId,
}

impl Admin {
    /// `groups` are the caller's, from their verified token; `admin_group` is the configured one.
    pub fn by_membership(user: &UserId, groups: &[String], admin_group: &str) -> Option<Self> {
        groups
            .iter()
            .any(|g| g == admin_group)
            .then(|| Self { user: user.clone() })
    }

    pub fn user(&self) -> &UserId {
        &self.user
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
}
