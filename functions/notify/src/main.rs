//! Lambda entry point for the notify function: the table's stream of kept security events to
//! the user's mail and the team's event bus; everything it does lives in the `backup-codes`
//! crate.

use backup_codes::{entry::Error, runtime::run, stream::NotifyFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run::<NotifyFunction>().await
}
