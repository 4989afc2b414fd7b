//! The `download` function: the page an emailed link opens, and redeeming the link for a new
//! set. It checks no second factor, so it is never given the key that opens TOTP secrets.

use lambda_http::{http::StatusCode, Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::serve;
use crate::{
    app::{errors::RedeemError, redeem, LinkSettings, Services},
    domain::link_token::MAX_TOKEN_LEN,
    http::{
        request::{caller_source, is_form, json_body, MAX_BODY_BYTES},
        response::{html_response, json_response, script_response, ApiError, ErrorCode},
        table::{Authorization, Function, Route, Served},
    },
    presentation::{codes_file, components, pages, DOWNLOAD_PATH},
};

pub struct DownloadApi {
    pub services: Services,
    pub links: LinkSettings,
}

serve!(DownloadApi: download_page, redeem_download, components_script);

impl Served for DownloadApi {
    const FUNCTION: Function = Function::Download;
    const ROUTES: &'static [Route<Self>] = &[
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
            method: "GET",
            path: components::PATH,
            authorization: Authorization::None,
            handler: serve::components_script,
        },
    ];
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

/// What the emailed link opens; it never redeems.
async fn download_page(api: &DownloadApi, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(html_response(
        StatusCode::OK,
        &pages::landing(&api.services.settings.product),
    ))
}

/// The web components, public like the pages: this function already serves what browsers load.
async fn components_script(_: &DownloadApi, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(script_response(components::SCRIPT))
}

/// What the spec says a token is: 1 to `MAX_TOKEN_LEN` characters, not all blank.
fn is_token_shaped(token: &str) -> bool {
    !token.trim().is_empty() && token.chars().count() <= MAX_TOKEN_LEN
}

/// JSON callers get JSON; the page's form post gets a page. Both say the same on refusal.
async fn redeem_download(api: &DownloadApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let product = &api.services.settings.product;
    if is_form(req) {
        let bytes = match req.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b.as_slice(),
            _ => &[],
        };
        let token = (bytes.len() <= MAX_BODY_BYTES)
            .then(|| serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).ok())
            .flatten()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v)
            })
            .unwrap_or_default();
        if !is_token_shaped(&token) {
            // Not a link's token at all (the page always posts one): malformed, not a dead link.
            return Ok(html_response(
                StatusCode::BAD_REQUEST,
                &pages::link_invalid(product),
            ));
        }
        return match redeem::redeem(&api.services, &api.links, &token, &caller_source(req)).await {
            Ok(issued) => Ok(html_response(
                StatusCode::OK,
                &pages::codes(product, &issued.display(), &codes_file(product, &issued)),
            )),
            Err(RedeemError::LinkInvalid) => Ok(html_response(
                StatusCode::GONE,
                &pages::link_invalid(product),
            )),
            Err(other) => Err(other.into()),
        };
    }
    let body: TokenBody = json_body(req)?;
    if !is_token_shaped(&body.token) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("field `token` must be 1 to {MAX_TOKEN_LEN} characters: the part of the link after #token="),
        ));
    }
    let issued =
        redeem::redeem(&api.services, &api.links, &body.token, &caller_source(req)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "backup_codes": issued.display() }),
    ))
}
