/// Why a WeChat call failed, classified so callers branch on kinds, never on messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeChatError {
    /// `40029`: the code is not valid (malformed, expired, or for another app).
    #[error("WeChat rejected the code as invalid (40029)")]
    InvalidCode,
    /// `40163`: the code was already exchanged.
    #[error("WeChat says the code was already used (40163)")]
    CodeUsed,
    /// `45011`: the user's per-minute quota is reached.
    #[error("WeChat rate limit reached (45011)")]
    RateLimited,
    /// `40226`: WeChat blocks this user as high risk.
    #[error("WeChat flags the user as high risk (40226)")]
    RiskyUser,
    /// `-1`: WeChat is busy, and stayed busy through the retries.
    #[error("WeChat is busy (-1)")]
    Busy,
    /// `40013` (appid) or `40125` (secret): our own credentials are wrong.
    #[error("WeChat refused our credentials ({errcode})")]
    BadCredentials {
        /// The errcode WeChat sent.
        errcode: i64,
    },
    /// `40001`, `40014` or `42001`: the access token used is invalid or expired. Fetch a new
    /// one and try once more.
    #[error("WeChat refused the access token ({errcode})")]
    AccessTokenInvalid {
        /// The errcode WeChat sent.
        errcode: i64,
    },
    /// `45009`: a daily API quota is used up. Not transient: never retried.
    #[error("WeChat daily quota exhausted (45009)")]
    QuotaExhausted,
    /// Any other errcode, kept as WeChat sent it.
    #[error("WeChat error {errcode}: {errmsg}")]
    Api {
        /// The errcode WeChat sent.
        errcode: i64,
        /// WeChat's message, for logs only.
        errmsg: String,
    },
    /// The reply was not JSON, or lacked the fields a success must have.
    #[error("WeChat sent an unexpected reply: {0}")]
    InvalidResponse(String),
    /// WeChat could not be reached, or answered with an HTTP error.
    #[error("WeChat could not be reached: {0}")]
    Unavailable(String),
    /// WeChat did not answer in time.
    #[error("WeChat did not answer in time")]
    Timeout,
}

impl WeChatError {
    /// The error an `errcode` stands for (`0` is not an error and is not passed here).
    pub fn from_errcode(errcode: i64, errmsg: &str) -> Self {
        match errcode {
            40029 => Self::InvalidCode,
            40163 => Self::CodeUsed,
            45011 => Self::RateLimited,
            40226 => Self::RiskyUser,
            -1 => Self::Busy,
            40013 | 40125 => Self::BadCredentials { errcode },
            40001 | 40014 | 42001 => Self::AccessTokenInvalid { errcode },
            45009 => Self::QuotaExhausted,
            _ => Self::Api {
                errcode,
                errmsg: errmsg.to_owned(),
            },
        }
    }

    /// Whether trying again may help: only when WeChat was busy or could not be reached, so
    /// a rejected code is never sent twice.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy | Self::Unavailable(_))
    }
}
