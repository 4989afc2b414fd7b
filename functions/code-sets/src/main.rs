//! Lambda entry point for the `code-sets` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::CodeSetsApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<CodeSetsApi>().await
}
