//! The profile the way WeChat offers it today: an uploaded avatar (checked by content,
//! re-encoded without metadata, stored, checked by WeChat later) and a nickname checked by
//! WeChat before it is kept; the take-down of an avatar WeChat finds risky; and the deletion
//! of files no account shows any more.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wxlogin_domain::{
    Cause, ContentVerdict, MediaObject, OpenId, Suggest, User, WeChatError, error_chain, to_hex,
};
use wxlogin_media::{AvatarError, process_avatar};

use super::quotas::Quota;
use super::{App, Caller, LoginService};
use crate::CoreError;
use crate::media::Media;

/// Files deleted from the media store per round of collection.
const COLLECT_BATCH: usize = 64;

impl LoginService {
    fn media(&self) -> Result<&Media, CoreError> {
        self.media.as_ref().ok_or(CoreError::MediaNotConfigured)
    }

    /// Takes an uploaded image as the caller's avatar: refused unless it is a JPEG, PNG, WebP
    /// or GIF within the limits (by its content, before it is decoded), then decoded (first
    /// frame), scaled, re-encoded without a byte of its metadata, stored under a new name,
    /// shown, and sent to WeChat's content check when checks are on. The avatar it replaces
    /// is deleted. Answers the user as it now is.
    pub async fn upload_avatar(&self, caller: &Caller, upload: Vec<u8>) -> Result<User, CoreError> {
        let media = self.media()?;
        let app = self.app_of(caller)?;
        let limits = media.settings.limits;
        if upload.len() > limits.max_bytes {
            return Err(CoreError::ImageTooLarge);
        }
        // Each upload costs a decoding and, with checks on, a call on the app's WeChat quota:
        // counted against the account like the other calls that do (`USER_RATE_LIMIT`), so one
        // account cannot spend the app's quota (and so pause everyone's checks).
        self.spend_user_call(caller).await?;
        // Each decoding holds a whole image: a bounded number at once, the others wait a
        // while, then are told to come back, never pile up in memory.
        let turn = tokio::time::timeout(
            media.settings.wait,
            std::sync::Arc::clone(&media.turns).acquire_owned(),
        )
        .await
        .map_err(|_| CoreError::UploadsBusy)?
        .map_err(|e| CoreError::Internal(Cause::new(e)))?;
        let avatar = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            process_avatar(&upload, &limits)
        })
        .await
        .map_err(|e| CoreError::Internal(Cause::new(e)))?
        .map_err(|e| match e {
            AvatarError::TooLarge { .. } => CoreError::ImageTooLarge,
            e @ AvatarError::Encode(_) => CoreError::Internal(Cause::new(e)),
            other => CoreError::InvalidImage(other.to_string()),
        })?;

        let now = self.clock.now();
        let name = file_name(&caller.user.id, &avatar.bytes, avatar.extension);
        media
            .records
            .register_media(&name, &caller.user.id, now)
            .await?;
        media
            .files
            .put(&MediaObject {
                name: name.clone(),
                content_type: avatar.content_type.to_owned(),
                bytes: avatar.bytes,
            })
            .await
            .map_err(CoreError::Media)?;
        let url = media.url_of(&name);
        // Asked before the avatar is shown: with checks failing closed, an avatar WeChat
        // could not be asked about is never shown. WeChat downloads it from `url`, which
        // serves every stored file, shown or not.
        let trace_id = self.ask_media_check(app, caller, &url).await?;
        if let Some(trace_id) = &trace_id {
            let rejected = media
                .records
                .note_media_check(&name, trace_id, self.clock.now())
                .await?;
            if rejected {
                self.collect_unused_media_now().await;
                return Err(CoreError::ContentRejected);
            }
        }
        let Some(user) = media
            .records
            .attach_avatar(&caller.user.id, &name, &url, now)
            .await?
        else {
            self.collect_unused_media_now().await;
            // Refused because WeChat's verdict came in meanwhile, or the account is gone.
            return Err(match trace_id {
                Some(_) => CoreError::ContentRejected,
                None => CoreError::token_invalid("the user no longer exists"),
            });
        };
        self.cache.update_user(&user);
        self.collect_unused_media_now().await;
        Ok(user)
    }

    /// Whether an external avatar URL goes through WeChat's check (checks on, and the records
    /// of shown avatars at hand).
    pub(super) fn checks_external_avatars(&self) -> bool {
        self.content_checks.settings.enabled && self.media.is_some()
    }

    /// Shows an external avatar URL once WeChat has been asked about it, recorded as a file of
    /// the account's (`external/<digest>`, nothing stored) so that a risky verdict takes it
    /// down as it does an upload.
    pub(super) async fn show_external_avatar(
        &self,
        caller: &Caller,
        url: &str,
    ) -> Result<User, CoreError> {
        let media = self.media()?;
        let app = self.app_of(caller)?;
        self.spend_user_call(caller).await?;
        let now = self.clock.now();
        let name =
            file_name(&caller.user.id, url.as_bytes(), "url").replacen("avatars/", "external/", 1);
        media
            .records
            .register_media(&name, &caller.user.id, now)
            .await?;
        if let Some(trace_id) = self.ask_media_check(app, caller, url).await?
            && media
                .records
                .note_media_check(&name, &trace_id, self.clock.now())
                .await?
        {
            return Err(CoreError::ContentRejected);
        }
        let user = media
            .records
            .attach_avatar(&caller.user.id, &name, url, now)
            .await?
            .ok_or(CoreError::ContentRejected)?;
        self.cache.update_user(&user);
        self.collect_unused_media_now().await;
        Ok(user)
    }

    /// Checks a nickname with WeChat before it is kept: `risky` refuses it
    /// ([`CoreError::ContentRejected`]); when WeChat cannot be asked, it is kept unchecked, or
    /// refused with checks failing closed.
    pub(super) async fn check_nickname(
        &self,
        caller: &Caller,
        nick_name: &str,
    ) -> Result<(), CoreError> {
        let checks = &self.content_checks;
        if !checks.settings.enabled || nick_name.trim().is_empty() {
            return Ok(());
        }
        let app = self.app_of(caller)?;
        self.spend_user_call(caller).await?;
        let asked = match self.openid_for_check(caller).await? {
            None => return self.unchecked(&caller.appid, "a nickname", None),
            Some(_) if !self.may_check_content(&caller.appid).await => {
                return self.unchecked(&caller.appid, "a nickname", None);
            }
            Some(openid) => {
                self.with_access_token(app, |token| {
                    let openid = openid.clone();
                    async move { app.wechat.msg_sec_check(&token, &openid, nick_name).await }
                })
                .await
            }
        };
        match asked {
            Ok(ContentVerdict { suggest, label }) => {
                checks.verdict(suggest);
                if suggest == Suggest::Risky {
                    log::info!(
                        "WeChat found a nickname of account {} risky (label {label}); refused",
                        caller.user.id
                    );
                    return Err(CoreError::ContentRejected);
                }
                Ok(())
            }
            Err(e) => {
                self.note_quota(Quota::ContentCheck, &caller.appid, &e)
                    .await;
                self.unchecked(&caller.appid, "a nickname", Some(e))
            }
        }
    }

    /// Sends a stored avatar to WeChat's asynchronous check; its trace id, or `None` when
    /// checks are off or WeChat could not be asked (and checks fail open).
    async fn ask_media_check(
        &self,
        app: &App,
        caller: &Caller,
        url: &str,
    ) -> Result<Option<String>, CoreError> {
        let checks = &self.content_checks;
        if !checks.settings.enabled {
            return Ok(None);
        }
        let Some(openid) = self.openid_for_check(caller).await? else {
            return self
                .unchecked(&caller.appid, "an avatar", None)
                .map(|()| None);
        };
        if !self.may_check_content(&caller.appid).await {
            return self
                .unchecked(&caller.appid, "an avatar", None)
                .map(|()| None);
        }
        let asked = self
            .with_access_token(app, |token| {
                let openid = openid.clone();
                async move { app.wechat.media_check_async(&token, &openid, url).await }
            })
            .await;
        match asked {
            Ok(trace_id) => Ok(Some(trace_id)),
            Err(e) => {
                self.note_quota(Quota::ContentCheck, &caller.appid, &e)
                    .await;
                self.unchecked(&caller.appid, "an avatar", Some(e))
                    .map(|()| None)
            }
        }
    }

    /// Whether `appid`'s content checks may be asked: not while its quota is spent, as this
    /// process or (limits shared) any instance saw.
    async fn may_check_content(&self, appid: &str) -> bool {
        let checks = &self.content_checks;
        if !checks.may_ask(appid, self.clock.now()) {
            return false;
        }
        if self.quota_paused(Quota::ContentCheck, appid).await {
            checks.paused_elsewhere();
            return false;
        }
        true
    }

    /// The caller's openid in the app of their session: WeChat checks content in a user's
    /// name. `None` (nothing to check with) if the identity is gone.
    async fn openid_for_check(&self, caller: &Caller) -> Result<Option<OpenId>, CoreError> {
        Ok(self.users.openid(&caller.user.id, &caller.appid).await?)
    }

    /// A check WeChat did not answer (`error`) or was not asked (the quota is spent, no
    /// identity to ask in the name of): counted, and the change accepted, or refused when
    /// checks fail closed. Only WeChat being unavailable is let through unchecked: a check
    /// WeChat refuses (an errcode: the user has not used the mini program for two hours, a
    /// malformed request; a reply that is not one) refuses the change whatever the mode, or
    /// waiting two hours with a token would be a way around the check.
    fn unchecked(
        &self,
        appid: &str,
        what: &str,
        error: Option<CoreError>,
    ) -> Result<(), CoreError> {
        let checks = &self.content_checks;
        let mut refused = false;
        if let Some(e) = &error {
            if let CoreError::WeChat(wechat) = e {
                checks.failed(appid, wechat, self.clock.now());
                refused = !matches!(
                    wechat,
                    WeChatError::Busy
                        | WeChatError::Timeout
                        | WeChatError::Unreachable(_)
                        | WeChatError::Unavailable(_)
                        | WeChatError::QuotaExhausted
                );
            }
            log::warn!("WeChat could not check {what}: {}", error_chain(e));
        }
        if checks.settings.fail_closed || refused {
            Err(CoreError::ContentCheckUnavailable)
        } else {
            Ok(())
        }
    }

    /// Applies WeChat's verdict on an avatar it checked (the `wxa_media_check` push): a risky
    /// one is taken down (the account shows no avatar, its file is deleted). A verdict on an
    /// avatar already replaced, deleted or taken down, or for an unknown trace, does nothing.
    pub(super) async fn apply_media_verdict(
        &self,
        trace_id: &str,
        suggest: Option<Suggest>,
    ) -> Result<Option<String>, CoreError> {
        match suggest {
            Some(suggest) => self.content_checks.verdict(suggest),
            // WeChat could not download it: nobody looked at it. Counted as a check that
            // failed; with checks failing closed, an avatar nobody looked at is not shown.
            None => self.content_checks.undownloadable(),
        }
        let take_down = match suggest {
            Some(Suggest::Risky) => true,
            None => self.content_checks.settings.fail_closed,
            Some(_) => false,
        };
        if !take_down {
            return Ok(None);
        }
        let media = self.media()?;
        let taken_down = media
            .records
            .take_down_checked_avatar(trace_id, self.clock.now())
            .await?;
        if let Some(user_id) = &taken_down {
            self.cache.forget_user(user_id);
            log::info!("WeChat found the avatar of account {user_id} risky; taken down");
            self.collect_unused_media_now().await;
        }
        Ok(taken_down)
    }

    /// Deletes from the media store the files no account shows (replaced, taken down, of
    /// deleted accounts, of uploads that never finished), and says how many. Runs after every
    /// change that leaves one; run it on a schedule too, for those a failure left. Any
    /// instance may run it; running it twice is harmless.
    pub async fn collect_unused_media(&self) -> Result<usize, CoreError> {
        let Some(media) = &self.media else {
            return Ok(0);
        };
        let before = self
            .clock
            .now()
            .saturating_sub(media.settings.unattached_grace_secs);
        let mut collected = 0;
        loop {
            let names = media.records.unused_media(before, COLLECT_BATCH).await?;
            let mut deleted = Vec::with_capacity(names.len());
            for name in names.iter() {
                match media.files.delete(name).await {
                    Ok(()) => deleted.push(name.clone()),
                    Err(e) => log::warn!("could not delete {name}: {}", error_chain(&e)),
                }
            }
            collected += media.records.forget_media(&deleted).await?;
            if names.len() < COLLECT_BATCH || deleted.len() < names.len() {
                return Ok(collected);
            }
        }
    }

    /// [`collect_unused_media`](Self::collect_unused_media) after a change, its failure
    /// logged: the change is done, and the schedule retries.
    pub(super) async fn collect_unused_media_now(&self) {
        if let Err(e) = self.collect_unused_media().await {
            log::warn!("collecting unused media failed: {}", error_chain(&e));
        }
    }

    /// How WeChat's content checks went since the process started.
    pub fn content_check_stats(&self) -> crate::ContentCheckStats {
        self.content_checks.stats()
    }
}

/// A new name for a file: a digest of its bytes, its account and a per-process sequence with
/// the time, so a name never names two contents (a file can be cached for ever) and a name
/// once deleted is never used again.
fn file_name(user_id: &str, bytes: &[u8], extension: &str) -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut digest = Sha256::new();
    digest.update(bytes);
    digest.update(user_id.as_bytes());
    digest.update(nanos.to_le_bytes());
    digest.update(SEQUENCE.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let hex = to_hex(&digest.finalize());
    format!("avatars/{}.{extension}", &hex[..32])
}
