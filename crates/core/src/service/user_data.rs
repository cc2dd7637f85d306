//! The user data WeChat hands the front end: the profile from `wx.getUserInfo` (signed and
//! encrypted with the session_key) and the phone number from a `getPhoneNumber` code.

use wxlogin_domain::{
    Cause, OpenId, ProfileUpdate, SessionKey, StoreError, User, WeChatError, error_chain,
};
use wxlogin_wechat_protocol::{OpenDataError, decrypt_open_data, verify_raw_data};

use super::App;
use super::login::is_plausible_code;
use super::quotas::Quota;
use crate::{Caller, CoreError, LoginService, ProfileEdit};

/// What `wx.getUserInfo` returns, as the front end forwards it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserInfoData {
    /// The public profile as JSON text.
    pub raw_data: String,
    /// `sha1(rawData + session_key)`, hex.
    pub signature: String,
    /// The full profile, encrypted with the session_key, base64.
    pub encrypted_data: String,
    /// The iv, base64.
    pub iv: String,
}

impl std::fmt::Debug for UserInfoData {
    /// Personal data: only the sizes are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfoData")
            .field("raw_data_len", &self.raw_data.len())
            .field("encrypted_data_len", &self.encrypted_data.len())
            .finish_non_exhaustive()
    }
}

/// The one answer to every open data refused once decrypted.
pub const NOT_THIS_USERS_DATA: &str =
    "it does not decrypt to this mini program's data of this user under the login's session_key";

/// The longest phone number accepted from WeChat, in characters.
const MAX_PHONE_CHARS: usize = 32;

impl LoginService {
    /// Verifies and decrypts the caller's `wx.getUserInfo` data with the newest session_key
    /// held for them, and stores its nickname, avatar and gender.
    ///
    /// When the signature or the decryption fails, WeChat is asked whether that session_key is
    /// still the user's: if not, the answer is [`CoreError::SessionKeyStale`] (log in again)
    /// and that session is ended; otherwise the data was altered ([`CoreError::InvalidSignature`],
    /// [`CoreError::DecryptFailed`]).
    pub async fn apply_user_info(
        &self,
        caller: &Caller,
        data: UserInfoData,
    ) -> Result<User, CoreError> {
        let app = self.app_of(caller)?;
        self.spend_user_call(caller).await?;
        let now = self.clock.now();
        let session_id = self
            .sessions
            .latest_live_session(&caller.user.id, &caller.appid, now)
            .await?
            .ok_or(CoreError::SessionKeyStale)?
            .id;
        let openid = self
            .users
            .openid(&caller.user.id, &caller.appid)
            .await?
            .ok_or(CoreError::SessionKeyStale)?;
        let key = match self.sessions.session_key(&session_id).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(CoreError::SessionKeyStale),
            // Sealed under a key rotated away: as unusable as a stale one.
            Err(e @ StoreError::Sealed(_)) => {
                log::warn!("a session_key could not be opened: {}", error_chain(&e));
                self.end_stale_session(&session_id).await?;
                return Err(CoreError::SessionKeyStale);
            }
            Err(e) => return Err(e.into()),
        };

        if !verify_raw_data(&data.raw_data, &data.signature, &key) {
            return Err(self
                .stale_or(app, &openid, &key, &session_id, CoreError::InvalidSignature)
                .await);
        }
        // Every failure once the cipher has run gets one answer: telling bad padding from bad
        // JSON (or from another app's or user's data) would make this route a padding oracle.
        let undecryptable = |why: &dyn std::fmt::Display| {
            log::debug!("open data refused after decryption: {why}");
            CoreError::DecryptFailed(Cause::msg(NOT_THIS_USERS_DATA))
        };
        let plain = match decrypt_open_data(&data.encrypted_data, &data.iv, &key, &caller.appid) {
            Ok(plain) => plain,
            // Only a wrong key or altered data reach padding or parsing; malformed input and
            // another app's data say nothing about the key.
            Err(e @ (OpenDataError::Padding | OpenDataError::NotJson)) => {
                let refused = undecryptable(&e);
                return Err(self
                    .stale_or(app, &openid, &key, &session_id, refused)
                    .await);
            }
            Err(e @ OpenDataError::Watermark) => return Err(undecryptable(&e)),
            // Malformed before the cipher ran (base64, lengths): saying which is no oracle.
            Err(e) => return Err(CoreError::DecryptFailed(Cause::new(e))),
        };
        // The key is this user's, so the data is too; an openId that says otherwise is refused.
        let openid_of_caller = &openid;
        if let Some(openid) = plain.get("openId")
            && openid.as_str() != Some(openid_of_caller.expose())
        {
            return Err(undecryptable(&"the data belongs to another WeChat user"));
        }
        // CBC is malleable: altered encryptedData can decrypt to other, valid JSON. The signed
        // rawData holds the same profile, so the profile stored must be the one signed.
        if let Ok(serde_json::Value::Object(signed)) =
            serde_json::from_str::<serde_json::Value>(&data.raw_data)
            && ["nickName", "avatarUrl", "gender"].iter().any(|field| {
                signed
                    .get(*field)
                    .is_some_and(|value| Some(value) != plain.get(*field))
            })
        {
            return Err(undecryptable(
                &"the decrypted profile is not the signed rawData",
            ));
        }
        let text = |field: &str| {
            plain
                .get(field)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let edit = ProfileEdit {
            nick_name: text("nickName").map(Some),
            avatar_url: text("avatarUrl").map(Some),
        };
        let mut update = edit.validate()?;
        update.gender = plain
            .get("gender")
            .and_then(serde_json::Value::as_i64)
            .filter(|g| (0..=2).contains(g))
            .and_then(|g| i32::try_from(g).ok())
            .map(Some);
        self.store_update(caller, update).await
    }

