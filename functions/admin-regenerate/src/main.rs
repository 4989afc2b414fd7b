//! Lambda entry point for the `admin-regenerate` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::AdminRegenerateApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<AdminRegenerateApi>().await
}
