//! CORS as API Gateway answers it (the HttpApi's `CorsConfiguration`, origins from the
//! `ApiAllowedOrigins` parameter; locally any port of 127.0.0.1 and localhost): the
//! gateway answers a preflight itself, on routes with no OPTIONS of their own, and only an
//! allowed origin gets the headers that let its page read the answer. Checked on the wire
//! and in a browser.

use peyman_e2e::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn preflight(api: &Api, path: &str, origin: &str, method: &str, headers: &str) -> Res {
    let asked =
        [("origin", origin), ("access-control-request-method", method), ("access-control-request-headers", headers)];
    api.send("OPTIONS", path, None, None, &asked).await
}

#[tokio::test]
async fn the_gateway_answers_preflights_for_allowed_origins_only() {
    let api = Api::default();
    let page = "http://127.0.0.1:5173";
    for (path, method) in [("/v1/orders", "GET"), ("/v1/offers/01J00000000000000000000000/accept", "POST")] {
        let r = preflight(&api, path, page, method, "authorization,content-type,idempotency-key").await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
        assert_eq!(r.header("access-control-allow-origin"), Some(page));
        assert!(r.header("access-control-allow-methods").unwrap().split(',').any(|m| m == method));
        let allowed = r.header("access-control-allow-headers").unwrap();
        assert_eq!(allowed, "authorization,content-type,idempotency-key");
        assert_eq!(r.header("access-control-max-age"), Some("600"));
    }
    // Another origin, a header not allowed, a method not allowed: no CORS header at all.
    for (origin, method, headers) in
        [("https://evil.example", "GET", "authorization"), (page, "GET", "x-debug"), (page, "TRACE", "")]
    {
        let r = preflight(&api, "/v1/orders", origin, method, headers).await;
        assert_eq!(r.header("access-control-allow-origin"), None, "{origin} {method} {headers}");
    }
    // The answers themselves: the allowed origin may read them (and the replay header), another may not.
    let buyer = token(&user("buyer"));
    let auth = format!("Bearer {buyer}");
    let mine = "/v1/me/notifications";
    let r = api.send("GET", mine, None, None, &[("origin", page), ("authorization", &auth)]).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some(page)), "{}", r.text);
    assert_eq!(r.header("access-control-expose-headers"), Some("idempotent-replayed"));
    let r = api.send("GET", mine, None, None, &[("origin", "https://evil.example"), ("authorization", &auth)]).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, None));
    // A refusal by the gateway itself is readable too, so a page can tell a lapsed login.
    let r = api.send("GET", mine, None, None, &[("origin", page)]).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (401, Some(page)));
}

/// Serves `page` to every request on a port of 127.0.0.1 of its own: the frontend's origin.
async fn frontend(page: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    page.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(page.as_bytes()).await;
            });
        }
    });
    origin
}

/// A page of another origin calls the API with a token and an Idempotency-Key, as a
/// frontend does: the browser sends its preflight, the gateway answers it, and the page
/// reads the answers. The same page opened from a file (origin `null`) cannot.
#[tokio::test]
async fn a_browser_page_of_an_allowed_origin_calls_the_api_and_another_cannot() {
    let Some(chromium) = chromium() else {
        return;
    };
    let api_base = std::env::var("PEYMAN_API").unwrap();
    let seller = user("seller");
    let page = format!(
        r#"<!doctype html><html><body><script>
const auth = {{ authorization: 'Bearer {token}' }};
const out = {{}};
// The GET first, then the PUT: sent at once, the GET could read what the PUT wrote.
fetch('{api_base}/v1/me/seller-settings', {{ headers: auth }})
  .then(r => r.json().then(b => {{ out.get = [r.status, b.custom_projects_enabled]; }}))
  .then(() => fetch('{api_base}/v1/me/seller-settings', {{ method: 'PUT', headers: {{ ...auth,
      'content-type': 'application/json', 'idempotency-key': 'browser-{seller}' }},
      body: JSON.stringify({{ custom_projects_enabled: true }}) }}))
  .then(r => {{ out.put = r.status; }})
  .catch(e => {{ out.error = String(e); }})
  .then(() => {{
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}});
</script></body></html>"#,
        token = token(&seller),
    );
    let origin = frontend(page.clone()).await;
    let url = format!("{origin}/");
    let seen = tokio::task::spawn_blocking(move || browse(chromium, &url)).await.unwrap();
    assert_eq!(seen["get"], serde_json::json!([200, false]), "{seen}");
    assert_eq!(seen["put"], 200, "{seen}");
    assert!(seen.get("error").is_none(), "{seen}");
    let settings = Api::default().get("/v1/me/seller-settings", &token(&seller)).await;
    assert_eq!(settings.ok(200)["custom_projects_enabled"], true, "the page's PUT landed");

    // From a file the page's origin is `null`: the browser refuses to hand it any answer.
    let file = std::env::temp_dir().join(format!("peyman-cors-{seller}.html"));
    std::fs::write(&file, page.replace(&format!("browser-{seller}"), &format!("file-{seller}"))).unwrap();
    let url = format!("file://{}", file.display());
    let seen: Value = tokio::task::spawn_blocking(move || browse(chromium, &url)).await.unwrap();
    assert!(seen["error"].as_str().is_some_and(|e| e.contains("Failed to fetch")), "{seen}");
    assert!(seen.get("get").is_none() && seen.get("put").is_none(), "{seen}");
    std::fs::remove_file(file).unwrap();
}
