//! The `admin` function: an administrator resets another user's codes, and the user
//! is mailed a download link; or turns another user's two-factor off.

use std::sync::Arc;

use lambda_http::{
    http::StatusCode, request::RequestContext, Body, Error, Request, RequestExt, Response,
};
use serde_json::json;

use super::{rfc3339, serve, totp_from};
use crate::{
    app::{
        address::KeepsAddress,
        admin_regenerate::{self, LinkDelivery},
        errors::Fault,
        two_factor, FactorChecks, FactorServices, LinkSettings,
    },
    config::IdentitySettings,
    domain::{access::Admin, link_token::DownloadGrant, sealing::Keyring, user::UserId},
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        identity::caller,
        request::{caller_source, path_user},
        response::{empty_response, json_response, ApiError},
        table::{Authorization, Route},
    },
    ports::{Addresses, DownloadGrants, MailBudget, Mailer, TwoFactorOff},
    presentation::download_mail::LinkMail,
    wiring::Wiring,
};

crate::ports::view! {
    /// What the admin function does to the store: check the admin's own code, grant a download,
    /// turn a user's two-factor off, and keep the address current.
    pub trait AdminStore: FactorChecks, DownloadGrants, TwoFactorOff, Addresses
}

pub struct AdminApi {
    pub services: FactorServices<dyn AdminStore>,
    pub reset_links: ResetLinks,
    pub identity: IdentitySettings,
}

/// What an administrator's reset mails the user through: the signed link, the mail, and the
/// stack's daily count. The platform's admin function and the account admins' share it.
pub struct ResetLinks {
    pub links: LinkSettings,
    pub mailer: Arc<dyn Mailer>,
    /// Each link mailed is counted in the stack's daily mail, so the notifier leaves it room.
    pub mail_budget: Arc<dyn MailBudget>,
    /// Where download links point; `None`: the public address the admin's request came through.
    pub link_base_url: Option<String>,
    pub product: String,
}

impl ResetLinks {
    pub(super) fn build(
        host: &impl Host,
        wiring: &Wiring<'_>,
        signing: Keyring,
    ) -> Result<Self, Error> {
        Ok(ResetLinks {
            links: wiring.links(signing),
            mailer: host.mailer()?,
            mail_budget: wiring.mail_budget.clone(),
            link_base_url: wiring.config.link_base_url.clone(),
            product: wiring.config.settings.product.clone(),
        })
    }

    /// Where the link mailed for a reset asked for through `req` points.
    pub(super) fn base_url(&self, req: &Request) -> Result<String, ApiError> {
        self.link_base_url
            .clone()
            .or_else(|| public_base_url(req))
            .ok_or_else(|| Fault::NotConfigured("a link base URL").into())
    }

    pub(super) fn mail<'a>(&'a self, base_url: &'a str) -> LinkMail<'a> {
        LinkMail {
            mailer: self.mailer.as_ref(),
            base_url,
            product: &self.product,
        }
    }

    pub(super) fn delivery<'a>(&'a self, mail: &'a LinkMail<'a>) -> LinkDelivery<'a> {
        LinkDelivery {
            notice: mail,
            budget: self.mail_budget.as_ref(),
        }
    }
}

serve!(AdminApi: admin_regenerate, admin_disable_two_factor);

impl LambdaFunction for AdminApi {
    const NAME: &'static str = "admin";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
        Route {
            method: "POST",
            path: "/v1/admin/users/{user_id}/backup-codes",
            authorization: Authorization::Jwt,
            handler: serve::admin_regenerate,
        },
        Route {
            method: "DELETE",
            path: "/v1/admin/users/{user_id}/totp",
            authorization: Authorization::Jwt,
            handler: serve::admin_disable_two_factor,
        },
    ]);

    /// The sealing and signing keys are fetched side by side: each is a Secrets Manager round
    /// trip inside the cold start.
    async fn build(host: &impl Host) -> Result<Self, Error> {
        let both = async { tokio::try_join!(host.sealing_keys(), host.signing_keys()) };
        let (wiring, (sealing, signing)) = wiring_while(host, both).await?;
        Ok(AdminApi {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn AdminStore>, sealing)?,
            reset_links: ResetLinks::build(host, &wiring, signing)?,
            identity: wiring.config.identity.clone(),
        })
    }

    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        Some(&self.services.services)
    }
}

/// What every admin route reads, in this order: the caller proven an admin, the user acted
/// on, and the admin's own proof.
struct AdminRequest {
    admin: Admin,
    target: UserId,
    proof: Option<String>,
}

fn admin_request(api: &AdminApi, req: &Request) -> Result<AdminRequest, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let admin = Admin::by_membership(&who.user, &who.groups, &api.identity.admin_group);
    let target = path_user(req)?;
    // Authorization before reading the body: a non-admin learns nothing from its validation.
    let admin = admin.ok_or_else(ApiError::not_admin)?;
    let proof = totp_from(req)?;
    Ok(AdminRequest {
        admin,
        target,
        proof,
    })
}

async fn admin_regenerate(api: &AdminApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let AdminRequest {
        admin,
        target,
        proof: totp,
    } = admin_request(api, req)?;
    let base_url = api.reset_links.base_url(req)?;
    let mail = api.reset_links.mail(&base_url);
    let grant = admin_regenerate::regenerate_for(
        &api.services,
        &api.reset_links.links,
        &admin,
        &target,
        totp.as_deref(),
        api.reset_links.delivery(&mail),
        &caller_source(req),
    )
    .await?;
    Ok(link_mailed(&grant))
}

/// A reset's answer: the link is on its way, and when it stops working.
pub(super) fn link_mailed(grant: &DownloadGrant) -> Response<Body> {
    json_response(
        StatusCode::ACCEPTED,
        &json!({ "status": "email_sent", "expires_at": rfc3339(grant.expires_at) }),
    )
}

async fn admin_disable_two_factor(
    api: &AdminApi,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let AdminRequest {
        admin,
        target,
        proof,
    } = admin_request(api, req)?;
    two_factor::disable_for(
        &api.services,
        &admin,
        &target,
        proof.as_deref(),
        &caller_source(req),
    )
    .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The address the caller reached, as API Gateway reports it (its own domain or the custom
/// domain, never a client-supplied Host header).
fn public_base_url(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let domain = ctx.domain_name.as_deref().filter(|d| !d.is_empty())?;
            match ctx.stage.as_deref() {
                Some(stage) if !stage.is_empty() && stage != "$default" => {
                    Some(format!("https://{domain}/{stage}"))
                }
                _ => Some(format!("https://{domain}")),
            }
        }
        _ => None,
    }
}
