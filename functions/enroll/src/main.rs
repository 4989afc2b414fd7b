//! Lambda entry point for the `enroll` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::EnrollApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<EnrollApi>().await
}
