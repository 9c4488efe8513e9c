//! The HTTP pipeline every API function shares: identify the caller from the
//! authorizer's claims ([`identity`]), parse strictly, apply idempotency
//! ([`idempotency`]), and turn the one error type into `application/problem+json`
//! (`shell::problem`). Handlers only match their route keys: parse, call a flow, answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::flows::App;
use crate::flows::tracked::{self, ListQuery};
use crate::shell::answer::{Outcome, Reply};
use crate::shell::{idempotency, identity};
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::lifecycle::Actor;
use peyman_rules::tracked::Tracked;
use peyman_rules::validate;

/// A request as handlers see it.
#[derive(Debug)]
pub struct ApiRequest {
    /// API Gateway's route key, e.g. `GET /v1/gigs/{gig_id}`.
    pub route: String,
    pub caller: Caller,
    pub now: DateTime<Utc>,
    path: QueryMap,
    query: QueryMap,
    body: Vec<u8>,
}

impl ApiRequest {
    /// A path parameter that must be an id we minted.
    pub fn path_id(&self, name: &str) -> Result<String, ApiError> {
        let value = self.path.first(name).unwrap_or_default();
        validate::ulid(name, value)?;
        Ok(value.to_owned())
    }

    /// A path parameter that must be a payment provider's id.
    pub fn path_provider_id(&self, name: &str) -> Result<String, ApiError> {
        let value = self.path.first(name).unwrap_or_default();
        validate::provider_id(name, value)?;
        Ok(value.to_owned())
    }

    /// A path parameter that must be a user id.
    pub fn path_user(&self, name: &str) -> Result<String, ApiError> {
        let value = self.path.first(name).unwrap_or_default();
        validate::user_id(name, value)?;
        Ok(value.to_owned())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.first(name)
    }

    /// A query parameter that, when given, must be an id we minted.
    pub fn query_id(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(value) = self.query(name) else { return Ok(None) };
        validate::ulid(name, value)?;
        Ok(Some(value.to_owned()))
    }

    /// A page size from `?limit=` within `1..=max`, `default` when absent.
    pub fn limit(&self, default: i32, max: i32) -> Result<i32, ApiError> {
        match self.query("limit") {
            None => Ok(default),
            Some(raw) => raw.parse::<i32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                ApiError::malformed(
                    Code::InvalidLimit,
                    Some("limit"),
                    format!("limit is a whole number from 1 to {max}"),
                )
            }),
        }
    }

    /// `?role=buyer|seller` (required): which side of the caller's lists to read.
    /// `true` for the seller's side.
    pub fn role_is_seller(&self) -> Result<bool, ApiError> {
        match self.query("role") {
            Some("buyer") => Ok(false),
            Some("seller") => Ok(true),
            _ => Err(ApiError::malformed(Code::InvalidRole, Some("role"), "role is buyer or seller")),
        }
    }

    /// `?status=`, one of the states of `S`, if given.
    pub fn state<S: DeserializeOwned>(&self) -> Result<Option<S>, ApiError> {
        let Some(raw) = self.query("status") else { return Ok(None) };
        let state = serde_json::from_value::<S>(Value::String(raw.to_owned())).map_err(|_| {
            ApiError::malformed(Code::InvalidStatus, Some("status"), format!("{raw:?} is not a status"))
        })?;
        Ok(Some(state))
    }

    /// `?status=`, one of the states of `S`, if given, as its name.
    pub fn status<S: DeserializeOwned>(&self) -> Result<Option<String>, ApiError> {
        self.state::<S>()?;
        Ok(self.query("status").map(str::to_owned))
    }

    /// Which of the caller's entities of kind `T` to list: `?role=buyer|seller` picks
    /// the side, `?status=` filters by state, `?limit=` and `?cursor=` page.
    pub fn list_query<T: Tracked>(&self) -> Result<ListQuery, ApiError> {
        Ok(ListQuery {
            as_seller: self.role_is_seller()?,
            status: self.status::<T::State>()?,
            limit: self.limit(20, 100)?,
            cursor: self.query("cursor").map(str::to_owned),
        })
    }

    /// A body that may be absent (an action without parameters); if present it must be
    /// an empty JSON object.
    pub fn no_body(&self) -> Result<(), ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Empty {}
        self.json::<Empty>().map(|_| ())
    }

    /// The body as `T`, strictly: unknown fields, wrong types and trailing data are
    /// refused with the offending field named.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::malformed(Code::MalformedJson, None, "a JSON body is required"));
        }
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            // serde reports some shape errors (two keys for one enum) as syntax errors;
            // a body that is valid JSON is never "malformed".
            let valid_json = serde_json::from_slice::<serde::de::IgnoredAny>(&self.body).is_ok();
            (body_error(&path, e.into_inner(), valid_json), valid_json)
        });
        let value = match parsed {
            Ok(value) => value,
            // JSON (and the OpenAPI document's `integer`) counts 12.0 as a whole number;
            // serde does not. Such a body is read again with its whole floats as integers.
            Err((error, true)) => return self.with_whole_numbers().ok_or(error)?,
            Err((error, false)) => return Err(error),
        };
        de.end().map_err(|e| body_error(".", e, false))?;
        Ok(value)
    }

    /// The body read again with every whole-valued float (`12.0`) as an integer, if it
    /// has any; `None` when it has none (the first reading's error stands).
    fn with_whole_numbers<T: DeserializeOwned>(&self) -> Option<Result<T, ApiError>> {
        fn whole(value: &mut Value) -> bool {
            match value {
                Value::Number(n) if n.is_f64() => {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    // Within ±2^53 a float is exact, so the integer is the one meant.
                    if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                        *value = Value::from(f as i64);
                        return true;
                    }
                    false
                }
                // Every member is converted, so no short-circuiting `any`.
                Value::Array(items) => items.iter_mut().map(whole).filter(|changed| *changed).count() > 0,
                Value::Object(map) => map.values_mut().map(whole).filter(|changed| *changed).count() > 0,
                _ => false,
            }
        }
        let mut value: Value = serde_json::from_slice(&self.body).ok()?;
        if !whole(&mut value) {
            return None;
        }
        Some(serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            body_error(&path, e.into_inner(), true)
        }))
    }
}

