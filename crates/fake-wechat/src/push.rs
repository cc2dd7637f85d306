//! What WeChat's message push sends a server: any message (the authorization events, a media
//! check's verdict), signed with the app's Token, in plain or safe mode, as XML or JSON, to the
//! app's push URL.

use serde::Deserialize;
use wxlogin_wechat_protocol::PushSettings;

use crate::FakeWeChat;
use crate::business::unix_now;

/// The Token of the fake apps' message push in dev mode (`wxlogin-server --dev` sets the same).
pub const DEV_PUSH_TOKEN: &str = "wxloginDevPushToken";
/// The EncodingAESKey of the fake apps' message push in dev mode.
pub const DEV_PUSH_AES_KEY: &str = "d3hsb2dpbiBkZXYgbW9kZSBwdXNoIGtleSwgMzIgYnk";

/// Plain mode sends the event as it is; safe mode encrypts it (`encrypt_type=aes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushMode {
    /// The body is the event.
    Plain,
    /// The body carries the event encrypted in `Encrypt`, signed by `msg_signature`.
    Safe,
}

/// The body's format, as chosen in WeChat's console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushFormat {
    /// `<xml>...</xml>`, values in CDATA.
    Xml,
    /// A JSON object.
    Json,
}

/// An authorization event to push.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FakePush {
    /// The app it is for (the fake's first app if absent).
    #[serde(default)]
    pub appid: Option<String>,
    /// The user it is about, by name (as in the codes: `alice`).
    pub user: String,
    /// `user_authorization_cancellation`, `user_authorization_revoke`, `user_info_modified`, or
    /// any other.
    pub event: String,
    /// `RevokeInfo`, for a revoke.
    #[serde(default)]
    pub revoke_info: Option<String>,
    /// `CreateTime`; now if absent.
    #[serde(default)]
    pub create_time: Option<i64>,
    /// Plain or safe.
    pub mode: PushMode,
    /// XML or JSON.
    pub format: PushFormat,
}

/// A push as WeChat would send it: the query (signature, timestamp, nonce...) and the body.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The query string, without `?`.
    pub query: String,
    /// The body's content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

/// A message to push, of any event, as WeChat would send it to one app's push URL.
#[derive(Debug, Clone)]
pub struct PushMessage {
    /// The app it is for: the safe-mode trailer names it.
    pub appid: String,
    /// The user it is about: the query's `openid`.
    pub openid: String,
    /// The message's fields, in order. Values may be JSON objects and arrays (a media check's
    /// `result` and `detail`): XML writes an object's members as elements within its element,
    /// and an array as its element repeated.
    pub fields: Vec<(String, serde_json::Value)>,
    /// Plain or safe.
    pub mode: PushMode,
    /// XML or JSON.
    pub format: PushFormat,
}

fn fields_to(format: PushFormat, fields: &[(String, serde_json::Value)]) -> String {
    match format {
        PushFormat::Xml => {
            let mut xml = String::from("<xml>");
            for (name, value) in fields {
                write_xml(&mut xml, name, value);
            }
            xml.push_str("</xml>");
            xml
        }
        PushFormat::Json => serde_json::Value::Object(fields.iter().cloned().collect()).to_string(),
    }
}

/// Text in CDATA as WeChat writes it, numbers bare.
fn write_xml(xml: &mut String, name: &str, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter().for_each(|item| write_xml(xml, name, item)),
        Value::Object(members) => {
            xml.push_str(&format!("<{name}>"));
            for (member, value) in members {
                write_xml(xml, member, value);
            }
            xml.push_str(&format!("</{name}>"));
        }
        Value::String(text) => xml.push_str(&format!("<{name}><![CDATA[{text}]]></{name}>")),
        Value::Null => xml.push_str(&format!("<{name}></{name}>")),
        Value::Bool(_) | Value::Number(_) => xml.push_str(&format!("<{name}>{value}</{name}>")),
    }
}

impl FakeWeChat {
    /// The push settings the fake signs app `appid`'s pushes with (dev mode's).
    pub fn push_settings(&self) -> PushSettings {
        PushSettings::new(DEV_PUSH_TOKEN, Some(DEV_PUSH_AES_KEY))
            .unwrap_or_else(|e| unreachable!("the dev push settings are valid: {e}"))
    }

