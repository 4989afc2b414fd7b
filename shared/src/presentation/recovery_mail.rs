//! The mail a user gets the moment a recovery request is made in their name: who may answer
//! it, when, where it came from, and the single-use link that cancels it. Sent before the
//! request is filed, so no request stands that its user was not told about.

use async_trait::async_trait;

use super::{
    event_mail::{when, Facts},
    markup::escape_html,
    RECOVERY_CANCEL_PATH,
};
use crate::{
    domain::{recovery::RecoveryRequest, user::Email},
    ports::{MailError, Mailer, OutgoingMail, RecoveryNotice},
};

/// Sends the notice as a text-and-HTML mail whose link points under `base_url`.
pub struct RequestMail<'a> {
    pub mailer: &'a dyn Mailer,
    /// The API's public address: configured, or the one the filing came through.
    pub base_url: &'a str,
    pub product: &'a str,
}

/// The link that cancels a request; the token travels in the fragment, so no server logs it.
pub fn cancel_link(base_url: &str, token: &str) -> String {
    format!(
        "{}{RECOVERY_CANCEL_PATH}#token={token}",
        base_url.trim_end_matches('/')
    )
}

#[async_trait]
impl RecoveryNotice for RequestMail<'_> {
    async fn send(
        &self,
        to: &Email,
        request: &RecoveryRequest,
        approvable_from: time::OffsetDateTime,
        cancel_token: &str,
    ) -> Result<(), MailError> {
        let link = cancel_link(self.base_url, cancel_token);
        let mail = request_mail(self.product, to.clone(), request, approvable_from, &link);
        self.mailer.send(&mail).await
    }
}

fn request_mail(
    product: &str,
    to: Email,
    request: &RecoveryRequest,
    approvable_from: time::OffsetDateTime,
    link: &str,
) -> OutgoingMail {
    let facts = Facts::from(request.filed_at, &request.source);
    let earliest = when(approvable_from);
    let expires = when(request.expires_at());
    let what = format!(
        "Someone who knew your password asked to reset two-factor authentication on your \
         {product} account, saying they lost both their authenticator app and their backup \
         codes. Your administrators have been asked to check that it is you. None of them can \
         approve it before {earliest}; it closes by itself on {expires}."
    );
    let not_you = "If this was not you, cancel it now with the link below, then change your \
                   password: whoever asked knows it. The link works once, and only for this \
                   request.";
    let text = format!(
        "Hello,\n\n{what}\n\n{}\n\n{not_you}\n\nThis was not me: {link}\n\n\
         If it was you, there is nothing to do: an administrator will contact you.\n",
        facts.text(),
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello,</p><p>{}</p>{}<p>{}</p>\
         <p><a href=\"{}\">This was not me: cancel the request</a></p>\
         <p>If it was you, there is nothing to do: an administrator will contact you.</p>\
         </body></html>",
        escape_html(&what),
        facts.html(),
        escape_html(not_you),
        escape_html(link),
    );
    OutgoingMail {
        to,
        subject: format!("{product}: someone asked to reset your two-factor authentication"),
        text,
        html,
    }
}
