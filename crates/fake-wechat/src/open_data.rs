//! What the fake hands a front end from `wx.getUserInfo`: signed `rawData` and `encryptedData`
//! under the session_key of a login, so that decryption is exercised end to end.

use aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::FakeWeChat;
use crate::business::unix_now;

/// The four fields `wx.getUserInfo` gives the front end, as the front end posts them on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    /// The public profile, as JSON text.
    pub raw_data: String,
    /// `sha1(rawData + session_key)`, hex.
    pub signature: String,
    /// The profile with the openid and a watermark, AES-128-CBC under the session_key, base64.
    pub encrypted_data: String,
    /// The iv, base64.
    pub iv: String,
}

impl FakeWeChat {
    /// The user data WeChat would hand the front end of the first app's user who logged in
    /// with `code`, sealed under that login's session_key. `profile` is a JSON object of public
    /// fields (`nickName`, `avatarUrl`, `gender`, ...).
    pub fn user_data(&self, code: &str, profile: &serde_json::Value) -> UserData {
        self.user_data_in(&self.first().appid, code, profile)
    }

    /// The same for app `appid`'s user, with that app's watermark.
    pub fn user_data_in(&self, appid: &str, code: &str, profile: &serde_json::Value) -> UserData {
        let session_key = self.session_key_in(appid, code);
        let name = code.split('.').next().unwrap_or_default();
        let bound = self
            .app(appid)
            .is_some_and(|app| app.open_platform.load(std::sync::atomic::Ordering::SeqCst));
        let mut plain = match profile {
            serde_json::Value::Object(fields) => fields.clone(),
            _ => serde_json::Map::new(),
        };
        let raw_data = serde_json::Value::Object(plain.clone()).to_string();
        plain.insert("openId".into(), self.openid_in(appid, name).into());
        if bound {
            plain.insert("unionId".into(), self.unionid_for(name).into());
        }
        plain.insert(
            "watermark".into(),
            serde_json::json!({ "timestamp": unix_now(), "appid": appid }),
        );
        let (encrypted_data, iv) = encrypt_open_data(
            &session_key,
            serde_json::Value::Object(plain).to_string().as_bytes(),
        );
        let mut signature = Sha1::new();
        signature.update(raw_data.as_bytes());
        signature.update(session_key.as_bytes());
        UserData {
            signature: wxlogin_domain::to_hex(&signature.finalize()),
            raw_data,
            encrypted_data,
            iv,
        }
    }
}

/// Encrypts `plaintext` as WeChat does open data: AES-128-CBC, PKCS#7, a random iv. Returns
/// `(encryptedData, iv)` in base64. A `session_key` that is not base64 of 16 bytes gives an
/// empty ciphertext, which no decryptor accepts.
pub fn encrypt_open_data(session_key: &str, plaintext: &[u8]) -> (String, String) {
    let iv = *uuid::Uuid::new_v4().as_bytes();
    let key = STANDARD.decode(session_key).unwrap_or_default();
    let data = cbc::Encryptor::<Aes128>::new_from_slices(&key, &iv)
        .map(|c| c.encrypt_padded_vec::<Pkcs7>(plaintext))
        .unwrap_or_default();
    (STANDARD.encode(data), STANDARD.encode(iv))
}

#[derive(Deserialize)]
pub(crate) struct UserInfoRequest {
    code: String,
    /// The app logged in through (the first app if absent).
    #[serde(default)]
    appid: Option<String>,
    #[serde(flatten)]
    profile: serde_json::Map<String, serde_json::Value>,
}

/// `POST /fake/userinfo` `{"code": "<a login code>", "nickName": ...}`: not a WeChat API, but
/// what `wx.getUserInfo` would give the front end, for trying `/api/me/userinfo` with curl.
pub(crate) async fn user_info_endpoint(
    fake: actix_web::web::Data<FakeWeChat>,
    request: actix_web::web::Json<UserInfoRequest>,
) -> actix_web::HttpResponse {
    let request = request.into_inner();
    let profile = serde_json::Value::Object(request.profile);
    let data = match &request.appid {
        Some(appid) => fake.user_data_in(appid, &request.code, &profile),
        None => fake.user_data(&request.code, &profile),
    };
    actix_web::HttpResponse::Ok().json(data)
}
