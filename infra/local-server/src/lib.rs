//! The local runtime: every function's routes on one loopback port, through the same dispatch
//! the Lambda binaries use.

pub mod event;
pub mod home;
pub mod options;

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use backup_codes::{
    adapters::memory::MemoryStore,
    app::notify::Notifier,
    functions::{dispatch_any, Functions},
    http::response::{ApiError, ErrorCode},
};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use lambda_http::{http::StatusCode, Body};
use tokio::net::TcpListener;

use self::home::Home;

/// Far above the handlers' own 16 KiB limit, so they, not the server, give the documented error.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// The API and a home page that lists no mail.
pub async fn serve(listener: TcpListener, functions: Arc<Functions>) -> std::io::Result<()> {
    serve_with_home(listener, functions, Home::default()).await
}

/// The API, and at `/` the home page that shows it, listing the mails in `home.outbox`.
pub async fn serve_with_home(
    listener: TcpListener,
    functions: Arc<Functions>,
    home: Home,
) -> std::io::Result<()> {
    serve_local(listener, functions, home, None).await
}

/// The notify function, run in-process: after each request, the events the memory store kept
/// go to the notifier, as the table's stream hands them to the notify function on AWS. One
/// that fails is tried again after the next request.
pub struct InProcessNotify {
    pub store: Arc<MemoryStore>,
    pub notifier: Notifier,
}

impl InProcessNotify {
    async fn deliver(&self) {
        let failed = self
            .notifier
            .notify_each(self.store.take_new_events())
            .await;
        self.store.return_undelivered(failed);
        // What the template's schedule does on AWS: in memory a sweep costs next to nothing.
        if let Err(err) = self.notifier.sweep().await {
            eprintln!("digest sweep failed: {err}");
        }
    }
}

/// `serve_with_home`, with the notifier run after each request when there is one.
pub async fn serve_local(
    listener: TcpListener,
    functions: Arc<Functions>,
    home: Home,
    notify: Option<InProcessNotify>,
) -> std::io::Result<()> {
    let home = Arc::new(home);
    let notify = notify.map(Arc::new);
    loop {
        let (stream, _) = listener.accept().await?;
        let functions = functions.clone();
        let home = home.clone();
        let notify = notify.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let functions = functions.clone();
                let home = home.clone();
                let notify = notify.clone();
                async move {
                    let response = handle(&functions, &home, req).await;
                    if let Some(notify) = notify {
                        notify.deliver().await;
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
    }
}

async fn handle(
    functions: &Functions,
    home: &Home,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    if let Some(page) = home.serve(req.method(), req.uri().path()) {
        return page;
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_READ_BYTES).collect().await else {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the request body is too large or was interrupted".to_owned(),
        );
    };
    let event = event::api_gateway_event(&parts, &body.to_bytes());
    if let Some(problem) = event::unroutable(&event) {
        return refusal(StatusCode::BAD_REQUEST, ErrorCode::InvalidHeader, problem);
    }
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(err) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                format!("cannot form a request: {err}"),
            )
        }
    };
    into_hyper(dispatch_any(functions, request).await)
}

fn into_hyper(response: lambda_http::Response<Body>) -> Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

/// The server's own refusals, in the API's error shape.
fn refusal(status: StatusCode, code: ErrorCode, message: String) -> Response<Full<Bytes>> {
    into_hyper(ApiError::new(status, code, message).into_response())
}

/// Loopback only: the server trusts unsigned tokens, which is safe on this machine and nowhere else.
pub fn check_loopback(addr: &SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {addr}: the local server trusts unsigned tokens, so it binds to loopback only (127.0.0.1 or ::1)"
        ))
    }
}
