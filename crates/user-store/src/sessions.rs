//! Logins and their sessions: opened, found, ended, purged.

use diesel::prelude::*;
use wxlogin_domain::{NewLogin, NewSession, OpenedLogin, Session, SessionKey, StoreChange, User};

use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::error::DbResult;
use crate::schema::sessions;
use crate::store::Database;
use crate::users::{create_or_complete_user, load_user, user_needing_no_write};

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSessionRow<'a> {
    id: &'a str,
    user_id: &'a str,
    session_key: &'a str,
    created_at: i64,
    expires_at: i64,
}

fn load_session(conn: &mut AnyConnection, id: &str) -> DbResult<Option<Session>> {
    Ok(sessions::table
        .filter(sessions::id.eq(id))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Session::from))
}

impl Database {
    fn insert_session(&self, conn: &mut AnyConnection, session: &NewSession) -> DbResult<Session> {
        // Time-ordered (v7): new sessions land at the end of the primary-key index instead of on
        // a random page, so a login dirties fewer pages.
        let id = uuid::Uuid::now_v7().to_string();
        let sealed = self
            .sealer
            .seal(session.session_key.expose(), &session.user_id)?;
        diesel::insert_into(sessions::table)
            .values(NewSessionRow {
                id: &id,
                user_id: &session.user_id,
                session_key: &sealed,
                created_at: session.created_at,
                expires_at: session.expires_at,
            })
            .execute(conn)?;
        Ok(Session {
            id,
            user_id: session.user_id.clone(),
            created_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: None,
        })
    }

    pub(crate) fn open_login(&self, login: &NewLogin) -> DbResult<OpenedLogin> {
        let mut conn = self.writer()?;
        let steps = |conn: &mut AnyConnection| -> DbResult<OpenedLogin> {
            let unionid = login.unionid.as_ref();
            let (user, created) = match user_needing_no_write(conn, &login.openid, unionid)? {
                Some(user) => (user, false),
                None => create_or_complete_user(conn, &login.openid, unionid, login.created_at)?,
            };
            let session = self.insert_session(
                conn,
                &NewSession {
                    user_id: user.id.clone(),
                    session_key: login.session_key.clone(),
                    created_at: login.created_at,
                    expires_at: login.expires_at,
                },
            )?;
            Ok(OpenedLogin {
                user,
                created,
                session,
            })
        };
        match &*conn {
            // One transaction, one commit: SQLite's cost is per commit.
            AnyConnection::Sqlite(_) => conn.transaction(steps),
            // Each step stands alone (a user without a session is found by the next login), and
            // a transaction would add two round trips: PostgreSQL's cost is per round trip.
            AnyConnection::Postgresql(_) => steps(&mut conn),
        }
    }

    pub(crate) fn create_session(&self, session: &NewSession) -> DbResult<Session> {
        self.insert_session(&mut *self.writer()?, session)
    }

    pub(crate) fn session_key(&self, session_id: &str) -> DbResult<Option<SessionKey>> {
        let found: Option<(String, String)> = sessions::table
            .filter(sessions::id.eq(session_id))
            .select((sessions::user_id, sessions::session_key))
            .get_result(&mut *self.conn()?)
            .optional()?;
        let Some((user_id, sealed)) = found else {
            return Ok(None);
        };
        Ok(Some(SessionKey::new(self.sealer.open(&sealed, &user_id)?)))
    }

    pub(crate) fn find_session(&self, id: &str) -> DbResult<Option<Session>> {
        load_session(&mut *self.conn()?, id)
    }

    /// One checkout, two lookups by primary key.
    pub(crate) fn find_session_with_user(
        &self,
        id: &str,
    ) -> DbResult<Option<(Session, Option<User>)>> {
        let mut conn = self.conn()?;
        let Some(session) = load_session(&mut conn, id)? else {
            return Ok(None);
        };
        let user = load_user(&mut conn, &session.user_id)?;
        Ok(Some((session, user)))
    }

    pub(crate) fn latest_live_session(&self, user_id: &str, now: i64) -> DbResult<Option<Session>> {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.ge(now))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .select(SessionRow::as_select())
            .first(&mut *self.conn()?)
            .optional()?
            .map(Session::from))
    }

    pub(crate) fn revoke_session(&self, id: &str, now: i64) -> DbResult<bool> {
        let mut conn = self.writer()?;
        let revoked = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null())
            .set(sessions::revoked_at.eq(now))
            .execute(&mut *conn)?;
        if revoked == 1 {
            announce(&mut conn, &StoreChange::SessionEnded(id.to_owned()));
        }
        Ok(revoked == 1)
    }

    pub(crate) fn expire_session(&self, id: &str, now: i64) -> DbResult<bool> {
        let mut conn = self.writer()?;
        let shortened = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::expires_at.ge(now))
            .set(sessions::expires_at.eq(now - 1))
            .execute(&mut *conn)?;
        if shortened == 1 {
            announce(&mut conn, &StoreChange::SessionEnded(id.to_owned()));
            return Ok(true);
        }
        // Already expired, or absent: asked on the same connection, so a pool of one suffices.
        let found: i64 = sessions::table
            .filter(sessions::id.eq(id))
            .count()
            .get_result(&mut *conn)?;
        Ok(found > 0)
    }

    pub(crate) fn purge_sessions(&self, before: i64) -> DbResult<usize> {
        Ok(diesel::delete(sessions::table)
            .filter(
                sessions::expires_at
                    .lt(before)
                    .or(sessions::revoked_at.lt(before)),
            )
            .execute(&mut *self.writer()?)?)
    }
}
