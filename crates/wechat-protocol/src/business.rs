//! The calls beyond login: the access token, phone numbers, and the session_key check.
//! Requests are built and replies read here, without an HTTP client, like `code2session`.

use serde::Deserialize;
use serde_json::json;

use wxlogin_domain::{AccessToken, OpenId, PhoneInfo, SessionKey, StableToken, WeChatError};

use crate::reply::{ErrorPart, bad_reply, kind_of, parse_reply};
use crate::{WeChatConfig, session_signature};

/// `POST /cgi-bin/stable_token`: the URL and its JSON body (which holds the secret: never log it).
///
/// `force_refresh` invalidates the token every instance shares and is limited to 20 a day:
/// ask for it only when WeChat has refused the current token.
pub fn stable_token_request(config: &WeChatConfig, force_refresh: bool) -> (String, String) {
    let url = format!("{}/cgi-bin/stable_token", config.api_base);
    let body = json!({
        "grant_type": "client_credential",
        "appid": config.appid,
        "secret": config.secret.expose(),
        "force_refresh": force_refresh,
    });
    (url, body.to_string())
}

/// Reads a `stable_token` reply.
pub fn parse_stable_token(body: &[u8]) -> Result<StableToken, WeChatError> {
    #[derive(Deserialize)]
    struct Reply {
        access_token: String,
        expires_in: i64,
    }
    let reply: Reply = parse_reply("stable_token", body)?;
    if reply.access_token.is_empty() || reply.expires_in <= 0 {
        return Err(bad_reply(
            "stable_token: an empty token or a lifetime not above zero",
            None,
        ));
    }
    Ok(StableToken {
        access_token: AccessToken::new(reply.access_token),
        expires_in: reply.expires_in,
    })
}

/// `POST /wxa/business/getuserphonenumber`: the URL (holding the access token: never log it)
/// and its JSON body. The code must travel in the JSON body; as a query parameter WeChat
/// answers 40029.
pub fn phone_number_request(
    config: &WeChatConfig,
    access_token: &AccessToken,
    code: &str,
) -> (String, String) {
    let url = format!(
        "{}/wxa/business/getuserphonenumber?{}",
        config.api_base,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("access_token", access_token.expose())
            .finish()
    );
    (url, json!({ "code": code }).to_string())
}

/// Reads a `getuserphonenumber` reply; `countryCode` may be a string or a number.
pub fn parse_phone_number(body: &[u8]) -> Result<PhoneInfo, WeChatError> {
    #[derive(Deserialize)]
    struct Reply {
        phone_info: Info,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        phone_number: String,
        #[serde(default)]
        pure_phone_number: String,
        #[serde(default)]
        country_code: Option<serde_json::Value>,
    }
    let reply: Reply = parse_reply("getuserphonenumber", body)?;
    let info = reply.phone_info;
    if info.phone_number.is_empty() {
        return Err(bad_reply("getuserphonenumber: an empty phoneNumber", None));
    }
    let country_code = match info.country_code {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(bad_reply(
                format!(
                    "getuserphonenumber: countryCode is neither text nor a number but {}",
                    kind_of(&other)
                ),
                None,
            ));
        }
    };
    Ok(PhoneInfo {
        phone_number: info.phone_number,
        pure_phone_number: info.pure_phone_number,
        country_code,
    })
}

/// `GET /wxa/checksession`, signed with the HMAC of the empty string under the session_key.
/// The URL holds the access token and the openid: never log it.
pub fn check_session_url(
    config: &WeChatConfig,
    access_token: &AccessToken,
    openid: &OpenId,
    session_key: &SessionKey,
) -> String {
    format!(
        "{}/wxa/checksession?{}",
        config.api_base,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("access_token", access_token.expose())
            .append_pair("openid", openid.expose())
            .append_pair("signature", &session_signature(session_key, b""))
            .append_pair("sig_method", "hmac_sha256")
            .finish()
    )
}

/// The errcode `checksession` answers when the session_key is no longer the user's.
pub const STALE_SESSION_KEY: i64 = 87009;

