//! What each pushed WeChat event does to the person's data: an authorization cancelled (the
//! identity deleted), revoked or changed (fields cleared), an avatar's content verdict; each
//! accepted one recorded in the audit log.

use wxlogin_domain::{Actor, Audit, AuditKind, OpenId, ProfileUpdate};
use wxlogin_wechat_protocol::{MediaCheckOutcome, MediaCheckResult, PushFields};

use super::push::{PUSH_TIMESTAMP_WINDOW_SECS, PushEffect};
use crate::{CoreError, LoginService};

impl LoginService {
    pub(super) async fn apply_event(
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
