//! The pages a person sees when they open the emailed link.
//!
//! The token travels in the URL fragment, which browsers never send to a server. The landing
//! page does nothing on load: only a real click (`isTrusted`) on Continue copies the token into
//! a form and posts it. Mail scanners that open links, or even run scripts and click
//! synthetically, therefore cannot use up the link.

use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};

use super::markup::escape_html;

/// `DOWNLOAD_ACTIVATE_PATH` relative to the page's own address (`DOWNLOAD_PATH`), so the form
/// also finds it when the API is served under a stage or a path prefix.
const ACTIVATE_FROM_PAGE: &str = "download/activate";

pub struct Page {
    pub html: String,
    script: &'static str,
}

impl Page {
    /// Inline styles are allowed; the page's own script only by its hash; nothing may load or frame it.
    pub fn content_security_policy(&self) -> String {
        let hash = STANDARD.encode(Sha256::digest(self.script.as_bytes()));
        format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}\
h1{font-size:1.5rem}button,.button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #1b4ed8;background:#1b4ed8;color:#fff;cursor:pointer;text-decoration:none;display:inline-block;margin-right:.5rem}\
.secondary{background:#fff;color:#1b4ed8}.warn{background:#fff4d6;border-left:4px solid #e0a100;padding:.6rem .9rem}\
ol{columns:2;font-family:ui-monospace,monospace;font-size:1.1rem;padding-left:2rem}li{margin:.2rem 0}[hidden]{display:none}";

fn layout(product: &str, title: &str, body: &str, script: &'static str) -> Page {
    let product = escape_html(product);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} · {product}</title>\
         <style>{STYLE}</style></head><body><main>{body}</main><script>{script}</script></body></html>"
    );
    Page { html, script }
}

const LANDING_SCRIPT: &str =
    "document.getElementById('continue').addEventListener('click',function(e){\
if(!e.isTrusted){return;}\
var token=new URLSearchParams(location.hash.slice(1)).get('token');\
if(!token){document.getElementById('missing').hidden=false;return;}\
document.getElementById('token').value=token;\
history.replaceState(null,'',location.pathname);\
this.disabled=true;document.getElementById('redeem').submit();});";

/// What the emailed link opens: an explanation and a Continue button, nothing else.
pub fn landing(product: &str) -> Page {
    let p = escape_html(product);
    layout(
        product,
        "Your new backup codes",
        &format!(
            "<h1>Your new backup codes</h1>\
             <p>An administrator reset the backup codes for your <strong>{p}</strong> account, \
             and your previous codes no longer work.</p>\
             <p>Continue to create your new codes, then download or copy them. They start to work \
             once you confirm you saved them. Until then you can open this link again for a fresh \
             set, until it expires.</p>\
             <form id=\"redeem\" method=\"post\"><input type=\"hidden\" name=\"token\" id=\"token\">\
             <button type=\"button\" id=\"continue\">Continue</button></form>\
             <p id=\"missing\" class=\"warn\" hidden>This link is incomplete. Open it exactly as \
             it appears in the email.</p>"
        ),
        LANDING_SCRIPT,
    )
}

const CODES_SCRIPT: &str = "document.getElementById('copy').addEventListener('click',function(){\
var text=document.getElementById('codes').innerText;var done=document.getElementById('copied');\
function fallback(){var t=document.createElement('textarea');t.value=text;document.body.appendChild(t);\
t.select();document.execCommand('copy');t.remove();done.textContent='Copied';}\
if(navigator.clipboard){navigator.clipboard.writeText(text).then(function(){done.textContent='Copied';},fallback);}\
else{fallback();}});";

/// What the codes page's "I have saved these codes" form posts back: the link's token (the
/// page already holds it, and it is posted, never put in a URL) and the set shown.
pub struct Activation<'a> {
    pub token: &'a str,
    pub set_id: &'a str,
}

