//! One module per Lambda function: the dependencies it is built with, its handlers (thin:
//! parse the request, call the use case, shape the success body) and its route table. A
//! function is given only what its use cases take, so one that lacks a port does not compile.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod code_sets;
pub mod enroll;
pub mod memberships;
pub mod public;
pub mod recovery;
pub mod verify;

use lambda_http::Request;
use serde::Deserialize;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    request::{optional_json_body, otp},
    response::{ApiError, ErrorCode},
};

pub use self::{
    accounts::{AccountAdminStore, AccountsApi},
    admin::{AdminApi, AdminStore},
    audit::AuditApi,
    code_sets::{CodeSetStore, CodeSetsApi},
    enroll::{EnrollApi, EnrollStore},
    memberships::{MembershipStore, MembershipsApi},
    public::{PublicApi, PublicStore},
    recovery::{RecoveryApi, RecoveryStore},
    verify::VerifyApi,
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
    /// Absent is no proof; `null` or a non-string is malformed, never read as absent.
    #[serde(default, deserialize_with = "string_if_present")]
    totp: Option<String>,
}

fn string_if_present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// The step-up proof (a TOTP code or a backup code), from the body's `totp` or else the `X-OTP`
/// header. An empty one in either place is malformed, whether or not the route needs a proof.
fn totp_from(req: &Request) -> Result<Option<String>, ApiError> {
    let body: TotpBody = optional_json_body(req)?.unwrap_or_default();
    proof_from(body.totp, req)
}

/// The proof from a body's own `totp` field (`from_body`), or else the `X-OTP` header.
fn proof_from(from_body: Option<String>, req: &Request) -> Result<Option<String>, ApiError> {
    let body = TotpBody { totp: from_body };
    let header = otp(None, req)?;
    for (given, name) in [(&body.totp, "field `totp`"), (&header, "header X-OTP")] {
        if given.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!(
                    "{name} must not be empty: give a current TOTP code or an unused backup \
                     code, or leave it out"
                ),
            ));
        }
    }
    Ok(body.totp.or(header))
}
