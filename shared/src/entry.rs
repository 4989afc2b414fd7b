//! The one shape of every Lambda function of the service, whatever invokes it: its name, how
//! Lambda invokes it (API Gateway's routes, or an event), how it is built from its host (a
//! Lambda's cold start, or the local server and the tests), and what it keeps a signed-in
//! caller's address current through. Each function's file implements `LambdaFunction`; the
//! list of them is `crate::functions`.

use std::{future::Future, pin::Pin, sync::Arc};

/// What building or running a function fails with: Lambda's own error type.
pub use lambda_http::Error;
use serde_json::Value;

use crate::{
    app::address::KeepsAddress,
    domain::sealing::Keyring,
    http::table::Route,
    ports::{Deliveries, EventSink, Mailer, SessionEnder},
    wiring::Wiring,
};

/// An event function's answer, boxed so that a function's one handler can be named in a const.
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + 'a>>;

/// What answers one event of the function built from `F`.
pub type EventHandler<F> = for<'a> fn(&'a F, Value) -> EventFuture<'a>;

/// How Lambda invokes a function.
pub enum Invoked<F: 'static> {
    /// Through API Gateway: the routes it serves, each naming its handler.
    Http(&'static [Route<F>]),
    /// With a JSON event (Cognito's triggers, the table's stream, a schedule), answered as JSON.
    Event(EventHandler<F>),
}

/// A Lambda function of the service: its dependencies are the implementing type.
pub trait LambdaFunction: Sized + Send + Sync + 'static {
    /// Its crate under `functions/`, its binary, and the `BuildProperties` of its resource in
    /// template.yaml.
    const NAME: &'static str;

    const INVOKED: Invoked<Self>;

    /// Builds it from what `host` provides, asking for only what it uses: a function that never
    /// opens a TOTP secret never fetches the key, and one that never mails links no mail client.
    fn build(host: &impl Host) -> impl Future<Output = Result<Self, Error>> + Send;

    /// What keeps a signed-in caller's stored address current before a JWT route's handler runs
    /// (`app::address`); a function with no JWT route has none.
    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        None
    }
}

/// What a function is built from. In a Lambda, `runtime::ColdStart` fetches keys from Secrets
/// Manager and builds AWS clients at first use; the local server, the tests, the benchmark and
/// the fuzz targets hand over what they made (`LocalHost`).
pub trait Host: Sync {
    /// The store, the clock and the settings every function is built on.
    fn wiring(&self) -> Result<Wiring<'_>, Error>;
    /// The keys that seal TOTP secrets.
    fn sealing_keys(&self) -> impl Future<Output = Result<Keyring, Error>> + Send;
    /// The keys that sign download links.
    fn signing_keys(&self) -> impl Future<Output = Result<Keyring, Error>> + Send;
    /// What sends mail: only the functions that mail ask for it.
    fn mailer(&self) -> Result<Arc<dyn Mailer>, Error>;
    /// The team's event bus, if there is one.
    fn bus(&self) -> Option<Arc<dyn EventSink>>;
    /// Where a user's sessions end after a factor change, if the stack signs them out.
    fn sessions(&self) -> Option<Arc<dyn SessionEnder>>;
    /// Where the notifier marks which sinks have an event.
    fn deliveries(&self) -> Result<Arc<dyn Deliveries>, Error>;
}

/// `host`'s wiring, built while `keys` (a Secrets Manager fetch, in a Lambda) is in flight,
/// and the keys. The fetch is polled first (`biased`): its requests are on their way before
/// the table's client and the rest of the wiring are built.
pub async fn wiring_while<H: Host, K>(
    host: &H,
    keys: impl Future<Output = Result<K, Error>>,
) -> Result<(Wiring<'_>, K), Error> {
    let (keys, wiring) = tokio::join!(biased; keys, async { host.wiring() });
    Ok((wiring?, keys?))
}

/// A host that has everything at hand: what the local server, the tests, the benchmark and the
/// fuzz targets build functions from, through the same `build` a Lambda's cold start runs.
#[derive(Clone)]
pub struct LocalHost<'a> {
    pub wiring: Wiring<'a>,
    pub sealing_keys: Keyring,
    pub signing_keys: Keyring,
    pub mailer: Arc<dyn Mailer>,
    pub bus: Option<Arc<dyn EventSink>>,
    pub deliveries: Arc<dyn Deliveries>,
    pub sessions: Option<Arc<dyn SessionEnder>>,
}

impl Host for LocalHost<'_> {
    fn wiring(&self) -> Result<Wiring<'_>, Error> {
        Ok(self.wiring.clone())
    }

    async fn sealing_keys(&self) -> Result<Keyring, Error> {
        Ok(self.sealing_keys.clone())
    }

    async fn signing_keys(&self) -> Result<Keyring, Error> {
        Ok(self.signing_keys.clone())
    }

    fn mailer(&self) -> Result<Arc<dyn Mailer>, Error> {
        Ok(self.mailer.clone())
    }

    fn bus(&self) -> Option<Arc<dyn EventSink>> {
        self.bus.clone()
    }

    fn sessions(&self) -> Option<Arc<dyn SessionEnder>> {
        self.sessions.clone()
    }

    fn deliveries(&self) -> Result<Arc<dyn Deliveries>, Error> {
        Ok(self.deliveries.clone())
    }
}

impl LocalHost<'_> {
    /// Builds `F` here and now: a local host's parts are all at hand, so nothing awaits.
    pub fn build<F: LambdaFunction>(&self) -> Result<F, Error> {
        use futures::FutureExt;
        F::build(self)
            .now_or_never()
            .expect("a local host's parts are ready, so building awaits nothing")
    }
}
