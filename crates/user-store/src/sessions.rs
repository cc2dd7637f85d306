//! Logins and their sessions: opened, found, ended, purged.

use diesel::prelude::*;
use wxlogin_domain::{
    CodeLogin, NewLogin, NewSession, OpenedLogin, Session, SessionKey, StoreChange, User,
};

use crate::SealError;
use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::error::{DbError, DbResult};
use crate::prepared::{Bind, Statement, only_on_postgres};
use crate::schema::{identities, sessions, users};
use crate::store::Database;
use crate::users::{
    FirstSession, Resolved, UserRow, add_identity_without_unionid, fold_user, known_identity,
    locked, person_key, resolve,
};
use wxlogin_domain::UnionId;

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRow {
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

// A `None` is bound as NULL (the column's default) rather than written as `DEFAULT`: the
// SQL text then no longer depends on the values, so diesel caches the prepared statement.
#[derive(Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
struct NewSessionRow<'a> {
    id: &'a str,
    user_id: &'a str,
    appid: &'a str,
    session_key: &'a str,
    created_at: i64,
    expires_at: i64,
    login_code: Option<&'a str>,
    user_existed: Option<bool>,
}

/// What a login records besides its session: the digest of its code, and whether it found an
/// existing account.
struct LoginTrace<'a> {
    login_code: &'a str,
    user_existed: bool,
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
struct SealedSession {
    id: String,
    session_key: String,
}

/// What the statement that opens a known identity's login found.
enum KnownLogin {
    /// Its account, and the session opened for it.
    Opened(User),
    /// The identity is known but this login adds to its account (a unionid it does not hold
    /// yet): resolved under the person's lock.
    Resolve,
    /// No such identity: a first login.
    Unknown,
}

/// One row of that statement: the account with one of its apps, and whether the session went in.
#[derive(QueryableByName)]
struct KnownLoginRow {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    app: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    opened: bool,
}

/// A returning user's login on PostgreSQL in one statement (one round trip, one commit): the
/// identity's account is read and the session inserted for it, unless the login carries a
/// unionid the account does not hold; then the account with its apps comes back.
const OPEN_KNOWN_LOGIN: &str = "\
    WITH account AS (\
        SELECT u.id, u.unionid FROM identities mine JOIN users u ON u.id = mine.user_id \
        WHERE mine.appid = ? AND mine.openid = ?), \
    opened AS (\
        INSERT INTO sessions \
            (id, user_id, appid, session_key, created_at, expires_at, login_code, user_existed) \
        SELECT ?, account.id, ?, ?, ?, ?, ?, TRUE FROM account \
        WHERE ?::text IS NULL OR account.unionid = ? \
        RETURNING id) \
    SELECT u.id, u.unionid, u.nick_name, u.avatar_url, u.gender, u.phone_number, u.created_at, \
        u.updated_at, theirs.appid AS app, EXISTS (SELECT 1 FROM opened) AS opened \
    FROM account JOIN users u ON u.id = account.id \
        JOIN identities theirs ON theirs.user_id = u.id \
    ORDER BY theirs.created_at, theirs.appid";

fn open_known_login(
    conn: &mut AnyConnection,
    login: &NewLogin,
    sealed: &SealedSession,
) -> DbResult<KnownLogin> {
    let AnyConnection::Postgresql(c) = conn else {
        return Err(only_on_postgres());
    };
    let unionid = login.unionid.as_ref().map(UnionId::expose);
    let rows = Statement::new(
        OPEN_KNOWN_LOGIN,
        vec![
            Bind::Text(&login.appid),
            Bind::Text(login.openid.expose()),
            Bind::Text(&sealed.id),
            Bind::Text(&login.appid),
            Bind::Text(&sealed.session_key),
            Bind::BigInt(login.created_at),
            Bind::BigInt(login.expires_at),
            Bind::OptionalText(login.login_code.as_deref()),
            Bind::OptionalText(unionid),
            Bind::OptionalText(unionid),
        ],
    )
    .load::<KnownLoginRow>(c)?;
    let opened = rows.first().map(|row| row.opened);
    let user = fold_user(rows.into_iter().map(|row| (row.user, row.app)).collect());
    Ok(match (user, opened) {
        (Some(user), Some(true)) => KnownLogin::Opened(user),
        (Some(_), _) => KnownLogin::Resolve,
        (None, _) => KnownLogin::Unknown,
    })
}

impl Database {
    /// A new session's id, time-ordered (v7): new sessions land at the end of the primary-key
    /// index instead of on a random page, so a login dirties fewer pages. And its session_key,
    /// sealed for it.
    fn seal_session(&self, session_key: &SessionKey) -> DbResult<SealedSession> {
        let id = uuid::Uuid::now_v7().to_string();
        let session_key = self
            .sealer
            .seal(session_key.expose(), &session_record(&id))?;
        Ok(SealedSession { id, session_key })
    }

