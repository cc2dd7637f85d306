//! `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP API, generated from the
//! routes' annotations and the error kinds, never written by hand. A test holds its paths and
//! methods to exactly the routes mounted, and its error kinds to exactly [`ApiErrorKind::ALL`].

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiErrorKind, ErrorBody};
use crate::routes;

/// The description, as `utoipa` derives it from the annotated handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wxlogin",
        description = "The WeChat Mini Program login backend: exchange a `wx.login` code for a \
            login token, then call the protected routes with `Authorization: Bearer <token>`. \
            Every error is `{code, error, msg}`; branch on `error`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        routes::login::login,
        routes::login::logout,
        routes::account::me,
        routes::account::update_me,
        routes::account::delete_me,
        routes::account::user_info,
        routes::account::phone,
        routes::push::push_url_check,
        routes::push::push,
        routes::health::healthz,
        routes::health::readyz,
        openapi_json,
    ),
    components(schemas(ErrorBody, ApiErrorKind)),
    tags(
        (name = "login", description = "Logging in and out"),
        (name = "account", description = "The caller's account, and the data WeChat gives of it"),
        (name = "wechat", description = "What WeChat's servers call: message push"),
        (name = "operations", description = "Probes and this description"),
    ),
    modifiers(&Conventions),
)]
pub struct ApiDoc;

/// The description as served: built once, then the same bytes for every request.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| {
            format!("{{\"error\": \"the description does not serialize: {e}\"}}")
        })
    })
}

/// This description
#[utoipa::path(method(get, head), path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json",
        body = Object)))]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(document_json())
}

/// The operations that need a login token.
const PROTECTED: [&str; 6] = [
    "me",
    "update_me",
    "delete_me",
    "user_info",
    "phone",
    "logout",
];

/// The operations that read a JSON body, and so can answer its errors.
const WITH_BODY: [&str; 7] = [
    "login",
    "update_me",
    "delete_me",
    "user_info",
    "phone",
    "logout",
    "push",
];

/// The kinds each operation can answer besides those of its token and its body.
fn kinds_of(operation_id: &str) -> &'static [ApiErrorKind] {
    use ApiErrorKind as K;
    match operation_id {
        "login" => &[
            K::InvalidCode,
            K::UnknownApp,
            K::RiskyUser,
            K::RateLimited,
            K::WeChatError,
            K::WeChatUnavailable,
            K::Unavailable,
        ],
        "delete_me" => &[
            K::InvalidCode,
            K::ReauthFailed,
            K::RiskyUser,
            K::RateLimited,
            K::WeChatError,
            K::WeChatUnavailable,
            K::Unavailable,
        ],
        "user_info" => &[
            K::InvalidSignature,
            K::DecryptFailed,
            K::RateLimited,
            K::WeChatError,
            K::WeChatUnavailable,
            K::Unavailable,
        ],
        "phone" => &[
            K::InvalidCode,
            K::RiskyUser,
            K::RateLimited,
            K::WeChatError,
            K::WeChatUnavailable,
            K::Unavailable,
        ],
        "me" | "update_me" | "logout" | "readyz" => &[K::Unavailable],
        "push_url_check" => &[K::PushRejected, K::NotFound],
        "push" => &[K::PushRejected, K::NotFound, K::Unavailable],
        _ => &[],
    }
}

/// Every kind an operation can answer, in the order of [`ApiErrorKind::ALL`].
pub fn error_kinds_of(operation_id: &str) -> Vec<ApiErrorKind> {
    use ApiErrorKind as K;
    let mut kinds: Vec<ApiErrorKind> = kinds_of(operation_id).to_vec();
    if PROTECTED.contains(&operation_id) {
        kinds.extend([
            K::NotLoggedIn,
            K::TokenInvalid,
            K::TokenExpired,
            K::SessionRevoked,
        ]);
    }
    if WITH_BODY.contains(&operation_id) {
        kinds.extend([K::InvalidRequest, K::PayloadTooLarge]);
    }
    ApiErrorKind::ALL
        .into_iter()
        .filter(|k| kinds.contains(k))
        .collect()
}

/// What every operation shares, added to the derived description: the token schemes, the
/// error answers with an example per kind, `X-Request-Id`, and `HEAD` without a body.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Authorization: Bearer <token>`, as `/api/login` gave it",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bareToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The bare token in `Authorization`, as existing mini-program front ends send it",
            ))),
        );

        for item in doc.paths.paths.values_mut() {
            let head = item.head.is_some();
            for (method, operation) in [
                ("get", item.get.as_mut()),
                ("head", item.head.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
            ] {
                if let Some(operation) = operation {
                    describe(operation, method == "head");
                }
            }
            debug_assert!(!head || item.get.is_some(), "HEAD only where GET is");
        }
    }
}

fn describe(operation: &mut Operation, is_head: bool) {
    let id = operation.operation_id.clone().unwrap_or_default();
    if PROTECTED.contains(&id.as_str()) {
        operation.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("bareToken", Vec::<String>::new()),
        ]);
    }
    for kind in error_kinds_of(&id) {
        add_error(operation, kind);
    }
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(
            ParameterBuilder::new()
                .name("X-Request-Id")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Kept when sane (1 to 128 of `A-Za-z0-9-_.:`), made otherwise; echoed in the \
                     answer and the log",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        ));
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.headers.insert(
                "X-Request-Id".into(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .description(Some("This request's id, as in the server's log"))
                        .build(),
                ),
            );
            if is_head {
                response.content.clear();
            }
        }
    }
    if is_head {
        operation.operation_id = Some(format!("{id}_head"));
        operation.request_body = None;
    }
}

/// Adds `kind` to the operation's answer of its status: one answer per status, one example
/// per kind.
fn add_error(operation: &mut Operation, kind: ApiErrorKind) {
    let status = kind.status();
    let key = status.as_u16().to_string();
    let entry = operation.responses.responses.entry(key).or_insert_with(|| {
        let mut response = ResponseBuilder::new()
            .description(status.canonical_reason().unwrap_or("Error"))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
        if status.as_u16() == 401 {
            response = response.header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some("`Bearer`"))
                    .build(),
            );
        }
        RefOr::T(response.build())
    });
    let RefOr::T(response) = entry else {
        return;
    };
    response.description = match response.description.as_str() {
        d if d.contains('`') => format!("{d}, `{}`", kind.as_str()),
        d => format!("{d}: `{}`", kind.as_str()),
    };
    if let Some(RefOr::T(content)) = response.content.get_mut("application/json") {
        content.examples.insert(
            kind.as_str().into(),
            RefOr::T(
                ExampleBuilder::new()
                    .value(Some(serde_json::json!({
                        "code": status.as_u16(),
                        "error": kind.as_str(),
                        "msg": kind.default_msg(),
                    })))
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
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
            .map(|(path, method)| (path.to_owned(), method.to_owned()))
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
            // operation, and both are in the `ErrorBody` enum.
            if matches!(
                kind,
                ApiErrorKind::MethodNotAllowed | ApiErrorKind::Internal
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
    fn protected_routes_name_both_token_schemes_and_their_401s() {
        for (path, method, operation) in operations(&described()) {
            let id = operation["operationId"].as_str().unwrap_or_default();
            let protected = PROTECTED
                .iter()
                .any(|p| id == *p || id == format!("{p}_head"));
            assert_eq!(
                operation.get("security").is_some(),
                protected,
                "{method} {path}"
            );
            assert_eq!(
                operation["responses"].get("401").is_some(),
                protected,
                "{method} {path}"
            );
        }
    }
}
