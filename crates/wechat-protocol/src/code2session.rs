use serde::Deserialize;

use wxlogin_domain::{OpenId, SessionKey, UnionId, WeChatError, WeChatSession};

use crate::WeChatConfig;
use crate::reply::bad_reply;

/// The URL of `GET /sns/jscode2session` for `code`, with every parameter escaped.
pub fn code2session_url(config: &WeChatConfig, code: &str) -> String {
    let mut url = format!("{}/sns/jscode2session?", config.api_base);
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("appid", &config.appid)
            .append_pair("secret", config.secret.expose())
            .append_pair("js_code", code)
            .append_pair("grant_type", "authorization_code")
            .finish(),
    );
    url
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
}

/// Reads a `jscode2session` reply body, whatever content type it came with.
pub fn parse_code2session(body: &[u8]) -> Result<WeChatSession, WeChatError> {
    let reply: Reply = serde_json::from_slice(body).map_err(|e| {
        bad_reply(
            format!("code2session: not the JSON expected ({} bytes)", body.len()),
            Some(e),
        )
    })?;
    if reply.errcode != 0 {
        return Err(WeChatError::from_errcode(reply.errcode, &reply.errmsg));
    }
    let (Some(openid), Some(session_key)) = (
        reply.openid.filter(|s| !s.is_empty()),
        reply.session_key.filter(|s| !s.is_empty()),
    ) else {
        return Err(bad_reply(
            "code2session: a success without openid or session_key",
            None,
        ));
    };
    Ok(WeChatSession {
        openid: OpenId::new(openid),
        session_key: SessionKey::new(session_key),
        unionid: reply.unionid.filter(|s| !s.is_empty()).map(UnionId::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxlogin_domain::AppSecret;

    #[test]
    fn the_url_carries_every_parameter_escaped() {
        let config =
            WeChatConfig::new("wxappid", AppSecret::new("s&cret")).with_api_base("http://x/");
        assert_eq!(
            code2session_url(&config, "a b+c"),
            "http://x/sns/jscode2session?appid=wxappid&secret=s%26cret&js_code=a+b%2Bc&grant_type=authorization_code"
        );
    }

    #[test]
    fn a_success_without_unionid_has_none() {
        let session = parse_code2session(br#"{"openid":"o1","session_key":"k"}"#).expect("success");
        assert_eq!(session.openid.expose(), "o1");
        assert_eq!(session.session_key.expose(), "k");
        assert_eq!(session.unionid, None);
    }

    #[test]
    fn a_success_with_unionid_keeps_it() {
        let session = parse_code2session(br#"{"openid":"o1","session_key":"k","unionid":"u1"}"#)
            .expect("success");
        assert_eq!(session.unionid.as_ref().map(UnionId::expose), Some("u1"));
    }

    #[test]
    fn errcode_zero_with_fields_is_a_success() {
        assert!(
            parse_code2session(br#"{"errcode":0,"errmsg":"ok","openid":"o","session_key":"k"}"#)
                .is_ok()
        );
    }

    #[test]
    fn every_errcode_maps_to_its_kind() {
        let cases = [
            (40029, WeChatError::InvalidCode),
            (40163, WeChatError::CodeUsed),
            (45011, WeChatError::RateLimited),
            (40226, WeChatError::RiskyUser),
            (-1, WeChatError::Busy),
            (40013, WeChatError::BadCredentials { errcode: 40013 }),
            (40125, WeChatError::BadCredentials { errcode: 40125 }),
            (40001, WeChatError::AccessTokenInvalid { errcode: 40001 }),
            (40014, WeChatError::AccessTokenInvalid { errcode: 40014 }),
            (42001, WeChatError::AccessTokenInvalid { errcode: 42001 }),
            (45009, WeChatError::QuotaExhausted),
            (
                61234,
                WeChatError::Api {
                    errcode: 61234,
                    errmsg: "x rid: 1".into(),
                },
            ),
        ];
        for (errcode, expected) in cases {
            let body = format!(r#"{{"errcode":{errcode},"errmsg":"x rid: 1"}}"#);
            assert_eq!(
                parse_code2session(body.as_bytes()),
                Err(expected),
                "{errcode}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_an_invalid_response() {
        for body in [
            &b"<html>502</html>"[..],
            b"",
            b"\xff\xfe",
            b"[1,2]",
            b"null",
        ] {
            assert!(matches!(
                parse_code2session(body),
                Err(WeChatError::InvalidResponse(_))
            ));
        }
    }

    #[test]
    fn a_success_missing_a_field_is_an_invalid_response() {
        for body in [
            &br#"{"openid":"o"}"#[..],
            br#"{"session_key":"k"}"#,
            br#"{"openid":"","session_key":"k"}"#,
            br#"{}"#,
        ] {
            assert!(matches!(
                parse_code2session(body),
                Err(WeChatError::InvalidResponse(_))
            ));
        }
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let session = parse_code2session(
            br#"{"openid":"oSECRET","session_key":"kSECRET","unionid":"uSECRET"}"#,
        )
        .expect("success");
        let config = WeChatConfig::new("wx", AppSecret::new("appSECRET"));
        let shown = format!("{session:?} {config:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("OpenId(<redacted>)"));
    }
}
