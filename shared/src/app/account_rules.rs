//! Each account's two-factor rule: set by its admins behind their own proof, told to the
//! account's other admins, and applied to every member wherever a second factor is decided
//! (their own turn-off, a Cognito sign-in, the team's auth server asking).

use tracing::info;

use super::{
    errors::{AdminResetError, Fault, MemberError},
    FactorChecks, FactorServices, Services,
};
use crate::{
    domain::{
        access::Admin,
        account::{AccountId, TwoFactorRule},
        events::{Actor, EventKind, Source},
        proof::StepUp,
        user::UserId,
    },
    ports::{AccountRecords, MemberRecords, Memberships, RuleWrites, UserRecords, Written},
};

crate::ports::view! {
    /// What asking which rules apply to a user reads: their accounts, and those accounts' rules.
    pub trait RulesOfUser: Memberships, AccountRecords
}

/// How many times a rule change that keeps losing to another is read and sent again.
const WRITE_TRIES: usize = 3;

/// The administrator's account's rule.
pub async fn rule_of<S: AccountRecords + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
) -> Result<TwoFactorRule, MemberError> {
    let account = admin.account().ok_or(MemberError::NotAMember)?;
    Ok(svc.store.account_settings(account).await?.rule)
}

/// Sets the administrator's account's rule, behind their own proof. A change is kept on the
/// admin's own trail, and on each other admin's with their address, so the notifier mails
/// them; setting the rule the account already has changes and tells nothing. `true`: changed.
#[tracing::instrument(skip_all, fields(admin = %admin.user()))]
pub async fn set_rule<S: FactorChecks + AccountRecords + RuleWrites + MemberRecords + ?Sized>(
    svc: &FactorServices<S>,
    admin: &Admin,
    rule: TwoFactorRule,
    proof: Option<&str>,
    source: &Source,
) -> Result<bool, AdminResetError> {
    let account = admin.account().ok_or(AdminResetError::NotAMember)?;
    svc.admin_proof(admin, proof, StepUp::SetTwoFactorRule, source)
        .await?;
    for _ in 0..WRITE_TRIES {
        let settings = svc.store.account_settings(account).await?;
        if settings.rule == rule {
            return Ok(false);
        }
        let actor = Actor::Admin(admin.user().clone());
        let changed = |user: &UserId| {
            svc.event(EventKind::TwoFactorRuleChanged, user, actor.clone(), source)
                .with_rule(account, rule)
        };
        let others: Vec<UserId> = settings
            .admins
            .iter()
            .filter(|a| *a != admin.user())
            .cloned()
            .collect();
        let addresses = svc.store.get_users(&others).await?;
        let mut records = vec![svc.record(changed(admin.user()), None)];
        records.extend(others.iter().map(|other| {
            let to = addresses
                .iter()
                .find(|r| r.user_id == *other)
                .and_then(|r| r.email.as_ref());
            svc.record(changed(other), to)
        }));
        let written = svc
            .store
            .set_rule(account, rule, settings.rule, &records)
            .await?;
        if written == Written::Applied {
            info!(rule = rule.as_str(), "an account's two-factor rule changed");
            return Ok(true);
        }
    }
    Err(AdminResetError::Contended)
}

/// The accounts `user` belongs to whose rule requires two-factor, sorted. One read of their
/// accounts; a user in some also one batch read of those accounts' rules.
pub async fn requiring_accounts<S: RulesOfUser + ?Sized>(
    store: &S,
    user: &UserId,
) -> Result<Vec<AccountId>, Fault> {
    let accounts: Vec<AccountId> = store
        .accounts_of(user)
        .await?
        .into_iter()
        .map(|(account, _)| account)
        .collect();
    if accounts.is_empty() {
        return Ok(vec![]);
    }
    let settings = store.settings_of(&accounts).await?;
    Ok(accounts
        .into_iter()
        .zip(settings)
        .filter(|(_, s)| s.rule == TwoFactorRule::Required)
        .map(|(account, _)| account)
        .collect())
}

/// What the team's auth server asks before letting `user` into `account` without a code: the
/// account's rule, and whether the user has a second factor to give.
pub struct Requirement {
    pub rule: TwoFactorRule,
    pub enrolled: bool,
}

pub async fn requirement<S: Memberships + AccountRecords + UserRecords + ?Sized>(
    svc: &Services<S>,
    account: &AccountId,
    user: &UserId,
) -> Result<Requirement, MemberError> {
    if svc.store.role_in(account, user).await?.is_none() {
        return Err(MemberError::NotAMember);
    }
    let rule = svc.store.account_settings(account).await?.rule;
    let enrolled = svc.enrolled_record(user).await?.is_some();
    Ok(Requirement { rule, enrolled })
}
