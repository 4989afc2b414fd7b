//! The admins' side of a recovery request: an account's admins see and answer the requests
//! that asked their account, about members they still reach; the platform's support sees and
//! answers all of them. Approving is a human check followed by the admin reset we already
//! have; it needs the admin's own proof and waits the stack's waiting time. Denying needs
//! neither. Of two answers racing, one closes the request and the other is told it is closed.

use tracing::{info, warn};

use super::{
    admin_regenerate::{self, LinkDelivery},
    errors::{AdminResetError, MemberError},
    FactorChecks, FactorServices, LinkSettings, Services,
};
use crate::{
    domain::{
        access::{Admin, Reach},
        events::{Actor, EventKind, Source},
        link_token::DownloadGrant,
        proof::StepUp,
        recovery::{DenyReason, RecoveryRequest, RequestState, Undecidable},
        recovery_queue::QueuedRequest,
    },
    ports::{
        DownloadGrants, Memberships, RecoveryDecisions, RecoveryLists, RequestPage,
        RequestPosition, UserRecords, Written,
    },
};

/// The open requests that asked the administrator's account, newest first, of those who are
/// still its members: one read of the queue, one of each asker's membership.
pub async fn account_requests<S: RecoveryLists + Memberships + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
) -> Result<Vec<QueuedRequest>, MemberError> {
    let account = admin.account().ok_or(MemberError::NotAMember)?;
    let open = svc.store.queue_of(account).await?.open_at(svc.clock.now());
    let roles = futures::future::try_join_all(
        open.iter()
            .map(|queued| svc.store.role_in(account, &queued.user)),
    )
    .await?;
    Ok(open
        .into_iter()
        .zip(roles)
        .filter(|(_, role)| role.is_some())
        .map(|(queued, _)| queued)
        .collect())
}

/// Up to `limit` open requests, newest first, after `after`: what support sees.
pub async fn all_requests<S: RecoveryLists + ?Sized>(
    svc: &Services<S>,
    limit: usize,
    after: Option<&RequestPosition>,
) -> Result<RequestPage, MemberError> {
    let mut page = svc.store.open_requests(limit, after).await?;
    let now = svc.clock.now();
    page.requests.retain(|request| request.is_open(now));
    Ok(page)
}

/// The request `id`, when `admin` may see it: any for support; for an account's administrator
/// one that asked their account, filed by someone who is still a member of it. Anything else
/// is not found, as an id never filed.
async fn visible<S: RecoveryLists + Memberships + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
    id: &str,
) -> Result<RecoveryRequest, AdminResetError> {
    let request = svc
        .store
        .request_by_id(id)
        .await?
        .ok_or(AdminResetError::RequestNotFound)?;
    match admin.reach() {
        Reach::Everyone => Ok(request),
        Reach::MembersOf(account) => {
            let asked = request.accounts.contains(account);
            if asked && svc.store.role_in(account, &request.user).await?.is_some() {
                Ok(request)
            } else {
                Err(AdminResetError::RequestNotFound)
            }
        }
    }
}

fn undecidable(reason: Undecidable) -> AdminResetError {
    match reason {
        Undecidable::Closed => AdminResetError::RequestClosed,
        Undecidable::Waiting { until } => AdminResetError::RequestWaiting { until },
    }
}

crate::ports::view! {
    /// What answering a request takes of the store: the requests, who is a member, and, to
    /// approve, the admin's own code and the reset's download grant.
    pub trait AnswerStore:
        FactorChecks, DownloadGrants, Memberships, RecoveryLists, RecoveryDecisions
}

/// Approves request `id`: the administrator's own proof first, then the request (found, open,
/// waited for), then it is closed as approved, so of racing approvals one goes on, and the
/// reset follows: the user's old codes die and they are mailed the single-use link to new ones,
/// with `recovery_approved` written in the reset's own transaction. A reset that cannot be made
/// (the user has no factor or no address any more, or the mail is not sent) opens the request
/// again, as it was.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(admin = %admin.user()))]
pub async fn approve<S: AnswerStore + ?Sized>(
    svc: &FactorServices<S>,
    links: &LinkSettings,
    admin: &Admin,
    id: &str,
    proof: Option<&str>,
    wait: time::Duration,
    delivery: LinkDelivery<'_>,
    source: &Source,
) -> Result<DownloadGrant, AdminResetError> {
    svc.admin_proof(admin, proof, StepUp::ApproveRecovery, source)
        .await?;
    let request = visible(svc, admin, id).await?;
    // Nobody approves their own request: a second admin, or support, checks who is asking.
    if request.user == *admin.user() {
        return Err(AdminResetError::RequestNotFound);
    }
    let now = svc.clock.now();
    request.may_approve(now, wait).map_err(undecidable)?;
    let state = RequestState::Approved {
        by: admin.user().clone(),
        at: now,
    };
    let event = svc
        .event(
            EventKind::RecoveryApproved,
            &request.user,
            Actor::Admin(admin.user().clone()),
            source,
        )
        .with_request(&request.id, None)
        .in_account(admin.account());
    if svc.store.close_request(&request, &state, now, &[]).await? == Written::ConditionFailed {
        return Err(AdminResetError::RequestClosed);
    }
    let reset = admin_regenerate::reset_proven(
        svc,
        links,
        admin,
        &request.user,
        delivery,
        source,
        vec![event],
    )
    .await;
    match &reset {
        Ok(_) => info!("a recovery request was approved"),
        Err(err) => {
            warn!(error = %err, "an approved recovery request's reset failed: opened again");
            if let Err(store) = svc.store.reopen_request(&request, &state).await {
                warn!(error = %store, "a recovery request could not be opened again");
            }
        }
    }
    reset
}

/// Denies request `id`, with the reason the user is mailed, if any.
#[tracing::instrument(skip_all, fields(admin = %admin.user()))]
pub async fn deny<S: UserRecords + RecoveryLists + RecoveryDecisions + Memberships + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
    id: &str,
    reason: Option<DenyReason>,
    source: &Source,
) -> Result<(), AdminResetError> {
    let request = visible(svc, admin, id).await?;
    let now = svc.clock.now();
    request.may_close(now).map_err(undecidable)?;
    let to = svc
        .store
        .get_user(&request.user)
        .await?
        .and_then(|r| r.email);
    let mut event = svc
        .event(
            EventKind::RecoveryDenied,
            &request.user,
            Actor::Admin(admin.user().clone()),
            source,
        )
        .with_request(&request.id, None)
        .in_account(admin.account());
    event.reason = reason.as_ref().map(|r| r.as_str().to_owned());
    let records = [svc.record(event, to.as_ref())];
    let state = RequestState::Denied {
        by: admin.user().clone(),
        at: now,
        reason,
    };
    match svc
        .store
        .close_request(&request, &state, now, &records)
        .await?
    {
        Written::Applied => {
            info!("a recovery request was denied");
            Ok(())
        }
        Written::ConditionFailed => Err(AdminResetError::RequestClosed),
    }
}
