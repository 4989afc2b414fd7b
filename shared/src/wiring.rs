//! The one place the use cases' dependencies are put together: settings from `Config`, and
//! the pieces that differ between a Lambda, the local server, the tests and the benchmark
//! (store, clock, keys, mailer). Each function is built from exactly what it uses, so a Lambda
//! that lacks a key or a mailer does not compile, and one that never mails links no mail or
//! bus client; the local server and the tests build all six through the same methods.

use std::sync::Arc;

use crate::{
    app::{
        mail_budget::BudgetedMail, notify::Notifier, sinks::EventSinks, FactorServices,
        LinkSettings, Services,
    },
    cognito::CognitoTrigger,
    config::Config,
    domain::{
        codes::{CodeHasher, HashCostError},
        link_token::LinkSigner,
        sealing::{Keyring, SecretSealer},
    },
    http::{
        AdminRegenerateApi, AuditApi, DownloadApi, EnrollApi, Functions, RegenerateApi, VerifyApi,
    },
    ports::{AuditLog, Clock, Deliveries, EventSink, MailBudget, Mailer, Store},
    presentation::event_mail::MailSink,
};

/// What every function is built on.
pub struct Wiring<'a> {
    pub config: &'a Config,
    pub store: Arc<dyn Store>,
    /// The audit trail (in production the same DynamoDB table as `store`).
    pub audit: Arc<dyn AuditLog>,
    /// What mail is counted against (in production the same table).
    pub mail_budget: Arc<dyn MailBudget>,
    pub clock: Arc<dyn Clock>,
}

impl Wiring<'_> {
    pub fn services(&self) -> Result<Services, HashCostError> {
        Ok(Services {
            store: self.store.clone(),
            audit: self.audit.clone(),
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
    pub fn factor_services(&self, sealing_keys: Keyring) -> Result<FactorServices, HashCostError> {
        Ok(FactorServices {
            services: self.services()?,
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
            services: self.factor_services(sealing_keys)?,
            identity: self.config.identity.clone(),
        })
    }

    pub fn cognito_trigger(&self, sealing_keys: Keyring) -> Result<CognitoTrigger, HashCostError> {
        Ok(CognitoTrigger {
            services: self.factor_services(sealing_keys)?,
            unenrolled: self.config.unenrolled_users,
        })
    }

    pub fn verify(&self, sealing_keys: Keyring) -> Result<VerifyApi, HashCostError> {
        Ok(VerifyApi {
            services: self.factor_services(sealing_keys)?,
        })
    }

    pub fn regenerate(&self, sealing_keys: Keyring) -> Result<RegenerateApi, HashCostError> {
        Ok(RegenerateApi {
            services: self.factor_services(sealing_keys)?,
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
            services: self.factor_services(sealing_keys)?,
            links: self.links(signing_keys),
            mailer,
            mail_budget: self.mail_budget.clone(),
            identity: self.config.identity.clone(),
            link_base_url: self.config.link_base_url.clone(),
        })
    }

    pub fn download(&self, signing_keys: Keyring) -> Result<DownloadApi, HashCostError> {
        Ok(DownloadApi {
            services: self.services()?,
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
            audit: audit_api(self.config, self.audit.clone()),
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
