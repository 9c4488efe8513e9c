//! Every route of the template is closed to callers without a valid token, exactly as
//! API Gateway's JWT authorizer closes it.

use peyman_e2e::*;

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { ulid::Ulid::new().to_string() } else { s.to_owned() })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_refuses_missing_forged_and_expired_tokens() {
    let api = Api::default();
    let template = peyman_local::local_template(&template_path()).unwrap();
    let routes: Vec<_> = template.routes().into_iter().filter(|r| r.authorized).collect();
    assert!(routes.len() >= 10, "the template's routes were read");
    let expired = peyman_local::tokens::mint("someone", &[], -600);
    let mut forged = token("someone");
    forged.replace_range(forged.len() - 4.., "AAAA");
    for route in routes {
        let path = concrete(&route.path);
        for bad in [None, Some("not-a-jwt"), Some(expired.as_str()), Some(forged.as_str())] {
            let r = api.send(&route.method, &path, bad, Some("{}"), &[]).await;
            assert_eq!(
                r.status,
                401,
                "{} {} with {:?}: {}",
                route.method,
                route.path,
                bad.map(|b| &b[..8.min(b.len())]),
                r.text
            );
        }
    }
}

#[tokio::test]
async fn unknown_routes_are_404_from_the_gateway() {
    let api = Api::default();
    let r = api.get("/v1/nothing-here", &token(&user("u"))).await;
    assert_eq!(r.status, 404);
    assert_eq!(api.send("DELETE", "/v1/gigs", Some(&token(&user("u"))), None, &[]).await.status, 404);
}
