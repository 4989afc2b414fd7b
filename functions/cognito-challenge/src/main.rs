//! Lambda entry point for the Cognito custom-authentication triggers (Define, Create and Verify
//! Auth Challenge); everything it does lives in the `backup-codes` crate.

use backup_codes::runtime::run_cognito_trigger;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_cognito_trigger().await
}
