//! Translations between the ports and the outside world. The AWS adapters are behind the
//! default `aws` feature, so tools that only exercise the rules (the fuzz targets) build
//! without the AWS SDK.

#[cfg(feature = "aws")]
pub mod cognito;
#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "aws")]
pub mod eventbridge;
pub mod memory;
#[cfg(feature = "outbox")]
pub mod outbox;
#[cfg(feature = "aws")]
pub mod secrets;
#[cfg(feature = "aws")]
pub mod ses;
