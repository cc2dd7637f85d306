//! The business APIs: `stable_token`, `getuserphonenumber`, `checksession`, and the access
//! tokens every business API checks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{AppState, FakeWeChat};

/// How long an access token lives unless a test says otherwise (WeChat's 7200 s).
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(7200);
/// WeChat hands out the next token this long before the current one expires; both work then.
const HANDOVER: Duration = Duration::from_secs(300);

struct Issued {
    token: String,
    expires: Instant,
}

/// The fake's access tokens: the current one, and older ones still honoured until they expire.
pub(crate) struct Tokens {
    current: Option<Issued>,
    retired: Vec<Issued>,
    ttl: Duration,
    minted: u64,
    used_phone_codes: HashSet<String>,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            current: None,
            retired: Vec::new(),
            ttl: DEFAULT_TOKEN_TTL,
            minted: 0,
            used_phone_codes: HashSet::new(),
        }
    }
}

enum TokenCheck {
    Valid,
    Expired,
    Unknown,
}

impl Tokens {
    fn mint(&mut self, now: Instant) -> &Issued {
        self.minted += 1;
        let token = format!(
            "fake-access-token-{}-{}",
            self.minted,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        self.current.insert(Issued {
            token,
            expires: now + self.ttl,
        })
    }

    /// Normal mode: the current token while it is not in its handover window, else a new one
    /// (the old one keeps working until it expires).
    fn normal(&mut self, now: Instant) -> (String, Duration) {
        let handover = HANDOVER.min(self.ttl / 4);
        let fresh = self
            .current
            .as_ref()
            .is_some_and(|c| c.expires > now + handover);
        if !fresh {
            if let Some(old) = self.current.take() {
                self.retired.push(old);
            }
            self.mint(now);
        }
        self.current_with_lifetime(now)
    }

    /// Forced: a new token; the old one stops working at once.
    fn forced(&mut self, now: Instant) -> (String, Duration) {
        self.current = None;
        self.mint(now);
        self.current_with_lifetime(now)
    }

    fn current_with_lifetime(&self, now: Instant) -> (String, Duration) {
        match &self.current {
            Some(c) => (c.token.clone(), c.expires.saturating_duration_since(now)),
            None => (String::new(), Duration::ZERO),
        }
    }

    fn check(&mut self, token: &str, now: Instant) -> TokenCheck {
        self.retired.retain(|t| t.expires > now);
        let known = self
            .current
            .iter()
            .chain(self.retired.iter())
            .find(|t| t.token == token);
        match known {
            Some(t) if t.expires > now => TokenCheck::Valid,
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }
}

impl FakeWeChat {
    /// Sets the lifetime of the first app's access tokens minted from now on (WeChat's is
    /// 7200 s).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        Self::lock(&self.first().business).ttl = ttl;
    }

    /// Plays another party force-refreshing the first app's token: a new one is current and the
    /// old one is refused at once with 40001, as a token can go bad mid-flight.
    pub fn rotate_access_token(&self) {
        Self::lock(&self.first().business).forced(Instant::now());
    }

    /// The access token the fake honours now for the first app, if it minted one.
    pub fn current_access_token(&self) -> Option<String> {
        self.current_access_token_of(&self.first().appid)
    }

    /// The access token the fake honours now for app `appid`, if it minted one.
    pub fn current_access_token_of(&self, appid: &str) -> Option<String> {
        let app = self.app(appid)?;
        Self::lock(&app.business)
            .current
            .as_ref()
            .map(|c| c.token.clone())
    }

    /// The app the `access_token` parameter belongs to, or WeChat's refusal. Access tokens are
    /// per app: a token of one app used for another's user is refused.
    // The refusal is the HTTP answer itself, built once per refused request: boxing it would
    // only add an allocation.
    #[allow(clippy::result_large_err)]
    pub(crate) fn app_of_token(
        &self,
        query: &HashMap<String, String>,
    ) -> Result<&AppState, HttpResponse> {
        let Some(token) = query.get("access_token").filter(|t| !t.is_empty()) else {
            return Err(json_error(41001, "access_token missing"));
        };
        let now = Instant::now();
        for app in &self.state.apps {
            match Self::lock(&app.business).check(token, now) {
                TokenCheck::Valid => return Ok(app),
                TokenCheck::Expired => return Err(json_error(42001, "access_token expired")),
                TokenCheck::Unknown => {}
            }
        }
        Err(json_error(
            40001,
            "invalid credential, access_token is invalid or not latest",
        ))
    }
}

/// Business APIs answer real `application/json`, unlike jscode2session.
pub(crate) fn json_reply(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

pub(crate) fn json_error(errcode: i64, errmsg: &str) -> HttpResponse {
    let rid = uuid::Uuid::new_v4().simple().to_string();
    json_reply(json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {}", &rid[..24]) }))
}

pub(crate) async fn stable_token(fake: web::Data<FakeWeChat>, body: web::Bytes) -> HttpResponse {
    fake.state.stable_token_calls.fetch_add(1, Ordering::SeqCst);
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return json_error(47001, "data format error");
    };
    if request["grant_type"] != "client_credential" {
        return json_error(40002, "invalid grant_type");
    }
    let Some(app) = request["appid"].as_str().and_then(|appid| fake.app(appid)) else {
        return json_error(40013, "invalid appid");
    };
    if request["secret"] != app.secret.as_str() {
        return json_error(40125, "invalid appsecret");
    }
    let force = request["force_refresh"].as_bool().unwrap_or(false);
    let now = Instant::now();
    let mut tokens = FakeWeChat::lock(&app.business);
    let (token, lifetime) = if force {
        tokens.forced(now)
    } else {
        tokens.normal(now)
    };
    json_reply(json!({ "access_token": token, "expires_in": lifetime.as_secs().max(1) }))
}

pub(crate) async fn phone_number(
    fake: web::Data<FakeWeChat>,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> HttpResponse {
    fake.state.phone_calls.fetch_add(1, Ordering::SeqCst);
    let app = match fake.app_of_token(&query) {
        Ok(app) => app,
        Err(refusal) => return refusal,
    };
    // WeChat reads the code from a JSON body only; as a query or form parameter it is 40029.
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return json_error(40029, "invalid code");
    };
    match code.as_str() {
        "invalid" => return json_error(40029, "invalid code"),
        "busy" => return json_error(-1, "system error"),
        "quota" => return json_error(45009, "reach max api daily quota limit"),
        _ => {}
    }
    if let Some(errcode) = code
        .strip_prefix("errcode_")
        .and_then(|n| n.parse::<i64>().ok())
    {
        return json_error(errcode, "fake error");
    }
    if !FakeWeChat::lock(&app.business)
        .used_phone_codes
        .insert(code.clone())
    {
        return json_error(40029, "invalid code");
    }
    let watermark = json!({ "timestamp": unix_now(), "appid": app.appid });
    // `+852.61234567`: a number abroad, whose countryCode comes as a JSON number.
    if let Some((country, number)) = code.strip_prefix('+').and_then(|r| r.split_once('.'))
        && let Ok(country_code) = country.parse::<u32>()
    {
        return json_reply(json!({
            "errcode": 0, "errmsg": "ok",
            "phone_info": {
                "phoneNumber": format!("+{country}{number}"),
                "purePhoneNumber": number,
                "countryCode": country_code,
                "watermark": watermark,
            }
        }));
    }
    // A code of digits is that number in mainland China; any other code gets a number of its own.
    let number = if (5..=15).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        code.clone()
    } else {
        let hash = Sha256::digest(code.as_bytes());
        let tail: u64 = hash[..8].iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)) % 100_000_000;
        format!("138{tail:08}")
    };
    json_reply(json!({
        "errcode": 0, "errmsg": "ok",
        "phone_info": {
            "phoneNumber": number, "purePhoneNumber": number, "countryCode": "86",
            "watermark": watermark,
        }
    }))
}

pub(crate) async fn check_session(
    fake: web::Data<FakeWeChat>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    fake.state
        .check_session_calls
        .fetch_add(1, Ordering::SeqCst);
    if let Err(refusal) = fake.app_of_token(&query) {
        return refusal;
    }
    if query.get("sig_method").map(String::as_str) != Some("hmac_sha256") {
        return json_error(87009, "invalid signature");
    }
    let Some(openid) = query.get("openid") else {
        return json_error(40003, "invalid openid");
    };
    let Some(key) = FakeWeChat::lock(&fake.state.current_keys)
        .get(openid)
        .cloned()
    else {
        return json_error(40003, "invalid openid");
    };
    let expected = hex_hmac(&key, b"");
    if query.get("signature") == Some(&expected) {
        json_reply(json!({ "errcode": 0, "errmsg": "ok" }))
    } else {
        json_error(87009, "invalid signature")
    }
}

pub(crate) fn hex_hmac(key: &str, msg: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(msg);
    wxlogin_domain::to_hex(&mac.finalize().into_bytes())
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
