//! Lambda entry point for the `accounts` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::AccountsApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<AccountsApi>().await
}
