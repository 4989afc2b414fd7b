//! An administrator resets another user's codes without seeing them: the old set dies, and the
//! user is mailed a single-use link through which the new set is generated and shown.

use time::{format_description::well_known::Rfc2822, OffsetDateTime};
use tracing::info;

use super::{AppError, Services};
use crate::{
    domain::{
        access::Admin, codes::random_id, link_token::DownloadGrant, record::UserRecord,
        user::UserId,
    },
    markup::escape_html,
    ports::{OutgoingMail, Written},
};

/// The path the emailed link opens; the token follows in the fragment so no server ever logs it.
pub const DOWNLOAD_PATH: &str = "/v1/backup-codes/download";

/// `called_at` is the public base URL the admin's request came through, used when no base URL
/// is configured, so a stack links to its own API without knowing its address in advance.
#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn regenerate_for(
    svc: &Services,
    admin: &Admin,
    target: &UserId,
    totp: Option<&str>,
    called_at: Option<&str>,
) -> Result<DownloadGrant, AppError> {
    let admin = admin.user();
    let links = svc
        .links
        .as_ref()
        .ok_or(AppError::NotConfigured("download links"))?;
    let base_url = links
        .base_url
        .as_deref()
        .or(called_at)
        .ok_or(AppError::NotConfigured("a link base URL"))?;
    let mailer = svc
        .mailer
        .as_ref()
        .ok_or(AppError::NotConfigured("a mailer"))?;
    let totp = totp.ok_or(AppError::TotpRequired)?;

    // The admin's own code first, through the admin's ledger: until it is proven, the answer
    // says nothing about the target.
    let admin_record = svc
        .store
        .get_user(admin)
        .await?
        .filter(UserRecord::is_enrolled)
        .ok_or(AppError::InvalidCode)?;
    let (attempt, step) = svc.check_totp(&admin_record, totp).await?;
    if svc.store.use_totp_step(admin, &attempt, step).await? == Written::ConditionFailed {
        return Err(AppError::InvalidCode);
    }

    let target_record = svc
        .store
        .get_user(target)
        .await?
        .filter(UserRecord::is_enrolled)
        .ok_or(AppError::UserNotEnrolled)?;
    let to = target_record
        .email
        .clone()
        .ok_or(AppError::UserHasNoEmail)?;

    let grant = DownloadGrant {
        id: random_id(),
        expires_at: svc.clock.now() + links.ttl,
    };
    let link = format!(
        "{}{DOWNLOAD_PATH}#token={}",
        base_url.trim_end_matches('/'),
        links.signer.sign(target, &grant)
    );
    // Mail first: if it cannot be sent nothing has changed, and the user keeps their old codes.
    mailer
        .send(&download_mail(
            &svc.settings.product,
            to,
            &link,
            grant.expires_at,
        ))
        .await
        .map_err(AppError::EmailFailed)?;
    if svc.store.grant_download(target, &grant).await? == Written::ConditionFailed {
        return Err(AppError::UserNotEnrolled);
    }
    info!("backup codes reset by an administrator; download link mailed");
    Ok(grant)
}

fn download_mail(
    product: &str,
    to: crate::domain::user::Email,
    link: &str,
    expires_at: OffsetDateTime,
) -> OutgoingMail {
    let expires = expires_at
        .format(&Rfc2822)
        .unwrap_or_else(|_| expires_at.to_string());
    let subject = format!("{product}: your backup codes were reset");
    let text = format!(
        "Hello,\n\n\
         An administrator reset the backup codes for your {product} account. \
         Your previous backup codes no longer work.\n\n\
         Open this link to get your new codes. It works once and expires on {expires}:\n\n\
         {link}\n\n\
         The codes are shown once: download or copy them and keep them somewhere safe.\n\
         If you did not expect this, contact your administrator.\n"
    );
    let (p, l, e) = (
        escape_html(product),
        escape_html(link),
        escape_html(&expires),
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello,</p>\
         <p>An administrator reset the backup codes for your <strong>{p}</strong> account. \
         Your previous backup codes no longer work.</p>\
         <p><a href=\"{l}\">Get your new backup codes</a></p>\
         <p>The link works once and expires on {e}. The codes are shown once: download or copy \
         them and keep them somewhere safe.</p>\
         <p>If you did not expect this, contact your administrator.</p></body></html>"
    );
    OutgoingMail {
        to,
        subject,
        text,
        html,
    }
}
