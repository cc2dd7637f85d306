//! Renewing an access token with a refresh token, within the session it belongs to, without
//! asking WeChat: the current token moves the session's counter on by one; the one just spent
//! (or, within `refresh_reuse_secs` of its use, the one before) gets the current pair again;
//! an older one is a theft signal and ends the session.

use std::net::IpAddr;

use wxlogin_domain::{
    Actor, Audit, AuditKind, RefreshClaim, RefreshState, Session, SessionToken, TokenError,
};

use super::LoginService;
use crate::CoreError;

/// How often a refresh tries again after finding its token current but not moved on.
const RACES: usize = 3;

/// A renewed pair of tokens.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    /// The new access token.
    pub token: String,
    /// Unix seconds at which it expires.
    pub expires_at: i64,
    /// Seconds from now until then.
    pub expires_in: i64,
    /// The session's current refresh token, to be sent on the next refresh.
    pub refresh_token: String,
    /// Seconds until the session, and so every refresh token of it, ends.
    pub refresh_expires_in: i64,
    /// The session.
    pub session_id: String,
    /// The user.
    pub user_id: String,
}

/// An access token and a refresh token for one session.
pub(super) struct TokenPair {
    pub(super) token: String,
    pub(super) expires_at: i64,
    pub(super) refresh_token: String,
}

impl LoginService {
    /// The access token of `session` issued at `now` (living `access_token_ttl_secs`, never
    /// past the session) and its refresh token number `counter`.
    pub(super) fn issue_pair(
        &self,
        session: &Session,
        counter: i64,
        now: i64,
    ) -> Result<TokenPair, CoreError> {
        let expires_at = now
            .saturating_add(self.settings.access_token_ttl_secs.max(1))
            .min(session.expires_at);
        let token = self.tokens.issue(&SessionToken {
            user_id: session.user_id.clone(),
            session_id: session.id.clone(),
            appid: session.appid.clone(),
            expires_at,
        })?;
        let refresh_token = self.tokens.issue_refresh(&RefreshClaim {
            session_id: session.id.clone(),
            counter,
        })?;
        Ok(TokenPair {
            token,
            expires_at,
            refresh_token,
        })
    }

    /// A new access token and the session's next refresh token for `refresh_token`.
    ///
    /// Errors: [`CoreError::RefreshTokenInvalid`] for a token not made here;
    /// [`CoreError::SessionRevoked`] and [`CoreError::TokenExpired`] for a session that ended
    /// or ran out (or was deleted with its account); [`CoreError::RefreshTokenReused`] for a
    /// spent token presented too late, which ends the session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<RefreshOutcome, CoreError> {
        self.refresh_from(refresh_token, None).await
    }

    /// [`Self::refresh`] for a request from `client`, recorded in the audit log with it.
    /// [`CoreError::AccountDisabled`] for a banned account's session.
    pub async fn refresh_from(
        &self,
        refresh_token: &str,
        client: Option<IpAddr>,
    ) -> Result<RefreshOutcome, CoreError> {
        let claim = self
            .tokens
            .verify_refresh(refresh_token)
            .map_err(|e| match e {
                TokenError::Invalid(why) => CoreError::RefreshTokenInvalid(why),
                other => other.into(),
            })?;
        for _ in 0..RACES {
            let now = self.clock.now();
            let audit = Audit::new(AuditKind::Refresh, Actor::User, now).from_client(client);
            // The common case first, in one statement: the session's current token, moved on.
            if let Some(session) = self
                .sessions
                .rotate_refresh(&claim.session_id, claim.counter, &audit)
                .await?
            {
                return self.renewed(session, claim.counter.saturating_add(1), now);
            }
            // Not moved on: the session ended, or the token is not its current one.
            let state = self
                .sessions
                .find_refresh_state(&claim.session_id)
                .await?
                .ok_or(CoreError::SessionRevoked)?;
            // Before the session's own state: a ban ended it, and the answer is the ban.
            if state.user_disabled {
                return Err(CoreError::AccountDisabled);
            }
            if state.session.revoked_at.is_some() {
                return Err(CoreError::SessionRevoked);
            }
            if state.session.is_expired_at(now) {
                return Err(CoreError::TokenExpired);
            }
            match self.judge(&claim, &state, now) {
                // The current one, yet the compare-and-set did not move it on: the session
                // changed between the two statements (a logout or its expiry, which the next
                // round answers). Read it all again.
                Judgement::Current => continue,
                Judgement::Again => return self.renewed(state.session, state.counter, now),
                Judgement::Theft => {
                    let audit =
                        Audit::new(AuditKind::RefreshReuse, Actor::Server, now).from_client(client);
                    return Err(self.end_stolen(&state.session, &audit).await?);
                }
            }
        }
        Err(CoreError::Internal(wxlogin_domain::Cause::msg(
            "a refresh kept losing races for its session",
        )))
    }

    /// The answer for `session`, its refresh token now number `counter`.
    fn renewed(
        &self,
        session: Session,
        counter: i64,
        now: i64,
    ) -> Result<RefreshOutcome, CoreError> {
        let pair = self.issue_pair(&session, counter, now)?;
        Ok(RefreshOutcome {
            token: pair.token,
            expires_at: pair.expires_at,
            expires_in: (pair.expires_at - now).max(0),
            refresh_token: pair.refresh_token,
            refresh_expires_in: (session.expires_at - now).max(0),
            session_id: session.id,
            user_id: session.user_id,
        })
    }

    fn judge(&self, claim: &RefreshClaim, state: &RefreshState, now: i64) -> Judgement {
        let current = state.counter;
        // Zero turns the window off (a second-resolution `<=` would still take the same second).
        let reuse = self.settings.refresh_reuse_secs;
        let within_reuse = |at: Option<i64>| reuse > 0 && at.is_some_and(|at| now - at <= reuse);
        match claim.counter {
            n if n == current => Judgement::Current,
            // The answer to its refresh may have been lost on the way: it is given again.
            n if n == current - 1 => Judgement::Again,
            // Spent within the reuse window (two refreshes of one client crossing).
            n if n == current - 2 && within_reuse(state.prior_refreshed_at) => Judgement::Again,
            // Older than that, or a number the session never reached: only someone who
            // holds the server's token secret can make one (or a database restored from a
            // backup had the session behind): either way the session's tokens are not to be
            // trusted any more. Counting towards the current number from outside ends the
            // session at the first wrong guess.
            _ => Judgement::Theft,
        }
    }

    /// Ends a session whose spent refresh token came back too late: someone else holds its
    /// tokens. Its access tokens stop working everywhere, as a logout's do.
    async fn end_stolen(&self, session: &Session, audit: &Audit) -> Result<CoreError, CoreError> {
        log::warn!(
            "a spent refresh token of session {} was presented again; the session is ended",
            session.id
        );
        self.cache.forget_session(&session.id);
        self.sessions.revoke_session(&session.id, audit).await?;
        self.cache.forget_session(&session.id);
        Ok(CoreError::RefreshTokenReused)
    }
}

enum Judgement {
    /// The session's current token (a compare-and-set that just failed raced a refresh).
    Current,
    /// A token just spent: the current pair again.
    Again,
    /// A token spent long ago, or one the session never reached.
    Theft,
}
