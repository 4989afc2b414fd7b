//! A user who lost both their phone and their backup codes asks, after the password, for their
//! two-factor to be reset; they alone can cancel it (the mailed link), and nobody answering it
//! in time closes it. Their accounts' admins answer it (`recovery_answers`).
//!
//! The user is mailed before anything is filed, so no request stands that its user was not
//! told about, and a request whose mail cannot be sent is not filed. Only an enrolled user with
//! an address is filed for: anyone else (unknown, without a factor, with no address to tell)
//! gets the same answer, and nothing is filed or mailed.

use tracing::{info, warn};

use super::{errors::FilingError, Services};
use crate::{
    domain::{
        account::AccountId,
        events::{Actor, EventKind, Recorded, Source},
        link_token::{DownloadGrant, LinkSigner},
        mail_budget::{day_of, DayCount},
        recovery::{RecoveryRequest, RequestState, REQUEST_LIFETIME},
        recovery_queue::{AccountQueue, MAX_ACCOUNTS_ASKED, MAX_ADMINS_MAILED},
        user::{Email, UserId},
    },
    ports::{
        AccountRecords, MailBudget, MemberRecords, Memberships, RecoveryDecisions, RecoveryFiling,
        RecoveryLists, RecoveryNotice, StoreError, UserRecords, Written,
    },
};

crate::ports::view! {
    /// What filing reads and writes: the user's record and accounts, those accounts' admins and
    /// queues, and the admins' addresses.
    pub trait FilingStore:
        UserRecords, Memberships, AccountRecords, MemberRecords, RecoveryFiling
}

/// How a filing tells the user: `notice` mails them the link `signer` (the cancel link's)
/// signs, and the mail is counted in the stack's daily `budget`.
pub struct RequestNoticeDelivery<'a> {
    pub signer: &'a LinkSigner,
    pub notice: &'a dyn RecoveryNotice,
    pub budget: &'a dyn MailBudget,
    /// The time between filing and the earliest approval.
    pub wait: time::Duration,
}

/// What became of a filing; the caller answers every one alike.
#[derive(Debug, PartialEq, Eq)]
pub enum Filing {
    Filed(RecoveryRequest),
    /// The user has one open already: it stands, and nobody is mailed again.
    AlreadyOpen(RecoveryRequest),
    /// Unknown, without a factor, or without an address: nothing filed or mailed.
    NotFiled,
}

/// How long a filing holds the user's right to file: far longer than a mail and a write take.
const FILING_HOLD: time::Duration = time::Duration::seconds(15);

/// How many times a filing that meets a racing write to its queues reads them again.
const FILING_TRIES: usize = 4;

/// The cancel link's grant: the request itself, for as long as it lives.
pub fn cancel_grant(request: &RecoveryRequest) -> DownloadGrant {
    DownloadGrant {
        id: request.id.clone(),
        expires_at: request.expires_at(),
    }
}

#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn file<S: FilingStore + ?Sized>(
    svc: &Services<S>,
    user: &UserId,
    source: &Source,
    delivery: RequestNoticeDelivery<'_>,
) -> Result<Filing, FilingError> {
    // The same reads for every user, whoever they are.
    let (record, latest, accounts) = tokio::try_join!(
        svc.enrolled_record(user),
        svc.store.request_of(user),
        svc.store.accounts_of(user),
    )?;
    let now = svc.clock.now();
    let Some(to) = record.and_then(|r| r.email) else {
        info!("a recovery request for no enrolled user with an address: nothing filed");
        return Ok(Filing::NotFiled);
    };
    if let Some(open) = latest.as_ref().filter(|r| r.is_open(now)) {
        return Ok(Filing::AlreadyOpen(open.clone()));
    }
    // Of filings racing for one user, one mails and files; the others are answered as if
    // the request were theirs, and nobody is mailed twice.
    let hold = svc.store.hold_filing(user, now, now + FILING_HOLD).await?;
    if hold == Written::ConditionFailed {
        return Ok(match svc.store.request_of(user).await? {
            Some(open) if open.is_open(now) => Filing::AlreadyOpen(open),
            _ => Filing::NotFiled,
        });
    }
    let accounts: Vec<AccountId> = accounts
        .into_iter()
        .map(|(account, _)| account)
        .take(MAX_ACCOUNTS_ASKED)
        .collect();
    let mut request = RecoveryRequest::file(user, vec![], source, now);

    let token = delivery.signer.sign(user, &cancel_grant(&request));
    delivery
        .notice
        .send(
            &to,
            &request,
            request.approvable_from(delivery.wait),
            &token,
        )
        .await
        .map_err(FilingError::EmailFailed)?;
    if let Err(err) = delivery
        .budget
        .take_day(&DayCount::Stack, day_of(now), None)
        .await
    {
        warn!(error = %err, "a recovery request's mail was not counted in the day's mail");
    }

    // A previous request still open but expired is recorded as such as this one replaces it.
    let expired = latest
        .filter(|r| r.state == RequestState::Open)
        .map(|r| expired_record(svc, &r, None));
    for _ in 0..FILING_TRIES {
        let queues = svc.store.queues_of(&accounts).await?;
        let asked: Vec<&AccountQueue> = queues.iter().filter(|q| q.has_room(now)).collect();
        request.accounts = asked.iter().map(|q| q.account.clone()).collect();
        let written_queues: Vec<AccountQueue> =
            asked.iter().map(|q| q.with(&request, now)).collect();
        let mut records = vec![svc.record(requested(svc, &request, None, source), None)];
        records.extend(expired.clone());
        records.extend(admin_copies(svc, &request, source).await?);
        let written = svc
            .store
            .file_request(&request, &written_queues, now, &records)
            .await?;
        if written == Written::Applied {
            info!(
                accounts = request.accounts.len(),
                "a recovery request was filed"
            );
            return Ok(Filing::Filed(request));
        }
        // Another filing of the same user won, or a queue moved on: read again.
        if let Some(open) = svc.store.request_of(user).await?.filter(|r| r.is_open(now)) {
            return Ok(Filing::AlreadyOpen(open));
        }
    }
    Err(FilingError::Contended)
}

