//! `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP API, generated from the
//! routes' annotations and the error kinds, never written by hand. A test holds its paths and
//! methods to exactly the routes mounted, and its error kinds to exactly [`ApiErrorKind::ALL`].

use std::sync::OnceLock;

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
        routes::tokens::refresh,
        routes::tokens::revocations,
        routes::tokens::jwks,
        routes::account::me,
        routes::account::update_me,
        routes::account::delete_me,
        routes::account::user_info,
        routes::account::phone,
        routes::avatar::upload_avatar,
        routes::media::avatar,
        routes::push::push_url_check,
        routes::push::push,
        routes::health::healthz,
        routes::health::readyz,
        routes::description::openapi_json,
    ),
    components(schemas(ErrorBody, ApiErrorKind, routes::avatar::AvatarUpload)),
    tags(
        (name = "login", description = "Logging in and out"),
        (name = "tokens", description = "Refreshing tokens, and what other services need to verify them: the public keys and the revocation feed"),
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

/// The kinds each operation can answer besides those of its token and its body: what its use
/// case can fail with.
fn kinds_of(operation_id: &str) -> &'static [ApiErrorKind] {
    use ApiErrorKind as K;
    match operation_id {
        "login" => &[
            K::InvalidCode,
            K::UnknownApp,
            K::RiskyUser,
            K::AccountDisabled,
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
        "update_me" => &[K::ContentRejected, K::RateLimited, K::Unavailable],
        "upload_avatar" => &[
            K::InvalidImage,
            K::ContentRejected,
            K::RateLimited,
            K::Unavailable,
        ],
        "avatar" => &[K::NotFound, K::Unavailable],
        "readyz" => &[K::Unavailable],
        "refresh" => &[
            K::RefreshTokenInvalid,
            K::RefreshTokenReused,
            K::TokenExpired,
            K::SessionRevoked,
            K::AccountDisabled,
            K::Unavailable,
        ],
        "revocations" => &[K::InvalidRequest, K::Unavailable],
        "push_url_check" => &[K::PushRejected, K::NotFound],
        "push" => &[K::PushRejected, K::NotFound, K::Unavailable],
        _ => &[],
    }
}

/// The route whose handler is `operation_id` (a `HEAD` shares its `GET`'s handler).
fn route_of(operation_id: &str) -> Option<routes::Route> {
    routes::mounted()
        .into_iter()
        .find(|route| route.handler == operation_id)
}

/// Every kind an operation can answer, in the order of [`ApiErrorKind::ALL`]: its use case's,
/// and those its handler's signature brings (a token's, a body's).
pub fn error_kinds_of(operation_id: &str) -> Vec<ApiErrorKind> {
    use ApiErrorKind as K;
    let mut kinds: Vec<ApiErrorKind> = kinds_of(operation_id).to_vec();
    let signature = route_of(operation_id).map(|route| route.signature);
    if signature.is_some_and(|s| s.needs_token) {
        // Reading the session behind a token can find the store unreachable.
        kinds.extend([
            K::NotLoggedIn,
            K::TokenInvalid,
            K::TokenExpired,
            K::SessionRevoked,
            // A session a login opened while its account was being banned.
            K::AccountDisabled,
            K::Unavailable,
        ]);
    }
    if signature.is_some_and(|s| s.reads_body) {
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
    if route_of(&id).is_some_and(|route| route.signature.needs_token) {
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
mod tests;
