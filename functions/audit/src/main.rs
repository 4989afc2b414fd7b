//! Lambda entry point for the `audit` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{http::AuditApi, runtime::run_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_lambda::<AuditApi>().await
}
