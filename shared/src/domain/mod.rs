//! Pure rules: no storage, no HTTP, no AWS.

pub mod access;
pub mod account;
pub mod attempts;
pub mod codes;
pub mod device;
pub mod display_text;
pub mod events;
pub mod federation;
pub mod link_token;
pub mod mail_budget;
pub mod member_summary;
pub mod proof;
pub mod record;
pub mod recovery;
pub mod recovery_queue;
pub mod sealing;
pub mod sign_in;
pub mod source;
pub mod totp;
pub mod user;
