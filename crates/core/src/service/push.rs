//! WeChat's authorization events, received by message push: the URL check, plain and safe
//! mode, XML and JSON, and what each event does to the person's data.

use wxlogin_domain::{Actor, Audit, AuditKind, Cause, OpenId, ProfileUpdate, StoreError};
use wxlogin_wechat_protocol::{
    MediaCheckOutcome, MediaCheckResult, PushFields, PushSettings, parse_push_body,
};

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

    async fn apply_event(
        &self,
        appid: &str,
        sent_at: i64,
        fields: &PushFields,
    ) -> Result<PushEffect, CoreError> {
        if fields.get("MsgType") != Some("event") {
            return Ok(PushEffect::Nothing);
        }
        if let Some(other) = fields.get("AppID").filter(|other| *other != appid) {
            log::warn!("a push to {appid} names the app {other}; ignored");
            return Ok(PushEffect::Nothing);
        }
        if fields.get("Event") == Some("wxa_media_check") {
            let effect = self.apply_media_check(appid, fields).await?;
            let user_id = match &effect {
                PushEffect::AvatarTakenDown(user_id) => Some(user_id.as_str()),
                _ => None,
            };
            let outcome = if user_id.is_some() {
                "taken down"
            } else {
                "kept"
            };
            self.record_alone(
                Audit::new(AuditKind::ContentCheck, Actor::WeChat, self.clock.now()).entry(
                    user_id,
                    Some(appid),
                    None,
                    outcome,
                ),
            )
            .await;
            return Ok(effect);
        }
        let Some(openid) = fields
            .get("OpenID")
            .filter(|o| !o.is_empty())
            .map(OpenId::new)
        else {
            return Ok(PushEffect::Nothing);
        };
        // When WeChat made the event: it changes only what is older. WeChat always sends it;
        // an event without one cannot be placed in time and changes nothing.
        let Some(created_at) = fields
            .get("CreateTime")
            .and_then(|t| t.trim().parse::<i64>().ok())
        else {
            log::warn!("a push to {appid} without a CreateTime; ignored");
            return Ok(PushEffect::Nothing);
        };
        // Made after it was sent? Not by WeChat: such an event would outrank every later
        // change of the data it names.
        if created_at.saturating_sub(sent_at) > PUSH_TIMESTAMP_WINDOW_SECS {
            log::warn!("a push to {appid} says it was made after it was sent; ignored");
            return Ok(PushEffect::Nothing);
        }
        let event = fields.get("Event").unwrap_or_default();
        let effect = self
            .apply_account_event(appid, &openid, created_at, fields)
            .await?;
        // A deletion's entry went in with it; the other events' here.
        if !matches!(effect, PushEffect::Deleted { .. } | PushEffect::Nothing) {
            self.record_alone(
                Audit::new(AuditKind::Push, Actor::WeChat, self.clock.now()).entry(
                    None,
                    Some(appid),
                    None,
                    event,
                ),
            )
            .await;
        }
        Ok(effect)
    }

    /// An authorization event about `openid` in `appid`, made by WeChat at `created_at`.
    async fn apply_account_event(
        &self,
        appid: &str,
        openid: &OpenId,
        created_at: i64,
        fields: &PushFields,
    ) -> Result<PushEffect, CoreError> {
        match fields.get("Event") {
            Some("user_authorization_cancellation") => {
                let audit = Audit::new(AuditKind::Deletion, Actor::WeChat, self.clock.now());
                match self
                    .users
                    .delete_identity(appid, openid, created_at, &audit)
                    .await?
                {
                    Some(deleted) => {
                        self.forget_all(&deleted.user_id, &deleted.ended_sessions);
                        log::info!(
                            "WeChat: a person closed their authorization of {appid}; {} deleted",
                            if deleted.account_deleted {
                                "their account was"
                            } else {
                                "that identity was"
                            }
                        );
                        if deleted.account_deleted {
                            self.collect_unused_media_now().await;
                        }
                        Ok(PushEffect::Deleted {
                            account_deleted: deleted.account_deleted,
                        })
                    }
                    None => Ok(PushEffect::Nothing),
                }
            }
            Some("user_authorization_revoke") => {
                let named = fields.get("RevokeInfo").unwrap_or_default();
                self.clear(appid, openid, revoked_fields(named), created_at)
                    .await
            }
            Some("user_info_modified") => {
                self.clear(appid, openid, vec!["nickName", "avatarUrl"], created_at)
                    .await
            }
            _ => Ok(PushEffect::Nothing),
        }
    }

    /// WeChat's verdict on an avatar it checked (`wxa_media_check`), matched by `trace_id`.
    async fn apply_media_check(
        &self,
        appid: &str,
        fields: &PushFields,
    ) -> Result<PushEffect, CoreError> {
        if let Some(other) = fields.get("appid").filter(|other| *other != appid) {
            log::warn!("a media check pushed to {appid} names the app {other}; ignored");
            return Ok(PushEffect::Nothing);
        }
        let Some(result) = MediaCheckResult::from_fields(fields) else {
            log::warn!("a media check pushed to {appid} without a trace_id or a verdict; ignored");
            return Ok(PushEffect::Nothing);
        };
        let suggest = match result.outcome {
            MediaCheckOutcome::Checked(verdict) => Some(verdict.suggest),
            MediaCheckOutcome::Undownloadable => {
                log::warn!(
                    "WeChat could not download an avatar of {appid} to check it (trace {}): is \
                     PUBLIC_BASE_URL (or MEDIA_PUBLIC_BASE_URL) reachable from the internet?",
                    result.trace_id
                );
                None
            }
        };
        Ok(
            match self.apply_media_verdict(&result.trace_id, suggest).await? {
                Some(user_id) => PushEffect::AvatarTakenDown(user_id),
                None => PushEffect::Nothing,
            },
        )
    }

    async fn clear(
        &self,
        appid: &str,
        openid: &OpenId,
        fields: Vec<&'static str>,
        event_at: i64,
    ) -> Result<PushEffect, CoreError> {
        if fields.is_empty() {
            return Ok(PushEffect::Nothing);
        }
        let Some(user) = self.users.find_by_identity(appid, openid).await? else {
            return Ok(PushEffect::Nothing);
        };
        let mut update = ProfileUpdate {
            unless_changed_since: Some(event_at),
            ..ProfileUpdate::default()
        };
        for field in &fields {
            match *field {
                "nickName" => update.nick_name = Some(None),
                "avatarUrl" => update.avatar_url = Some(None),
                "phoneNumber" => update.phone_number = Some(None),
                _ => {}
            }
        }
        match self
            .users
            .update_profile(&user.id, &update, self.clock.now())
            .await?
        {
            Some(user) => {
                self.cache.update_user(&user);
                if update.avatar_url.is_some() {
                    // The uploaded file the avatar was, if any, is shown no more.
                    self.collect_unused_media_now().await;
                }
                Ok(PushEffect::Cleared(fields))
            }
            None => {
                log::info!("a push to {appid} is older than the profile it names; ignored");
                Ok(PushEffect::Nothing)
            }
        }
    }
}

