//! Lambda entry point for the `download` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::DownloadApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<DownloadApi>().await
}