/// Classifies a serde error into our codes, naming the field where serde knows it.
fn body_error(path: &str, error: serde_json::Error, valid_json: bool) -> ApiError {
    use serde_json::error::Category;
    let message = error.to_string();
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io if valid_json => ApiError::Invalid {
            code: Code::InvalidValue,
            field: Some(path.trim_start_matches('.').to_owned()),
            detail: message,
        },
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::malformed(Code::MalformedJson, None, format!("the body is not valid JSON: {message}"))
        }
        Category::Data => {
            // serde names the field between backticks: "unknown field `x`, expected …".
            let named = message.split('`').nth(1).unwrap_or_default();
            let join = |name: &str| match path {
                "." | "" => name.to_owned(),
                parent if parent.ends_with(name) => parent.to_owned(),
                parent => format!("{parent}.{name}"),
            };
            let (code, field) = if message.starts_with("unknown field") {
                (Code::UnknownField, join(named))
            } else if message.starts_with("missing field") {
                (Code::MissingField, join(named))
            } else if message.starts_with("unknown variant") {
                (Code::InvalidValue, path.to_owned())
            } else {
                (Code::InvalidType, path.to_owned())
            };
            let field = if field.is_empty() || field == "." { "body".to_owned() } else { field };
            ApiError::Invalid { code, field: Some(field), detail: message }
        }
    }
}

/// The body exactly as received (API Gateway's base64 already undone).
pub fn body_bytes(body: &Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.as_bytes().to_vec(),
        Body::Binary(bytes) => bytes.clone(),
        _ => Vec::new(),
    }
}

/// Reads the route key and the verified claims that API Gateway put in the context.
fn route_and_claims(request: &Request) -> (String, BTreeMap<String, String>) {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let claims = ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| jwt.claims.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            (ctx.route_key.clone().unwrap_or_default(), claims)
        }
        _ => (String::new(), BTreeMap::new()),
    }
}

/// Serves one API Gateway request with `route`.
pub async fn serve(
    app: &App,
    request: Request,
    route: impl AsyncFnOnce(&App, &ApiRequest) -> Result<Reply, ApiError>,
) -> Response<Body> {
    let (route_key, claims) = route_and_claims(&request);
    let claims = claims.into_iter().collect();
    let caller = match identity::caller(&claims, &app.config.groups_claim) {
        Ok(caller) => caller,
        Err(error) => return Outcome::from(Err(error)).into_response(),
    };
    let idempotency_key = request.headers().get(idempotency::HEADER).map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let mutating = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let raw_path = request.raw_http_path().to_owned();
    let api = ApiRequest {
        route: route_key,
        caller,
        now: Utc::now(),
        path: request.path_parameters(),
        query: request.query_string_parameters(),
        body: body_bytes(request.body()),
    };
    let outcome = match idempotency_key.filter(|_| mutating) {
        None => Outcome::from(route(app, &api).await),
        Some(key) => {
            let attempt = async {
                idempotency::check_key(&key)?;
                let hash = idempotency::payload_hash(&api.route, &raw_path, &api.body);
                idempotency::run(app, &api.caller.user_id, &key, &hash, api.now, async || {
                    Outcome::from(route(app, &api).await)
                })
                .await
            };
            match attempt.await {
                Ok(outcome) => outcome,
                Err(error) => Outcome::from(Err(error)),
            }
        }
    };
    outcome.into_response()
}

