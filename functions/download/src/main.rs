//! Lambda entry point for the `download` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{http::DownloadApi, runtime::run_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_lambda::<DownloadApi>().await
}
