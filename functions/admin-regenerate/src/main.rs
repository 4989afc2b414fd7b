//! Lambda entry point for the `admin-regenerate` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{http::AdminRegenerateApi, runtime::run_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_lambda::<AdminRegenerateApi>().await
}
