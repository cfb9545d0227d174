//! What a server function knows about the HTTP request it serves: the
//! request id, the client's address, cookies. Read from the request parts
//! that leptos_axum provides as context.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::request::Parts;
use leptos::prelude::use_context;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// Where the request being served came from: its id and the client's
/// address, kept with every change it makes (the audit log shows both).
#[derive(Debug, Clone)]
pub struct RequestOrigin {
    pub request_id: String,
    pub client_ip: Option<IpAddr>,
    /// The request span's trace context, when traces are exported.
    pub trace_parent: Option<String>,
}

tokio::task_local! {
    static ORIGIN: RequestOrigin;
}

/// Middleware: the request's [`RequestOrigin`], for the handler and everything it
/// awaits. A task-local, because the REST handlers and the services they
/// call have no leptos context to read the request from; also a request
/// extension, for a server function leptos might run on another task.
/// Work handed to other tasks (the movement writer) carries the origin by
/// value, in its `Actor`.
pub async fn remember_origin(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<Vec<ipnet::IpNet>>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_string();
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| client_ip_from(c.0.ip(), request.headers(), &trusted));
    let origin = RequestOrigin {
        request_id,
        client_ip,
        trace_parent: crate::events::trace::current(),
    };
    request.extensions_mut().insert(origin.clone());
    ORIGIN.scope(origin, next.run(request)).await
}

fn origin() -> Option<RequestOrigin> {
    ORIGIN
        .try_with(Clone::clone)
        .ok()
        .or_else(|| parts().and_then(|p| p.extensions.get::<RequestOrigin>().cloned()))
}

/// The id of the request being served, as set by the request-id layer.
pub fn current_request_id() -> String {
    origin()
        .map(|o| o.request_id)
        .or_else(|| {
            parts().and_then(|p| {
                p.headers
                    .get(REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from)
            })
        })
        .unwrap_or_else(|| "none".into())
}

/// The client address of the request being served (see [`client_ip_from`]
/// for how far `X-Forwarded-For` is believed), as text; `None` outside a
/// request (background jobs).
pub fn current_client_ip() -> Option<String> {
    origin()?.client_ip.map(|ip| ip.to_string())
}

/// The trace context of the request being served, for the events it
/// appends; `None` outside a request or when traces are not exported.
pub fn current_trace_parent() -> Option<String> {
    origin()?.trace_parent
}

/// The address the request came from. `X-Forwarded-For` is believed only
/// as far as it was written by `trusted` proxies (`LARDER_TRUSTED_PROXIES`):
/// any client can send the header, so from anyone else it is ignored.
pub fn client_ip(trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let parts = parts()?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    Some(client_ip_from(peer, &parts.headers, trusted))
}

/// Walks `X-Forwarded-For` from the nearest hop back while each hop is a
/// trusted proxy; the first address that is not one is the client. An
/// unreadable entry stops the walk at the last proxy that wrote it.
pub fn client_ip_from(peer: IpAddr, headers: &http::HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// The request's `User-Agent`, cut to 300 characters, for the session list.
pub fn user_agent() -> Option<String> {
    let parts = parts()?;
    let ua = parts.headers.get(http::header::USER_AGENT)?.to_str().ok()?;
    Some(ua.chars().take(300).collect())
}

/// The value of a cookie sent with the request.
pub fn cookie(name: &str) -> Option<String> {
    let parts = parts()?;
    cookie_from_headers(&parts.headers, name)
}

pub fn cookie_from_headers(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Adds a header to the response of the server function being served.
pub fn append_response_header(name: http::HeaderName, value: &str) {
    if let (Some(res), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        res.append_header(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.2".parse().unwrap(),
        );
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let remote: IpAddr = "192.0.2.1".parse().unwrap();
        // Nobody trusted: the header is ignored, even from loopback.
        assert_eq!(client_ip_from(local, &h, &[]), local);
        let trusted: Vec<ipnet::IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        // Through two trusted hops to the first address no proxy of ours wrote.
        assert_eq!(
            client_ip_from(local, &h, &trusted).to_string(),
            "198.51.100.7"
        );
        assert_eq!(client_ip_from(remote, &h, &trusted), remote);
        assert_eq!(
            client_ip_from(local, &http::HeaderMap::new(), &trusted),
            local
        );
        h.insert("x-forwarded-for", "garbage, 10.0.0.3".parse().unwrap());
        assert_eq!(client_ip_from(local, &h, &trusted).to_string(), "10.0.0.3");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; larder_session=abc".parse().unwrap(),
        );
        h.append(http::header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(
            cookie_from_headers(&h, "larder_session").as_deref(),
            Some("abc")
        );
        assert_eq!(cookie_from_headers(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie_from_headers(&h, "missing"), None);
    }
}
