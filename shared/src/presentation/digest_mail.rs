//! The hourly digest: the events of one hour that a user's mail budget held back, in one mail.
//! Never a code, a secret or a link token; only what happened and when.

use time::{format_description::well_known::Rfc2822, OffsetDateTime};

use super::markup::escape_html;
use crate::{
    domain::{
        events::EventKind,
        mail_budget::{HeldMail, HourDigest},
        user::Email,
    },
    ports::OutgoingMail,
};

fn what(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Enrolled => "Two-factor authentication was set up",
        EventKind::CodesIssued => "Backup codes were issued",
        EventKind::BackupCodeUsed => "A backup code was used",
        EventKind::TotpUsed => "An authenticator code was used",
        EventKind::CodesRegenerated => "New backup codes were made",
        EventKind::CodesRemoved => "Your backup codes were removed",
        EventKind::CodesResetByAdmin => "An administrator reset your backup codes",
        EventKind::DownloadLinkRedeemed => "The emailed backup codes were saved",
        EventKind::DownloadLinkRefused => "An emailed link was refused",
        EventKind::LockedOut => "Too many wrong codes",
        EventKind::TwoFactorDisabled => "Two-factor authentication was turned off",
        EventKind::AuthenticatorReplaced => "A new authenticator app was set up",
        EventKind::ReplacementStarted => "A new authenticator app was started",
        EventKind::ReplacementCancelled => "A new authenticator app was cancelled",
        EventKind::EmailChanged => "Security mails moved to another address",
        EventKind::MembershipAdded => "You were added to an account",
        EventKind::MembershipChanged => "Your role in an account changed",
        EventKind::MembershipRemoved => "You were removed from an account",
        EventKind::TwoFactorRuleChanged => "An account's two-factor rule changed",
        EventKind::RecoveryRequested => "A two-factor reset was requested",
        EventKind::RecoveryCancelled => "A two-factor reset request was cancelled",
        EventKind::RecoveryApproved => "A two-factor reset request was approved",
        EventKind::RecoveryDenied => "A two-factor reset request was denied",
        EventKind::RecoveryExpired => "A two-factor reset request expired",
    }
}

fn when(at: OffsetDateTime) -> String {
    at.format(&Rfc2822).unwrap_or_else(|_| at.to_string())
}

/// `digest` of the hour starting at `hour_start`, to its address.
pub fn digest_mail(product: &str, hour_start: OffsetDateTime, digest: &HourDigest) -> OutgoingMail {
    let (from, to) = (
        when(hour_start),
        when(hour_start + time::Duration::hours(1)),
    );
    let held = digest.held;
    let lines: Vec<String> = digest
        .listed
        .iter()
        .map(|HeldMail { kind, at }| format!("{}: {}", when(*at), what(*kind)))
        .collect();
    let unlisted = held.saturating_sub(lines.len() as u64);
    let more = if unlisted > 0 {
        format!("\n...and {unlisted} more.")
    } else {
        String::new()
    };
    let lead = format!(
        "{held} more security event{} happened on your {product} account between {from} and \
         {to}. So that you are not flooded, they were not mailed one by one:",
        if held == 1 { "" } else { "s" }
    );
    let advice = "Your security settings list each one with where it came from. If these were \
                  not you, change your password and contact your administrator now.";
    let text = format!(
        "Hello,\n\n{lead}\n\n{}{more}\n\n{advice}\n",
        lines.join("\n")
    );
    let items: String = lines
        .iter()
        .map(|line| format!("<li>{}</li>", escape_html(line)))
        .collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello,</p><p>{}</p><ul>{items}</ul><p>{}</p><p>{}</p></body></html>",
        escape_html(&lead),
        escape_html(more.trim()),
        escape_html(advice),
    );
    OutgoingMail {
        to: Email::clone(&digest.to),
        subject: format!(
            "{product}: {held} more security event{} in one hour",
            if held == 1 { "" } else { "s" }
        ),
        text,
        html,
    }
}
