//! What a person does to their own account: edit the profile, delete it all.

use wxlogin_domain::{AuditKind, User, WeChatError};

use super::login::is_plausible_code;
use super::{Caller, LoginService};
use crate::{CoreError, ProfileEdit};

impl LoginService {
    /// Applies a profile edit to the caller's own profile and returns the user as it now is.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        edit: ProfileEdit,
    ) -> Result<User, CoreError> {
        let mut update = edit.validate()?;
        if let Some(Some(nick_name)) = &update.nick_name {
            self.check_nickname(caller, nick_name).await?;
        }
        // With content checks on, an external avatar URL is checked like an upload: recorded
        // as the file the account shows, so WeChat's verdict can take it down.
        let checked_avatar = match &update.avatar_url {
            Some(Some(url)) if self.checks_external_avatars() => Some(url.clone()),
            _ => None,
        };
        if checked_avatar.is_some() {
            update.avatar_url = None;
        }
        let new_avatar = update.avatar_url.is_some();
        let mut user = self.store_update(caller, update).await?;
        if let Some(url) = checked_avatar {
            user = self.show_external_avatar(caller, &url).await?;
        } else if new_avatar {
            // The uploaded file it replaced, if any, is shown no more.
            self.collect_unused_media_now().await;
        }
        Ok(user)
    }

    /// Deletes the caller's account, once `code`, a fresh `wx.login` code of the app of the
    /// caller's session, proves the person is there: it must resolve to the caller's own
    /// identity in that app. A stolen token alone cannot delete an account.
    ///
    /// The code is checked as a login's is ([`CoreError::MalformedCode`] without asking
    /// WeChat), and each attempt counts against the account's user-data calls (each costs a
    /// WeChat call). The account deleted is the one the caller's identity belongs to when the
    /// deletion commits: one merged into another meanwhile is deleted there, with the rest of
    /// the person.
    pub async fn delete_account(&self, caller: &Caller, code: &str) -> Result<(), CoreError> {
        let app = self.app_of(caller)?;
        if !is_plausible_code(code) {
            return Err(CoreError::MalformedCode);
        }
        self.spend_user_call(caller).await?;
        let proof = match app.wechat.code2session(code).await {
            Ok(session) => session,
            Err(e @ (WeChatError::InvalidCode | WeChatError::CodeUsed)) => {
                return Err(CoreError::ReauthFailed(wxlogin_domain::Cause::new(e)));
            }
            Err(e) => return Err(e.into()),
        };
        let own = self.users.openid(&caller.user.id, &caller.appid).await?;
        if own.as_ref() != Some(&proof.openid) {
            return Err(CoreError::ReauthFailed(wxlogin_domain::Cause::msg(
                "the code is another WeChat user's",
            )));
        }
        if let Some(deleted) = self
            .users
            .delete_account(
                &caller.user.id,
                &caller.appid,
                &proof.openid,
                &caller.audit(AuditKind::Deletion, self.clock.now()),
            )
            .await?
        {
            self.forget_all(&deleted.user_id, &deleted.ended_sessions);
            if deleted.user_id != caller.user.id {
                // The caller's own id went with the merge; its sessions are ended too.
                self.cache.forget_user(&caller.user.id);
            }
            log::info!("account {} deleted at its owner's request", deleted.user_id);
            self.collect_unused_media_now().await;
        }
        Ok(())
    }
}
