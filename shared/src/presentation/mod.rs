//! What people see: the download pages, the reset mail, the codes file, and the link that
//! ties them together. The use cases return what happened; this module says it.

pub mod components;
/// The device name every screen and mail shows for a user agent: one rule, in the domain.
pub use crate::domain::device;
pub mod digest_mail;
pub mod download_mail;
pub mod event_mail;
pub mod markup;
pub mod pages;
pub mod recovery_mail;

use crate::domain::{account::AccountId, codes::IssuedCodes, display_text};

/// The path the emailed link opens; the token follows in the fragment so no server ever logs it.
pub const DOWNLOAD_PATH: &str = "/v1/backup-codes/download";
/// Where the codes page's "I have saved these codes" posts.
pub const DOWNLOAD_ACTIVATE_PATH: &str = "/v1/backup-codes/download/activate";

/// What a recovery request's cancel link opens, and where its page posts the token.
pub const RECOVERY_CANCEL_PATH: &str = "/v1/recovery-requests/cancel";

/// The link an administrator's reset mails: `base_url` is the API's public address.
pub fn download_link(base_url: &str, token: &str) -> String {
    format!(
        "{}{DOWNLOAD_PATH}#token={token}",
        base_url.trim_end_matches('/')
    )
}

/// Who a mail says acted on the user's two-factor: an administrator, and the account they act
/// for when they act for one (the team's own id, without anything that could disguise it).
pub fn acting_admin(account: Option<&AccountId>) -> String {
    match account {
        Some(account) => format!(
            "An administrator of the account \u{201c}{}\u{201d}",
            display_text::clean(account.as_str())
        ),
        None => "An administrator".to_owned(),
    }
}

/// The downloadable file: a short header naming the service and date, then one code a line.
pub fn codes_file(product: &str, issued: &IssuedCodes) -> String {
    let date = issued.set.generated_at.date();
    let mut text = format!(
        "{product} backup codes\nGenerated {date} (UTC). Each code works once; keep them somewhere safe.\n\n"
    );
    for code in issued.display() {
        text.push_str(&code);
        text.push('\n');
    }
    text
}
