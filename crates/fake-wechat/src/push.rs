//! What WeChat's message push sends a server: the authorization events, signed with the app's
//! Token, in plain or safe mode, as XML or JSON.

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

fn fields_to(format: PushFormat, fields: &[(&str, String)]) -> String {
    match format {
        PushFormat::Xml => {
            let inner: String = fields
                .iter()
                .map(|(name, value)| format!("<{name}><![CDATA[{value}]]></{name}>"))
                .collect();
            format!("<xml>{inner}</xml>")
        }
        PushFormat::Json => serde_json::Value::Object(
            fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone().into()))
                .collect(),
        )
        .to_string(),
    }
}

impl FakeWeChat {
    /// The push settings the fake signs app `appid`'s pushes with (dev mode's).
    pub fn push_settings(&self) -> PushSettings {
        PushSettings::new(DEV_PUSH_TOKEN, Some(DEV_PUSH_AES_KEY))
            .unwrap_or_else(|e| unreachable!("the dev push settings are valid: {e}"))
    }

    /// The request WeChat would send for `push`, signed with `settings`, at `timestamp`.
    pub fn push_request(
        &self,
        push: &FakePush,
        settings: &PushSettings,
        timestamp: u64,
    ) -> PushRequest {
        let appid = push
            .appid
            .clone()
            .unwrap_or_else(|| self.first().appid.clone());
        let create_time = push
            .create_time
            .map_or_else(|| timestamp.to_string(), |t| t.to_string());
        let mut fields = vec![
            ("ToUserName", "gh_fake00000000".to_owned()),
            ("FromUserName", "oFakePushService0000000000000".to_owned()),
            ("CreateTime", create_time),
            ("MsgType", "event".to_owned()),
            ("Event", push.event.clone()),
            ("OpenID", self.openid_in(&appid, &push.user)),
            ("AppID", appid.clone()),
        ];
        if let Some(revoke) = &push.revoke_info {
            fields.push(("RevokeInfo", revoke.clone()));
        }
        let message = fields_to(push.format, &fields);
        let (timestamp, nonce) = (timestamp.to_string(), format!("{}", rand_u32()));
        let content_type = match push.format {
            PushFormat::Xml => "text/xml",
            PushFormat::Json => "application/json",
        };
        let form = |pairs: &[(&str, &str)]| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        };
        let signature = settings.signature(&timestamp, &nonce);
        let openid = self.openid_in(&appid, &push.user);
        match push.mode {
            PushMode::Plain => PushRequest {
                query: form(&[
                    ("signature", &signature),
                    ("timestamp", &timestamp),
                    ("nonce", &nonce),
                    ("openid", &openid),
                ]),
                content_type,
                body: message,
            },
            PushMode::Safe => {
                let mut random = [0u8; 16];
                random.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..]);
                let encrypt = settings
                    .encrypt(random, &message, &appid)
                    .unwrap_or_default();
                let msg_signature = settings.msg_signature(&timestamp, &nonce, &encrypt);
                PushRequest {
                    query: form(&[
                        ("signature", &signature),
                        ("timestamp", &timestamp),
                        ("nonce", &nonce),
                        ("openid", &openid),
                        ("encrypt_type", "aes"),
                        ("msg_signature", &msg_signature),
                    ]),
                    content_type,
                    body: fields_to(
                        push.format,
                        &[
                            ("ToUserName", "gh_fake00000000".to_owned()),
                            ("Encrypt", encrypt),
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
        let appid = push
            .appid
            .clone()
            .unwrap_or_else(|| self.first().appid.clone());
        let request = self.push_request(push, &self.push_settings(), unix_now());
        let url = format!(
            "{}/wechat/push/{appid}?{}",
            server_base.trim_end_matches('/'),
            request.query
        );
        let mut reply = awc::Client::default()
            .post(url)
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
