//! The mail a user gets about a security event on their account: what happened, when, from
//! where, and what to do if it was not them. Never a code, a secret or a link token.

use std::{collections::BTreeSet, sync::Arc};

use async_trait::async_trait;
use time::{format_description::well_known::Rfc2822, OffsetDateTime};

use super::{acting_admin, markup::escape_html};
use crate::{
    domain::{
        account::TwoFactorRule,
        display_text,
        events::{Actor, EventKind, SecurityEvent, Source, UserAgent},
        proof::StepUp,
        user::Email,
    },
    ports::{EventSink, Mailer, OutgoingMail, SinkError},
};

/// Mails the user about the kinds in `notify`; other events, and users without an address,
/// get no mail.
pub struct MailSink {
    pub mailer: Arc<dyn Mailer>,
    pub product: String,
    pub notify: BTreeSet<EventKind>,
}

#[async_trait]
impl EventSink for MailSink {
    fn name(&self) -> &'static str {
        "mail"
    }

    fn takes(&self, event: &SecurityEvent, to: Option<&Email>) -> bool {
        to.is_some() && self.notify.contains(&event.kind)
    }

    async fn publish(&self, event: &SecurityEvent, to: Option<&Email>) -> Result<(), SinkError> {
        let Some(to) = to.filter(|_| self.notify.contains(&event.kind)) else {
            return Ok(());
        };
        let Some(mail) = event_mail(&self.product, to.clone(), event) else {
            return Ok(());
        };
        self.mailer
            .send(&mail)
            .await
            .map_err(|e| SinkError(Box::new(e)))
    }
}

pub(super) fn when(t: OffsetDateTime) -> String {
    t.format(&Rfc2822).unwrap_or_else(|_| t.to_string())
}

const HOW_TO_REGENERATE: &str = "To make a new set, sign in, open your security settings and \
     generate new backup codes (you will need your authenticator app).";

/// Where the event came from, as a mail says it: the time, the IP address, and the device by
/// name only (`UserAgent::device`), each labelled "reported by the sign-in client" when the
/// client told it rather than API Gateway seeing it.
pub(super) struct Facts {
    pub at: String,
    pub ip_label: &'static str,
    pub ip: String,
    pub device_label: &'static str,
    /// In quotation marks: it is what a browser says of itself, not our words.
    pub device_quoted: String,
}

impl Facts {
    fn of(event: &SecurityEvent) -> Self {
        Self::from(event.at, &event.source)
    }

    /// The facts as a plain-text mail's lines.
    pub(super) fn text(&self) -> String {
        format!(
            "When: {}\n{}: {}\n{}: {}",
            self.at, self.ip_label, self.ip, self.device_label, self.device_quoted
        )
    }

    /// The facts as an HTML mail's table, every value escaped.
    pub(super) fn html(&self) -> String {
        format!(
            "<table><tr><td>When</td><td>{}</td></tr><tr><td>{}</td><td><code>{}</code></td></tr>\
             <tr><td>{}</td><td><code>{}</code></td></tr></table>",
            escape_html(&self.at),
            escape_html(self.ip_label),
            escape_html(&self.ip),
            escape_html(self.device_label),
            escape_html(&self.device_quoted),
        )
    }

    pub(super) fn from(at: OffsetDateTime, source: &Source) -> Self {
        let (ip_label, device_label) = if source.reported {
            (
                "IP address (reported by the sign-in client)",
                "Device (reported by the sign-in client)",
            )
        } else {
            ("IP address", "Device")
        };
        let device = source
            .user_agent
            .as_ref()
            .and_then(UserAgent::device)
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            at: when(at),
            ip_label,
            ip: source
                .ip
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            device_label,
            device_quoted: format!("\u{201c}{device}\u{201d}"),
        }
    }
}