    fn insert_session(
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
                login_code: trace.as_ref().map(|t| t.login_code),
                user_existed: trace.as_ref().map(|t| t.user_existed),
            })
            .execute(conn)?;
        Ok(Session {
            id: sealed.id,
            user_id: session.user_id.clone(),
            appid: session.appid.clone(),
            created_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: None,
        })
    }

    pub(crate) fn open_login(&self, login: &NewLogin) -> DbResult<OpenedLogin> {
        let mut conn = self.writer()?;
        self.open_login_on(&mut conn, login, false)
    }

    /// [`Self::open_login`] on a connection the caller holds for writing (on SQLite, with the
    /// write turn). Group commit runs it for each login of a batch (`batched`): on PostgreSQL a
    /// batched login then never takes a person's lock (held to the batch's commit, two batches
    /// could deadlock on two people) nor goes on after an error (the batch's transaction is
    /// broken until its savepoint is rolled back); it fails instead, and is opened again alone
    /// once the batch is committed.
    pub(crate) fn open_login_on(
        &self,
        conn: &mut AnyConnection,
        login: &NewLogin,
        batched: bool,
    ) -> DbResult<OpenedLogin> {
        let (appid, openid, unionid) = (&login.appid, &login.openid, login.unionid.as_ref());
        let open = |conn: &mut AnyConnection, resolved: Resolved| -> DbResult<OpenedLogin> {
            let session = self.insert_session(
                conn,
                &NewSession {
                    user_id: resolved.user.id.clone(),
                    appid: appid.clone(),
                    session_key: login.session_key.clone(),
                    created_at: login.created_at,
                    expires_at: login.expires_at,
                },
                login.login_code.as_deref().map(|login_code| LoginTrace {
                    login_code,
                    user_existed: !resolved.created,
                }),
            )?;
            Ok(OpenedLogin {
                user: resolved.user,
                created: resolved.created,
                session,
                merged: resolved.merged,
            })
        };
        let returning = |user| Resolved {
            user,
            created: false,
            merged: None,
        };
        let key = person_key(appid, openid, unionid);
        match &*conn {
            // One transaction, one commit: SQLite's cost is per commit, and the process's write
            // turn (held) already makes logins take turns.
            AnyConnection::Sqlite(_) => conn.transaction(|conn| {
                let resolved = match known_identity(conn, appid, openid, unionid)? {
                    Some(user) => returning(user),
                    None => resolve(conn, appid, openid, unionid, login.created_at)?,
                };
                open(conn, resolved)
            }),
            // A returning user's login is one statement; PostgreSQL's cost is per round trip.
            // Anything that creates, links or merges an account runs in a transaction under
            // the person's lock.
            AnyConnection::Postgresql(_) => {
                let sealed = self.seal_session(&login.session_key)?;
                // The session opened in the same statement as the account was found or made.
                let opened_for = |user: User, created: bool| OpenedLogin {
                    session: Session {
                        id: sealed.id.clone(),
                        user_id: user.id.clone(),
                        appid: appid.clone(),
                        created_at: login.created_at,
                        expires_at: login.expires_at,
                        revoked_at: None,
                    },
                    user,
                    created,
                    merged: None,
                };
                let known = match open_known_login(conn, login, &sealed) {
                    // Its account was merged into another, or deleted, since it was read:
                    // resolved again, under the lock.
                    Err(e) if e.is_foreign_key_violation() && !batched => KnownLogin::Resolve,
                    known => known?,
                };
                match known {
                    KnownLogin::Opened(user) => return Ok(opened_for(user, false)),
                    // No identity, and no unionid to link it by: a first login.
                    KnownLogin::Unknown if unionid.is_none() => {
                        let (resolved, opened) = add_identity_without_unionid(
                            conn,
                            appid,
                            openid,
                            login.created_at,
                            &FirstSession {
                                id: &sealed.id,
                                session_key: &sealed.session_key,
                                expires_at: login.expires_at,
                                login_code: login.login_code.as_deref(),
                            },
                        )?;
                        return if opened {
                            Ok(opened_for(resolved.user, true))
                        } else {
                            open(conn, resolved)
                        };
                    }
                    // The rest links or merges, under the person's lock: not in a batch.
                    _ if batched => return Err(DbError::OpenAlone),
                    KnownLogin::Resolve | KnownLogin::Unknown => {}
                }
                locked(conn, &key, |conn| {
                    let resolved = resolve(conn, appid, openid, unionid, login.created_at)?;
                    open(conn, resolved)
                })
            }
        }
    }

    pub(crate) fn create_session(&self, session: &NewSession) -> DbResult<Session> {
        self.insert_session(&mut *self.writer()?, session, None)
    }

    pub(crate) fn find_login_by_code(
        &self,
        login_code: &str,
        since: i64,
    ) -> DbResult<Option<CodeLogin>> {
        let found: Option<(SessionRow, Option<bool>)> = sessions::table
            .filter(sessions::login_code.eq(login_code))
            .filter(sessions::created_at.ge(since))
            .order(sessions::created_at.asc())
            .select((SessionRow::as_select(), sessions::user_existed))
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(found.map(|(row, user_existed)| CodeLogin {
            session: Session::from(row),
            user_existed: user_existed.unwrap_or(true),
        }))
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

    pub(crate) fn revoke_session(&self, id: &str, now: i64) -> DbResult<bool> {
        self.writer()?.transaction(|conn| {
            let revoked = diesel::update(sessions::table)
                .filter(sessions::id.eq(id))
                .filter(sessions::revoked_at.is_null())
                // An ended session's session_key is of no more use: erased at once.
                .set((sessions::revoked_at.eq(now), sessions::session_key.eq("")))
                .execute(&mut *conn)?;
            if revoked == 1 {
                announce(conn, &StoreChange::SessionEnded(id.to_owned()))?;
            }
            Ok(revoked == 1)
        })
    }

    pub(crate) fn revoke_all_sessions(&self, user_id: &str, now: i64) -> DbResult<Vec<String>> {
        self.writer()?.transaction(|conn| {
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
        Ok(diesel::delete(sessions::table)
            .filter(
                sessions::expires_at
                    .lt(before)
                    .or(sessions::revoked_at.lt(before)),
            )
            .execute(&mut *self.writer()?)?)
    }
}
