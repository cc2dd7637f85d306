//! WeChat's per-app quotas as the use cases meet them: once an app has spent one (content
//! checks: errcode 45009, until the next clock minute; phone numbers: 1400001, until midnight
//! in Beijing), no instance asks WeChat again before the window ends. The pause is kept in
//! this process's memory and, when limits are shared, for the whole deployment.

use wxlogin_domain::WeChatError;

use crate::deployment_limits::{next_beijing_midnight_ms, next_minute_ms};
use crate::{CoreError, LoginService};

/// WeChat's answer when an app's paid phone-number quota is spent.
pub(crate) const PHONE_QUOTA_SPENT: i64 = 1_400_001;

/// A quota of an app that WeChat can say is spent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Quota {
    /// `msg_sec_check` and `media_check_async` (4,000 and 2,000 a minute).
    ContentCheck,
    /// `getuserphonenumber`, paid, per day.
    PhoneNumber,
}

impl Quota {
    fn key(self, appid: &str) -> String {
        match self {
            Self::ContentCheck => format!("pause:content_check:{appid}"),
            Self::PhoneNumber => format!("pause:phone:{appid}"),
        }
    }

    /// Whether `error` says this quota is spent.
    fn is_spent_by(self, error: &WeChatError) -> bool {
        match self {
            Self::ContentCheck => matches!(error, WeChatError::QuotaExhausted),
            Self::PhoneNumber => {
                matches!(error, WeChatError::Api { errcode, .. } if *errcode == PHONE_QUOTA_SPENT)
            }
        }
    }

    /// When the window WeChat counts the quota in ends.
    fn window_end_ms(self, now_ms: i64) -> i64 {
        match self {
            Self::ContentCheck => next_minute_ms(now_ms),
            Self::PhoneNumber => next_beijing_midnight_ms(now_ms),
        }
    }
}

impl LoginService {
    /// Whether `appid`'s `quota` is spent for now, here or on another instance. Content checks
    /// keep their own memory (`ContentChecks::may_ask`); the caller asks it first.
    pub(super) async fn quota_paused(&self, quota: Quota, appid: &str) -> bool {
        let key = quota.key(appid);
        if matches!(quota, Quota::PhoneNumber) && self.quotas.paused(&key, self.clock.now_ms()) {
            return true;
        }
        self.limits.paused(&key).await.unwrap_or(false)
    }

    /// Notes what a failed call of `appid` says of `quota`: a spent one pauses it until its
    /// window ends, here and for the whole deployment.
    pub(super) async fn note_quota(&self, quota: Quota, appid: &str, error: &CoreError) {
        let CoreError::WeChat(error) = error else {
            return;
        };
        if !quota.is_spent_by(error) {
            return;
        }
        let until = quota.window_end_ms(self.clock.now_ms());
        let key = quota.key(appid);
        log::warn!(
            "WeChat says the {quota:?} quota of {appid} is spent; pausing it until {until} (unix ms) on every instance"
        );
        self.quotas.pause_until(&key, until);
        self.limits.pause_until(&key, until).await;
    }

    /// The refusal of a call not made because its quota is spent: as WeChat would answer it.
    pub(super) fn quota_spent(quota: Quota) -> CoreError {
        CoreError::WeChat(match quota {
            Quota::ContentCheck => WeChatError::QuotaExhausted,
            Quota::PhoneNumber => WeChatError::Api {
                errcode: PHONE_QUOTA_SPENT,
                errmsg:
                    "the app's phone number quota is spent (paused until midnight, Beijing time)"
                        .into(),
            },
        })
    }
}