/// How a kind of entity shows itself to a caller in the given role.
pub type View<T> = fn(&T, Option<Actor>, DateTime<Utc>) -> Value;

/// The caller's entities of one kind, newest first, one page.
pub async fn list<T: Tracked>(app: &App, req: &ApiRequest, view: View<T>) -> Result<Reply, ApiError> {
    let page = tracked::list::<T>(app, &req.caller, &req.list_query::<T>()?).await?;
    let items: Vec<_> = page.items.iter().map(|e| view(e, e.role_of(&req.caller), req.now)).collect();
    Reply::ok(serde_json::json!({ "items": items, "next_cursor": page.next_cursor }))
}

/// One entity the caller may see, with its timeline and whether the chain verifies.
pub async fn with_history<T: Tracked>(app: &App, req: &ApiRequest, id: &str, view: View<T>) -> Result<Reply, ApiError> {
    let (entity, role) = tracked::visible::<T>(app, id, &req.caller).await?;
    let mut body = view(&entity, Some(role), req.now);
    body["history"] = tracked::history(app, &entity).await?;
    Reply::ok(body)
}

/// The answer for a route key this function does not serve (a template mismatch).
pub fn unknown_route(request: &ApiRequest) -> Result<Reply, ApiError> {
    Err(ApiError::internal(format!("route {:?} is not served by this function", request.route)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::problem;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn parse(body: &str) -> Result<Body, ApiError> {
        let request = ApiRequest {
            route: String::new(),
            caller: Caller { user_id: "u".into(), is_support: false },
            now: Utc::now(),
            path: QueryMap::default(),
            query: QueryMap::default(),
            body: body.as_bytes().to_vec(),
        };
        request.json()
    }

    fn code_and_field(r: Result<Body, ApiError>) -> (u16, String, Option<String>) {
        let p = problem::problem(&r.unwrap_err());
        (p.status, p.code, p.field)
    }

    #[test]
    fn malformed_json_is_400() {
        assert_eq!(code_and_field(parse("{")).0, 400);
        assert_eq!(code_and_field(parse("")).1, "malformed_json");
        assert_eq!(code_and_field(parse(r#"{"title":"a"} x"#)).0, 400);
    }

    #[test]
    fn a_whole_float_is_the_integer_and_a_fraction_is_refused_with_its_field() {
        let body = parse(r#"{"title":"a","inner":{"n":12.0}}"#).expect("12.0 is a whole number");
        assert_eq!(body.inner.map(|i| i.n), Some(12));
        assert_eq!(
            code_and_field(parse(r#"{"title":"a","inner":{"n":12.5}}"#)),
            (422, "invalid_type".into(), Some("inner.n".into()))
        );
        // Another error in a body with a whole float is still reported with its field.
        assert_eq!(
            code_and_field(parse(r#"{"title":"a","inner":{"n":1.0,"m":2}}"#)),
            (422, "unknown_field".into(), Some("inner.m".into()))
        );
    }

    #[test]
    fn data_errors_name_their_field() {
        assert_eq!(code_and_field(parse(r#"{"title":"a","x":1}"#)), (422, "unknown_field".into(), Some("x".into())));
        assert_eq!(code_and_field(parse(r#"{}"#)), (422, "missing_field".into(), Some("title".into())));
        assert_eq!(code_and_field(parse(r#"{"title":5}"#)), (422, "invalid_type".into(), Some("title".into())));
        assert_eq!(
            code_and_field(parse(r#"{"title":"a","inner":{"n":1,"m":2}}"#)),
            (422, "unknown_field".into(), Some("inner.m".into()))
        );
        assert_eq!(
            code_and_field(parse(r#"{"title":"a","inner":{"n":-1}}"#)),
            (422, "invalid_type".into(), Some("inner.n".into()))
        );
    }
}
