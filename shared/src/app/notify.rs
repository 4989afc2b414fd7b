//! The event stream's far side: an event the trail kept (in the same write as its
//! change) goes to the user's mail and the team's bus, off the request path. Delivery is at
//! least once towards a sink that fails, and never twice towards one that took it: each sink
//! that has an event is marked (`Deliveries`), so a retried batch skips it.
//!
//! A change of the factor itself first ends the user's sessions (`SessionEnder`), so the mail
//! and the bus can say they ended; until it has, neither hears of the change.

use std::sync::Arc;

use tracing::info;

use super::{
    mail_budget::BudgetedMail,
    sinks::{failed, EventSinks},
    Services,
};
use crate::{
    domain::events::Recorded,
    ports::{
        Clock, Deliveries, Delivery, RecoveryDecisions, RecoveryLists, SessionEnder, SinkError,
        StoreError, UserRecords,
    },
};

/// How long one try holds an event: longer than the function's timeout, so a try that died
/// mid-delivery is retried only once its hold lapses.
pub const HOLD: time::Duration = time::Duration::minutes(2);

/// The name the sessions' ending is marked and counted under, as a sink's is.
pub const SESSIONS: &str = "sessions";

crate::ports::view! {
    /// What the schedule's sweep of unanswered recovery requests reads and writes.
    pub trait ExpiryStore: UserRecords, RecoveryLists, RecoveryDecisions
}

pub struct Notifier {
    pub sinks: EventSinks,
    /// Where the sweep finds recovery requests nobody answered in time.
    pub requests: Services<dyn ExpiryStore>,
    /// The mail sink, whose held events go out in hourly digests (`sweep`).
    pub digests: Arc<BudgetedMail>,
    pub deliveries: Arc<dyn Deliveries>,
    pub clock: Arc<dyn Clock>,
    /// Where a user's sessions end after a factor change; `None` where the stack knows no
    /// pool or `SignOutOnFactorChange` is false (the bus then says `sessions_ended: false`).
    pub sessions: Option<Arc<dyn SessionEnder>>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("a sink refused the event")]
    Sink(#[from] SinkError),
    #[error("another try holds the event")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Notifier {
    /// Each of `records` in turn; answers the ones to try again (those that failed).
    pub async fn notify_each(&self, records: Vec<Recorded>) -> Vec<Recorded> {
        let mut failed = vec![];
        for record in records {
            if self.notify(&record).await.is_err() {
                failed.push(record);
            }
        }
        failed
    }

    /// The scheduled sweep: every digest due is mailed (see `BudgetedMail`), and recovery
    /// requests nobody answered in time are recorded as expired, their users mailed through
    /// the stream like any event. Answers how many digests and expiries it made.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let digests = self.digests.send_due_digests().await?;
        let expired = super::recovery::expire_unanswered(&self.requests).await?;
        Ok(digests + expired)
    }

    /// Hands `record` to every sink that does not have it yet. An error leaves the event to
    /// a retry, which sends only to the sinks that did not take it.
    #[tracing::instrument(skip_all, fields(event = %record.event.kind))]
    pub async fn notify(&self, record: &Recorded) -> Result<(), NotifyError> {
        let id = &record.event.id;
        let to = record.to.as_ref();
        let ends_sessions = record.event.kind.ends_sessions();
        let ender = self.sessions.as_ref().filter(|_| ends_sessions);
        let takers: Vec<_> = self
            .sinks
            .iter()
            .filter(|sink| sink.takes(&record.event, to))
            .collect();
        if takers.is_empty() && ender.is_none() {
            return Ok(());
        }
        let now = self.clock.now();
        let sent = match self.deliveries.hold(id, now, now + HOLD).await? {
            Delivery::Done => return Ok(()),
            Delivery::Busy => return Err(NotifyError::Busy),
            Delivery::Held { sent } => sent,
        };
        let mut event = record.event.clone();
        if ends_sessions {
            event.sessions_ended = Some(ender.is_some());
        }
        if let Some(ender) = ender.filter(|_| !sent.iter().any(|name| name == SESSIONS)) {
            if let Err(err) = ender.end_sessions(&event.user).await {
                failed(SESSIONS, &event, &err);
                self.deliveries.release(id, false).await?;
                return Err(err.into());
            }
            self.deliveries.sent(id, SESSIONS).await?;
            info!("sessions ended after a factor change");
        }
        // Every sink is tried, so a mail service that is down does not hold the bus back.
        let mut refused = None;
        for sink in takers {
            if sent.iter().any(|name| name == sink.name()) {
                continue;
            }
            match sink.publish(&event, to).await {
                Ok(()) => self.deliveries.sent(id, sink.name()).await?,
                Err(err) => {
                    failed(sink.name(), &event, &err);
                    refused = Some(err);
                }
            }
        }
        if let Some(err) = refused {
            self.deliveries.release(id, false).await?;
            return Err(err.into());
        }
        self.deliveries.release(id, true).await?;
        info!("security event delivered");
        Ok(())
    }
}
