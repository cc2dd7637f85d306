//! Content security v2: `wxa/msg_sec_check` checks a text and answers at once;
//! `wxa/media_check_async` takes an image's URL and answers with a `trace_id`, the verdict
//! coming later in a `wxa_media_check` push (read in `media_check_push.rs`). Requests are built
//! and replies read here, without an HTTP client, like the other business calls.

use serde::Deserialize;
use serde_json::json;

use wxlogin_domain::{AccessToken, ContentVerdict, OpenId, Suggest, WeChatError};

use crate::WeChatConfig;
use crate::reply::{bad_reply, kind_of, parse_reply};

/// The longest text `msg_sec_check` takes, in characters.
pub const MSG_SEC_CHECK_MAX_CHARS: usize = 2500;

/// The label of a verdict WeChat gave no label for (v1 pushes never carry one). WeChat's own
/// labels start at 100 ("normal").
pub const NO_LABEL: i64 = 0;

/// The scene wxlogin checks content in: 1, a profile (2 comment, 3 forum, 4 social log).
const SCENE_PROFILE: u8 = 1;

/// `media_type` 2: an image (1 is audio).
const MEDIA_TYPE_IMAGE: u8 = 2;

/// `POST {api_base}{path}?access_token=...`. The token goes in the URL only: in the body
/// WeChat answers 47001. The URL holds it: never log it.
fn url_with_token(config: &WeChatConfig, path: &str, access_token: &AccessToken) -> String {
    format!(
        "{}{path}?{}",
        config.api_base,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("access_token", access_token.expose())
            .finish()
    )
}

/// `POST /wxa/msg_sec_check`, version 2, scene 1 (a profile): the URL (holding the access
/// token: never log it) and the JSON body with `content` checked in the name of `openid`.
pub fn msg_sec_check_request(
    config: &WeChatConfig,
    access_token: &AccessToken,
    openid: &OpenId,
    content: &str,
) -> (String, String) {
    let body = json!({
        "content": content,
        "version": 2,
        "scene": SCENE_PROFILE,
        "openid": openid.expose(),
    });
    (
        url_with_token(config, "/wxa/msg_sec_check", access_token),
        body.to_string(),
    )
}

/// Reads a `msg_sec_check` reply. errcode 0 only says the check ran: the verdict is
/// `result.suggest`, so a success without a `result`, or with a `suggest` not known, is an
/// invalid response, never a pass. `label` comes as a number or as a string.
pub fn parse_msg_sec_check(body: &[u8]) -> Result<ContentVerdict, WeChatError> {
    #[derive(Deserialize)]
    struct Reply {
        result: Option<Verdict>,
    }
    #[derive(Deserialize)]
    struct Verdict {
        suggest: String,
        #[serde(default)]
        label: Option<serde_json::Value>,
    }
    let reply: Reply = parse_reply("msg_sec_check", body)?;
    let Some(verdict) = reply.result else {
        return Err(bad_reply("msg_sec_check: a success without a result", None));
    };
    let suggest = suggest_from(&verdict.suggest).ok_or_else(|| {
        bad_reply(
            format!(
                "msg_sec_check: a suggest of {} characters that is not pass, review or risky",
                verdict.suggest.chars().count()
            ),
            None,
        )
    })?;
    let label = match verdict.label {
        None | Some(serde_json::Value::Null) => NO_LABEL,
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad_reply("msg_sec_check: a label that is not a whole number", None))?,
        Some(serde_json::Value::String(s)) => label_from_text(&s)
            .ok_or_else(|| bad_reply("msg_sec_check: a label string that is not a number", None))?,
        Some(other) => {
            return Err(bad_reply(
                format!(
                    "msg_sec_check: a label that is neither a number nor a string but {}",
                    kind_of(&other)
                ),
                None,
            ));
        }
    };
    Ok(ContentVerdict { suggest, label })
}

/// `POST /wxa/media_check_async`, an image, version 2, scene 1: the URL (holding the access
/// token: never log it) and the JSON body. `media_url` must stay downloadable for 30 minutes.
pub fn media_check_async_request(
    config: &WeChatConfig,
    access_token: &AccessToken,
    openid: &OpenId,
    media_url: &str,
) -> (String, String) {
    let body = json!({
        "media_url": media_url,
        "media_type": MEDIA_TYPE_IMAGE,
        "version": 2,
        "scene": SCENE_PROFILE,
        "openid": openid.expose(),
    });
    (
        url_with_token(config, "/wxa/media_check_async", access_token),
        body.to_string(),
    )
}

/// Reads a `media_check_async` reply: the `trace_id` the verdict's push will carry.
pub fn parse_media_check_async(body: &[u8]) -> Result<String, WeChatError> {
    #[derive(Deserialize)]
    struct Reply {
        trace_id: Option<String>,
    }
    let reply: Reply = parse_reply("media_check_async", body)?;
    reply
        .trace_id
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| bad_reply("media_check_async: a success without a trace_id", None))
}

/// WeChat's `suggest` word, in any case; `None` for any other word.
pub(crate) fn suggest_from(text: &str) -> Option<Suggest> {
    let text = text.trim();
    [
        ("pass", Suggest::Pass),
        ("review", Suggest::Review),
        ("risky", Suggest::Risky),
    ]
    .into_iter()
    .find(|(word, _)| text.eq_ignore_ascii_case(word))
    .map(|(_, suggest)| suggest)
}

