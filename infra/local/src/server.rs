//! The HTTP side of the gateway: matches a request to the template's routes, verifies
//! the JWT as the HttpApi authorizer would, builds the API Gateway v2 event the function
//! receives in AWS, and sends back what the function answers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use peyman::flows::App;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::functions;
use crate::template::{JwtAuthorizer, Route};
use crate::tokens;

pub struct Gateway {
    /// Each function's adapters, under its own credentials, by logical id.
    pub apps: BTreeMap<String, App>,
    pub routes: Vec<Route>,
    pub authorizer: JwtAuthorizer,
    pub cors: crate::cors::Cors,
    pub account: String,
}

impl Gateway {
    /// The function's adapters; every function in the template has them (checked at start).
    pub fn app(&self, function: &str) -> &App {
        &self.apps[function]
    }
}

type Reply = hyper::Response<Full<Bytes>>;

/// The route for `method path` and its path parameters. Literal segments win over
/// parameters, as in API Gateway.
pub fn match_route<'r>(routes: &'r [Route], method: &str, path: &str) -> Option<(&'r Route, BTreeMap<String, String>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &Route, BTreeMap<String, String>)> = None;
    for route in routes.iter().filter(|r| r.method == method || r.method == "ANY") {
        let pattern: Vec<&str> = route.path.trim_start_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let mut literal = 0;
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                params
                    .insert(name.to_owned(), percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned());
                !s.is_empty()
            } else {
                literal += 1;
                p == s
            }
        });
        if matched && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
            best = Some((literal, route, params));
        }
    }
    best.map(|(_, route, params)| (route, params))
}

fn gateway_reply(status: u16, message: &str) -> Reply {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json!({ "message": message }).to_string())))
        .unwrap_or_default()
}

fn query_parameters(raw: &str) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode =
            |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
        params.entry(decode(k)).and_modify(|e| *e = format!("{e},{}", decode(v))).or_insert_with(|| decode(v));
    }
    params
}

/// Ours, not the template's: what the functions' AWS calls and invocations cost since
/// the gateway started (`peyman::adapters::meter`), for `make bench`.
const METER: &str = "/_local/meter";

fn meter_reply() -> Reply {
    let ([http, sqs, scheduled, stream], micros) = functions::invocations();
    let body = json!({
        "aws": peyman::adapters::meter::totals(),
        "invocations": { "http": http, "sqs": sqs, "scheduled": scheduled, "stream": stream, "duration_micros": micros },
    });
    hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

/// Ours too, for the walk-through and a developer: the timers of one subject become due
/// now, for the stack's own sweeper to fire as production's would at their time (a
/// release's clearance, 14 days on). There is no such route in AWS.
const DUE_NOW: &str = "/_local/timers/due-now";

async fn due_now(gateway: &Gateway, raw_query: &str) -> Reply {
    let subject = query_parameters(raw_query).remove("subject").unwrap_or_default();
    // The sweeper's own credentials: it is the one that moves timers.
    let store = &gateway.app("SweeperFunction").store;
    let moved = async {
        let timers = store.timers_for(&subject).await?;
        let mut commit = store.begin();
        for timer in &timers {
            commit.take(&timer.key)?;
            commit.timer(chrono::Utc::now(), &timer.subject)?;
        }
        if !timers.is_empty() {
            store.commit(commit).await?;
        }
        Ok::<usize, peyman_rules::error::ApiError>(timers.len())
    };
    match moved.await {
        Ok(moved) => hyper::Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(json!({ "subject": subject, "moved": moved }).to_string())))
            .unwrap_or_default(),
        Err(e) => gateway_reply(500, &e.to_string()),
    }
}

/// CORS around everything else (`cors.rs`): a preflight is answered here, and any answer
/// to an allowed origin carries the configured headers in place of the function's own.
async fn handle(gateway: &Gateway, request: hyper::Request<Incoming>) -> Reply {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let origin = header("origin");
    if let (true, Some(origin), Some(asked)) =
        (request.method() == hyper::Method::OPTIONS, &origin, header("access-control-request-method"))
    {
        let asked_headers = header("access-control-request-headers").unwrap_or_default();
        let mut reply = hyper::Response::new(Full::new(Bytes::new()));
        *reply.status_mut() = hyper::StatusCode::NO_CONTENT;
        for (name, value) in gateway.cors.preflight(origin, &asked, &asked_headers) {
            reply.headers_mut().insert(name, value.parse().expect("configured CORS values are header values"));
        }
        return reply;
    }
    let mut reply = route_and_invoke(gateway, request).await;
    if !gateway.cors.allow_origins.is_empty() {
        let own: Vec<_> =
            reply.headers().keys().filter(|name| name.as_str().starts_with("access-control-")).cloned().collect();
        for name in own {
            reply.headers_mut().remove(name);
        }
        for (name, value) in origin.map(|origin| gateway.cors.on_answer(&origin)).unwrap_or_default() {
            reply.headers_mut().insert(name, value.parse().expect("configured CORS values are header values"));
        }
    }
    reply
}

