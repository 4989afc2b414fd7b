//! HTTP mapping: API Gateway requests in, JSON (or text) responses out.

pub mod functions;
pub mod identity;
pub mod request;
pub mod response;
pub mod routes;
pub mod table;

pub use functions::{
    AdminRegenerateApi, AdminStore, AuditApi, CodeSetStore, DownloadApi, DownloadStore, EnrollApi,
    EnrollStore, Functions, RegenerateApi, VerifyApi,
};
pub use routes::{all_routes, dispatch, dispatch_any};
pub use table::{Authorization, Function, Route, RouteInfo, Served};
