//! backup-codes: two-factor backup codes for teams on AWS.
//!
//! `domain` holds the rules, `ports` what they need, `adapters` the DynamoDB and in-memory
//! implementations, `app` the use cases, `http` the API Gateway mapping and `runtime` the
//! cold-start wiring every Lambda binary shares.

pub mod adapters;
pub mod app;
pub mod cognito;
pub mod config;
pub mod domain;
pub mod entry;
pub mod functions;
pub mod http;
pub mod ports;
pub mod presentation;
#[cfg(feature = "aws")]
pub mod runtime;
#[cfg(feature = "aws")]
pub mod stream;
pub mod wiring;
