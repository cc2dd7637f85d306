//! Who is calling: a token and its session checked (from the session cache when it may be
//! trusted), and sessions ended by logging out.

use wxlogin_domain::AuditKind;

use super::{Caller, LoginService};
use crate::CoreError;

impl LoginService {
    /// Checks a token and its session, and says who is calling.
    ///
    /// The session and user are read from the store, or from the session cache when they
    /// were read there within [`LoginSettings::session_cache`](crate::LoginSettings::session_cache).
    pub async fn authenticate(&self, token: &str) -> Result<Caller, CoreError> {
        let now = self.clock.now();
        let claims = self.verified.verify(self.tokens.as_ref(), token, now)?;
        if let Some(hit) = self.cache.get(&claims.session_id) {
            if hit.user_id != claims.user_id {
                return Err(CoreError::token_invalid(
                    "the session belongs to another user",
                ));
            }
            if now > hit.expires_at {
                return Err(CoreError::TokenExpired);
            }
            if hit.user.is_disabled() {
                return Err(CoreError::AccountDisabled);
            }
            return Ok(Caller {
                user: hit.user,
                session_id: claims.session_id,
                appid: hit.appid,
                client: None,
            });
        }
        // A session that is gone was purged after it ended.
        let ticket = self.cache.ticket();
        let (session, user) = self
            .sessions
            .find_session_with_user(&claims.session_id)
            .await?
            .ok_or(CoreError::SessionRevoked)?;
        if session.user_id != claims.user_id {
            return Err(CoreError::token_invalid(
                "the session belongs to another user",
            ));
        }
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        if session.is_expired_at(now) {
            return Err(CoreError::TokenExpired);
        }
        let user = user.ok_or_else(|| CoreError::token_invalid("the user no longer exists"))?;
        // A session a login opened while its account was being banned: the ban ended every
        // session it could see, and the account's mark refuses the rest.
        if user.is_disabled() {
            // Ended now, and told to other services through the revocation feed.
            let audit =
                wxlogin_domain::Audit::new(AuditKind::Ban, wxlogin_domain::Actor::Server, now);
            if let Err(e) = self.sessions.revoke_session(&session.id, &audit).await {
                log::warn!(
                    "ending a banned account's session failed: {}",
                    wxlogin_domain::error_chain(&e)
                );
            }
            return Err(CoreError::AccountDisabled);
        }
        self.cache.put(&session, &user, ticket);
        Ok(Caller {
            user,
            session_id: session.id,
            appid: session.appid,
            client: None,
        })
    }

    /// Ends the caller's session now: its token stops working on every instance sharing the
    /// store.
    ///
    /// It holds from the moment it returns: the session is forgotten here once the store has
    /// ended it (before, a read could still find it live and serve it), and a read begun
    /// before cannot put it back (see `SessionCache::put`).
    pub async fn logout(&self, caller: &Caller) -> Result<(), CoreError> {
        self.cache.forget_session(&caller.session_id);
        let audit = caller.audit(AuditKind::Logout, self.clock.now());
        self.sessions
            .revoke_session(&caller.session_id, &audit)
            .await?;
        self.cache.forget_session(&caller.session_id);
        Ok(())
    }

    /// Ends every session of the caller's account, in every app, on every instance.
    pub async fn logout_everywhere(&self, caller: &Caller) -> Result<(), CoreError> {
        let audit = caller.audit(AuditKind::LogoutEverywhere, self.clock.now());
        let ended = self
            .sessions
            .revoke_all_sessions(&caller.user.id, &audit)
            .await?;
        self.forget_all(&caller.user.id, &ended);
        Ok(())
    }
}
