//! Content security v2: `wxa/msg_sec_check` decides on a text at once, by the words in it;
//! `wxa/media_check_async` answers a `trace_id` and leaves the image's check to
//! `media_check.rs`. Both record what they were asked, for tests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use wxlogin_domain::Suggest;
use wxlogin_wechat_protocol::MSG_SEC_CHECK_MAX_CHARS;

use crate::business::{json_error, json_reply};
use crate::media_check::{FinishedMediaCheck, MediaCheckJob};
use crate::{AppState, FakeWeChat};

/// A `msg_sec_check` request that reached the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCheck {
    /// The app whose access token it carried; `None` when the token was refused.
    pub appid: Option<String>,
    /// The body's `openid` (empty if it had none).
    pub openid: String,
    /// The body's `content` (empty if it had none).
    pub content: String,
}

/// A `media_check_async` request that reached the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaCheckCall {
    /// The app whose access token it carried; `None` when the token was refused.
    pub appid: Option<String>,
    /// The body's `openid` (empty if it had none).
    pub openid: String,
    /// The body's `media_url` (empty if it had none).
    pub media_url: String,
    /// The `trace_id` answered; `None` when the request was refused with an errcode.
    pub trace_id: Option<String>,
}

/// What the content-security APIs were asked, and how tests set them up.
#[derive(Default)]
pub(crate) struct Checks {
    texts: Mutex<Vec<TextCheck>>,
    media: Mutex<Vec<MediaCheckCall>>,
    pub(crate) finished: Mutex<Vec<FinishedMediaCheck>>,
    verdicts: Mutex<HashMap<String, Suggest>>,
    media_quota_spent: AtomicBool,
}

impl FakeWeChat {
    /// Every `msg_sec_check` request that reached the fake, oldest first.
    pub fn msg_sec_check_calls(&self) -> Vec<TextCheck> {
        Self::lock(&self.state.checks.texts).clone()
    }

    /// Every `media_check_async` request that reached the fake, oldest first.
    pub fn media_check_calls(&self) -> Vec<MediaCheckCall> {
        Self::lock(&self.state.checks.media).clone()
    }

    /// The verdict of the images `openid` asks to check from now on (`Pass` until set):
    /// pushed as `risky` label 20002, `review` label 21000, or `pass` label `"100"`.
    pub fn set_media_verdict(&self, openid: &str, suggest: Suggest) {
        Self::lock(&self.state.checks.verdicts).insert(openid.to_owned(), suggest);
    }

    /// Makes `media_check_async` answer 45009 (daily quota reached) while `spent`.
    pub fn set_media_check_quota_spent(&self, spent: bool) {
        self.state
            .checks
            .media_quota_spent
            .store(spent, Ordering::SeqCst);
    }

    pub(crate) fn media_verdict(&self, openid: &str) -> Suggest {
        Self::lock(&self.state.checks.verdicts)
            .get(openid)
            .copied()
            .unwrap_or(Suggest::Pass)
    }
}

/// An errcode the fake answers a request with.
struct Refusal {
    errcode: i64,
    errmsg: &'static str,
}

impl Refusal {
    fn reply(&self) -> HttpResponse {
        json_error(self.errcode, self.errmsg)
    }
}

const MALFORMED: Refusal = Refusal {
    errcode: 47001,
    errmsg: "data format error",
};

/// The request's JSON object, or the errcode WeChat answers a malformed one with.
fn request_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Err(MALFORMED);
    };
    // WeChat takes the access token in the URL only.
    if request.contains_key("access_token") {
        return Err(MALFORMED);
    }
    Ok(request)
}