/// A label sent as text (`"100"`, as real pushes do).
pub(crate) fn label_from_text(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxlogin_domain::AppSecret;

    fn config() -> WeChatConfig {
        WeChatConfig::new("wxappid", AppSecret::new("s&cret")).with_api_base("http://x")
    }

    fn verdict(suggest: Suggest, label: i64) -> Result<ContentVerdict, WeChatError> {
        Ok(ContentVerdict { suggest, label })
    }

    #[test]
    fn msg_sec_check_sends_the_text_as_version_2_scene_1_and_the_token_in_the_query_only() {
        let (url, body) = msg_sec_check_request(
            &config(),
            &AccessToken::new("a+b"),
            &OpenId::new("oUser"),
            "小明 & co",
        );
        assert_eq!(url, "http://x/wxa/msg_sec_check?access_token=a%2Bb");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            body,
            json!({"content": "小明 & co", "version": 2, "scene": 1, "openid": "oUser"})
        );
    }

    #[test]
    fn the_verdict_is_read_from_result_suggest() {
        let reply = |suggest: &str, label: &str| {
            format!(
                r#"{{"errcode":0,"errmsg":"ok","trace_id":"t1","result":{{"suggest":"{suggest}","label":{label}}},"detail":[{{"strategy":"content_model","errcode":0,"suggest":"{suggest}","label":{label},"prob":90}}]}}"#
            )
        };
        assert_eq!(
            parse_msg_sec_check(reply("pass", "100").as_bytes()),
            verdict(Suggest::Pass, 100)
        );
        assert_eq!(
            parse_msg_sec_check(reply("review", "21000").as_bytes()),
            verdict(Suggest::Review, 21000)
        );
        assert_eq!(
            parse_msg_sec_check(reply("risky", "20001").as_bytes()),
            verdict(Suggest::Risky, 20001)
        );
    }

    #[test]
    fn a_label_is_read_as_a_number_or_as_a_string() {
        assert_eq!(
            parse_msg_sec_check(br#"{"errcode":0,"result":{"suggest":"risky","label":"20002"}}"#),
            verdict(Suggest::Risky, 20002)
        );
        assert_eq!(
            parse_msg_sec_check(br#"{"errcode":0,"result":{"suggest":"pass"}}"#),
            verdict(Suggest::Pass, NO_LABEL)
        );
        for bad in [
            &br#"{"errcode":0,"result":{"suggest":"risky","label":"porn"}}"#[..],
            br#"{"errcode":0,"result":{"suggest":"risky","label":[20002]}}"#,
            br#"{"errcode":0,"result":{"suggest":"risky","label":2.5}}"#,
        ] {
            assert!(
                matches!(
                    parse_msg_sec_check(bad),
                    Err(WeChatError::InvalidResponse(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn errcode_zero_without_a_known_verdict_is_never_a_pass() {
        for bad in [
            &br#"{"errcode":0,"errmsg":"ok"}"#[..],
            br#"{"errcode":0,"errmsg":"ok","trace_id":"t1"}"#,
            br#"{"errcode":0,"result":{"label":100}}"#,
            br#"{"errcode":0,"result":{"suggest":"block","label":100}}"#,
            br#"{"errcode":0,"result":null}"#,
            b"<html>",
        ] {
            assert!(
                matches!(
                    parse_msg_sec_check(bad),
                    Err(WeChatError::InvalidResponse(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn content_security_errors_are_typed() {
        assert_eq!(
            parse_msg_sec_check(br#"{"errcode":45009,"errmsg":"reach max api daily quota limit"}"#),
            Err(WeChatError::QuotaExhausted)
        );
        assert_eq!(
            parse_msg_sec_check(br#"{"errcode":40001,"errmsg":"invalid credential"}"#),
            Err(WeChatError::AccessTokenInvalid { errcode: 40001 })
        );
        assert_eq!(
            parse_msg_sec_check(br#"{"errcode":-1,"errmsg":"system error"}"#),
            Err(WeChatError::Busy)
        );
        assert!(matches!(
            parse_msg_sec_check(br#"{"errcode":44002,"errmsg":"empty post data"}"#),
            Err(WeChatError::Api { errcode: 44002, .. })
        ));
        assert_eq!(
            parse_media_check_async(br#"{"errcode":45009,"errmsg":"quota"}"#),
            Err(WeChatError::QuotaExhausted)
        );
    }

    #[test]
    fn media_check_async_sends_an_image_url_as_version_2_scene_1() {
        let (url, body) = media_check_async_request(
            &config(),
            &AccessToken::new("AT"),
            &OpenId::new("oUser"),
            "https://cdn.example/avatars/ab12.jpg",
        );
        assert_eq!(url, "http://x/wxa/media_check_async?access_token=AT");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            body,
            json!({"media_url": "https://cdn.example/avatars/ab12.jpg", "media_type": 2,
                   "version": 2, "scene": 1, "openid": "oUser"})
        );
    }

    #[test]
    fn media_check_async_answers_the_trace_id_or_an_invalid_response() {
        assert_eq!(
            parse_media_check_async(
                br#"{"errcode":0,"errmsg":"ok","trace_id":"60ae120f-371d5872-7941a05b"}"#
            )
            .as_deref(),
            Ok("60ae120f-371d5872-7941a05b")
        );
        for bad in [
            &br#"{"errcode":0,"errmsg":"ok"}"#[..],
            br#"{"errcode":0,"trace_id":""}"#,
            br#"{"errcode":0,"trace_id":7}"#,
        ] {
            assert!(
                matches!(
                    parse_media_check_async(bad),
                    Err(WeChatError::InvalidResponse(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
