//! TOTP enrollment: start shows a new secret; confirm proves it and issues the first set. A
//! Cognito sign-in that requires two-factor runs the same two steps as its challenge.

use qrcode::{render::svg, QrCode};
use tracing::info;

use super::FactorChecks;
use super::{
    errors::{EnrollError, Fault},
    FactorServices, Services,
};
use crate::ports::{Enrollment, Replacements, UserRecords};
use crate::{
    domain::{
        codes::IssuedCodes,
        events::{Actor, EventKind, Source},
        proof::{Proof, StepUp},
        record::{Replacement, UserRecord},
        sealing::SealedSecret,
        sign_in::{AppClient, SignInMethod, SignInPass},
        totp::TotpSecret,
        user::{Email, UserId},
    },
    ports::{Activation, Adopting, IfPending, Written},
};

/// How long an unconfirmed enrollment is kept before the store may sweep it.
pub const PENDING_ENROLLMENT_LIFETIME: time::Duration = time::Duration::days(7);

/// What the user needs to add the account to an authenticator app.
pub struct EnrollmentStarted {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// Starts enrollment, or, for a user already enrolled, the replacement of their authenticator
/// (a new phone): that needs a step-up `proof` (a code from the current app, or an unused
/// backup code when the phone is lost), and the current app keeps working until the new one
/// is confirmed. A `federated_only` identity is not enrolled: the managed login it signs in
/// through could never ask for the code (`domain::federation`).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn start<S: FactorChecks + Enrollment + Replacements + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    email: Option<&Email>,
    proof: Option<&str>,
    source: &Source,
    federated_only: bool,
) -> Result<EnrollmentStarted, EnrollError> {
    let secret = match svc.enrolled_record(user).await? {
        Some(record) => start_replacement(svc, &record, proof, source).await?,
        None if federated_only => return Err(EnrollError::FederatedUser),
        None => {
            let (secret, _) = put_pending(svc, user)
                .await?
                .ok_or(EnrollError::AlreadyEnrolled)?;
            info!("TOTP enrollment started");
            secret
        }
    };
    let otpauth_uri = otpauth_uri(svc, &secret, user, email);
    let qr_svg = QrCode::new(otpauth_uri.as_bytes())
        .map(|qr| qr.render::<svg::Color>().min_dimensions(200, 200).build())
        .unwrap_or_default();
    Ok(EnrollmentStarted {
        secret_base32: secret.base32(),
        otpauth_uri,
        qr_svg,
    })
}

async fn start_replacement<S: FactorChecks + Replacements + ?Sized>(
    svc: &FactorServices<S>,
    record: &UserRecord,
    proof: Option<&str>,
    source: &Source,
) -> Result<TotpSecret, EnrollError> {
    let code = proof.ok_or(EnrollError::TotpRequired)?;
    let user = &record.user_id;
    let (attempt, proof) = svc.check_step_up(record, code, Actor::User, source).await?;
    let secret = TotpSecret::generate();
    let now = svc.clock.now();
    let replacement = Replacement {
        secret: svc.sealer.seal(user, &secret),
        started_at: Some(now),
        started_from: source.clone(),
        expires_at: now + PENDING_ENROLLMENT_LIFETIME,
    };
    // The proof's event first: the trail orders events of one second by when they were made.
    let mut records: Vec<_> = svc
        .proof_record(record, &proof, StepUp::ReplaceAuthenticator, source)
        .into_iter()
        .collect();
    let started = svc.event(EventKind::ReplacementStarted, user, Actor::User, source);
    records.push(svc.record(started, record.email.as_ref()));
    let stands = |r: &UserRecord| r.is_enrolled() && proof.is_unspent_in(r);
    let (proof, replacement, records) = (&proof, &replacement, &records);
    if svc
        .accept(user, attempt, stands, |attempt| async move {
            svc.store
                .start_replacement(user, &attempt, proof, replacement, now, records)
                .await
        })
        .await?
        == Written::ConditionFailed
    {
        return Err(EnrollError::InvalidCode);
    }
    info!("authenticator replacement started");
    Ok(secret)
}

/// Cancels the pending replacement of `user`'s authenticator: by the owner's token alone, since
/// cancelling only takes power away (a thief who started it loses it, the owner keeps their app).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn cancel_replacement<S: UserRecords + Replacements + ?Sized>(
    svc: &Services<S>,
    user: &UserId,
    source: &Source,
) -> Result<(), EnrollError> {
    let now = svc.clock.now();
    let record = svc.store.get_user(user).await?;
    let Some(record) = record.filter(|r| r.is_enrolled() && r.live_replacement(now).is_some())
    else {
        return Err(EnrollError::NoPendingReplacement);
    };
    let event = svc.event(EventKind::ReplacementCancelled, user, Actor::User, source);
    let records = [svc.record(event, record.email.as_ref())];
    match svc.store.cancel_replacement(user, now, &records).await? {
        Written::Applied => {
            info!("authenticator replacement cancelled");
            Ok(())
        }
        // Confirmed, cancelled or ended by another response meanwhile.
        Written::ConditionFailed => Err(EnrollError::NoPendingReplacement),
    }
}

