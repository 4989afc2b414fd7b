//! Lambda entry point for the `audit` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::AuditApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<AuditApi>().await
}
