//! Pure rules: no storage, no HTTP, no AWS.

pub mod codes;
pub mod sealing;
pub mod totp;
pub mod user;