/// What confirming did: a first enrollment (with its first set), or a replacement swapped in.
pub enum Confirmed {
    Enrolled(IssuedCodes),
    Replaced,
}

/// Confirms a pending enrollment with its first code, which issues the first set; or, for an
/// enrolled user with a replacement pending, swaps the new authenticator in with a code from
/// it (the backup codes stay as they are).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn confirm<S: FactorChecks + Enrollment + Replacements + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    email: Option<&Email>,
    code: &str,
    source: &Source,
) -> Result<Confirmed, EnrollError> {
    let record = svc
        .store
        .get_user(user)
        .await?
        .ok_or(EnrollError::NoPendingEnrollment)?;
    if record.is_enrolled() {
        return confirm_replacement(svc, &record, code, source).await;
    }
    let issued = activate(svc, &record, email, code, source, Confirming::Settings).await?;
    Ok(Confirmed::Enrolled(
        issued.expect("a first set was asked for"),
    ))
}

async fn confirm_replacement<S: FactorChecks + Replacements + ?Sized>(
    svc: &FactorServices<S>,
    record: &UserRecord,
    code: &str,
    source: &Source,
) -> Result<Confirmed, EnrollError> {
    let now = svc.clock.now();
    let Some(replacement) = record.live_replacement(now) else {
        return Err(EnrollError::AlreadyEnrolled);
    };
    let user = &record.user_id;
    let (attempt, step) = svc
        .check_totp(record, &replacement.secret, code, source)
        .await?;
    let event = svc.event(EventKind::AuthenticatorReplaced, user, Actor::User, source);
    let records = [svc.record(event, record.email.as_ref())];
    let checked = &replacement.secret;
    let stands = |r: &UserRecord| {
        r.live_replacement(now)
            .is_some_and(|live| live.secret == *checked)
            && Proof::Totp { step }.is_unspent_in(r)
    };
    let records = &records;
    if svc
        .accept(user, attempt, stands, |attempt| async move {
            svc.store
                .confirm_replacement(user, &attempt, checked, step, now, records)
                .await
        })
        .await?
        == Written::ConditionFailed
    {
        // A newer replacement, or another confirm, came between our read and write.
        return Err(EnrollError::InvalidCode);
    }
    info!("authenticator replaced");
    Ok(Confirmed::Replaced)
}

/// The enrollment a Cognito sign-in poses as its challenge. Its secret is the sign-in's own:
/// sealed, it travels in the sign-in's private challenge parameters and metadata (which Cognito
/// keeps and never shows the client), not on the user's record.
pub struct SignInEnrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub sealed: SealedSecret,
}

/// The challenge of a sign-in that requires two-factor. A sign-in's first challenge always
/// makes a new secret, so a secret shown to another sign-in (perhaps someone else's with the
/// stolen password) is never the one this one adopts; after a wrong answer, the same sign-in
/// (`shown`: the sealed secret it showed last) sees its own secret again. Nothing pending is
/// touched: an enrollment in progress elsewhere (the settings, another sign-in) stays as it is,
/// and whichever is confirmed first wins. Only a user with no record at all gets one, pending,
/// because the attempt ledger that counts their answers lives on it.
/// `None`: the user has an authenticator, so the challenge is a code.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn challenge_at_sign_in<S: UserRecords + Enrollment + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    email: Option<&Email>,
    shown: Option<&SealedSecret>,
) -> Result<Option<SignInEnrollment>, Fault> {
    let record = svc.store.get_user(user).await?;
    if record.as_ref().is_some_and(UserRecord::is_enrolled) {
        return Ok(None);
    }
    let again = shown.and_then(|sealed| {
        let secret = svc.sealer.open(user, sealed).ok()?;
        Some((secret, sealed.clone()))
    });
    let (secret, sealed) = match again {
        Some(shown) => shown,
        None => {
            let secret = TotpSecret::generate();
            let sealed = svc.sealer.seal(user, &secret);
            (secret, sealed)
        }
    };
    if record.is_none() {
        // Lost to a record made meanwhile: that one holds the ledger just as well.
        let abandoned_after = svc.clock.now() + PENDING_ENROLLMENT_LIFETIME;
        svc.store
            .put_pending_totp(user, &sealed, abandoned_after, IfPending::Keep)
            .await?;
    }
    info!(
        again = shown.is_some(),
        "TOTP enrollment posed as a sign-in challenge"
    );
    Ok(Some(SignInEnrollment {
        secret_base32: secret.base32(),
        otpauth_uri: otpauth_uri(svc, &secret, user, email),
        sealed,
    }))
}

