//! One module per Lambda function: the dependencies it is built with, its handlers (thin:
//! parse the request, call the use case, shape the success body) and its route table. A
//! function is given only what its use cases take, so one that lacks a port does not compile.

pub mod admin_regenerate;
pub mod audit;
pub mod download;
pub mod enroll;
pub mod regenerate;
pub mod verify;

use lambda_http::Request;
use serde::Deserialize;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    request::{optional_json_body, otp},
    response::ApiError,
};

pub use self::{
    admin_regenerate::AdminRegenerateApi, audit::AuditApi, download::DownloadApi,
    enroll::EnrollApi, regenerate::RegenerateApi, verify::VerifyApi,
};

/// The handlers as a route table names them (`serve::verify`): each boxes the async function
/// of the same name in the calling module, which takes the function's dependencies `$deps`.
macro_rules! serve {
    ($deps:ty: $($name:ident),+ $(,)?) => {
        mod serve {
            use super::*;
            $(
                pub fn $name<'a>(
                    deps: &'a $deps,
                    req: &'a lambda_http::Request,
                ) -> $crate::http::table::HandlerFuture<'a> {
                    Box::pin(super::$name(deps, req))
                }
            )+
        }
    };
}
use serve;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("UTC timestamps always format")
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TotpBody {
    totp: Option<String>,
}

/// The step-up TOTP code, from the body's `totp` or the `X-OTP` header.
fn totp_from(req: &Request) -> Result<Option<String>, ApiError> {
    let body: TotpBody = optional_json_body(req)?.unwrap_or_default();
    otp(body.totp, req)
}

/// Every function at once, as the local server (and the tests, standing in for API Gateway)
/// host them on one port. A Lambda holds one of these, never all.
pub struct Functions {
    pub enroll: EnrollApi,
    pub verify: VerifyApi,
    pub regenerate: RegenerateApi,
    pub admin_regenerate: AdminRegenerateApi,
    pub download: DownloadApi,
    pub audit: AuditApi,
}