fn text_of<'a>(request: &'a serde_json::Map<String, Value>, name: &str) -> &'a str {
    request
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The checks both APIs share: version 2 (the only one the fake plays), a scene WeChat has,
/// an openid.
fn check_v2(request: &serde_json::Map<String, Value>) -> Result<(), Refusal> {
    if request.get("version").and_then(Value::as_i64) != Some(2) {
        return Err(Refusal {
            errcode: 47001,
            errmsg: "data format error (the fake plays version 2 only)",
        });
    }
    if !matches!(request.get("scene").and_then(Value::as_i64), Some(1..=4)) {
        return Err(Refusal {
            errcode: 40129,
            errmsg: "invalid scene",
        });
    }
    if text_of(request, "openid").is_empty() {
        return Err(Refusal {
            errcode: 40003,
            errmsg: "invalid openid",
        });
    }
    Ok(())
}

pub(crate) async fn msg_sec_check(
    fake: web::Data<FakeWeChat>,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> HttpResponse {
    let request = request_body(&body);
    let app = fake.app_of_token(&query);
    let field = |name| {
        request
            .as_ref()
            .map(|r| text_of(r, name).to_owned())
            .unwrap_or_default()
    };
    FakeWeChat::lock(&fake.state.checks.texts).push(TextCheck {
        appid: app.as_ref().ok().map(|app| app.appid.clone()),
        openid: field("openid"),
        content: field("content"),
    });
    if let Err(refusal) = app {
        return refusal;
    }
    let request = match request.and_then(|r| check_v2(&r).map(|()| r)) {
        Ok(request) => request,
        Err(refusal) => return refusal.reply(),
    };
    let content = text_of(&request, "content");
    if content.is_empty() {
        return json_error(44002, "empty post data");
    }
    if content.chars().count() > MSG_SEC_CHECK_MAX_CHARS {
        return json_error(47001, "data format error (content too long)");
    }
    match text_rule(content) {
        TextRule::Errcode(errcode) => json_error(errcode, "fake error"),
        TextRule::Verdict(suggest, label) => {
            let words = suggest_word(suggest);
            // `labelstring` sends the label as text, as WeChat documents it (it sends numbers), so
            // that clients read both.
            let label: Value = if content.to_lowercase().contains("labelstring") {
                label.to_string().into()
            } else {
                label.into()
            };
            json_reply(json!({
                "errcode": 0, "errmsg": "ok", "trace_id": trace_id(),
                "result": { "suggest": words, "label": label },
                "detail": [
                    { "strategy": "content_model", "errcode": 0, "suggest": words,
                      "label": label, "prob": 90 },
                    { "strategy": "keyword", "errcode": 0, "suggest": words,
                      "label": label, "level": 20, "keyword": "" },
                ],
            }))
        }
    }
}

/// What a text makes the fake answer: an error, or a verdict with its label.
#[derive(Debug, PartialEq, Eq)]
enum TextRule {
    Errcode(i64),
    Verdict(Suggest, i64),
}

/// The words the fake finds risky, and the label each gets.
const RISKY_WORDS: [(&str, i64); 3] = [("risky", 20001), ("赌博", 20006), ("色情", 20002)];

/// The fake's rules for a text, the first that applies winning (see the README).
fn text_rule(content: &str) -> TextRule {
    let text = content.to_lowercase();
    if let Some(errcode) = ["errcode_", "errcode:"].iter().find_map(|prefix| {
        let (_, rest) = text.split_once(prefix)?;
        let end = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
            .map_or(rest.len(), |(i, _)| i);
        rest[..end].parse::<i64>().ok()
    }) {
        return TextRule::Errcode(errcode);
    }
    if text.contains("quota") {
        return TextRule::Errcode(45009);
    }
    if text.contains("busy") {
        return TextRule::Errcode(-1);
    }
    if let Some((_, label)) = RISKY_WORDS.iter().find(|(word, _)| text.contains(word)) {
        return TextRule::Verdict(Suggest::Risky, *label);
    }
    if text.contains("review") {
        return TextRule::Verdict(Suggest::Review, 21000);
    }
    TextRule::Verdict(Suggest::Pass, 100)
}

pub(crate) fn suggest_word(suggest: Suggest) -> &'static str {
    match suggest {
        Suggest::Pass => "pass",
        Suggest::Review => "review",
        Suggest::Risky => "risky",
    }
}