/// The new codes, pending, with Download (a text file), Copy, and "I have saved these codes".
pub fn codes(product: &str, codes: &[String], file_text: &str, activation: &Activation) -> Page {
    let items: String = codes
        .iter()
        .map(|c| format!("<li><code>{}</code></li>", escape_html(c)))
        .collect();
    let href = format!(
        "data:text/plain;charset=utf-8,{}",
        percent_encoding::utf8_percent_encode(file_text, percent_encoding::NON_ALPHANUMERIC)
    );
    let (token, set_id) = (
        escape_html(activation.token),
        escape_html(activation.set_id),
    );
    layout(
        product,
        "Your new backup codes",
        &format!(
            "<h1>Your new backup codes</h1>\
             <p class=\"warn\"><strong>Save them now</strong>, then choose \
             <strong>I have saved these codes</strong>: they start to work then. Each code works \
             once.</p>\
             <ol id=\"codes\">{items}</ol>\
             <p><a class=\"button\" id=\"download\" download=\"backup-codes.txt\" href=\"{href}\">Download</a>\
             <button type=\"button\" class=\"secondary\" id=\"copy\">Copy</button>\
             <span id=\"copied\" role=\"status\"></span></p>\
             <form id=\"activate\" method=\"post\" action=\"{ACTIVATE_FROM_PAGE}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"set_id\" value=\"{set_id}\">\
             <button type=\"submit\">I have saved these codes</button></form>\
             <p>Lost the connection before saving them? Open the link in the email again for a \
             fresh set; these then stop counting.</p>"
        ),
        CODES_SCRIPT,
    )
}

/// After "I have saved these codes".
pub fn activated(product: &str) -> Page {
    let p = escape_html(product);
    layout(
        product,
        "Backup codes active",
        &format!(
            "<h1 role=\"status\">Your new backup codes are now active</h1>\
             <p>Use one when you sign in to <strong>{p}</strong> without your authenticator app. \
             Each works once; your previous codes no longer work, and this link is now used.</p>"
        ),
        "",
    )
}

/// The set posted is not the one the link last showed: it was opened again since.
pub fn codes_replaced(product: &str) -> Page {
    layout(
        product,
        "Newer codes were shown",
        "<h1>These codes were replaced</h1>\
         <p>The link was opened again after these codes were shown, so newer codes are waiting. \
         Save the newest codes and confirm on that page, or open the link in the email again.</p>",
        "",
    )
}

/// Said the same way whether the link was used, replaced, expired or tampered with.
pub fn link_invalid(product: &str) -> Page {
    layout(
        product,
        "Link no longer valid",
        "<h1>This link is no longer valid</h1>\
         <p>Download links stop working once their codes are saved, after a few uses, or when \
         they expire. If you still need new backup codes, ask your \
         administrator to send a new link.</p>",
        "",
    )
}

/// What a recovery request's "this was not me" link opens: like the download link's page, it
/// does nothing until a real click, so a mail scanner cannot cancel a request.
pub fn cancel_landing(product: &str) -> Page {
    let p = escape_html(product);
    layout(
        product,
        "Cancel the reset request",
        &format!(
            "<h1>Was this not you?</h1>\
             <p>Someone who knew your password asked to reset two-factor authentication on your \
             <strong>{p}</strong> account. If it was not you, cancel the request so nobody can \
             approve it, then change your password.</p>\
             <form id=\"redeem\" method=\"post\"><input type=\"hidden\" name=\"token\" id=\"token\">\
             <button type=\"button\" id=\"continue\">Cancel the request</button></form>\
             <p>If it was you, close this page: an administrator will contact you.</p>\
             <p id=\"missing\" class=\"warn\" hidden>This link is incomplete. Open it exactly as \
             it appears in the email.</p>"
        ),
        LANDING_SCRIPT,
    )
}

/// After "Cancel the request".
pub fn request_cancelled(product: &str) -> Page {
    let p = escape_html(product);
    layout(
        product,
        "Request cancelled",
        &format!(
            "<h1 role=\"status\">The request is cancelled</h1>\
             <p>Nobody can approve it now. Whoever made it knew your password: change your \
             <strong>{p}</strong> password now, and tell your administrator.</p>"
        ),
        "",
    )
}

/// Said the same way whether the request was answered, cancelled, expired or the link tampered
/// with.
pub fn cancel_link_invalid(product: &str) -> Page {
    layout(
        product,
        "Link no longer valid",
        "<h1>This link is no longer valid</h1>\
         <p>The request it cancels is closed already: cancelled, answered by an administrator, or \
         expired. If you did not ask for a reset, change your password and tell your \
         administrator.</p>",
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::{super::DOWNLOAD_ACTIVATE_PATH, super::DOWNLOAD_PATH, ACTIVATE_FROM_PAGE};

    #[test]
    fn the_codes_page_posts_to_the_activate_route_relative_to_itself() {
        let (directory, _) = DOWNLOAD_PATH.rsplit_once('/').unwrap();
        assert_eq!(
            format!("{directory}/{ACTIVATE_FROM_PAGE}"),
            DOWNLOAD_ACTIVATE_PATH
        );
    }
}