fn requested<S: ?Sized>(
    svc: &Services<S>,
    request: &RecoveryRequest,
    copy_for: Option<(&UserId, &AccountId)>,
    source: &Source,
) -> crate::domain::events::SecurityEvent {
    match copy_for {
        None => svc
            .event(
                EventKind::RecoveryRequested,
                &request.user,
                Actor::User,
                source,
            )
            .with_request(&request.id, None),
        Some((admin, account)) => svc
            .event(EventKind::RecoveryRequested, admin, Actor::User, source)
            .with_request(&request.id, Some(&request.user))
            .in_account(Some(account)),
    }
}

/// A copy of the request on each asked account's admins' trails, with their address, so the
/// notifier mails them: each admin once (for the first account that asks them), never the
/// user themselves, at most `MAX_ADMINS_MAILED`.
async fn admin_copies<S: FilingStore + ?Sized>(
    svc: &Services<S>,
    request: &RecoveryRequest,
    source: &Source,
) -> Result<Vec<Recorded>, StoreError> {
    if request.accounts.is_empty() {
        return Ok(vec![]);
    }
    let settings = svc.store.settings_of(&request.accounts).await?;
    let mut asked: Vec<(UserId, AccountId)> = vec![];
    for (account, settings) in request.accounts.iter().zip(&settings) {
        for admin in &settings.admins {
            let new = *admin != request.user && asked.iter().all(|(a, _)| a != admin);
            if new && asked.len() < MAX_ADMINS_MAILED {
                asked.push((admin.clone(), account.clone()));
            }
        }
    }
    let admins: Vec<UserId> = asked.iter().map(|(admin, _)| admin.clone()).collect();
    let records = svc.store.get_users(&admins).await?;
    Ok(asked
        .iter()
        .map(|(admin, account)| {
            let to = records
                .iter()
                .find(|r| r.user_id == *admin)
                .and_then(|r| r.email.as_ref());
            svc.record(requested(svc, request, Some((admin, account)), source), to)
        })
        .collect())
}

fn expired_record<S: ?Sized>(
    svc: &Services<S>,
    request: &RecoveryRequest,
    to: Option<&Email>,
) -> Recorded {
    let event = svc
        .event(
            EventKind::RecoveryExpired,
            &request.user,
            Actor::Service,
            &Source::default(),
        )
        .with_request(&request.id, None);
    svc.record(event, to)
}

/// The user's "this was not me": the mailed link's token cancels the request it names while it
/// is open; after that, or with any other token, the link is no longer valid.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("the link is no longer valid")]
    LinkInvalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[tracing::instrument(skip_all)]
pub async fn cancel<S: UserRecords + RecoveryFiling + RecoveryDecisions + ?Sized>(
    svc: &Services<S>,
    signer: &LinkSigner,
    token: &str,
    source: &Source,
) -> Result<(), CancelError> {
    let now = svc.clock.now();
    let claims = signer.verify(token, now).map_err(|reason| {
        info!(%reason, "a recovery cancel link was refused");
        CancelError::LinkInvalid
    })?;
    let request = svc
        .store
        .request_of(&claims.user)
        .await?
        .filter(|r| r.id == claims.grant.id && r.may_close(now).is_ok())
        .ok_or(CancelError::LinkInvalid)?;
    let to = svc
        .store
        .get_user(&request.user)
        .await?
        .and_then(|r| r.email);
    let event = svc
        .event(
            EventKind::RecoveryCancelled,
            &request.user,
            Actor::User,
            source,
        )
        .with_request(&request.id, None);
    let records = [svc.record(event, to.as_ref())];
    let state = RequestState::Cancelled { at: now };
    match svc
        .store
        .close_request(&request, &state, now, &records)
        .await?
    {
        Written::Applied => {
            info!("a recovery request was cancelled by its user");
            Ok(())
        }
        Written::ConditionFailed => Err(CancelError::LinkInvalid),
    }
}

/// How many expired requests one sweep closes; the next sweep takes the rest.
pub const EXPIRED_PER_SWEEP: usize = 50;

/// Records as expired the requests nobody answered within `REQUEST_LIFETIME`, each user mailed.
/// Run by the notifier's schedule; answers how many it closed.
pub async fn expire_unanswered<S: UserRecords + RecoveryLists + RecoveryDecisions + ?Sized>(
    svc: &Services<S>,
) -> Result<usize, StoreError> {
    let now = svc.clock.now();
    let due = svc
        .store
        .filed_before(now - REQUEST_LIFETIME, EXPIRED_PER_SWEEP)
        .await?;
    let mut closed = 0;
    for request in due {
        let to = svc
            .store
            .get_user(&request.user)
            .await?
            .and_then(|r| r.email);
        let records = [expired_record(svc, &request, to.as_ref())];
        let state = RequestState::Expired { at: now };
        if svc
            .store
            .close_request(&request, &state, now, &records)
            .await?
            == Written::Applied
        {
            closed += 1;
        }
    }
    if closed > 0 {
        info!(closed, "unanswered recovery requests expired");
    }
    Ok(closed)
}
