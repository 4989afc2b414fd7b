//! Lambda entry point for the `public` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::PublicApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<PublicApi>().await
}