async fn route_and_invoke(gateway: &Gateway, request: hyper::Request<Incoming>) -> Reply {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let raw_query = request.uri().query().unwrap_or_default().to_owned();
    if method == "GET" && path == METER {
        return meter_reply();
    }
    if method == "POST" && path == DUE_NOW {
        return due_now(gateway, &raw_query).await;
    }
    let Some((route, path_parameters)) = match_route(&gateway.routes, &method, &path) else {
        return gateway_reply(404, "Not Found");
    };
    let route_key = format!("{} {}", route.method, route.path);
    let mut headers = BTreeMap::<String, String>::new();
    let mut cookies = Vec::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == hyper::header::COOKIE {
            cookies.extend(value.split("; ").map(str::to_owned));
            continue;
        }
        headers.entry(name.as_str().to_owned()).and_modify(|e| *e = format!("{e},{value}")).or_insert(value);
    }
    let authorizer = if route.authorized {
        let header = headers.get("authorization").map(String::as_str).unwrap_or_default();
        let Some(claims) = tokens::verify(header, &gateway.authorizer.issuer, &gateway.authorizer.audience) else {
            return gateway_reply(401, "Unauthorized");
        };
        json!({ "jwt": { "claims": tokens::flatten(&claims), "scopes": null } })
    } else {
        Value::Null
    };
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return gateway_reply(400, "Bad Request"),
    };
    let (body, is_base64) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (STANDARD.encode(&body), true),
    };
    let now = chrono::Utc::now();
    let request_id = ulid::Ulid::new().to_string();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": gateway.account,
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    if !authorizer.is_null() {
        event["requestContext"]["authorizer"] = authorizer;
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !body.is_empty() {
        event["body"] = json!(body);
    }
    if !raw_query.is_empty() {
        event["queryStringParameters"] = json!(query_parameters(&raw_query));
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = json!(path_parameters);
    }
    let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "the gateway built an event lambda_http cannot read");
            return gateway_reply(500, "Internal Server Error");
        }
    };
    let response = match functions::invoke_http(gateway.app(&route.function), &route.function, lambda_request).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(function = route.function, error = %e, "function failed");
            return gateway_reply(500, "Internal Server Error");
        }
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let mut reply = hyper::Response::new(Full::new(bytes));
    *reply.status_mut() = parts.status;
    *reply.headers_mut() = parts.headers;
    reply.headers_mut().insert("apigw-requestid", request_id.parse().expect("a ULID is a valid header value"));
    tracing::info!(route = route_key, status = parts.status.as_u16(), "request");
    reply
}

pub async fn serve(gateway: Arc<Gateway>, listener: TcpListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(handle(&gateway, request).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route { function: path.into(), method: method.into(), path: path.into(), authorized: true }
    }

    #[test]
    fn literal_segments_win_and_parameters_are_decoded() {
        let routes = vec![route("GET", "/v1/gigs/{gig_id}"), route("GET", "/v1/gigs/mine"), route("POST", "/v1/gigs")];
        let (r, p) = match_route(&routes, "GET", "/v1/gigs/mine").unwrap();
        assert_eq!(r.path, "/v1/gigs/mine");
        assert!(p.is_empty());
        let (r, p) = match_route(&routes, "GET", "/v1/gigs/a%40b").unwrap();
        assert_eq!(r.path, "/v1/gigs/{gig_id}");
        assert_eq!(p["gig_id"], "a@b");
        assert!(match_route(&routes, "DELETE", "/v1/gigs").is_none());
        assert!(match_route(&routes, "GET", "/v1/gigs/").is_none());
    }

    #[test]
    fn repeated_query_parameters_join_with_commas() {
        let q = query_parameters("a=1&b=x+y&a=2");
        assert_eq!(q["a"], "1,2");
        assert_eq!(q["b"], "x y");
    }
}
