//! The one place the use cases' dependencies are put together: settings from `Config`, and
//! the pieces that differ between a Lambda, the local server, the tests and the benchmark
//! (store, clock, keys, mailer). Each function is built from exactly what it uses, so a Lambda
//! that lacks a key or a mailer does not compile, and one that never mails links no mail or
//! bus client; the local server and the tests build all six through the same methods.

use std::sync::Arc;

use crate::{
    app::{
        mail_budget::BudgetedMail, notify::Notifier, sinks::EventSinks, FactorChecks,
        FactorServices, LinkSettings, Services,
    },
    cognito::{CognitoTrigger, SignInStore},
    config::Config,
    domain::{
        codes::{CodeHasher, HashCostError},
        link_token::LinkSigner,
        sealing::{Keyring, SecretSealer},
    },
    http::{
        AdminRegenerateApi, AdminStore, AuditApi, CodeSetStore, DownloadApi, DownloadStore,
        EnrollApi, EnrollStore, Functions, RegenerateApi, VerifyApi,
    },
    ports::{AuditLog, Clock, Deliveries, EventSink, MailBudget, Mailer},
    presentation::event_mail::MailSink,
};

/// The whole store, as both adapters implement it: every function's view of it (the
/// `*Store` traits beside each function), the audit trail, the mail budget and the delivery
/// marks. A function is handed only its view, cut from this by upcasting.
pub trait Storage:
    EnrollStore
    + CodeSetStore
    + AdminStore
    + DownloadStore
    + SignInStore
    + FactorChecks
    + AuditLog
    + MailBudget
    + Deliveries
{
}

impl<T> Storage for T where
    T: EnrollStore
        + CodeSetStore
        + AdminStore
        + DownloadStore
        + SignInStore
        + FactorChecks
        + AuditLog
        + MailBudget
        + Deliveries
        + ?Sized
{
}

/// What every function is built on.
pub struct Wiring<'a> {
    pub config: &'a Config,
    pub store: Arc<dyn Storage>,
    /// What mail is counted against: in production `store` itself; the tests count it on a
    /// client of its own, so request counts on the store's see only the requests' traffic.
    pub mail_budget: Arc<dyn MailBudget>,
    pub clock: Arc<dyn Clock>,
}

impl Wiring<'_> {
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
    /// (`EVENT_BUS_NAME`); `deliveries` remembers which have it.
    pub fn notifier(
        &self,
        deliveries: Arc<dyn Deliveries>,
        mailer: Arc<dyn Mailer>,
        bus: Option<Arc<dyn EventSink>>,
    ) -> Notifier {
        let mail = MailSink {
            mailer,
            product: self.config.settings.product.clone(),
            notify: self.config.notify.clone(),
        };
        let mail = Arc::new(BudgetedMail {
            mail,
            budget: self.mail_budget.clone(),
            ceiling: self.config.mail_ceiling,
            clock: self.clock.clone(),
        });
        let mut sinks: Vec<Arc<dyn EventSink>> = vec![mail.clone()];
        sinks.extend(bus);
        Notifier {
            sinks: EventSinks::new(sinks),
            digests: mail,
            deliveries,
            clock: self.clock.clone(),
        }
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
    fn links(&self, signing_keys: Keyring) -> LinkSettings {
        LinkSettings {
            signer: LinkSigner::new(signing_keys),
            ttl: self.config.link_ttl,
        }
    }

    pub fn enroll(&self, sealing_keys: Keyring) -> Result<EnrollApi, HashCostError> {
        Ok(EnrollApi {
            services: self
                .factor_services(self.store.clone() as Arc<dyn EnrollStore>, sealing_keys)?,
            identity: self.config.identity.clone(),
        })
    }

    pub fn cognito_trigger(&self, sealing_keys: Keyring) -> Result<CognitoTrigger, HashCostError> {
        Ok(CognitoTrigger {
            services: self
                .factor_services(self.store.clone() as Arc<dyn SignInStore>, sealing_keys)?,
            unenrolled: self.config.unenrolled_users,
        })
    }

    pub fn verify(&self, sealing_keys: Keyring) -> Result<VerifyApi, HashCostError> {
        Ok(VerifyApi {
            services: self
                .factor_services(self.store.clone() as Arc<dyn FactorChecks>, sealing_keys)?,
        })
    }

    pub fn regenerate(&self, sealing_keys: Keyring) -> Result<RegenerateApi, HashCostError> {
        Ok(RegenerateApi {
            services: self
                .factor_services(self.store.clone() as Arc<dyn CodeSetStore>, sealing_keys)?,
            identity: self.config.identity.clone(),
        })
    }

    /// `mailer` sends the download link: the admin's answer says whether it went.
    pub fn admin_regenerate(
        &self,
        sealing_keys: Keyring,
        signing_keys: Keyring,
        mailer: Arc<dyn Mailer>,
    ) -> Result<AdminRegenerateApi, HashCostError> {
        Ok(AdminRegenerateApi {
            services: self
                .factor_services(self.store.clone() as Arc<dyn AdminStore>, sealing_keys)?,
            links: self.links(signing_keys),
            mailer,
            mail_budget: self.mail_budget.clone(),
            identity: self.config.identity.clone(),
            link_base_url: self.config.link_base_url.clone(),
        })
    }

    pub fn download(&self, signing_keys: Keyring) -> Result<DownloadApi, HashCostError> {
        Ok(DownloadApi {
            services: self.services(self.store.clone() as Arc<dyn DownloadStore>)?,
            links: self.links(signing_keys),
        })
    }

    /// Every function, as the local server and the tests host them.
    pub fn functions(
        &self,
        sealing_keys: Keyring,
        signing_keys: Keyring,
        mailer: Arc<dyn Mailer>,
    ) -> Result<Functions, HashCostError> {
        Ok(Functions {
            enroll: self.enroll(sealing_keys.clone())?,
            verify: self.verify(sealing_keys.clone())?,
            regenerate: self.regenerate(sealing_keys.clone())?,
            admin_regenerate: self.admin_regenerate(sealing_keys, signing_keys.clone(), mailer)?,
            download: self.download(signing_keys)?,
            audit: audit_api(self.config, self.store.clone()),
        })
    }
}

/// The audit function reads trails only: no keys, no mail, no writes, so no `Wiring`.
pub fn audit_api(config: &Config, audit: Arc<dyn AuditLog>) -> AuditApi {
    AuditApi {
        audit,
        identity: config.identity.clone(),
    }
}
