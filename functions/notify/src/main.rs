//! Lambda entry point for the notify function: the table's stream of kept security events to
//! the user's mail and the team's event bus; everything it does lives in the `backup-codes`
//! crate.

use backup_codes::runtime::run_notify;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_notify().await
}
