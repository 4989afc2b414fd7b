//! The one place the API is put together: settings from `Config`, and the pieces that differ
//! between a Lambda, the local server, the tests and the benchmark (store, clock, keys,
//! mailer). All of them call `build_api`, so the tests run production's wiring.

use std::sync::Arc;

use crate::{
    app::{LinkSettings, Services},
    config::Config,
    domain::{
        codes::{CodeHasher, HashCostError},
        link_token::LinkSigner,
        sealing::{Keyring, SecretSealer},
    },
    http::Api,
    ports::{Clock, Mailer, Store},
};

/// What `build_api` takes from the caller rather than from the configuration.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Seal and open TOTP secrets.
    pub sealing_keys: Keyring,
    /// Sign and check download links; only the functions that make or redeem them have these.
    pub signing_keys: Option<Keyring>,
    pub mailer: Option<Arc<dyn Mailer>>,
}

pub fn build_api(config: &Config, parts: Parts) -> Result<Api, HashCostError> {
    let links = parts.signing_keys.map(|keys| LinkSettings {
        signer: LinkSigner::new(keys),
        ttl: config.link_ttl,
    });
    Ok(Api {
        services: Services {
            store: parts.store,
            clock: parts.clock,
            hasher: CodeHasher::new(config.hash_cost)?,
            sealer: SecretSealer::new(parts.sealing_keys),
            settings: config.settings.clone(),
            links,
            mailer: parts.mailer,
        },
        identity: config.identity.clone(),
        link_base_url: config.link_base_url.clone(),
    })
}
