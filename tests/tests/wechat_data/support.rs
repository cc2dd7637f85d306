//! The profile a user's WeChat data carries, and the body a front end posts with it.

use serde_json::{Value, json};
use wxlogin_fake_wechat::UserData;

pub(crate) fn profile() -> Value {
    json!({
        "nickName": "伊万 🐻",
        "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132",
        "gender": 1,
        "language": "zh_CN",
    })
}

/// The body a front end posts: what `wx.getUserInfo` resolved with, extra fields included.
pub(crate) fn body(data: &UserData) -> Value {
    json!({
        "rawData": data.raw_data,
        "signature": data.signature,
        "encryptedData": data.encrypted_data,
        "iv": data.iv,
        "userInfo": serde_json::from_str::<Value>(&data.raw_data).unwrap_or(Value::Null),
        "errMsg": "getUserInfo:ok",
    })
}
