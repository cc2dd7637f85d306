#![doc = include_str!("../README.md")]

mod business;
mod code2session;
mod config;
mod content_security;
mod media_check;
mod open_data;
mod push;
mod serving;

pub use config::{DEV_APPID, DEV_APPIDS, DEV_SECRET, FakeApp, FakeWeChatConfig};
pub use content_security::{MediaCheckCall, TextCheck};
pub use media_check::{FinishedMediaCheck, PushDelivery};
pub use open_data::{UserData, encrypt_open_data};
pub use push::{
    DEV_PUSH_AES_KEY, DEV_PUSH_TOKEN, FakePush, PushFormat, PushMessage, PushMode, PushRequest,
};
pub use serving::{BackgroundFake, RunningFake};

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// One app's state.
struct AppState {
    appid: String,
    secret: String,
    open_platform: std::sync::atomic::AtomicBool,
    /// The access tokens and the business calls made with them.
    business: Mutex<business::Tokens>,
    /// Where this app's `wxa_media_check` pushes go, as set in WeChat's console.
    push_url: Mutex<Option<String>>,
}

struct State {
    apps: Vec<AppState>,
    /// Codes already exchanged (`appid:code`), with how many times each was sent.
    seen: Mutex<HashMap<String, u32>>,
    code2session_calls: AtomicUsize,
    /// Each user's current session_key, by openid: the last one handed out.
    current_keys: Mutex<HashMap<String, String>>,
    stable_token_calls: AtomicUsize,
    phone_calls: AtomicUsize,
    check_session_calls: AtomicUsize,
    /// What the content-security APIs were asked.
    checks: content_security::Checks,
}

/// The fake WeChat API. Cheap to clone: clones share their state (used codes, call counts).
#[derive(Clone)]
pub struct FakeWeChat {
    state: Arc<State>,
}

impl FakeWeChat {
    /// A fake playing the mini programs `config` describes (the default app if it names none).
    pub fn new(config: FakeWeChatConfig) -> Self {
        // awc (its pushes, its downloads of media to check) panics without a process-wide
        // rustls provider, even for plain http. Installing fails harmlessly when one is there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let apps = if config.apps.is_empty() {
            FakeWeChatConfig::default().apps
        } else {
            config.apps
        };
        Self {
            state: Arc::new(State {
                apps: apps
                    .into_iter()
                    .map(|app| AppState {
                        appid: app.appid,
                        secret: app.secret,
                        open_platform: std::sync::atomic::AtomicBool::new(app.open_platform),
                        business: Mutex::default(),
                        push_url: Mutex::default(),
                    })
                    .collect(),
                seen: Mutex::default(),
                code2session_calls: AtomicUsize::new(0),
                current_keys: Mutex::default(),
                stable_token_calls: AtomicUsize::new(0),
                phone_calls: AtomicUsize::new(0),
                check_session_calls: AtomicUsize::new(0),
                checks: content_security::Checks::default(),
            }),
        }
    }

    fn first(&self) -> &AppState {
        &self.state.apps[0]
    }

    fn app(&self, appid: &str) -> Option<&AppState> {
        self.state.apps.iter().find(|app| app.appid == appid)
    }

    /// The appids the fake plays, the first first.
    pub fn appids(&self) -> Vec<String> {
        self.state
            .apps
            .iter()
            .map(|app| app.appid.clone())
            .collect()
    }

    /// The openid the first app gives the user named `name` (see the codes table).
    pub fn openid_for(&self, name: &str) -> String {
        self.openid_in(&self.first().appid, name)
    }

    /// The openid app `appid` gives the user named `name`: each app has its own.
    pub fn openid_in(&self, appid: &str, name: &str) -> String {
        format!("o{}", &digest("openid", appid, name)[..27])
    }

    /// The unionid of the user named `name`: the same in every app bound to the Open Platform
    /// account.
    pub fn unionid_for(&self, name: &str) -> String {
        format!("o{}", &digest("unionid", "open-platform", name)[..27])
    }

    /// The session_key the first app hands out for `code` (16 bytes, base64).
    pub fn session_key_for(&self, code: &str) -> String {
        self.session_key_in(&self.first().appid, code)
    }

    /// The session_key app `appid` hands out for `code`.
    pub fn session_key_in(&self, appid: &str, code: &str) -> String {
        let hash = Sha256::digest(format!("session_key:{appid}:{code}"));
        STANDARD.encode(&hash[..16])
    }

    /// Binds app `appid` to the Open Platform account (from now on its logins carry the
    /// person's unionid) or unbinds it; `false` if the fake plays no such app.
    pub fn set_open_platform(&self, appid: &str, bound: bool) -> bool {
        self.app(appid)
            .map(|app| app.open_platform.store(bound, Ordering::SeqCst))
            .is_some()
    }

    /// How many code2session requests reached the fake.
    pub fn code2session_calls(&self) -> usize {
        self.state.code2session_calls.load(Ordering::SeqCst)
    }

    /// How many `stable_token` requests reached the fake (each one burns WeChat quota).
    pub fn stable_token_calls(&self) -> usize {
        self.state.stable_token_calls.load(Ordering::SeqCst)
    }

    /// How many `getuserphonenumber` requests reached the fake.
    pub fn phone_number_calls(&self) -> usize {
        self.state.phone_calls.load(Ordering::SeqCst)
    }

    /// How many `checksession` requests reached the fake.
    pub fn check_session_calls(&self) -> usize {
        self.state.check_session_calls.load(Ordering::SeqCst)
    }

    /// The openid the first app gives the user who logs in with `code` (its part before the `.`).
    pub fn openid_for_code(&self, code: &str) -> String {
        self.openid_for(name_of(code))
    }

    /// Plays the user of `code` logging in to the first app somewhere this backend does not
    /// hear of: WeChat's current session_key for them becomes `code`'s, and the ones handed
    /// out before go stale.
    pub fn log_in_elsewhere(&self, code: &str) {
        Self::lock(&self.state.current_keys)
            .insert(self.openid_for_code(code), self.session_key_for(code));
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The user a code is for: its part before the first `.`.
pub(crate) fn name_of(code: &str) -> &str {
    code.split('.').next().unwrap_or_default()
}

fn digest(kind: &str, scope: &str, name: &str) -> String {
    let hash = Sha256::digest(format!("{kind}:{scope}:{name}"));
    URL_SAFE_NO_PAD.encode(hash).replace(['-', '_'], "x")
}
