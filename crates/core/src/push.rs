//! WeChat's authorization events, received by message push: the URL check, plain and safe
//! mode, XML and JSON, and what each event does to the person's data.

use wxlogin_domain::{Cause, OpenId, ProfileUpdate};
use wxlogin_wechat::{PushFields, PushSettings, parse_push_body};

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
    /// Nothing: another event, an unknown openid, nothing stored that the event names, or an
    /// event older than the identity (the person came back since).
    Nothing,
}

fn rejected(why: &'static str) -> CoreError {
    CoreError::PushRejected(Cause::msg(why))
}

impl LoginService {
    fn push_settings(&self, appid: &str) -> Result<&PushSettings, CoreError> {
        self.apps
            .get(appid)
            .and_then(|app| app.push.as_ref())
            .ok_or(CoreError::PushNotConfigured)
    }

    /// The URL check WeChat's console makes: the `echostr` to answer when the signature is the
    /// app's Token's.
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
    /// Anything else changes nothing. Applying an event twice (WeChat retries) changes nothing
    /// more, and a cancellation older than the identity (the person logged in again since) is
    /// not applied to it.
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
        let sent_at: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| rejected("the push timestamp is not a number"))?;
        if (self.clock.now() - sent_at).abs() > PUSH_TIMESTAMP_WINDOW_SECS {
            return Err(rejected(
                "the push timestamp is more than 5 minutes from now",
            ));
        }
        let outer = parse_push_body(body).map_err(|e| CoreError::PushRejected(Cause::new(e)))?;
        let fields = if query.encrypt_type.as_deref() == Some("aes") {
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
            parse_push_body(message.as_bytes())
                .map_err(|e| CoreError::PushRejected(Cause::new(e)))?
        } else {
            let signature = query
                .signature
                .as_deref()
                .ok_or_else(|| rejected("a push without signature"))?;
            if !settings.verify_signature(signature, timestamp, nonce) {
                return Err(rejected("the push's signature is not this app's"));
            }
            outer
        };
        self.apply_event(appid, &fields).await
    }

    async fn apply_event(&self, appid: &str, fields: &PushFields) -> Result<PushEffect, CoreError> {
        if fields.get("MsgType") != Some("event") {
            return Ok(PushEffect::Nothing);
        }
        if let Some(other) = fields.get("AppID").filter(|other| *other != appid) {
            log::warn!("a push to {appid} names the app {other}; ignored");
            return Ok(PushEffect::Nothing);
        }
        let Some(openid) = fields
            .get("OpenID")
            .filter(|o| !o.is_empty())
            .map(OpenId::new)
        else {
            return Ok(PushEffect::Nothing);
        };
        match fields.get("Event") {
            Some("user_authorization_cancellation") => {
                let existed_at = fields
                    .get("CreateTime")
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or_else(|| self.clock.now());
                match self
                    .users
                    .delete_identity(appid, &openid, existed_at)
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
                        Ok(PushEffect::Deleted {
                            account_deleted: deleted.account_deleted,
                        })
                    }
                    None => Ok(PushEffect::Nothing),
                }
            }
            Some("user_authorization_revoke") => {
                let named = fields.get("RevokeInfo").unwrap_or_default();
                self.clear(appid, &openid, revoked_fields(named)).await
            }
            Some("user_info_modified") => {
                self.clear(appid, &openid, vec!["nickName", "avatarUrl"])
                    .await
            }
            _ => Ok(PushEffect::Nothing),
        }
    }

    async fn clear(
        &self,
        appid: &str,
        openid: &OpenId,
        fields: Vec<&'static str>,
    ) -> Result<PushEffect, CoreError> {
        if fields.is_empty() {
            return Ok(PushEffect::Nothing);
        }
        let Some(user) = self.users.find_by_identity(appid, openid).await? else {
            return Ok(PushEffect::Nothing);
        };
        let mut update = ProfileUpdate::default();
        for field in &fields {
            match *field {
                "nickName" => update.nick_name = Some(None),
                "avatarUrl" => update.avatar_url = Some(None),
                "phoneNumber" => update.phone_number = Some(None),
                _ => {}
            }
        }
        if let Some(user) = self
            .users
            .update_profile(&user.id, &update, self.clock.now())
            .await?
        {
            self.cache.update_user(&user);
        }
        Ok(PushEffect::Cleared(fields))
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