    /// Exchanges a `getPhoneNumber` code for the caller's phone number and stores it.
    pub async fn bind_phone_number(&self, caller: &Caller, code: &str) -> Result<User, CoreError> {
        if !is_plausible_code(code) {
            return Err(CoreError::MalformedCode);
        }
        let app = self.app_of(caller)?;
        self.spend_user_call(caller).await?;
        if self.quota_paused(Quota::PhoneNumber, &caller.appid).await {
            return Err(Self::quota_spent(Quota::PhoneNumber));
        }
        let asked = self
            .with_access_token(app, |token| async move {
                app.wechat.phone_number(&token, code).await
            })
            .await;
        if let Err(e) = &asked {
            self.note_quota(Quota::PhoneNumber, &caller.appid, e).await;
        }
        let phone = asked?;
        let number = phone.phone_number;
        if number.chars().count() > MAX_PHONE_CHARS
            || !number
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
        {
            return Err(CoreError::WeChat(WeChatError::InvalidResponse(Cause::msg(
                "getuserphonenumber: a phoneNumber that is not a phone number",
            ))));
        }
        let update = ProfileUpdate {
            phone_number: Some(Some(number)),
            ..ProfileUpdate::default()
        };
        self.store_update(caller, update).await
    }

    /// Counts one user-data call of the caller's account (for the whole deployment when limits
    /// are shared), or refuses it before WeChat is asked.
    pub(super) async fn spend_user_call(&self, caller: &Caller) -> Result<(), CoreError> {
        let id = &caller.user.id;
        let allowed = self
            .limits
            .take(&format!("user:{id}"), self.settings.user_rate_limit, || {
                self.user_calls.allow(id)
            })
            .await;
        if allowed {
            Ok(())
        } else {
            Err(CoreError::UserRateLimited)
        }
    }

    pub(super) async fn store_update(
        &self,
        caller: &Caller,
        update: ProfileUpdate,
    ) -> Result<User, CoreError> {
        if update.is_empty() {
            return Ok(caller.user.clone());
        }
        let user = self
            .users
            .update_profile(&caller.user.id, &update, self.clock.now())
            .await?
            .ok_or_else(|| CoreError::token_invalid("the user no longer exists"))?;
        self.cache.update_user(&user);
        Ok(user)
    }

    /// `refused`, unless WeChat says the session_key is no longer the user's: then the session
    /// is ended and the client told to log in again.
    async fn stale_or(
        &self,
        app: &App,
        openid: &OpenId,
        key: &SessionKey,
        session_id: &str,
        refused: CoreError,
    ) -> CoreError {
        let checked = match self.verdicts.get(session_id) {
            Some(current) => Ok(current),
            None => {
                let asked = self
                    .with_access_token(app, |token| async move {
                        app.wechat.check_session(&token, openid, key).await
                    })
                    .await;
                if let Ok(current) = asked {
                    self.verdicts.put(session_id, current);
                }
                asked
            }
        };
        match checked {
            Ok(false) => match self.end_stale_session(session_id).await {
                Ok(()) => CoreError::SessionKeyStale,
                Err(e) => e,
            },
            Ok(true) => refused,
            Err(e) => {
                log::warn!(
                    "could not ask WeChat whether the session_key is current: {}",
                    error_chain(&e)
                );
                refused
            }
        }
    }

    async fn end_stale_session(&self, session_id: &str) -> Result<(), CoreError> {
        self.cache.forget_session(session_id);
        self.sessions
            .expire_session(session_id, self.clock.now())
            .await?;
        // Again once the store has ended it: see `LoginService::logout`.
        self.cache.forget_session(session_id);
        Ok(())
    }
}