/// The mail for `event`, if its kind is one users are told about.
pub fn event_mail(product: &str, to: Email, event: &SecurityEvent) -> Option<OutgoingMail> {
    let remaining = event.remaining_codes.unwrap_or(0);
    // "Backup code 3", so the user can cross out that line of the sheet they saved.
    let used_code = event.code_number.map_or_else(
        || "A backup code".to_owned(),
        |n| format!("Backup code {n}"),
    );
    let (subject, what, advice) = match event.kind {
        EventKind::BackupCodeUsed if event.authorised.is_some() => (
            "a backup code was used",
            format!(
                "{used_code} was used on your {product} account {}. It no longer works.",
                event.authorised.map(StepUp::described).unwrap_or_default()
            ),
            "If this was not you, someone has one of your backup codes: contact your \
             administrator now."
                .to_owned(),
        ),
        EventKind::BackupCodeUsed => (
            "a backup code was used",
            format!(
                "{used_code} was used to sign in to your {product} account. \
                 You have {remaining} backup code{} left.",
                if remaining == 1 { "" } else { "s" }
            ),
            format!(
                "{HOW_TO_REGENERATE} If this was not you, regenerate your codes now and \
                 contact your administrator."
            ),
        ),
        EventKind::CodesRegenerated => (
            "your backup codes were regenerated",
            format!(
                "New backup codes were generated for your {product} account. \
                 Your previous codes no longer work."
            ),
            "If this was not you, contact your administrator.".to_owned(),
        ),
        EventKind::CodesRemoved => (
            "your backup codes were removed",
            format!(
                "The backup codes for your {product} account were removed. \
                 You can no longer sign in with a backup code."
            ),
            format!("{HOW_TO_REGENERATE} If this was not you, contact your administrator."),
        ),
        EventKind::DownloadLinkRedeemed => (
            "your new backup codes were collected",
            format!(
                "The download link your administrator sent was used, and the new backup codes \
                 for your {product} account were saved. They are the only ones that work now."
            ),
            "If this was not you, contact your administrator.".to_owned(),
        ),
        EventKind::LockedOut => (
            "too many wrong codes",
            format!(
                "There were too many wrong codes for your {product} account, so codes are \
                 refused until {}.",
                event.locked_until.map(when).unwrap_or_default()
            ),
            "If this was not you, someone may know your password: change it, and contact \
             your administrator."
                .to_owned(),
        ),
        EventKind::AuthenticatorReplaced => (
            "a new authenticator app was set up",
            format!(
                "A new authenticator app was set up for your {product} account. Codes from \
                 the app you used before no longer work; your backup codes are unchanged."
            ),
            "If this was not you, someone can sign in as you: change your password and \
             contact your administrator now."
                .to_owned(),
        ),
        EventKind::ReplacementStarted => (
            "a new authenticator app is being set up",
            format!(
                "Someone signed in to your {product} account started setting up a new \
                 authenticator app in place of yours. Until it is confirmed with a code from \
                 the new app, your current app keeps working."
            ),
            "If this was not you, cancel it now: sign in, open your security settings and \
             choose \u{201c}Cancel the new authenticator\u{201d}. Making new backup codes or \
             removing them cancels it too. Then change your password and contact your \
             administrator."
                .to_owned(),
        ),
        EventKind::EmailChanged => (
            "security mails now go to another address",
            format!(
                "The address that security mails about your {product} account go to was \
                 changed: your identity provider now gives a different verified address, and \
                 this is the last mail sent here."
            ),
            "If this was not you, someone may control your account: contact your \
             administrator now."
                .to_owned(),
        ),
        EventKind::TwoFactorDisabled => (
            "two-factor authentication was turned off",
            match &event.actor {
                Actor::Admin(_) => format!(
                    "{} turned off two-factor authentication for your {product} account. Your \
                     authenticator app and your backup codes no longer work.",
                    acting_admin(event.account.as_ref())
                ),
                _ => format!(
                    "Two-factor authentication was turned off for your {product} account. \
                     Your authenticator app and your backup codes no longer work."
                ),
            },
            "Sign in and set up an authenticator app again to protect your account. If this \
             was not you, change your password and contact your administrator now."
                .to_owned(),
        ),
        EventKind::TwoFactorRuleChanged => {
            let account = event.account.as_ref()?;
            let who = match &event.actor {
                Actor::Admin(admin) => format!(
                    "{}, an administrator of",
                    display_text::clean(admin.as_str())
                ),
                _ => "An administrator of".to_owned(),
            };
            let rule = match event.rule? {
                TwoFactorRule::Required => {
                    "made two-factor authentication required for its members: each signs in \
                     with a second factor from now on, setting one up at their next sign-in if \
                     they have none, and none can turn it off"
                }
                TwoFactorRule::Optional => {
                    "made two-factor authentication optional for its members again: each \
                     chooses whether to use it"
                }
            };
            (
                "an account's two-factor rule changed",
                format!(
                    "{who} the account \u{201c}{}\u{201d} in {product} {rule}. You are told \
                     because you administer it too.",
                    display_text::clean(account.as_str())
                ),
                "If you did not expect this, ask your fellow administrators; the account's \
                 members page shows the rule and can change it back."
                    .to_owned(),
            )
        }
        EventKind::RecoveryRequested => {
            // Only an admin's copy is mailed this way: the user's own mail, with the link that
            // cancels it, went out before the request was filed.
            let asker = event.about.as_ref()?;
            let account = event.account.as_ref()?;
            (
                "a member asks for their two-factor to be reset",
                format!(
                    "The member \u{201c}{}\u{201d} of the account \u{201c}{}\u{201d} in {product} \
                     says they lost both their authenticator app and their backup codes, and \
                     asks for a reset. They knew their password. The request is open on the \
                     account's members page.",
                    display_text::clean(asker.as_str()),
                    display_text::clean(account.as_str())
                ),
                "Before you approve it, check that it really is them through a channel you \
                 already trust: a call to a number you have on file, or in person. Never \
                 through a reply to a mail or a number they give you now. Approving it resets \
                 their backup codes and mails them a link to new ones; if anything feels \
                 wrong, deny it."
                    .to_owned(),
            )
        }
        EventKind::RecoveryCancelled => (
            "you cancelled a two-factor reset request",
            format!(
                "You said the request to reset two-factor authentication on your {product} \
                 account was not yours, so it is cancelled and nobody can approve it."
            ),
            "Whoever made it knew your password: change it now, and tell your administrator."
                .to_owned(),
        ),
        EventKind::RecoveryApproved => (
            "your two-factor reset request was approved",
            format!(
                "{} approved your request to reset two-factor authentication on your {product} \
                 account. A separate mail brings the link to your new backup codes; sign in with \
                 one of them, then set up your authenticator app again.",
                acting_admin(event.account.as_ref())
            ),
            "If you did not ask for this, contact your administrator now.".to_owned(),
        ),
        EventKind::RecoveryDenied => (
            "your two-factor reset request was denied",
            match &event.reason {
                Some(reason) => format!(
                    "{} denied your request to reset two-factor authentication on your {product} \
                     account, saying: \u{201c}{}\u{201d}",
                    acting_admin(event.account.as_ref()),
                    display_text::clean(reason)
                ),
                None => format!(
                    "{} denied your request to reset two-factor authentication on your {product} \
                     account.",
                    acting_admin(event.account.as_ref())
                ),
            },
            "Your codes and your authenticator app are unchanged. If you still need help, \
             contact your administrator directly. If you did not ask for this, change your \
             password."
                .to_owned(),
        ),
        EventKind::RecoveryExpired => (
            "your two-factor reset request expired",
            format!(
                "Nobody answered your request to reset two-factor authentication on your \
                 {product} account within 7 days, so it is closed."
            ),
            "If you still need help, ask again from the sign-in or contact your administrator. \
             If you did not ask for this, change your password."
                .to_owned(),
        ),
        _ => return None,
    };
    // Where the notifier ended the user's sessions first, they must sign in again everywhere.
    let what = match event.sessions_ended {
        Some(true) => format!(
            "{what} For your security you were signed out everywhere: sign in again on each \
             of your devices."
        ),
        _ => what,
    };
    let facts = Facts::of(event);
    let text = format!("Hello,\n\n{what}\n\n{}\n\n{advice}\n", facts.text());
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello,</p><p>{}</p>{}<p>{}</p></body></html>",
        escape_html(&what),
        facts.html(),
        escape_html(&advice),
    );
    Some(OutgoingMail {
        to,
        subject: format!("{product}: {subject}"),
        text,
        html,
    })
}
