//! HTTP mapping: API Gateway requests in, JSON (or text) responses out.

pub mod functions;
pub mod identity;
pub mod request;
pub mod response;
pub mod routes;
pub mod table;

pub use functions::{
    AccountsApi, AdminApi, AuditApi, CodeSetsApi, EnrollApi, MembershipsApi, PublicApi,
    RecoveryApi, VerifyApi,
};
pub use routes::dispatch;
pub use table::{Authorization, Route, RouteInfo};
