//! TOTP enrollment: start shows a new secret; confirm proves it and issues the first set.

use qrcode::{render::svg, QrCode};
use tracing::info;

use super::{errors::EnrollError, FactorServices};
use crate::{
    domain::{
        codes::IssuedCodes,
        events::{Actor, EventKind, Source},
        totp::TotpSecret,
        user::{Email, UserId},
    },
    ports::Written,
};

/// How long an unconfirmed enrollment is kept before the store may sweep it.
pub const PENDING_ENROLLMENT_LIFETIME: time::Duration = time::Duration::days(7);

/// What the user needs to add the account to an authenticator app.
pub struct EnrollmentStarted {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn start(
    svc: &FactorServices,
    user: &UserId,
    email: Option<&Email>,
) -> Result<EnrollmentStarted, EnrollError> {
    let secret = TotpSecret::generate();
    let sealed = svc.sealer.seal(user, &secret);
    let abandoned_after = svc.clock.now() + PENDING_ENROLLMENT_LIFETIME;
    if svc
        .store
        .put_pending_totp(user, &sealed, abandoned_after)
        .await?
        == Written::ConditionFailed
    {
        return Err(EnrollError::AlreadyEnrolled);
    }
    let account = email.map_or(user.as_str(), Email::as_str);
    let otpauth_uri = secret.otpauth_uri(&svc.settings.issuer, account);
    let qr_svg = QrCode::new(otpauth_uri.as_bytes())
        .map(|qr| qr.render::<svg::Color>().min_dimensions(200, 200).build())
        .unwrap_or_default();
    info!("TOTP enrollment started");
    Ok(EnrollmentStarted {
        secret_base32: secret.base32(),
        otpauth_uri,
        qr_svg,
    })
}

#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn confirm(
    svc: &FactorServices,
    user: &UserId,
    email: Option<&Email>,
    code: &str,
    source: &Source,
) -> Result<IssuedCodes, EnrollError> {
    let record = svc
        .store
        .get_user(user)
        .await?
        .ok_or(EnrollError::NoPendingEnrollment)?;
    if record.is_enrolled() {
        return Err(EnrollError::AlreadyEnrolled);
    }
    let (attempt, step) = svc.check_totp(&record, code, Actor::User, source).await?;
    let issued = svc.issue_codes().await?;
    let written = svc
        .store
        .activate_totp(
            user,
            &attempt,
            &record.totp.secret,
            step,
            email,
            &issued.set,
        )
        .await?;
    if written == Written::ConditionFailed {
        // Another request confirmed or restarted enrollment between our read and write.
        return Err(EnrollError::InvalidCode);
    }
    info!("TOTP enrollment confirmed, first backup code set issued");
    for kind in [EventKind::Enrolled, EventKind::CodesIssued] {
        let event = svc
            .event(kind, user, Actor::User, source)
            .with_remaining(issued.plaintext.len());
        svc.events.emit(event, email).await;
    }
    Ok(issued)
}
