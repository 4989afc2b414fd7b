//! Lambda entry point for the `admin` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::AdminApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<AdminApi>().await
}
