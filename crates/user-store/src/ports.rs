//! The async ports, each call handed to [`DieselStore::run`]: a permit, a blocking thread,
//! the synchronous diesel code of the module that owns the job.

use async_trait::async_trait;
use wxlogin_domain::{
    AccessToken, AccessTokenStore, Audit, AuditEntry, AuditLog, AuditQuery, CodeLogin, Deletion,
    NewLogin, OpenId, OpenedLogin, OperatorStore, ProfileUpdate, RefreshState, Revocations,
    Session, SessionInfo, SessionKey, SessionStore, SigningKeyStore, StoreError, StoredAccessToken,
    StoredSigningKey, User, UserStore,
};

use wxlogin_domain::{Cause, ChangeFeed, ChangeHandler, Subscription};

use crate::{DatabaseUrl, DieselStore};

#[async_trait]
impl UserStore for DieselStore {
    async fn openid(&self, user_id: &str, appid: &str) -> Result<Option<OpenId>, StoreError> {
        let (user_id, appid) = (user_id.to_owned(), appid.to_owned());
        self.run(move |db| db.openid(&user_id, &appid)).await
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.find_user(&id)).await
    }

    async fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let (id, update) = (id.to_owned(), update.clone());
        self.run(move |db| db.update_profile(&id, &update, now))
            .await
    }

    async fn find_by_identity(
        &self,
        appid: &str,
        openid: &OpenId,
    ) -> Result<Option<User>, StoreError> {
        let (appid, openid) = (appid.to_owned(), openid.clone());
        self.run(move |db| db.find_by_identity(&appid, &openid))
            .await
    }

    async fn delete_account(
        &self,
        user_id: &str,
        appid: &str,
        openid: &OpenId,
        audit: &Audit,
    ) -> Result<Option<Deletion>, StoreError> {
        let (user_id, appid, openid) = (user_id.to_owned(), appid.to_owned(), openid.clone());
        let audit = audit.clone();
        self.run(move |db| db.delete_account(&user_id, &appid, &openid, &audit))
            .await
    }

    async fn delete_identity(
        &self,
        appid: &str,
        openid: &OpenId,
        existed_at: i64,
        audit: &Audit,
    ) -> Result<Option<Deletion>, StoreError> {
        let (appid, openid, audit) = (appid.to_owned(), openid.clone(), audit.clone());
        self.run(move |db| db.delete_identity(&appid, &openid, existed_at, &audit))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|db| db.ping()).await
    }
}

#[async_trait]
impl SessionStore for DieselStore {
    async fn open_login(&self, login: &NewLogin) -> Result<OpenedLogin, StoreError> {
        DieselStore::open_login(self, login).await
    }

    async fn find_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.find_session(&id)).await
    }

    async fn find_login_by_code(
        &self,
        login_code: &str,
        since: i64,
    ) -> Result<Option<CodeLogin>, StoreError> {
        let login_code = login_code.to_owned();
        self.run(move |db| db.find_login_by_code(&login_code, since))
            .await
    }

    async fn find_session_with_user(
        &self,
        id: &str,
    ) -> Result<Option<(Session, Option<User>)>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.find_session_with_user(&id)).await
    }

    async fn session_key(&self, session_id: &str) -> Result<Option<SessionKey>, StoreError> {
        let id = session_id.to_owned();
        self.run(move |db| db.session_key(&id)).await
    }

    async fn latest_live_session(
        &self,
        user_id: &str,
        appid: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let (user_id, appid) = (user_id.to_owned(), appid.to_owned());
        self.run(move |db| db.latest_live_session(&user_id, &appid, now))
            .await
    }

    async fn revoke_session(&self, id: &str, audit: &Audit) -> Result<bool, StoreError> {
        let (id, audit) = (id.to_owned(), audit.clone());
        self.run(move |db| db.revoke_session(&id, &audit)).await
    }

    async fn revoke_all_sessions(
        &self,
        user_id: &str,
        audit: &Audit,
    ) -> Result<Vec<String>, StoreError> {
        let (user_id, audit) = (user_id.to_owned(), audit.clone());
        self.run(move |db| db.revoke_all_sessions(&user_id, &audit))
            .await
    }

    async fn expire_session(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.expire_session(&id, now)).await
    }

    async fn purge_sessions(&self, before: i64) -> Result<usize, StoreError> {
        self.run(move |db| db.purge_sessions(before)).await
    }

    async fn purge_login_codes(&self, before: i64) -> Result<usize, StoreError> {
        self.run(move |db| db.purge_login_codes(before)).await
    }

    async fn find_refresh_state(&self, id: &str) -> Result<Option<RefreshState>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| db.find_refresh_state(&id)).await
    }

    async fn rotate_refresh(
        &self,
        id: &str,
        counter: i64,
        audit: &Audit,
    ) -> Result<Option<Session>, StoreError> {
        DieselStore::rotate_refresh(self, id, counter, audit).await
    }

    async fn ended_sessions_since(&self, since_ms: i64) -> Result<Revocations, StoreError> {
        self.run(move |db| db.ended_sessions_since(since_ms)).await
    }

    async fn purge_ended_sessions_before(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.run(move |db| db.purge_ended_sessions_before(before_ms))
            .await
    }
}

