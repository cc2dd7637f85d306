//! The policy of the use cases, with its defaults.

use std::time::Duration;

/// How recently the change feed must have been heard for the cache to trust its entries for
/// [`LoginSettings::session_cache_with_feed`]. A logout elsewhere that the feed does not
/// deliver (its connection died) is honoured here within this grace, plus the feed's poll.
pub const FEED_GRACE: Duration = Duration::from_millis(750);

/// Policy of the use cases.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Lifetime of a login session, in seconds: its refresh tokens live that long, and no
    /// access token outlives it.
    pub session_ttl_secs: i64,
    /// Lifetime of an access token, in seconds (`ACCESS_TOKEN_TTL_SECS`), never past its
    /// session: a refresh gives the next one.
    pub access_token_ttl_secs: i64,
    /// How long after its use a spent refresh token presented again gets the current pair, in
    /// seconds (`REFRESH_REUSE_SECS`); the one just before the current always does (an answer
    /// lost on the way). Older ones end the session: a theft signal.
    pub refresh_reuse_secs: i64,
    /// The memory the cache of verified access tokens may hold, in bytes; zero turns it off.
    pub verified_token_bytes: u64,
    /// How long before WeChat's expiry the shared access token is replaced, in seconds, capped
    /// at a quarter of the token's lifetime. WeChat hands out the next token 5 minutes early.
    pub access_token_margin_secs: i64,
    /// How long a `wx.login` code's first answer is replayed to repeated submissions from the
    /// same client address, in seconds, and only while its session is live; after that, or from
    /// another address, a copy goes to WeChat like any code (which says it was used). Zero
    /// turns replays off.
    pub code_replay_secs: i64,
    /// How long a live session and its user, once read, are trusted without asking the
    /// store again; zero turns the cache off. This instance's own logouts and edits apply
    /// at once; another instance's arrive through the change feed, or within this window.
    pub session_cache: Duration,
    /// How long they are trusted while the store's change feed is heard (PostgreSQL's
    /// `NOTIFY` listener, or on SQLite the one process's own changes, says every fraction of a
    /// second that it missed nothing), since any
    /// change elsewhere is then told at once; zero keeps `session_cache` the only window. When
    /// the feed falls silent for [`FEED_GRACE`], `session_cache` is the bound again.
    pub session_cache_with_feed: Duration,
    /// The memory the session cache may hold, in bytes, its sessions and their users weighed
    /// by what they hold (about 1.2 KiB a session with its user). Sessions that are asked
    /// for stay; sessions only logged in pass through and go first.
    pub session_cache_bytes: u64,
    /// How many user-data calls (`apply_user_info`, `bind_phone_number`, each costing WeChat
    /// calls on the app's quota) one account may make per minute, on this instance; 0 turns the
    /// limit off.
    pub user_rate_limit: u32,
    /// How long WeChat's `checksession` verdict on a session's key is trusted: refused user
    /// data asks it once per session and window, not once per request.
    pub checksession_memory: Duration,
}

impl LoginSettings {
    /// The session lifetime when none is configured: seven days, like the contract's example.
    pub const DEFAULT_SESSION_TTL_SECS: i64 = 7 * 24 * 3600;
    /// The access token lifetime when none is configured: two hours.
    pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: i64 = 7200;
    /// The refresh reuse window when none is configured: ten seconds.
    pub const DEFAULT_REFRESH_REUSE_SECS: i64 = 10;
    /// The verified-token cache's memory when none is configured: 8 MiB.
    pub const DEFAULT_VERIFIED_TOKEN_BYTES: u64 = crate::verified_tokens::DEFAULT_BYTES;
    /// The session cache window when none is configured: one second.
    pub const DEFAULT_SESSION_CACHE: Duration = Duration::from_secs(1);
    /// The window while the change feed is heard, when none is configured: one minute.
    pub const DEFAULT_SESSION_CACHE_WITH_FEED: Duration = Duration::from_secs(60);
    /// The session cache's memory when none is configured (`SESSION_CACHE_MB`): 32 MiB.
    pub const DEFAULT_SESSION_CACHE_BYTES: u64 = crate::cache::DEFAULT_BYTES;
    /// How long a code's first answer is replayed when none is configured (`CODE_REPLAY_SECS`):
    /// long enough for a double tap or a retried request, short enough that a copied code is
    /// no credential.
    pub const DEFAULT_CODE_REPLAY_SECS: i64 = 10;
    /// User-data calls per account per minute when none is configured (`USER_RATE_LIMIT`).
    pub const DEFAULT_USER_RATE_LIMIT: u32 = 10;
}

impl Default for LoginSettings {
    /// Seven-day sessions; tokens replaced 5 minutes early; a code's first answer replayed for
    /// 10 seconds; sessions cached for one second (a minute while the change feed is heard).
    fn default() -> Self {
        Self {
            session_ttl_secs: Self::DEFAULT_SESSION_TTL_SECS,
            access_token_ttl_secs: Self::DEFAULT_ACCESS_TOKEN_TTL_SECS,
            refresh_reuse_secs: Self::DEFAULT_REFRESH_REUSE_SECS,
            verified_token_bytes: Self::DEFAULT_VERIFIED_TOKEN_BYTES,
            access_token_margin_secs: 300,
            code_replay_secs: Self::DEFAULT_CODE_REPLAY_SECS,
            session_cache: Self::DEFAULT_SESSION_CACHE,
            session_cache_with_feed: Self::DEFAULT_SESSION_CACHE_WITH_FEED,
            session_cache_bytes: Self::DEFAULT_SESSION_CACHE_BYTES,
            user_rate_limit: Self::DEFAULT_USER_RATE_LIMIT,
            checksession_memory: Duration::from_secs(300),
        }
    }
}
