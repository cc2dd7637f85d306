//! Sessions: sealed and inserted, found, ended, purged.

use diesel::prelude::*;
use wxlogin_domain::{Audit, Session, SessionKey, StoreChange, User};

use crate::SealError;
use crate::audit::write_entries;
use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::login_codes::{
    LoginTrace, forget_login_codes_ended_before, forget_login_codes_of, record_login_code,
};
use crate::schema::{identities, sessions, users};
use crate::users::{UserRow, fold_user};

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    appid: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            appid: row.appid,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A login session to open: what a login inserts, once its account is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The user it belongs to.
    pub user_id: String,
    /// The mini program logged in through.
    pub appid: String,
    /// The WeChat session_key of this login.
    pub session_key: SessionKey,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the session's tokens expire with it.
    pub expires_at: i64,
    /// The address of the login that opens it.
    pub client_addr: Option<String>,
}

// `None` (no client address) bound as NULL: one statement text, prepared once (see
// `audit.rs`).
#[derive(Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
struct NewSessionRow<'a> {
    id: &'a str,
    user_id: &'a str,
    appid: &'a str,
    session_key: &'a str,
    created_at: i64,
    expires_at: i64,
    client_addr: Option<&'a str>,
}

fn load_session(conn: &mut AnyConnection, id: &str) -> DbResult<Option<Session>> {
    Ok(sessions::table
        .filter(sessions::id.eq(id))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Session::from))
}

/// The record a session's sealed session_key is bound to (the sealer's associated data), so the
/// value opens for this session only. It names the session, not its user: a login then seals
/// before it knows the account, and opens its session in the statement that finds the account.
fn session_record(session_id: &str) -> String {
    format!("session {session_id}")
}

/// A new session's id and its sealed session_key.
pub(crate) struct SealedSession {
    pub(crate) id: String,
    pub(crate) session_key: String,
}

impl Database {
    /// A new session's id, time-ordered (v7): new sessions land at the end of the primary-key
    /// index instead of on a random page, so a login dirties fewer pages. And its session_key,
    /// sealed for it.
    pub(crate) fn seal_session(&self, session_key: &SessionKey) -> DbResult<SealedSession> {
        let id = uuid::Uuid::now_v7().to_string();
        let session_key = self
            .sealer
            .seal(session_key.expose(), &session_record(&id))?;
        Ok(SealedSession { id, session_key })
    }

    pub(crate) fn insert_session(
        &self,
        conn: &mut AnyConnection,
        session: &NewSession,
        trace: Option<LoginTrace<'_>>,
    ) -> DbResult<Session> {
        let sealed = self.seal_session(&session.session_key)?;
        diesel::insert_into(sessions::table)
            .values(NewSessionRow {
                id: &sealed.id,
                user_id: &session.user_id,
                appid: &session.appid,
                session_key: &sealed.session_key,
                created_at: session.created_at,
                expires_at: session.expires_at,
                client_addr: session.client_addr.as_deref(),
            })
            .execute(conn)?;
        if let Some(trace) = trace {
            record_login_code(conn, &trace, &sealed.id, session.created_at)?;
        }
        Ok(Session {
            id: sealed.id,
            user_id: session.user_id.clone(),
            appid: session.appid.clone(),
            created_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: None,
        })
    }

    pub(crate) fn session_key(&self, session_id: &str) -> DbResult<Option<SessionKey>> {
        let found: Option<(String, String)> = sessions::table
            .filter(sessions::id.eq(session_id))
            .select((sessions::user_id, sessions::session_key))
            .get_result(&mut *self.conn()?)
            .optional()?;
        // Erased when its session ended: there is no key.
        let Some((user_id, sealed)) = found.filter(|(_, sealed)| !sealed.is_empty()) else {
            return Ok(None);
        };
        // Sessions opened before session_keys were sealed for their session were sealed for
        // their user; those live out their lifetime.
        let opened = match self.sealer.open(&sealed, &session_record(session_id)) {
            Err(SealError::Corrupt) => self.sealer.open(&sealed, &user_id),
            opened => opened,
        };
        Ok(Some(SessionKey::new(opened?)))
    }

    pub(crate) fn find_session(&self, id: &str) -> DbResult<Option<Session>> {
        load_session(&mut *self.conn()?, id)
    }

    /// The session, its user and the user's apps in one query (one round trip: what a cache
    /// miss of an authenticated request costs); a session whose user is gone is read alone.
    pub(crate) fn find_session_with_user(
        &self,
        id: &str,
    ) -> DbResult<Option<(Session, Option<User>)>> {
        let mut conn = self.conn()?;
        let rows = sessions::table
            .inner_join(users::table)
            .left_join(identities::table.on(identities::user_id.eq(users::id)))
            .filter(sessions::id.eq(id))
            .order((identities::created_at, identities::appid))
            .select((
                SessionRow::as_select(),
                UserRow::as_select(),
                identities::appid.nullable(),
            ))
            .load::<(SessionRow, UserRow, Option<String>)>(&mut *conn)?;
        let mut session = None;
        let user_rows: Vec<(UserRow, Option<String>)> = rows
            .into_iter()
            .map(|(row, user, app)| {
                session.get_or_insert(row);
                (user, app)
            })
            .collect();
        match session {
            Some(row) => Ok(Some((Session::from(row), fold_user(user_rows)))),
            None => Ok(load_session(&mut conn, id)?.map(|session| (session, None))),
        }
    }

