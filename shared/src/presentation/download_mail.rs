//! The mail an administrator's reset sends: what happened, and the single-use link.

use async_trait::async_trait;
use time::{format_description::well_known::Rfc2822, OffsetDateTime};

use super::{acting_admin, download_link, markup::escape_html};
use crate::{
    domain::{account::AccountId, user::Email},
    ports::{MailError, Mailer, OutgoingMail, ResetNotice},
};

/// Sends the reset notice as a text-and-HTML mail whose link points under `base_url`.
pub struct LinkMail<'a> {
    pub mailer: &'a dyn Mailer,
    /// The API's public address: configured, or the one the admin's request came through.
    pub base_url: &'a str,
    pub product: &'a str,
}

#[async_trait]
impl ResetNotice for LinkMail<'_> {
    async fn send(
        &self,
        to: &Email,
        token: &str,
        expires_at: OffsetDateTime,
        account: Option<&AccountId>,
    ) -> Result<(), MailError> {
        let link = download_link(self.base_url, token);
        let mail = download_mail(self.product, to.clone(), &link, expires_at, account);
        self.mailer.send(&mail).await
    }
}

fn download_mail(
    product: &str,
    to: Email,
    link: &str,
    expires_at: OffsetDateTime,
    account: Option<&AccountId>,
) -> OutgoingMail {
    let expires = expires_at
        .format(&Rfc2822)
        .unwrap_or_else(|_| expires_at.to_string());
    let subject = format!("{product}: your backup codes were reset");
    let who = acting_admin(account);
    let text = format!(
        "Hello,\n\n\
         {who} reset the backup codes for your {product} account. \
         Your previous backup codes no longer work.\n\n\
         Open this link to get your new codes. It expires on {expires}:\n\n\
         {link}\n\n\
         Download or copy the codes, keep them somewhere safe, then choose \
         \"I have saved these codes\": they start to work then, and the link is used up.\n\
         If you did not expect this, contact your administrator.\n"
    );
    let (p, l, e, w) = (
        escape_html(product),
        escape_html(link),
        escape_html(&expires),
        escape_html(&who),
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello,</p>\
         <p>{w} reset the backup codes for your <strong>{p}</strong> account. \
         Your previous backup codes no longer work.</p>\
         <p><a href=\"{l}\">Get your new backup codes</a></p>\
         <p>The link expires on {e}. Download or copy the codes, keep them somewhere safe, then \
         choose <strong>I have saved these codes</strong>: they start to work then, and the link \
         is used up.</p>\
         <p>If you did not expect this, contact your administrator.</p></body></html>"
    );
    OutgoingMail {
        to,
        subject,
        text,
        html,
    }
}