/// The answer to that challenge: the first code of the sign-in's own authenticator (`shown`),
/// checked through the attempt ledger like any confirm. It activates TOTP with that secret and
/// no backup codes yet (they are made after sign-in, where they can be shown), and leaves the
/// sign-in pass for `client` in the same write.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn confirm_at_sign_in<S: FactorChecks + Enrollment + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    email: Option<&Email>,
    code: &str,
    shown: &SealedSecret,
    source: &Source,
    client: AppClient,
) -> Result<(), EnrollError> {
    let record = pending(svc, user).await?;
    if svc.sealer.open(user, shown).is_err() {
        // Not a secret this service sealed for this user.
        return Err(EnrollError::InvalidCode);
    }
    // No backup codes yet: the user makes them once signed in, where they can be shown.
    let pass = SignInPass::starting(svc.clock.now(), client, SignInMethod::Enrollment, 0);
    let confirming = Confirming::SignIn { shown, pass };
    activate(svc, &record, email, code, source, confirming).await?;
    Ok(())
}

/// A new pending secret, or `None` when TOTP is already active.
async fn put_pending<S: Enrollment + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
) -> Result<Option<(TotpSecret, SealedSecret)>, Fault> {
    let secret = TotpSecret::generate();
    let sealed = svc.sealer.seal(user, &secret);
    let abandoned_after = svc.clock.now() + PENDING_ENROLLMENT_LIFETIME;
    match svc
        .store
        .put_pending_totp(user, &sealed, abandoned_after, IfPending::Replace)
        .await?
    {
        Written::Applied => Ok(Some((secret, sealed))),
        Written::ConditionFailed => Ok(None),
    }
}

fn otpauth_uri<S: ?Sized>(
    svc: &FactorServices<S>,
    secret: &TotpSecret,
    user: &UserId,
    email: Option<&Email>,
) -> String {
    let account = email.map_or(user.as_str(), Email::as_str);
    secret.otpauth_uri(&svc.settings.issuer, account)
}

async fn pending<S: UserRecords + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
) -> Result<UserRecord, EnrollError> {
    let record = svc
        .store
        .get_user(user)
        .await?
        .ok_or(EnrollError::NoPendingEnrollment)?;
    if record.is_enrolled() {
        return Err(EnrollError::AlreadyEnrolled);
    }
    Ok(record)
}

/// Where an enrollment is confirmed, which decides what the confirmation writes.
enum Confirming<'a> {
    /// The settings: the pending secret on the record, and the first set issued now.
    Settings,
    /// A Cognito sign-in: its own secret, no set (the user makes one after signing in, where it
    /// can be shown), and the pass its token generation consumes.
    SignIn {
        shown: &'a SealedSecret,
        pass: SignInPass,
    },
}

async fn activate<S: FactorChecks + Enrollment + ?Sized>(
    svc: &FactorServices<S>,
    record: &UserRecord,
    email: Option<&Email>,
    code: &str,
    source: &Source,
    confirming: Confirming<'_>,
) -> Result<Option<IssuedCodes>, EnrollError> {
    let user = &record.user_id;
    let (adopting, pass) = match &confirming {
        Confirming::Settings => (Adopting::Pending(&record.totp.secret), None),
        Confirming::SignIn { shown, pass } => (Adopting::SignInsOwn(shown), Some(pass)),
    };
    let (attempt, step) = svc
        .check_totp(record, adopting.secret(), code, source)
        .await?;
    let issued = match confirming {
        Confirming::Settings => Some(svc.issue_codes().await?),
        Confirming::SignIn { .. } => None,
    };
    let set = issued.as_ref().map(|i| &i.set);
    let kinds: &[EventKind] = match issued {
        Some(_) => &[EventKind::Enrolled, EventKind::CodesIssued],
        None => &[EventKind::Enrolled],
    };
    let records: Vec<_> = kinds
        .iter()
        .map(|kind| {
            let mut event = svc.event(*kind, user, Actor::User, source);
            event.remaining_codes = issued.as_ref().map(|i| i.plaintext.len());
            svc.record(event, email)
        })
        .collect();
    let stands = |r: &UserRecord| {
        !r.is_enrolled() && adopting.fits(&r.totp.secret) && Proof::Totp { step }.is_unspent_in(r)
    };
    let activation = Activation {
        adopting,
        step,
        email,
        first_set: set,
        pass,
        at: svc.clock.now(),
    };
    let (activation, records) = (&activation, &records);
    let written = svc
        .accept(user, attempt, stands, |attempt| async move {
            svc.store
                .activate_totp(user, &attempt, activation, records)
                .await
        })
        .await?;
    if written == Written::ConditionFailed {
        // Another request confirmed or restarted enrollment between our read and write.
        return Err(EnrollError::InvalidCode);
    }
    info!(first_set = issued.is_some(), "TOTP enrollment confirmed");
    Ok(issued)
}