/// A trace id shaped like WeChat's (`60f96f1d-3845297a-1976a3ae`).
fn trace_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}", &hex[..8], &hex[8..16], &hex[16..24])
}

pub(crate) async fn media_check_async(
    fake: web::Data<FakeWeChat>,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> HttpResponse {
    let request = request_body(&body);
    let app = fake.app_of_token(&query);
    let field = |name| {
        request
            .as_ref()
            .map(|r| text_of(r, name).to_owned())
            .unwrap_or_default()
    };
    let mut call = MediaCheckCall {
        appid: app.as_ref().ok().map(|app| app.appid.clone()),
        openid: field("openid"),
        media_url: field("media_url"),
        trace_id: None,
    };
    let accepted = match app {
        Err(refusal) => Err(refusal),
        Ok(app) => request
            .and_then(|request| accept_media_check(&fake, app, &request))
            .map_err(|refusal| refusal.reply()),
    };
    call.trace_id = accepted.as_ref().ok().map(|job| job.trace_id.clone());
    FakeWeChat::lock(&fake.state.checks.media).push(call);
    match accepted {
        Ok(job) => {
            let reply = json!({ "errcode": 0, "errmsg": "ok", "trace_id": job.trace_id });
            // Answered now; checked, then pushed, later, as WeChat does.
            let fake = fake.get_ref().clone();
            actix_web::rt::spawn(async move { fake.run_media_check(job).await });
            json_reply(reply)
        }
        Err(refusal) => refusal,
    }
}

/// The check to run in the background, or the errcode the request is refused with.
fn accept_media_check(
    fake: &FakeWeChat,
    app: &AppState,
    request: &serde_json::Map<String, Value>,
) -> Result<MediaCheckJob, Refusal> {
    check_v2(request)?;
    if !matches!(
        request.get("media_type").and_then(Value::as_i64),
        Some(1 | 2)
    ) {
        return Err(Refusal {
            errcode: 47001,
            errmsg: "data format error (media_type)",
        });
    }
    let media_url = text_of(request, "media_url");
    if media_url.is_empty() {
        return Err(Refusal {
            errcode: 47001,
            errmsg: "data format error (media_url)",
        });
    }
    if fake.state.checks.media_quota_spent.load(Ordering::SeqCst) {
        return Err(Refusal {
            errcode: 45009,
            errmsg: "reach max api daily quota limit",
        });
    }
    Ok(MediaCheckJob {
        appid: app.appid.clone(),
        openid: text_of(request, "openid").to_owned(),
        media_url: media_url.to_owned(),
        trace_id: trace_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_of_a_text_pick_the_answer() {
        let cases = [
            ("Alice", TextRule::Verdict(Suggest::Pass, 100)),
            ("a Risky name", TextRule::Verdict(Suggest::Risky, 20001)),
            ("网上赌博", TextRule::Verdict(Suggest::Risky, 20006)),
            ("色情", TextRule::Verdict(Suggest::Risky, 20002)),
            (
                "please review me",
                TextRule::Verdict(Suggest::Review, 21000),
            ),
            ("risky review", TextRule::Verdict(Suggest::Risky, 20001)),
            ("quota", TextRule::Errcode(45009)),
            ("busy bee", TextRule::Errcode(-1)),
            ("errcode_40003", TextRule::Errcode(40003)),
            ("x errcode:-1 y", TextRule::Errcode(-1)),
            ("errcode:43104 risky", TextRule::Errcode(43104)),
        ];
        for (content, expected) in cases {
            assert_eq!(text_rule(content), expected, "{content}");
        }
    }

    #[test]
    fn trace_ids_look_like_wechats() {
        let id = trace_id();
        assert_eq!(id.len(), 26);
        assert_eq!(id.matches('-').count(), 2);
        assert_ne!(id, trace_id());
    }
}