    pub(crate) fn latest_live_session(
        &self,
        user_id: &str,
        appid: &str,
        now: i64,
    ) -> DbResult<Option<Session>> {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::appid.eq(appid))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.ge(now))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .select(SessionRow::as_select())
            .first(&mut *self.conn()?)
            .optional()?
            .map(Session::from))
    }

    pub(crate) fn revoke_session(&self, id: &str, audit: &Audit) -> DbResult<bool> {
        self.writer()?.transaction(|conn| {
            let revoked: Option<(String, String)> = diesel::update(sessions::table)
                .filter(sessions::id.eq(id))
                .filter(sessions::revoked_at.is_null())
                // An ended session's session_key is of no more use: erased at once.
                .set((
                    sessions::revoked_at.eq(audit.at),
                    sessions::session_key.eq(""),
                ))
                .returning((sessions::user_id, sessions::appid))
                .get_result(&mut *conn)
                .optional()?;
            let Some((user_id, appid)) = revoked else {
                return Ok(false);
            };
            announce(conn, &StoreChange::SessionEnded(id.to_owned()))?;
            write_entries(
                conn,
                self.webhooks.get(),
                &[audit.entry(Some(&user_id), Some(&appid), Some(id), "ok")],
            )?;
            Ok(true)
        })
    }

    pub(crate) fn revoke_all_sessions(
        &self,
        user_id: &str,
        audit: &Audit,
    ) -> DbResult<Vec<String>> {
        self.writer()?.transaction(|conn| {
            let ended = end_all_sessions(conn, user_id, audit.at)?;
            let outcome = format!("sessions ended: {}", ended.len());
            write_entries(
                conn,
                self.webhooks.get(),
                &[audit.entry(Some(user_id), None, None, &outcome)],
            )?;
            Ok(ended)
        })
    }

    pub(crate) fn expire_session(&self, id: &str, now: i64) -> DbResult<bool> {
        self.writer()?.transaction(|conn| {
            let shortened = diesel::update(sessions::table)
                .filter(sessions::id.eq(id))
                .filter(sessions::expires_at.ge(now))
                .set((
                    sessions::expires_at.eq(now - 1),
                    sessions::session_key.eq(""),
                ))
                .execute(&mut *conn)?;
            if shortened == 1 {
                announce(conn, &StoreChange::SessionEnded(id.to_owned()))?;
                return Ok(true);
            }
            // Already expired, or absent: asked on the same connection, so a pool of one
            // suffices.
            let found: i64 = sessions::table
                .filter(sessions::id.eq(id))
                .count()
                .get_result(&mut *conn)?;
            Ok(found > 0)
        })
    }

    pub(crate) fn purge_sessions(&self, before: i64) -> DbResult<usize> {
        self.writer()?.transaction(|conn| {
            // Their codes' records go with them (most are gone already: the codes are purged
            // on their own schedule, where the server runs it).
            forget_login_codes_ended_before(conn, before)?;
            Ok(diesel::delete(sessions::table)
                .filter(ended_before(before))
                .execute(conn)?)
        })
    }
}

/// Ends every live session of `user_id` at `now` in the caller's transaction, announcing them;
/// the ids of those it ended.
pub(crate) fn end_all_sessions(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
) -> DbResult<Vec<String>> {
    let ended: Vec<String> = diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        // An ended session's session_key is of no more use: erased at once.
        .set((sessions::revoked_at.eq(now), sessions::session_key.eq("")))
        .returning(sessions::id)
        .get_results(&mut *conn)?;
    if !ended.is_empty() {
        // The user's entries in every cache are forgotten by this one announcement;
        // each session's follows for caches that hold a session without its user.
        announce(conn, &StoreChange::UserChanged(user_id.to_owned()))?;
        for id in &ended {
            announce(conn, &StoreChange::SessionEnded(id.clone()))?;
        }
    }
    Ok(ended)
}

/// Sessions that ended (expired, or revoked) before `before`: those a purge deletes.
#[diesel::dsl::auto_type]
pub(crate) fn ended_before(before: i64) -> _ {
    sessions::expires_at
        .lt(before)
        .or(sessions::revoked_at.lt(before))
}

/// Deletes the sessions of `user_id` (in `appid` only, if given) in the caller's transaction, and
/// says which they were, so that their ends can be announced with the change that ended them.
pub(crate) fn delete_sessions(
    conn: &mut AnyConnection,
    user_id: &str,
    appid: Option<&str>,
) -> DbResult<Vec<String>> {
    forget_login_codes_of(conn, user_id, appid)?;
    let of_user = sessions::table.filter(sessions::user_id.eq(user_id));
    let deleted = match appid {
        Some(appid) => diesel::delete(of_user.filter(sessions::appid.eq(appid)))
            .returning(sessions::id)
            .get_results(conn)?,
        None => diesel::delete(of_user)
            .returning(sessions::id)
            .get_results(conn)?,
    };
    Ok(deleted)
}
