//! The routes of the HTTP contract: the one table that mounts them, and what every route
//! shares (reading a JSON body, the `User` it answers). The handlers are in `routes/`, by area.

use std::time::{Duration, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use wxlogin_domain::User;

use crate::error::{ApiError, ApiErrorKind};

pub(crate) mod account;
pub(crate) mod avatar;
pub(crate) mod description;
pub(crate) mod health;
pub(crate) mod login;
pub(crate) mod media;
pub(crate) mod push;
mod signature;
pub(crate) mod tokens;

pub use description::ApiDescription;
pub use login::appid_from_referer;
pub use signature::Signature;

/// A mounted route, as the API description needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The path as OpenAPI writes it (`/wechat/push/{appid}`).
    pub path: &'static str,
    /// The method, lower case (`get`, `head`...).
    pub method: &'static str,
    /// The handler's name, which is the operation's id in the description.
    pub handler: &'static str,
    /// What the handler's arguments say it needs.
    pub signature: Signature,
}

/// The last segment of a handler's path as `stringify!` writes it.
fn handler_name(path: &'static str) -> &'static str {
    path.rsplit("::").next().unwrap_or(path).trim()
}

/// One table of every route: it mounts them ([`configure`]) and lists them ([`mounted`]), so
/// that the API description (`/openapi.json`) is held to exactly these, and takes from each
/// handler's signature whether it needs a token or reads a body.
macro_rules! routes {
    ($($path:literal => { $($method:ident: $handler:path),+ $(,)? }),+ $(,)?) => {
        /// Mounts every route, with JSON errors for wrong methods.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.service(resource($path)$(.route(web::$method().to($handler)))+); )+
        }

        /// Every route mounted.
        pub fn mounted() -> Vec<Route> {
            vec![$($(Route {
                path: $path,
                method: stringify!($method),
                handler: handler_name(stringify!($handler)),
                signature: signature::signature_of(&$handler),
            },)+)+]
        }
    };
}

routes! {
    "/api/login" => { post: login::login },
    "/api/me" => {
        get: account::me, head: account::me, put: account::update_me, delete: account::delete_me
    },
    "/api/me/avatar" => { post: avatar::upload_avatar },
    "/media/avatars/{name}" => { get: media::avatar, head: media::avatar },
    "/api/me/userinfo" => { post: account::user_info },
    "/api/me/phone" => { post: account::phone },
    "/api/logout" => { post: login::logout },
    "/api/token/refresh" => { post: tokens::refresh },
    "/api/token/revocations" => { get: tokens::revocations },
    "/.well-known/jwks.json" => { get: tokens::jwks, head: tokens::jwks },
    "/healthz" => { get: health::healthz, head: health::healthz },
    "/readyz" => { get: health::readyz, head: health::readyz },
    "/openapi.json" => { get: description::openapi_json, head: description::openapi_json },
    "/wechat/push/{appid}" => {
        get: push::push_url_check, head: push::push_url_check, post: push::push
    },
}

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiErrorKind::MethodNotAllowed.error())
}

/// The answer for paths no route serves.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiErrorKind::NotFound.error())
}

/// Reads a request body that must be a JSON object. Read as a value first because serde
/// would also take an array for a struct (`[]`, or `["code"]` for `{"code": ...}`).
pub(crate) fn json_object<T: serde::de::DeserializeOwned>(
    body: serde_json::Value,
) -> Result<T, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid_request("the body must be a JSON object"));
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::invalid_request(format!("the body does not fit: {e}")))
}

/// Reads `body` the way every route that takes one reads it, and `text` as a `Referer`: for
/// the fuzz target (`fuzz/`), which holds that no input panics. Not part of the API.
#[doc(hidden)]
pub fn read_every_body(body: &[u8], text: &str) {
    let _ = appid_from_referer(text);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let _ = json_object::<login::LoginRequest>(value.clone());
    if let Ok(profile) = json_object::<account::ProfileRequest>(value.clone()) {
        let _ = profile.edit().validate();
    }
    let _ = json_object::<account::UserInfoRequest>(value.clone());
    let _ = json_object::<account::PhoneRequest>(value.clone());
    let _ = json_object::<login::LogoutRequest>(value.clone());
    let _ = json_object::<tokens::RefreshRequest>(value.clone());
    let _ = json_object::<account::DeleteRequest>(value);
}

/// `User` as the contract shows it: no openid, no unionid, RFC 3339 times.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User, example = json!({
    "id": "0193a5f2-7c1e-7d4b-9a3e-2f1c0b9d8e7a", "nickName": "Olga", "avatarUrl": null,
    "gender": 2, "phoneNumber": null, "apps": ["wx00000000000000fe"],
    "createdAt": "2026-12-01T08:00:00Z", "updatedAt": "2026-12-01T08:00:00Z"
}))]
pub(crate) struct UserBody {
    /// The stable public id of the account, not derived from any openid.
    id: String,
    nick_name: Option<String>,
    avatar_url: Option<String>,
    /// WeChat's number: 0 unknown, 1 male, 2 female.
    #[schema(minimum = 0, maximum = 2)]
    gender: Option<i32>,
    /// As WeChat gave it (country code included outside mainland China); shown to its owner
    /// only.
    phone_number: Option<String>,
    /// The appids the account has logged in through.
    apps: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// Unix seconds as RFC 3339 (`2026-12-01T08:00:00Z`), as every answer writes times.
pub fn rfc3339(unix_secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_secs).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            nick_name: user.nick_name,
            avatar_url: user.avatar_url,
            gender: user.gender,
            phone_number: user.phone_number,
            apps: user.apps,
            created_at: rfc3339(user.created_at),
            updated_at: rfc3339(user.updated_at),
        }
    }
}
