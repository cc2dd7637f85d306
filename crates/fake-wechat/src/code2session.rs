//! `/sns/jscode2session` as WeChat answers it (JSON served as `text/plain`, errors with a
//! varying `rid`), its test codes (`invalid.*`, `busy.*`, `slow_<ms>.*`...), and the fake's own
//! `/fake/open-platform`, which decides whether it answers a unionid.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::{FakeWeChat, name_of};

impl FakeWeChat {
    /// Records that `code` was sent to `appid` and says how many times it had been before.
    fn remember(&self, appid: &str, code: &str) -> u32 {
        let mut seen = Self::lock(&self.state.seen);
        let count = seen.entry(format!("{appid}:{code}")).or_insert(0);
        *count += 1;
        *count - 1
    }
}

#[derive(Deserialize)]
pub(crate) struct OpenPlatformRequest {
    appid: String,
    bound: bool,
}

/// `POST /fake/open-platform {"appid", "bound"}`: not a WeChat API; binds or unbinds an app, so
/// dev mode can show a person known first without a unionid and later with one.
pub(crate) async fn open_platform_endpoint(
    fake: web::Data<FakeWeChat>,
    request: web::Json<OpenPlatformRequest>,
) -> HttpResponse {
    if fake.set_open_platform(&request.appid, request.bound) {
        HttpResponse::Ok().json(json!({ "appid": request.appid, "bound": request.bound }))
    } else {
        HttpResponse::NotFound().json(json!({ "error": "no such app", "appid": request.appid }))
    }
}

#[derive(Deserialize)]
struct Code2SessionQuery {
    appid: Option<String>,
    secret: Option<String>,
    js_code: Option<String>,
    grant_type: Option<String>,
}

/// A WeChat-style body: JSON, but served as `text/plain` like the real jscode2session.
fn text_plain(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(body.to_string())
}

/// An error as WeChat writes it, with the varying `rid` suffix that makes `errmsg` useless
/// to branch on.
fn wechat_error(errcode: i64, errmsg: &str) -> HttpResponse {
    let rid = uuid::Uuid::new_v4().simple().to_string();
    text_plain(json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {}", &rid[..24]) }))
}

pub(crate) async fn jscode2session(
    fake: web::Data<FakeWeChat>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    fake.state.code2session_calls.fetch_add(1, Ordering::SeqCst);
    // Parsed by hand from the map so that a missing parameter gets WeChat's answer, not 400.
    let query = Code2SessionQuery {
        appid: query.get("appid").cloned(),
        secret: query.get("secret").cloned(),
        js_code: query.get("js_code").cloned(),
        grant_type: query.get("grant_type").cloned(),
    };
    let Some(app) = query.appid.as_deref().and_then(|appid| fake.app(appid)) else {
        return wechat_error(40013, "invalid appid");
    };
    if query.secret.as_deref() != Some(app.secret.as_str()) {
        return wechat_error(40125, "invalid appsecret");
    }
    if query.grant_type.as_deref() != Some("authorization_code") {
        return wechat_error(40002, "invalid grant_type");
    }
    let code = match query.js_code {
        Some(code) if !code.is_empty() => code,
        _ => return wechat_error(41008, "missing code"),
    };
    let name = name_of(&code);
    let times_seen_before = fake.remember(&app.appid, &code);
    match name {
        "invalid" => return wechat_error(40029, "invalid code"),
        "used" => return wechat_error(40163, "code been used"),
        "ratelimited" => {
            return wechat_error(
                45011,
                "api minute-quota reach limit mustslower retry next minute",
            );
        }
        "risky" => return wechat_error(40226, "high risk user"),
        "busy" => return wechat_error(-1, "system error"),
        "flaky" if times_seen_before == 0 => return wechat_error(-1, "system error"),
        "garbage" => {
            return HttpResponse::Ok()
                .content_type("text/plain")
                .body("<html><body>502 Bad Gateway</body></html>");
        }
        "incomplete" => return text_plain(json!({ "openid": fake.openid_in(&app.appid, name) })),
        // Half a reply, then the connection drops: WeChat may have used the code.
        "cut" => {
            let half: Result<web::Bytes, std::io::Error> =
                Ok(web::Bytes::from_static(b"{\"openid\":"));
            let lost: Result<web::Bytes, std::io::Error> =
                Err(std::io::Error::other("connection lost"));
            return HttpResponse::Ok()
                .content_type("text/plain")
                .streaming(futures_util::stream::iter([half, lost]));
        }
        _ => {}
    }
    if let Some(status) = name
        .strip_prefix("status_")
        .and_then(|n| n.parse::<u16>().ok())
        .and_then(|n| actix_web::http::StatusCode::from_u16(n).ok())
    {
        return HttpResponse::build(status).body("upstream trouble");
    }
    if let Some(errcode) = name
        .strip_prefix("errcode_")
        .and_then(|n| n.parse::<i64>().ok())
    {
        return wechat_error(errcode, "fake error");
    }
    if let Some(ms) = name
        .strip_prefix("slow_")
        .and_then(|n| n.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms.min(30_000))).await;
    }
    // A code is good once; `flaky` counts its failed first try as not having used it.
    let uses_before = if name == "flaky" {
        times_seen_before - 1
    } else {
        times_seen_before
    };
    if uses_before > 0 {
        return wechat_error(40163, "code been used");
    }
    let openid = fake.openid_in(&app.appid, name);
    let session_key = fake.session_key_in(&app.appid, &code);
    // Like WeChat, a new login replaces the user's session_key: older ones go stale.
    FakeWeChat::lock(&fake.state.current_keys).insert(openid.clone(), session_key.clone());
    let mut body = json!({ "openid": openid, "session_key": session_key });
    if app.open_platform.load(Ordering::SeqCst) {
        body["unionid"] = fake.unionid_for(name).into();
    }
    text_plain(body)
}
