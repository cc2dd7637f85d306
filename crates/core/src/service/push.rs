//! WeChat's authorization events, received by message push: the URL check, plain and safe
//! mode, XML and JSON, signatures and replays; what each event does is `push_events.rs`.

use wxlogin_domain::{Cause, StoreError};
use wxlogin_wechat_protocol::{PushSettings, parse_push_body};

use crate::seen_pushes::Seen;
use crate::{CoreError, LoginService};

/// How far a push's `timestamp` may be from now, in seconds, before it is refused as stale
/// (a replay).
pub const PUSH_TIMESTAMP_WINDOW_SECS: i64 = 300;

/// The query of a push request, as WeChat sends it.
#[derive(Debug, Clone, Default)]
pub struct PushQuery {
    /// `signature`: over the Token, `timestamp` and `nonce`.
    pub signature: Option<String>,
    /// `timestamp`, unix seconds.
    pub timestamp: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `echostr`: the URL check's challenge.
    pub echostr: Option<String>,
    /// `encrypt_type`: `aes` in safe (and compatible) mode.
    pub encrypt_type: Option<String>,
    /// `msg_signature`: safe mode's, over the `Encrypt` text too.
    pub msg_signature: Option<String>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEffect {
    /// The identity (and the account with it, when it was the last) was deleted.
    Deleted {
        /// Whether the whole account went.
        account_deleted: bool,
    },
    /// Stored profile data was cleared: the fields named.
    Cleared(Vec<&'static str>),
    /// WeChat found an avatar risky: it was taken down from the account named.
    AvatarTakenDown(String),
    /// Nothing: another event, an unknown openid, nothing stored that the event names, an
    /// event older than the data it names (the person came back, or changed it, since), an
    /// event without `CreateTime`, or a push applied already.
    Nothing,
}

fn rejected(why: &'static str) -> CoreError {
    CoreError::PushRejected(Cause::msg(why))
}

/// The unix seconds a push's `timestamp` says, if they are within the window of `now`. Any
/// text at all is refused at worst: the difference is taken without overflow.
fn timestamp_in_window(timestamp: &str, now: i64) -> Result<i64, CoreError> {
    let sent_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| rejected("the push timestamp is not a number"))?;
    if now.abs_diff(sent_at) > PUSH_TIMESTAMP_WINDOW_SECS.unsigned_abs() {
        return Err(rejected(
            "the push timestamp is more than 5 minutes from now",
        ));
    }
    Ok(sent_at)
}

impl LoginService {
    fn push_settings(&self, appid: &str) -> Result<&PushSettings, CoreError> {
        self.apps
            .get(appid)
            .and_then(|app| app.push.as_ref())
            .ok_or(CoreError::PushNotConfigured)
    }

    /// The URL check WeChat's console makes: the `echostr` to answer when the signature is the
    /// app's Token's and the timestamp within 5 minutes of now (a leaked check URL cannot be
    /// used later to make this origin serve a text of someone's choosing).
    pub fn verify_push_url(&self, appid: &str, query: &PushQuery) -> Result<String, CoreError> {
        let settings = self.push_settings(appid)?;
        let (Some(signature), Some(timestamp), Some(nonce), Some(echostr)) = (
            &query.signature,
            &query.timestamp,
            &query.nonce,
            &query.echostr,
        ) else {
            return Err(rejected(
                "the URL check lacks signature, timestamp, nonce or echostr",
            ));
        };
        timestamp_in_window(timestamp, self.clock.now())?;
        if !settings.verify_signature(signature, timestamp, nonce) {
            return Err(rejected("the URL check's signature is not this app's"));
        }
        Ok(echostr.clone())
    }

    /// Receives a push for app `appid`: checks its signature and timestamp before anything
    /// else, decrypts it in safe mode, and applies an authorization event:
    /// - `user_authorization_cancellation` deletes the identity and its sessions, and the
    ///   account with it when it has no other identity;
    /// - `user_authorization_revoke` clears what its `RevokeInfo` names: nickname and avatar
    ///   (6, or 19 and 20 apart), phone number (8); other values name data not stored here;
    /// - `user_info_modified` (WeChat cleaned up risky data) clears nickname and avatar.
    ///
    /// An app with an EncodingAESKey takes safe-mode pushes only: a plain push's signature
    /// covers no body, and its query sits in every access log on the way. A push accepted once
    /// is answered again without being applied again, and an event changes only data older
    /// than it (its `CreateTime`): a replayed or late event never undoes a later change, and a
    /// cancellation older than the identity (the person logged in again since) is not applied
    /// to it. Anything else changes nothing.
    pub async fn receive_push(
        &self,
        appid: &str,
        query: &PushQuery,
        body: &[u8],
    ) -> Result<PushEffect, CoreError> {
        let settings = self.push_settings(appid)?;
        let (Some(timestamp), Some(nonce)) = (&query.timestamp, &query.nonce) else {
            return Err(rejected("the push lacks timestamp or nonce"));
        };
        let now = self.clock.now();
        let sent_at = timestamp_in_window(timestamp, now)?;
        let safe = query.encrypt_type.as_deref() == Some("aes");
        if settings.safe_mode() && !safe {
            return Err(rejected(
                "this app takes safe-mode pushes only: a plain push's signature covers no body",
            ));
        }
        let outer = parse_push_body(body).map_err(|e| CoreError::PushRejected(Cause::new(e)))?;
        let (fields, signature) = if safe {
            let encrypt = outer
                .get("Encrypt")
                .ok_or_else(|| rejected("a safe-mode push without Encrypt"))?;
            let msg_signature = query
                .msg_signature
                .as_deref()
                .ok_or_else(|| rejected("a safe-mode push without msg_signature"))?;
            if !settings.verify_msg_signature(msg_signature, timestamp, nonce, encrypt) {
                return Err(rejected("the push's msg_signature is not this app's"));
            }
            let message = settings
                .decrypt(encrypt, appid)
                .map_err(|e| CoreError::PushRejected(Cause::new(e)))?;
            let fields = parse_push_body(message.as_bytes())
                .map_err(|e| CoreError::PushRejected(Cause::new(e)))?;
            (fields, msg_signature)
        } else {
            let signature = query
                .signature
                .as_deref()
                .ok_or_else(|| rejected("a push without signature"))?;
            if !settings.verify_signature(signature, timestamp, nonce) {
                return Err(rejected("the push's signature is not this app's"));
            }
            (outer, signature)
        };
        match self
            .seen_pushes
            .check_in(appid, signature, sent_at, nonce, now)
        {
            Seen::New => {}
            Seen::Applied => {
                log::info!("a push to {appid} was sent again; answered, not applied again");
                return Ok(PushEffect::Nothing);
            }
            Seen::InProgress => {
                // Not `success` yet: the first may still fail, and WeChat retries what it got
                // no success for.
                return Err(CoreError::Store(StoreError::Unavailable(Cause::msg(
                    "the same push is being applied; try again",
                ))));
            }
        }
        let applied = self.apply_event(appid, sent_at, &fields).await;
        if applied.is_ok() {
            self.seen_pushes.applied(appid, signature, sent_at, nonce);
        } else {
            // Not applied after all (the database failed): WeChat's retry must be.
            self.seen_pushes.failed(appid, signature, sent_at, nonce);
        }
        applied
    }
}