    /// The authorization event `push` stands for, made at `timestamp` unless it says when.
    fn authorization_event(&self, push: &FakePush, timestamp: u64) -> PushMessage {
        let appid = push
            .appid
            .clone()
            .unwrap_or_else(|| self.first().appid.clone());
        let create_time = push
            .create_time
            .map_or_else(|| timestamp.to_string(), |t| t.to_string());
        let openid = self.openid_in(&appid, &push.user);
        let mut fields = vec![
            ("ToUserName", "gh_fake00000000".to_owned()),
            ("FromUserName", "oFakePushService0000000000000".to_owned()),
            ("CreateTime", create_time),
            ("MsgType", "event".to_owned()),
            ("Event", push.event.clone()),
            ("OpenID", openid.clone()),
            ("AppID", appid.clone()),
        ];
        if let Some(revoke) = &push.revoke_info {
            fields.push(("RevokeInfo", revoke.clone()));
        }
        PushMessage {
            appid,
            openid,
            fields: fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.into()))
                .collect(),
            mode: push.mode,
            format: push.format,
        }
    }

    /// The request WeChat would send for `push`, signed with `settings`, at `timestamp`.
    pub fn push_request(
        &self,
        push: &FakePush,
        settings: &PushSettings,
        timestamp: u64,
    ) -> PushRequest {
        self.message_request(
            &self.authorization_event(push, timestamp),
            settings,
            timestamp,
        )
    }

    /// The request WeChat would send for any `message`, signed with `settings`, at `timestamp`.
    pub fn message_request(
        &self,
        message: &PushMessage,
        settings: &PushSettings,
        timestamp: u64,
    ) -> PushRequest {
        let body = fields_to(message.format, &message.fields);
        let (timestamp, nonce) = (timestamp.to_string(), format!("{}", rand_u32()));
        let content_type = match message.format {
            PushFormat::Xml => "text/xml",
            PushFormat::Json => "application/json",
        };
        let form = |pairs: &[(&str, &str)]| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        };
        let signature = settings.signature(&timestamp, &nonce);
        match message.mode {
            PushMode::Plain => PushRequest {
                query: form(&[
                    ("signature", &signature),
                    ("timestamp", &timestamp),
                    ("nonce", &nonce),
                    ("openid", &message.openid),
                ]),
                content_type,
                body,
            },
            PushMode::Safe => {
                let mut random = [0u8; 16];
                random.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..]);
                let encrypt = settings
                    .encrypt(random, &body, &message.appid)
                    .unwrap_or_default();
                let msg_signature = settings.msg_signature(&timestamp, &nonce, &encrypt);
                PushRequest {
                    query: form(&[
                        ("signature", &signature),
                        ("timestamp", &timestamp),
                        ("nonce", &nonce),
                        ("openid", &message.openid),
                        ("encrypt_type", "aes"),
                        ("msg_signature", &msg_signature),
                    ]),
                    content_type,
                    body: fields_to(
                        message.format,
                        &[
                            ("ToUserName".to_owned(), "gh_fake00000000".into()),
                            ("Encrypt".to_owned(), encrypt.into()),
                        ],
                    ),
                }
            }
        }
    }

    /// Pushes `push` to the server at `server_base` (`http://host:port`), at
    /// `/wechat/push/{appid}`, signed with the dev push settings; answers its status and body.
    /// Needs an actix runtime.
    pub async fn push(&self, server_base: &str, push: &FakePush) -> std::io::Result<(u16, String)> {
        let message = self.authorization_event(push, unix_now());
        let url = format!(
            "{}/wechat/push/{}",
            server_base.trim_end_matches('/'),
            message.appid
        );
        self.send_push(&url, &message).await
    }

    /// Pushes `message` to `url` (the whole push URL, e.g.
    /// `http://127.0.0.1:8080/wechat/push/{appid}`), signed with the dev push settings, now;
    /// answers its status and body. Needs an actix runtime.
    pub async fn send_push(
        &self,
        url: &str,
        message: &PushMessage,
    ) -> std::io::Result<(u16, String)> {
        let request = self.message_request(message, &self.push_settings(), unix_now());
        let separator = if url.contains('?') { '&' } else { '?' };
        // WeChat waits 5 seconds for an answer.
        let mut reply = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .finish()
            .post(format!("{url}{separator}{}", request.query))
            .insert_header(("content-type", request.content_type))
            .send_body(request.body)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let body = reply
            .body()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok((
            reply.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        ))
    }

    /// Sets the push URL of app `appid` (the whole URL, e.g.
    /// `http://127.0.0.1:8080/wechat/push/wx00000000000000fe`), where its `wxa_media_check`
    /// pushes go, as the push URL configured in WeChat's console; `false` if the fake plays no
    /// such app.
    pub fn set_push_url(&self, appid: &str, url: &str) -> bool {
        self.app(appid)
            .map(|app| *Self::lock(&app.push_url) = Some(url.to_owned()))
            .is_some()
    }

    /// The push URL of app `appid`, if one is set.
    pub fn push_url(&self, appid: &str) -> Option<String> {
        self.app(appid)
            .and_then(|app| Self::lock(&app.push_url).clone())
    }
}

