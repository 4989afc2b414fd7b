//! The home page at `/`: the web components on one page with a local sign-in, a box that
//! tries a sign-in through verify, and the outbox's mails with their links. Local only: it
//! mints unsigned tokens in the browser, which only this loopback server accepts.

use std::path::{Path, PathBuf};

use http_body_util::Full;
use hyper::{body::Bytes, header, Response, StatusCode};
use mail_parser::MessageParser;
use serde_json::{json, Value};

use backup_codes::{
    app::{errors::MembershipError, memberships},
    domain::{
        account::{AccountId, Role},
        events::Source,
        user::UserId,
    },
    functions::Functions,
};

const INDEX: &str = include_str!("../home/index.html");
const SCRIPT: &str = include_str!("../home/home.js");
const STYLE: &str = include_str!("../home/home.css");
const ICON: &str = include_str!("../home/icon.svg");

/// The customer accounts the home page lets a newcomer try, as a team's backend would write
/// them: acme with an admin and two members, globex with one member.
pub const ACCOUNTS: [(&str, &str, &str); 4] = [
    ("acme", "ada", "admin"),
    ("acme", "mo", "member"),
    ("acme", "mel", "member"),
    ("globex", "gia", "member"),
];

/// Writes `ACCOUNTS` through the backend's own use case, so each is recorded as the backend's
/// change. Writing them again (a restart over DynamoDB) changes nothing.
pub async fn seed_accounts(functions: &Functions) -> Result<(), MembershipError> {
    for (account, user, role) in ACCOUNTS {
        let (Ok(account), Ok(user), Some(role)) = (
            AccountId::parse(account),
            UserId::parse(user),
            Role::parse(role),
        ) else {
            unreachable!("the home page's accounts are well formed")
        };
        let services = &functions.memberships.services;
        memberships::put(services, &account, &user, role, &Source::default()).await?;
    }
    Ok(())
}

/// How many of the newest mails the page lists.
const LISTED_MAILS: usize = 20;

/// What the home page lists; `None` lists nothing (a server without an outbox).
#[derive(Clone, Debug, Default)]
pub struct Home {
    pub outbox: Option<PathBuf>,
}

impl Home {
    /// The page's own files and the outbox listing; `None` for every other path (the API's).
    pub fn serve(&self, method: &hyper::Method, path: &str) -> Option<Response<Full<Bytes>>> {
        if method != hyper::Method::GET {
            return None;
        }
        Some(match path {
            "/" => file("text/html; charset=utf-8", INDEX),
            "/_local/home.js" => file("text/javascript; charset=utf-8", SCRIPT),
            "/_local/home.css" => file("text/css; charset=utf-8", STYLE),
            "/_local/icon.svg" => file("image/svg+xml", ICON),
            "/_local/outbox" => {
                let mails = self.outbox.as_deref().map(newest_mails).unwrap_or_default();
                response("application/json", Value::Array(mails).to_string())
            }
            _ => return None,
        })
    }
}

fn file(content_type: &str, text: &'static str) -> Response<Full<Bytes>> {
    response(content_type, text.to_owned())
}

/// Everything the page loads is its own: the strict policy the components promise to run under.
fn response(content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

fn newest_mails(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| {
            let written = e.metadata().and_then(|m| m.modified());
            (written.unwrap_or(std::time::UNIX_EPOCH), e.path())
        })
        .collect();
    // Newest first: the names carry the second, the file's time orders mails within it.
    files.sort_by(|a, b| b.cmp(a));
    files
        .iter()
        .take(LISTED_MAILS)
        .filter_map(|(_, path)| mail(path))
        .collect()
}

fn mail(path: &Path) -> Option<Value> {
    let raw = std::fs::read(path).ok()?;
    let message = MessageParser::default().parse(&raw)?;
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let links: Vec<&str> = text
        .split_whitespace()
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .collect();
    let to = message
        .to()
        .and_then(|to| to.first())
        .and_then(|a| a.address())
        .unwrap_or_default();
    Some(json!({
        "id": path.file_name()?.to_string_lossy(),
        "subject": message.subject().unwrap_or_default(),
        "to": to,
        "date": message.date().map(|d| d.to_rfc3339()),
        "text": text,
        "links": links,
    }))
}