#[async_trait]
impl AuditLog for DieselStore {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.run(move |db| db.record_audit(&entry)).await
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let query = query.clone();
        self.run(move |db| db.audit_entries(&query)).await
    }

    async fn purge_audit(&self, before: i64, most: usize) -> Result<usize, StoreError> {
        self.run(move |db| db.purge_audit(before, most)).await
    }
}

#[async_trait]
impl OperatorStore for DieselStore {
    async fn ban(
        &self,
        user_id: &str,
        reason: &str,
        audit: &Audit,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let (user_id, reason, audit) = (user_id.to_owned(), reason.to_owned(), audit.clone());
        self.run(move |db| db.ban(&user_id, &reason, &audit)).await
    }

    async fn unban(&self, user_id: &str, audit: &Audit) -> Result<bool, StoreError> {
        let (user_id, audit) = (user_id.to_owned(), audit.clone());
        self.run(move |db| db.unban(&user_id, &audit)).await
    }

    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let user_id = user_id.to_owned();
        self.run(move |db| db.sessions_of(&user_id)).await
    }

    async fn delete_user(
        &self,
        user_id: &str,
        audit: &Audit,
    ) -> Result<Option<Deletion>, StoreError> {
        let (user_id, audit) = (user_id.to_owned(), audit.clone());
        self.run(move |db| db.delete_user(&user_id, &audit)).await
    }
}

#[async_trait]
impl SigningKeyStore for DieselStore {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        self.run(|db| db.signing_keys()).await
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        let key = key.clone();
        self.run(move |db| db.add_signing_key(&key)).await
    }
}

#[async_trait]
impl AccessTokenStore for DieselStore {
    async fn load_access_token(
        &self,
        appid: &str,
    ) -> Result<Option<StoredAccessToken>, StoreError> {
        let appid = appid.to_owned();
        self.run(move |db| db.load_access_token(&appid)).await
    }

    async fn lease_access_token_refresh(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let (appid, owner) = (appid.to_owned(), owner.to_owned());
        self.run(move |db| db.lease_access_token_refresh(&appid, &owner, now, until))
            .await
    }

    async fn save_access_token(
        &self,
        appid: &str,
        owner: &str,
        token: &AccessToken,
        use_until: i64,
        fetches: i64,
    ) -> Result<i64, StoreError> {
        let (appid, owner, token) = (appid.to_owned(), owner.to_owned(), token.clone());
        self.run(move |db| db.save_access_token(&appid, &owner, &token, use_until, fetches))
            .await
    }

    async fn release_access_token_lease(
        &self,
        appid: &str,
        owner: &str,
        fetches: i64,
    ) -> Result<(), StoreError> {
        let (appid, owner) = (appid.to_owned(), owner.to_owned());
        self.run(move |db| db.release_access_token_lease(&appid, &owner, fetches))
            .await
    }

    async fn expire_access_token(
        &self,
        appid: &str,
        token: &AccessToken,
    ) -> Result<bool, StoreError> {
        let (appid, token) = (appid.to_owned(), token.clone());
        self.run(move |db| db.expire_access_token(&appid, &token))
            .await
    }
}

impl ChangeFeed for DieselStore {
    /// On PostgreSQL, a thread that `LISTEN`s and hands every announcement to `handler`; it
    /// stops within one poll of the subscription being dropped. On SQLite, this process's own
    /// changes, as its store calls finish, and [`StoreChange::Heard`](wxlogin_domain::StoreChange::Heard) every 250 ms.
    fn subscribe(&self, handler: ChangeHandler) -> Result<Option<Subscription>, StoreError> {
        match &self.db.url {
            DatabaseUrl::Sqlite(_) => Ok(self
                .db
                .local_feed
                .as_ref()
                .map(|feed| feed.subscribe(handler))),
            DatabaseUrl::Postgres(url) => crate::changes::listen(
                self.db.listen_url.clone().unwrap_or_else(|| url.clone()),
                url.clone(),
                handler,
            )
            .map(|listener| Some(Subscription::new(listener)))
            .map_err(|e| StoreError::Unavailable(Cause::new(e))),
        }
    }
}
