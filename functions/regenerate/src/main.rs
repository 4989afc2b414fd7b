//! Lambda entry point for the `regenerate` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::RegenerateApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<RegenerateApi>().await
}
