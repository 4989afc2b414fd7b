//! Lambda entry point for the `verify` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::VerifyApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<VerifyApi>().await
}
