//! Lambda entry point for the `recovery` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::RecoveryApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<RecoveryApi>().await
}
