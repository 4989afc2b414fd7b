//! Lambda entry point for the Cognito custom-authentication triggers (Define, Create and Verify
//! Auth Challenge); everything it does lives in the `backup-codes` crate.

use backup_codes::{cognito::CognitoTrigger, entry::Error, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<CognitoTrigger>().await
}
