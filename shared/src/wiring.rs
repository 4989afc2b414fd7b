//! The one place the use cases' dependencies are put together: settings from `Config`, and
//! the pieces that differ between a Lambda, the local server, the tests and the benchmark
//! (store, clock, keys, mailer). Each function's `build` (`entry::LambdaFunction`) takes from
//! here exactly what it uses, so a function that lacks a key or a mailer does not compile, and
//! one that never mails links no mail or bus client.

use std::sync::Arc;

use crate::{
    app::{
        mail_budget::{BudgetedMail, MailCounts},
        notify::{ExpiryStore, Notifier},
        sinks::EventSinks,
        FactorServices, LinkSettings, Services,
    },
    config::Config,
    domain::{
        codes::{CodeHasher, HashCostError},
        link_token::LinkSigner,
        sealing::{Keyring, SecretSealer},
    },
    ports::{Clock, Deliveries, EventSink, Mailer, SessionEnder, Storage},
    presentation::event_mail::MailSink,
};

/// What every function is built on.
#[derive(Clone)]
pub struct Wiring<'a> {
    pub config: &'a Config,
    pub store: Arc<dyn Storage>,
    /// What mail is counted against: in production `store` itself; the tests count it on a
    /// client of its own, so request counts on the store's see only the requests' traffic.
    pub mail_budget: Arc<dyn MailCounts>,
    pub clock: Arc<dyn Clock>,
}

impl Wiring<'_> {
    /// The whole store as a value that is itself a store (`ports` gives every capability to a
    /// shared handle): it coerces to any function's view, `as Arc<dyn EnrollStore>`, which the
    /// function's `build` names, and nothing wider reaches the function.
    pub fn shared_store(&self) -> Arc<Arc<dyn Storage>> {
        Arc::new(self.store.clone())
    }

    /// The use cases' services over `store`, this function's view of the store.
    pub fn services<S: ?Sized>(&self, store: Arc<S>) -> Result<Services<S>, HashCostError> {
        Ok(Services {
            store,
            audit: self.store.clone(),
            clock: self.clock.clone(),
            hasher: CodeHasher::new(self.config.hash_cost)?,
            settings: self.config.settings.clone(),
            retention: self.config.audit_retention,
        })
    }

    /// The notify function: once kept, an event goes to the user's mail through `mailer` (the
    /// kinds `NOTIFY` keeps, within the mail budget) and to the team's `bus` if there is one
    /// (`EVENT_BUS_NAME`); `deliveries` remembers which have it. A change of the factor first
    /// ends the user's `sessions` (`USER_POOL_ID`), where there is a pool to end them in.
    pub fn notifier(
        &self,
        deliveries: Arc<dyn Deliveries>,
        mailer: Arc<dyn Mailer>,
        bus: Option<Arc<dyn EventSink>>,
        sessions: Option<Arc<dyn SessionEnder>>,
    ) -> Result<Notifier, HashCostError> {
        let mail = MailSink {
            mailer,
            product: self.config.settings.product.clone(),
            notify: self.config.notify.clone(),
        };
        let mail = Arc::new(BudgetedMail {
            mail,
            budget: self.mail_budget.clone(),
            ceilings: self.config.mail_ceilings,
            clock: self.clock.clone(),
        });
        let mut sinks: Vec<Arc<dyn EventSink>> = vec![mail.clone()];
        sinks.extend(bus);
        Ok(Notifier {
            sinks: EventSinks::new(sinks),
            requests: self.services(self.shared_store() as Arc<dyn ExpiryStore>)?,
            digests: mail,
            deliveries,
            clock: self.clock.clone(),
            sessions,
        })
    }

    /// For the functions that check a second factor: `sealing_keys` seal and open TOTP secrets.
    pub fn factor_services<S: ?Sized>(
        &self,
        store: Arc<S>,
        sealing_keys: Keyring,
    ) -> Result<FactorServices<S>, HashCostError> {
        Ok(FactorServices {
            services: self.services(store)?,
            sealer: SecretSealer::new(sealing_keys),
        })
    }

    /// `signing_keys` sign and check download links.
    pub fn links(&self, signing_keys: Keyring) -> LinkSettings {
        LinkSettings {
            signer: LinkSigner::new(signing_keys),
            ttl: self.config.link_ttl,
        }
    }
}