/// The stored fields a `RevokeInfo` names, per WeChat's mini-program page "授权用户信息变更":
/// 6 nickname and avatar, 8 phone number, 19 the nickname picked on the nickname keyboard, 20
/// the avatar picked with the avatar component. The other values (plate number, address,
/// invoice, Bluetooth, microphone, camera, steps, location, files, email) name data this
/// service does not hold. Several values may come separated by commas.
fn revoked_fields(revoke_info: &str) -> Vec<&'static str> {
    let mut fields = Vec::new();
    for value in revoke_info
        .split([',', ' ', '|', ';'])
        .filter_map(|v| v.trim().parse::<u32>().ok())
    {
        let named: &[&'static str] = match value {
            6 => &["nickName", "avatarUrl"],
            8 => &["phoneNumber"],
            19 => &["nickName"],
            20 => &["avatarUrl"],
            _ => &[],
        };
        for field in named {
            if !fields.contains(field) {
                fields.push(*field);
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::revoked_fields;

    #[test]
    fn revoke_info_names_the_fields_to_clear() {
        assert_eq!(revoked_fields("6"), ["nickName", "avatarUrl"]);
        assert_eq!(revoked_fields("8"), ["phoneNumber"]);
        assert_eq!(revoked_fields("19,20"), ["nickName", "avatarUrl"]);
        assert_eq!(
            revoked_fields("6, 8, 19"),
            ["nickName", "avatarUrl", "phoneNumber"]
        );
        assert!(
            revoked_fields("1").is_empty(),
            "a plate number is not stored here"
        );
        assert!(revoked_fields("").is_empty());
        assert!(revoked_fields("x").is_empty());
    }
}