/// Reads a `checksession` reply: `true` when the session_key is still the user's current one,
/// `false` on 87009; other errors as errors.
pub fn parse_check_session(body: &[u8]) -> Result<bool, WeChatError> {
    let reply: ErrorPart = serde_json::from_slice(body)
        .map_err(|e| bad_reply("checksession: not the JSON expected", Some(e)))?;
    match reply.errcode {
        0 => Ok(true),
        STALE_SESSION_KEY => Ok(false),
        other => Err(WeChatError::from_errcode(other, &reply.errmsg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxlogin_domain::AppSecret;

    fn config() -> WeChatConfig {
        WeChatConfig::new("wxappid", AppSecret::new("s&cret")).with_api_base("http://x")
    }

    #[test]
    fn stable_token_posts_the_credentials_as_json() {
        let (url, body) = stable_token_request(&config(), true);
        assert_eq!(url, "http://x/cgi-bin/stable_token");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            body,
            json!({"grant_type": "client_credential", "appid": "wxappid", "secret": "s&cret", "force_refresh": true})
        );
    }

    #[test]
    fn a_stable_token_reply_is_read() {
        let token = parse_stable_token(br#"{"access_token":"AT","expires_in":7200}"#).expect("ok");
        assert_eq!(token.access_token.expose(), "AT");
        assert_eq!(token.expires_in, 7200);
    }

    #[test]
    fn stable_token_errors_are_typed() {
        assert_eq!(
            parse_stable_token(
                br#"{"errcode":45009,"errmsg":"reach max api daily quota limit rid: 1"}"#
            ),
            Err(WeChatError::QuotaExhausted)
        );
        assert_eq!(
            parse_stable_token(br#"{"errcode":40125,"errmsg":"invalid appsecret"}"#),
            Err(WeChatError::BadCredentials { errcode: 40125 })
        );
        assert!(matches!(
            parse_stable_token(br#"{"access_token":"","expires_in":7200}"#),
            Err(WeChatError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_stable_token(b"<html>"),
            Err(WeChatError::InvalidResponse(_))
        ));
    }

    #[test]
    fn the_phone_code_travels_in_the_body_and_the_token_escaped_in_the_query() {
        let (url, body) = phone_number_request(&config(), &AccessToken::new("a+b"), "c0de");
        assert_eq!(
            url,
            "http://x/wxa/business/getuserphonenumber?access_token=a%2Bb"
        );
        assert_eq!(body, r#"{"code":"c0de"}"#);
    }

    #[test]
    fn country_code_is_read_as_a_string_or_a_number() {
        let as_string = br#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":{"timestamp":1,"appid":"wxappid"}}}"#;
        let as_number = br#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"+85261234567","purePhoneNumber":"61234567","countryCode":852}}"#;
        let a = parse_phone_number(as_string).expect("string country code");
        assert_eq!(
            (a.phone_number.as_str(), a.country_code.as_str()),
            ("13800138000", "86")
        );
        let b = parse_phone_number(as_number).expect("numeric country code");
        assert_eq!(
            (b.phone_number.as_str(), b.country_code.as_str()),
            ("+85261234567", "852")
        );
        assert!(matches!(
            parse_phone_number(
                br#"{"errcode":0,"phone_info":{"phoneNumber":"1","countryCode":[]}}"#
            ),
            Err(WeChatError::InvalidResponse(_))
        ));
    }

    #[test]
    fn phone_errors_are_typed() {
        assert_eq!(
            parse_phone_number(br#"{"errcode":40001,"errmsg":"invalid credential"}"#),
            Err(WeChatError::AccessTokenInvalid { errcode: 40001 })
        );
        assert_eq!(
            parse_phone_number(br#"{"errcode":42001,"errmsg":"access_token expired"}"#),
            Err(WeChatError::AccessTokenInvalid { errcode: 42001 })
        );
        assert_eq!(
            parse_phone_number(br#"{"errcode":40029,"errmsg":"invalid code"}"#),
            Err(WeChatError::InvalidCode)
        );
        assert!(matches!(
            parse_phone_number(br#"{"errcode":0,"errmsg":"ok"}"#),
            Err(WeChatError::InvalidResponse(_))
        ));
    }

    #[test]
    fn checksession_is_signed_with_the_hmac_of_the_empty_string() {
        // D1 of the WeChat facts.
        let url = check_session_url(
            &config(),
            &AccessToken::new("AT"),
            &OpenId::new("oUser"),
            &SessionKey::new("tiihtNczf5v6AKRyjwEUhQ=="),
        );
        assert_eq!(
            url,
            "http://x/wxa/checksession?access_token=AT&openid=oUser&signature=7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735&sig_method=hmac_sha256"
        );
    }

    #[test]
    fn checksession_says_current_stale_or_error() {
        assert_eq!(
            parse_check_session(br#"{"errcode":0,"errmsg":"ok"}"#),
            Ok(true)
        );
        assert_eq!(
            parse_check_session(br#"{"errcode":87009,"errmsg":"invalid signature"}"#),
            Ok(false)
        );
        assert_eq!(
            parse_check_session(br#"{"errcode":40001,"errmsg":"invalid credential"}"#),
            Err(WeChatError::AccessTokenInvalid { errcode: 40001 })
        );
    }
}
