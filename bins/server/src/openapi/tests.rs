//! The description held to the routes mounted and to the error kinds.

use std::collections::BTreeSet;

use super::*;

fn described() -> serde_json::Value {
    serde_json::from_str(document_json()).expect("the description is JSON")
}

fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

#[test]
fn the_description_is_openapi_3_1() {
    let doc = described();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert_eq!(doc["info"]["title"], "wxlogin");
}

#[test]
fn every_mounted_route_is_described_and_nothing_else() {
    let mounted: BTreeSet<(String, String)> = routes::mounted()
        .into_iter()
        .map(|route| (route.path.to_owned(), route.method.to_owned()))
        .collect();
    let described: BTreeSet<(String, String)> = operations(&described())
        .into_iter()
        .map(|(path, method, _)| (path, method))
        .collect();
    let undescribed: Vec<_> = mounted.difference(&described).collect();
    let unmounted: Vec<_> = described.difference(&mounted).collect();
    assert!(
        undescribed.is_empty(),
        "mounted, not described: {undescribed:?}"
    );
    assert!(
        unmounted.is_empty(),
        "described, not mounted: {unmounted:?}"
    );
}

#[test]
fn operation_ids_are_unique_and_head_has_no_body() {
    let mut ids = BTreeSet::new();
    for (path, method, operation) in operations(&described()) {
        let id = operation["operationId"].as_str().expect("an operation id");
        assert!(ids.insert(id.to_owned()), "{id} twice");
        if method == "head" {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                assert!(
                    response.get("content").is_none(),
                    "HEAD {path} {status} has a body"
                );
            }
        }
    }
}

#[test]
fn every_error_kind_a_route_can_send_has_an_example_under_its_status() {
    let mut seen = BTreeSet::new();
    for (path, _, operation) in operations(&described()) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let examples = &response["content"]["application/json"]["examples"];
            for (kind, example) in examples.as_object().into_iter().flatten() {
                assert_eq!(example["value"]["error"], kind.as_str(), "{path}");
                assert_eq!(
                    example["value"]["code"].to_string(),
                    *status,
                    "{path} {kind}"
                );
                seen.insert(kind.clone());
            }
        }
    }
    for kind in ApiErrorKind::ALL {
        // 405 is what the methods a path lacks answer, 500 a bug: neither belongs to an
        // operation, and both are in the `ErrorBody` enum. `admin_unauthorized` is the admin
        // listener's, described in its own document.
        if matches!(
            kind,
            ApiErrorKind::MethodNotAllowed
                | ApiErrorKind::Internal
                | ApiErrorKind::AdminUnauthorized
        ) {
            continue;
        }
        assert!(
            seen.contains(kind.as_str()),
            "{} is never described",
            kind.as_str()
        );
    }
    let listed = &described()["components"]["schemas"]["ApiErrorKind"]["enum"];
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(ApiErrorKind::ALL.len())
    );
}

#[test]
fn routes_whose_handler_takes_the_caller_name_both_token_schemes_and_their_401s() {
    let doc = described();
    let mut protected = 0;
    for route in routes::mounted() {
        let operation = &doc["paths"][route.path][route.method];
        let needs_token = route.signature.needs_token;
        protected += usize::from(needs_token);
        let (path, method) = (route.path, route.method);
        assert_eq!(
            operation.get("security").is_some(),
            needs_token,
            "{method} {path}"
        );
        // A refresh answers 401s of its own (its refresh token's), without a bearer token.
        let refreshes = route.handler == "refresh";
        assert_eq!(
            operation["responses"].get("401").is_some(),
            needs_token || refreshes,
            "{method} {path}"
        );
    }
    // GET, HEAD, PUT, DELETE /api/me, userinfo, phone, avatar, logout.
    assert_eq!(protected, 8);
}

#[test]
fn routes_that_read_a_body_or_a_query_describe_its_errors_and_no_other_route_does() {
    let doc = described();
    // The revocation feed reads its cursor and wait from the query.
    let reads_query = |handler: &str| handler == "revocations";
    for route in routes::mounted() {
        let operation = &doc["paths"][route.path][route.method];
        let answers_invalid_request = operation["responses"]["400"]["content"]["application/json"]
            ["examples"]
            .get("invalid_request")
            .is_some();
        assert_eq!(
            answers_invalid_request,
            route.signature.reads_body || reads_query(route.handler),
            "{} {}",
            route.method,
            route.path
        );
    }
}
