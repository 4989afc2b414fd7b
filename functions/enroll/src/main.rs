//! Lambda entry point for the `enroll` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{http::EnrollApi, runtime::run_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_lambda::<EnrollApi>().await
}
