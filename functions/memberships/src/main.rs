//! Lambda entry point for the `memberships` function; everything it does lives in the `backup-codes` crate.

use backup_codes::{entry::Error, http::MembershipsApi, runtime::run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<MembershipsApi>().await
}
