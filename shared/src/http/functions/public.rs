//! The `public` function, every route with no authorizer: the page an emailed link opens, redeeming the link for a pending
//! set, and activating it once saved. It checks no second factor, so it is never given the key
//! that opens TOTP secrets.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::{rfc3339, serve};
use crate::{
    app::{errors::RedeemError, redeem, LinkSettings, Services},
    domain::link_token::MAX_TOKEN_LEN,
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        request::{caller_source, form_fields, is_form, is_set_id_shaped, json_body},
        response::{html_response, json_response, script_response, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
    ports::{CodeSets, DownloadGrants, UserRecords},
    presentation::{codes_file, components, pages, DOWNLOAD_ACTIVATE_PATH, DOWNLOAD_PATH},
};

crate::ports::view! {
    /// What the public function does to the store: redeem a link and save the set it shows. It
    /// checks no code, so it has no attempt ledger and no key to open a TOTP secret.
    pub trait PublicStore: UserRecords, DownloadGrants, CodeSets
}

pub struct PublicApi {
    pub services: Services<dyn PublicStore>,
    pub links: LinkSettings,
}

serve!(PublicApi: download_page, redeem_download, activate_download, components_script);

impl LambdaFunction for PublicApi {
    const NAME: &'static str = "public";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
        Route {
            method: "GET",
            path: DOWNLOAD_PATH,
            authorization: Authorization::None,
            handler: serve::download_page,
        },
        Route {
            method: "POST",
            path: DOWNLOAD_PATH,
            authorization: Authorization::None,
            handler: serve::redeem_download,
        },
        Route {
            method: "POST",
            path: DOWNLOAD_ACTIVATE_PATH,
            authorization: Authorization::None,
            handler: serve::activate_download,
        },
        Route {
            method: "GET",
            path: components::PATH,
            authorization: Authorization::None,
            handler: serve::components_script,
        },
    ]);

    async fn build(host: &impl Host) -> Result<Self, Error> {
        let (wiring, keys) = wiring_while(host, host.signing_keys()).await?;
        Ok(PublicApi {
            services: wiring.services(wiring.shared_store() as Arc<dyn PublicStore>)?,
            links: wiring.links(keys),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    token: String,
    set_id: String,
}

/// What the emailed link opens; it never redeems.
async fn download_page(api: &PublicApi, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(html_response(
        StatusCode::OK,
        &pages::landing(&api.services.settings.product),
    ))
}

/// The web components, public like the pages: this function already serves what browsers load.
async fn components_script(_: &PublicApi, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(script_response(components::SCRIPT))
}

/// What the spec says a token is: 1 to `MAX_TOKEN_LEN` characters. Anything else of that
/// length is a link that does not work (410), whatever it holds.
fn is_token_shaped(token: &str) -> bool {
    !token.is_empty() && token.chars().count() <= MAX_TOKEN_LEN
}

fn token_error() -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidField,
        format!("field `token` must be 1 to {MAX_TOKEN_LEN} characters: the part of the link after #token="),
    )
}

/// A form post's field `name`, empty when absent or when the body is no form.
fn form_field(req: &Request, name: &str) -> String {
    form_fields(req)
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
        .unwrap_or_default()
}

/// JSON callers get JSON; the page's form post gets a page. Both say the same on refusal.
async fn redeem_download(api: &PublicApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let product = &api.services.settings.product;
    if is_form(req) {
        let token = form_field(req, "token");
        if !is_token_shaped(&token) {
            // Not a link's token at all (the page always posts one): malformed, not a dead link.
            return Ok(html_response(
                StatusCode::BAD_REQUEST,
                &pages::link_invalid(product),
            ));
        }
        return match redeem::redeem(&api.services, &api.links, &token, &caller_source(req)).await {
            Ok(redeemed) => {
                let issued = &redeemed.issued;
                Ok(html_response(
                    StatusCode::OK,
                    &pages::codes(
                        product,
                        &issued.display(),
                        &codes_file(product, issued),
                        &pages::Activation {
                            token: &token,
                            set_id: &issued.set.id,
                        },
                    ),
                ))
            }
            Err(RedeemError::LinkInvalid) => Ok(html_response(
                StatusCode::GONE,
                &pages::link_invalid(product),
            )),
            Err(other) => Err(other.into()),
        };
    }
    let body: TokenBody = json_body(req)?;
    if !is_token_shaped(&body.token) {
        return Err(token_error());
    }
    let redeemed =
        redeem::redeem(&api.services, &api.links, &body.token, &caller_source(req)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "backup_codes": redeemed.issued.display(),
            "set_id": redeemed.issued.set.id,
            "expires_at": rfc3339(redeemed.expires_at),
        }),
    ))
}

/// "I have saved these codes": the page's form, or a JSON caller with the `set_id` it was given.
async fn activate_download(api: &PublicApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let product = &api.services.settings.product;
    if is_form(req) {
        let (token, set_id) = (form_field(req, "token"), form_field(req, "set_id"));
        if !is_token_shaped(&token) || !is_set_id_shaped(&set_id) {
            return Ok(html_response(
                StatusCode::BAD_REQUEST,
                &pages::link_invalid(product),
            ));
        }
        let source = caller_source(req);
        return match redeem::activate(&api.services, &api.links, &token, &set_id, &source).await {
            Ok(_) => Ok(html_response(StatusCode::OK, &pages::activated(product))),
            Err(RedeemError::LinkInvalid) => Ok(html_response(
                StatusCode::GONE,
                &pages::link_invalid(product),
            )),
            Err(RedeemError::NotTheShownSet) => Ok(html_response(
                StatusCode::CONFLICT,
                &pages::codes_replaced(product),
            )),
            Err(other) => Err(other.into()),
        };
    }
    let body: ActivateBody = json_body(req)?;
    if !is_token_shaped(&body.token) {
        return Err(token_error());
    }
    if !is_set_id_shaped(&body.set_id) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "field `set_id` must be the `set_id` the redemption answered (letters and digits)",
        ));
    }
    let activated = redeem::activate(
        &api.services,
        &api.links,
        &body.token,
        &body.set_id,
        &caller_source(req),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "set_id": body.set_id,
            "remaining": activated.remaining,
            "generated_at": rfc3339(activated.generated_at),
        }),
    ))
}
