//! Translations between the ports and the outside world.

pub mod dynamodb;
pub mod memory;
pub mod outbox;
pub mod secrets;
pub mod ses;
