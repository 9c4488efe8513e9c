//! The HttpApi's `CorsConfiguration`, played as API Gateway plays it: a preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the gateway
//! itself, route or no route, and no function runs; every answer to an allowed origin gets
//! the configured headers, replacing any the function set. An origin not allowed gets no
//! CORS header at all, so the browser refuses to hand the answer to its page.

use serde_json::Value as Json;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

fn list(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items.iter().flat_map(list).collect(),
        // A CommaDelimitedList parameter resolves to one string.
        Json::String(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl Cors {
    /// From the resolved `CorsConfiguration`; null (the API has none) allows no origin, so
    /// every preflight gets no CORS header.
    pub fn from_configuration(configuration: &Json) -> Cors {
        Cors {
            allow_origins: list(&configuration["AllowOrigins"]),
            allow_methods: list(&configuration["AllowMethods"]).iter().map(|m| m.to_uppercase()).collect(),
            allow_headers: list(&configuration["AllowHeaders"]).iter().map(|h| h.to_lowercase()).collect(),
            expose_headers: list(&configuration["ExposeHeaders"]),
            max_age: configuration["MaxAge"].as_u64(),
        }
    }

    /// `*`, an exact origin, or a scheme with a wildcard (`https://*`).
    fn allows_origin(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|allowed| match allowed.strip_suffix('*') {
            Some(prefix) => origin.starts_with(prefix),
            None => allowed == origin,
        })
    }

    fn origin_header(&self, origin: &str) -> (&'static str, String) {
        let value = if self.allow_origins.iter().any(|o| o == "*") { "*".to_owned() } else { origin.to_owned() };
        ("access-control-allow-origin", value)
    }

    /// The headers of the gateway's answer to a preflight: empty when the origin, the
    /// method or a header it asks for is not allowed.
    pub fn preflight(&self, origin: &str, method: &str, headers: &str) -> Vec<(&'static str, String)> {
        let method_ok = self.allow_methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(method));
        let headers_ok = headers
            .split(',')
            .map(|h| h.trim().to_lowercase())
            .filter(|h| !h.is_empty())
            .all(|h| self.allow_headers.iter().any(|allowed| allowed == "*" || *allowed == h));
        if !self.allows_origin(origin) || !method_ok || !headers_ok {
            return Vec::new();
        }
        let mut answer = vec![
            self.origin_header(origin),
            ("access-control-allow-methods", self.allow_methods.join(",")),
            ("access-control-allow-headers", self.allow_headers.join(",")),
        ];
        if let Some(age) = self.max_age {
            answer.push(("access-control-max-age", age.to_string()));
        }
        answer
    }

    /// The headers added to a function's answer to a request from `origin`.
    pub fn on_answer(&self, origin: &str) -> Vec<(&'static str, String)> {
        if !self.allows_origin(origin) {
            return Vec::new();
        }
        let mut answer = vec![self.origin_header(origin)];
        if !self.expose_headers.is_empty() {
            answer.push(("access-control-expose-headers", self.expose_headers.join(",")));
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cors() -> Cors {
        Cors::from_configuration(&json!({
            "AllowOrigins": "https://app.example, http://127.0.0.1:*",
            "AllowMethods": ["GET", "post"],
            "AllowHeaders": ["Authorization", "content-type", "idempotency-key"],
            "ExposeHeaders": ["idempotent-replayed"],
            "MaxAge": 600,
        }))
    }

    #[test]
    fn an_allowed_origin_gets_the_configured_preflight_answer() {
        let answer = cors().preflight("https://app.example", "POST", "authorization, Idempotency-Key");
        assert_eq!(
            answer,
            vec![
                ("access-control-allow-origin", "https://app.example".to_owned()),
                ("access-control-allow-methods", "GET,POST".to_owned()),
                ("access-control-allow-headers", "authorization,content-type,idempotency-key".to_owned()),
                ("access-control-max-age", "600".to_owned()),
            ]
        );
        assert!(!cors().preflight("http://127.0.0.1:5173", "GET", "").is_empty(), "a wildcard origin");
    }

    #[test]
    fn another_origin_method_or_header_gets_no_cors_header() {
        assert!(cors().preflight("https://evil.example", "GET", "authorization").is_empty());
        assert!(cors().preflight("https://app.example.evil", "GET", "").is_empty());
        assert!(cors().preflight("https://app.example", "DELETE", "").is_empty());
        assert!(cors().preflight("https://app.example", "GET", "x-secret").is_empty());
        assert!(cors().on_answer("https://evil.example").is_empty());
        assert_eq!(cors().on_answer("https://app.example")[1].1, "idempotent-replayed");
    }
}
