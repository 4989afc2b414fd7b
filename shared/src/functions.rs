//! Every Lambda function of the service, in one list. Adding a function is its entry-point
//! file (its dependencies, its `LambdaFunction` and its handlers), one row here, its crate
//! under `functions/` (a `main` that calls `runtime::run::<ItsType>()`) and its resource in
//! template.yaml; the template and spec tests say what is missing.

use lambda_http::{Body, Error, Request, Response};

use crate::{
    cognito::CognitoTrigger,
    entry::{Host, Invoked, LambdaFunction, LocalHost},
    http::{
        functions::{
            AccountsApi, AdminApi, AuditApi, CodeSetsApi, EnrollApi, MembershipsApi, PublicApi,
            RecoveryApi, VerifyApi,
        },
        routes::{dispatch, match_path, no_route, PathParams},
        table::RouteInfo,
    },
};

macro_rules! every_function {
    (
        $(#[$http_doc:meta])*
        http { $($field:ident: $http:ty),+ $(,)? }
        $(#[$event_doc:meta])*
        events { $($(#[$only:meta])* $event:ty),+ $(,)? }
    ) => {
        $(#[$http_doc])*
        pub struct Functions {
            $(pub $field: $http,)+
        }

        impl Functions {
            /// Every HTTP function, each built as its Lambda builds it.
            pub async fn build(host: &impl Host) -> Result<Self, Error> {
                Ok(Self {
                    $($field: <$http>::build(host).await?,)+
                })
            }

            /// The same from a host whose parts are all at hand.
            pub fn build_locally(host: &LocalHost<'_>) -> Result<Self, Error> {
                Ok(Self {
                    $($field: host.build()?,)+
                })
            }
        }

        /// Every route of every function: the union of their tables.
        pub fn all_routes() -> Vec<RouteInfo> {
            let mut routes = vec![];
            $(routes.extend(routes_of::<$http>());)+
            routes
        }

        /// Every function's name: its crate under `functions/` and its binary.
        pub fn names() -> Vec<&'static str> {
            let mut names = vec![$(<$http>::NAME,)+];
            $(
                $(#[$only])*
                names.push(<$event>::NAME);
            )+
            names
        }

        /// Serves a request as API Gateway would: routed to the function whose table has its
        /// path.
        pub async fn dispatch_any(functions: &Functions, req: Request) -> Response<Body> {
            let path = req.uri().path().trim_end_matches('/').to_owned();
            let owner = all_routes()
                .into_iter()
                .find(|r| match_path(r.path, &path).is_some())
                .map(|r| r.function);
            $(
                if owner == Some(<$http>::NAME) {
                    return dispatch(&functions.$field, req).await;
                }
            )+
            no_route(&path)
        }
    };
}

every_function! {
    /// The functions API Gateway routes to: what the local server and the tests host, routed
    /// as it routes them.
    http {
        enroll: EnrollApi,
        verify: VerifyApi,
        code_sets: CodeSetsApi,
        admin: AdminApi,
        public: PublicApi,
        audit: AuditApi,
        memberships: MembershipsApi,
        accounts: AccountsApi,
        recovery: RecoveryApi,
    }
    /// The functions invoked with an event: Cognito's triggers, and the table's stream.
    events {
        CognitoTrigger,
        #[cfg(feature = "aws")]
        crate::stream::NotifyFunction,
    }
}

fn routes_of<F: LambdaFunction>() -> Vec<RouteInfo> {
    match F::INVOKED {
        Invoked::Http(routes) => routes
            .iter()
            .map(|r| RouteInfo {
                method: r.method,
                path: r.path,
                function: F::NAME,
                authorization: r.authorization,
            })
            .collect(),
        Invoked::Event(_) => vec![],
    }
}

/// The `pathParameters` API Gateway would put in the event for `path`: what the local server
/// and the tests, standing in for it, send.
pub fn path_parameters(path: &str) -> Option<PathParams> {
    let path = path.trim_end_matches('/');
    all_routes().iter().find_map(|r| match_path(r.path, path))
}