fn rand_u32() -> u32 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[derive(Deserialize)]
pub(crate) struct PushEndpointRequest {
    /// The server to push to, e.g. `http://127.0.0.1:8080`.
    url: String,
    #[serde(flatten)]
    push: FakePush,
}

/// `POST /fake/push {"url", "user", "event", "mode", "format", ...}`: not a WeChat API; pushes
/// an event to a server the way WeChat would, so dev mode can show what one does.
pub(crate) async fn push_endpoint(
    fake: actix_web::web::Data<FakeWeChat>,
    request: actix_web::web::Json<PushEndpointRequest>,
) -> actix_web::HttpResponse {
    let request = request.into_inner();
    match fake.push(&request.url, &request.push).await {
        Ok((status, body)) => actix_web::HttpResponse::Ok()
            .json(serde_json::json!({ "status": status, "body": body })),
        Err(e) => actix_web::HttpResponse::BadGateway()
            .json(serde_json::json!({ "error": e.to_string() })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxlogin_wechat_protocol::parse_push_body;

    fn message(format: PushFormat) -> PushMessage {
        PushMessage {
            appid: "wxapp".into(),
            openid: "oUser".into(),
            fields: vec![
                ("Event".into(), "wxa_media_check".into()),
                ("version".into(), 2.into()),
                (
                    "detail".into(),
                    serde_json::json!([{"suggest": "pass", "label": 100}, {"suggest": "risky"}]),
                ),
                (
                    "result".into(),
                    serde_json::json!({"suggest": "risky", "label": "20002"}),
                ),
            ],
            mode: PushMode::Safe,
            format,
        }
    }

    #[test]
    fn nested_fields_survive_safe_mode_in_json_and_xml() {
        let fake = FakeWeChat::new(crate::FakeWeChatConfig::default());
        let settings = fake.push_settings();
        for format in [PushFormat::Json, PushFormat::Xml] {
            let request = fake.message_request(&message(format), &settings, 1_700_000_000);
            let outer = parse_push_body(request.body.as_bytes()).expect("outer");
            let inner = settings
                .decrypt(outer.get("Encrypt").expect("Encrypt"), "wxapp")
                .expect("decrypts");
            let fields = parse_push_body(inner.as_bytes()).expect("inner");
            assert_eq!(fields.get("result.suggest"), Some("risky"), "{format:?}");
            assert_eq!(fields.get("result.label"), Some("20002"), "{format:?}");
            assert_eq!(fields.get("version"), Some("2"), "{format:?}");
            assert!(request.query.contains("openid=oUser"));
        }
    }

    #[test]
    fn xml_writes_objects_as_elements_and_arrays_as_repeated_elements() {
        let xml = fields_to(PushFormat::Xml, &message(PushFormat::Xml).fields);
        assert_eq!(
            xml,
            "<xml><Event><![CDATA[wxa_media_check]]></Event><version>2</version>\
             <detail><label>100</label><suggest><![CDATA[pass]]></suggest></detail>\
             <detail><suggest><![CDATA[risky]]></suggest></detail>\
             <result><label><![CDATA[20002]]></label><suggest><![CDATA[risky]]></suggest></result></xml>"
        );
    }
}
