//! The one place the use cases' dependencies are put together: settings from `Config`, and
//! the pieces that differ between a Lambda, the local server, the tests and the benchmark
//! (store, clock, keys, mailer). Each function is built from exactly what it uses, so a Lambda
//! that lacks a key or a mailer does not compile; the local server and the tests build all
//! five through the same methods.

use std::sync::Arc;

use crate::{
    app::{FactorServices, LinkSettings, Services},
    config::Config,
    domain::{
        codes::{CodeHasher, HashCostError},
        link_token::LinkSigner,
        sealing::{Keyring, SecretSealer},
    },
    http::{AdminRegenerateApi, DownloadApi, EnrollApi, Functions, RegenerateApi, VerifyApi},
    ports::{Clock, Mailer, Store},
};

/// What every function is built on.
pub struct Wiring<'a> {
    pub config: &'a Config,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

impl Wiring<'_> {
    pub fn services(&self) -> Result<Services, HashCostError> {
        Ok(Services {
            store: self.store.clone(),
            clock: self.clock.clone(),
            hasher: CodeHasher::new(self.config.hash_cost)?,
            settings: self.config.settings.clone(),
        })
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
        })
    }
}
