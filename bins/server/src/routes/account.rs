//! The caller's account: `GET`, `PUT` and `DELETE /api/me`, and the data WeChat gives of it
//! (`POST /api/me/userinfo`, `/api/me/phone`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use wxlogin_core::{ProfileEdit, UserInfoData};

use super::{UserBody, json_object};
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller's account
#[utoipa::path(method(get, head), path = "/api/me", tag = "account",
    responses((status = 200, description = "The caller's account", body = UserBody)))]
pub(crate) async fn me(Authenticated(caller): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(caller.user))
}

/// `PUT /api/me`: absent fields stay, `null` clears, any other field is refused.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"nickName": "Olga", "avatarUrl": null}))]
pub(crate) struct ProfileRequest {
    /// At most 64 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    nick_name: Option<Option<String>>,
    /// An `http(s)` URL of at most 1024 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1024)]
    avatar_url: Option<Option<String>>,
}

impl ProfileRequest {
    /// The edit it asks for, to be validated by the core.
    pub(crate) fn edit(self) -> ProfileEdit {
        ProfileEdit {
            nick_name: self.nick_name,
            avatar_url: self.avatar_url,
        }
    }
}

/// Tells a field sent as `null` (`Some(None)`) from a field not sent (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Edit the caller's profile
///
/// A partial update: absent fields stay as they are, `null` clears one. The phone number and
/// the rest come from WeChat only.
#[utoipa::path(put, path = "/api/me", tag = "account", request_body = ProfileRequest,
    responses((status = 200, description = "The updated account", body = UserBody)))]
pub(crate) async fn update_me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: ProfileRequest = json_object(body.into_inner())?;
    let user = state.service.update_profile(&caller, body.edit()).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /api/me/userinfo`: what `wx.getUserInfo` returned; other fields it returns
/// (`userInfo`, `cloudID`, `errMsg`) may come along and are ignored.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserInfoRequest {
    /// `rawData` of `wx.getUserInfo`.
    raw_data: String,
    /// `signature`: sha1 of rawData and the session_key.
    signature: String,
    /// `encryptedData`, base64.
    encrypted_data: String,
    /// `iv`, base64.
    iv: String,
}

/// Fill the profile from `wx.getUserInfo`
///
/// Verifies `rawData` and decrypts `encryptedData` with the newest session_key of the caller in
/// the session's mini program; data of another app or person is refused.
#[utoipa::path(post, path = "/api/me/userinfo", tag = "account", request_body = UserInfoRequest,
    responses((status = 200, description = "The account with the profile WeChat gave", body = UserBody)))]
pub(crate) async fn user_info(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: UserInfoRequest = json_object(body.into_inner())?;
    let data = UserInfoData {
        raw_data: body.raw_data,
        signature: body.signature,
        encrypted_data: body.encrypted_data,
        iv: body.iv,
    };
    let user = state.service.apply_user_info(&caller, data).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /api/me/phone`: `{"code": "<getPhoneNumber code>"}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"}))]
pub(crate) struct PhoneRequest {
    /// The code the `getPhoneNumber` button gave.
    code: String,
}

/// Bind the phone number of a `getPhoneNumber` code
#[utoipa::path(post, path = "/api/me/phone", tag = "account", request_body = PhoneRequest,
    responses((status = 200, description = "The account with its phone number", body = UserBody)))]
pub(crate) async fn phone(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: PhoneRequest = json_object(body.into_inner())?;
    let user = state.service.bind_phone_number(&caller, &body.code).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `DELETE /api/me`: `{"code": "<a fresh wx.login code>"}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "0a1b2c3d4e5f6g7h8i9j"}))]
pub(crate) struct DeleteRequest {
    /// A fresh `wx.login` code of the same person, in the session's mini program.
    code: String,
}

/// Delete the account
///
/// Re-authenticates by a fresh `wx.login` code of the same person, then deletes the account
/// and everything attached to it, on every instance.
#[utoipa::path(delete, path = "/api/me", tag = "account", request_body = DeleteRequest,
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: DeleteRequest = json_object(body.into_inner())?;
    state.service.delete_account(&caller, &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}
