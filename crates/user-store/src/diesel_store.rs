use std::sync::Arc;

use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use wxlogin_wechat::{AccessToken, OpenId, SessionKey, UnionId};

use crate::changes::{CHANNEL, ChangeListener, StoreChange};
use crate::connection::{AnyConnection, AnyConnectionManager};
use crate::schema::{access_tokens, sessions, users};
use crate::{
    DatabaseUrl, NewLogin, NewSession, OpenedLogin, PoolOptions, ProfileUpdate, Session,
    SessionKeySealer, StoreError, StoredAccessToken, User, UserStore,
};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations across server instances starting at once on one PostgreSQL
/// (an arbitrary constant: "wxlogin" in ASCII).
const MIGRATION_LOCK_ID: i64 = 0x77_78_6c_6f_67_69_6e;

type Pool = r2d2::Pool<AnyConnectionManager>;
type PooledConnection = r2d2::PooledConnection<AnyConnectionManager>;

/// [`UserStore`] on diesel, SQLite or PostgreSQL by URL, pooled with r2d2. Cheap to clone.
///
/// Secrets (session_keys, the access token) are sealed with its [`SessionKeySealer`] before they
/// are written, so the database alone does not give them away.
#[derive(Clone)]
pub struct DieselUserStore {
    pool: Pool,
    url: DatabaseUrl,
    sealer: Arc<SessionKeySealer>,
    /// SQLite has one writer at a time. Writers of this process queue here, on a mutex, rather
    /// than in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    sqlite_writer: Arc<std::sync::Mutex<()>>,
}

/// A pooled connection for a write, holding the process's SQLite write turn if the backend is
/// SQLite.
struct WriteConnection<'a> {
    conn: PooledConnection,
    _turn: Option<std::sync::MutexGuard<'a, ()>>,
}

impl std::ops::Deref for WriteConnection<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConnection<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl std::fmt::Debug for DieselUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselUserStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    openid: String,
    unionid: Option<String>,
    nick_name: Option<String>,
    avatar_url: Option<String>,
    gender: Option<i32>,
    phone_number: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            openid: OpenId::new(row.openid),
            unionid: row.unionid.map(UnionId::new),
            nick_name: row.nick_name,
            avatar_url: row.avatar_url,
            gender: row.gender,
            phone_number: row.phone_number,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    id: &'a str,
    openid: &'a str,
    unionid: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ProfileChangeset<'a> {
    nick_name: Option<Option<&'a str>>,
    avatar_url: Option<Option<&'a str>>,
    gender: Option<Option<i32>>,
    phone_number: Option<Option<&'a str>>,
    updated_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = access_tokens)]
struct AccessTokenRow {
    token: String,
    expires_at: i64,
    fetches: i64,
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

impl DieselUserStore {
    /// Connects to `url` (`sqlite://<path>` or `postgres://...`) and fills the pool, so an
    /// unreachable database is reported here rather than on the first request.
    pub fn connect(
        url: &str,
        options: &PoolOptions,
        sealer: SessionKeySealer,
    ) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size.max(1))
            .min_idle(Some(1))
            // A SQLite file does not go away under an open connection; a PostgreSQL connection
            // can (a restart), and is then checked before each use.
            .test_on_check_out(url.is_postgres())
            .connection_timeout(options.connection_timeout)
            .build(AnyConnectionManager { url: url.clone() })
            .map_err(|e| StoreError::Unavailable(format!("{url}: {e}")))?;
        Ok(Self {
            pool,
            url,
            sealer: Arc::new(sealer),
            sqlite_writer: Arc::default(),
        })
    }

    /// Which database it talks to (without credentials when shown).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Applies the migrations not yet applied and returns their names.
    pub fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let migration_error =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect())
                .map_err(migration_error)?,
            AnyConnection::Postgresql(c) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
                    .execute(c)?;
                let applied = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
                    .map_err(migration_error);
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
                    .execute(c)?;
                applied?
            }
        };
        Ok(applied)
    }

    // Lookups by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`, and with
    // the bundled SQLite (STAT4) a bound LIMIT makes the cached statement re-prepare on every
    // execution, which cost a third of a login's CPU.
    fn conn(&self) -> Result<PooledConnection, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// A connection for a write: on SQLite, once this process's previous writer is done.
    fn writer(&self) -> Result<WriteConnection<'_>, StoreError> {
        let turn = match self.url {
            DatabaseUrl::Sqlite(_) => Some(
                self.sqlite_writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(WriteConnection {
            conn: self.conn()?,
            _turn: turn,
        })
    }

    fn user_by_openid(
        conn: &mut AnyConnection,
        openid: &OpenId,
    ) -> Result<Option<User>, StoreError> {
        Ok(users::table
            .filter(users::openid.eq(openid.expose()))
            .select(UserRow::as_select())
            .get_result(conn)
            .optional()?
            .map(User::from))
    }

    /// The user with this openid if it exists and already has any `unionid` given: a login that
    /// changes nothing about the user.
    fn user_needing_no_write(
        conn: &mut AnyConnection,
        openid: &OpenId,
        unionid: Option<&UnionId>,
    ) -> Result<Option<User>, StoreError> {
        Ok(Self::user_by_openid(conn, openid)?
            .filter(|user| unionid.is_none() || user.unionid.is_some()))
    }

    /// Creates the user, or (losing a race, or filling in a unionid) completes and reads it.
    fn create_or_complete_user(
        conn: &mut AnyConnection,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: i64,
    ) -> Result<(User, bool), StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let row = NewUserRow {
            id: &id,
            openid: openid.expose(),
            unionid: unionid.map(UnionId::expose),
            created_at: now,
            updated_at: now,
        };
        // The unique openid decides the race: one insert lands (and returns the row), the others
        // do nothing. The combined connection has no ON CONFLICT, so each backend gets its own.
        let inserted: Option<UserRow> = match &mut *conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(users::table)
                .values(&row)
                .on_conflict(users::openid)
                .do_nothing()
                .returning(UserRow::as_returning())
                .get_result(c)
                .optional()?,
            AnyConnection::Sqlite(c) => diesel::insert_into(users::table)
                .values(&row)
                .on_conflict(users::openid)
                .do_nothing()
                .returning(UserRow::as_returning())
                .get_result(c)
                .optional()?,
        };
        if let Some(created) = inserted {
            return Ok((created.into(), true));
        }
        if let Some(unionid) = unionid {
            diesel::update(users::table)
                .filter(users::openid.eq(openid.expose()))
                .filter(users::unionid.is_null())
                .set(users::unionid.eq(unionid.expose()))
                .execute(&mut *conn)?;
        }
        let user = Self::user_by_openid(conn, openid)?
            .ok_or(StoreError::Query(diesel::result::Error::NotFound))?;
        Ok((user, false))
    }

    fn insert_session(
        &self,
        conn: &mut AnyConnection,
        session: &NewSession,
    ) -> Result<Session, StoreError> {
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

    /// On PostgreSQL, starts a thread that calls `on_change` with every change any instance
    /// announces (logouts, ended sessions, profile changes) and with [`StoreChange::Missed`]
    /// when announcements may have been lost. `None` on SQLite, which one process serves.
    /// The listener stops when the returned value is dropped.
    pub fn listen_for_changes(
        &self,
        on_change: impl Fn(StoreChange) + Send + 'static,
    ) -> Result<Option<ChangeListener>, StoreError> {
        match &self.url {
            DatabaseUrl::Sqlite(_) => Ok(None),
            DatabaseUrl::Postgres(url) => crate::changes::listen(url.clone(), on_change)
                .map(Some)
                .map_err(|e| StoreError::Unavailable(format!("starting the change listener: {e}"))),
        }
    }

    /// Tells the other instances (PostgreSQL only) that something they may cache changed. A
    /// failure is logged, not returned: the change itself is made, and caches expire anyway.
    fn announce(conn: &mut AnyConnection, change: &StoreChange) {
        let (AnyConnection::Postgresql(c), Some(payload)) = (conn, change.payload()) else {
            return;
        };
        let sent = diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(&payload)
            .execute(c);
        if let Err(e) = sent {
            log::warn!("announcing a change to other instances failed: {e}");
        }
    }

    /// Makes sure `appid` has its access token row, on either backend.
    fn ensure_access_token_row(conn: &mut AnyConnection, appid: &str) -> Result<(), StoreError> {
        let row = access_tokens::appid.eq(appid);
        match conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(access_tokens::table)
                .values(row)
                .on_conflict(access_tokens::appid)
                .do_nothing()
                .execute(c)?,
            AnyConnection::Sqlite(c) => diesel::insert_into(access_tokens::table)
                .values(row)
                .on_conflict(access_tokens::appid)
                .do_nothing()
                .execute(c)?,
        };
        Ok(())
    }

    /// Gives up `owner`'s lease on the access token of `appid`, if it holds it.
    fn release_lease(conn: &mut AnyConnection, appid: &str, owner: &str) -> Result<(), StoreError> {
        diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .filter(access_tokens::lease_owner.eq(owner))
            .set((
                access_tokens::lease_owner.eq(None::<String>),
                access_tokens::lease_until.eq(0),
            ))
            .execute(conn)?;
        Ok(())
    }

    fn access_token_row(
        conn: &mut AnyConnection,
        appid: &str,
    ) -> Result<Option<AccessTokenRow>, StoreError> {
        Ok(access_tokens::table
            .filter(access_tokens::appid.eq(appid))
            .select(AccessTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    fn load_user(conn: &mut AnyConnection, id: &str) -> Result<Option<User>, StoreError> {
        Ok(users::table
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .get_result(conn)
            .optional()?
            .map(User::from))
    }
}

impl UserStore for DieselUserStore {
    fn find_or_create_user(
        &self,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: i64,
    ) -> Result<(User, bool), StoreError> {
        // Returning users are the common case: a read, without waiting for a write turn.
        if let Some(user) = Self::user_needing_no_write(&mut *self.conn()?, openid, unionid)? {
            return Ok((user, false));
        }
        Self::create_or_complete_user(&mut *self.writer()?, openid, unionid, now)
    }

    fn open_login(&self, login: &NewLogin) -> Result<OpenedLogin, StoreError> {
        let mut conn = self.writer()?;
        let steps = |conn: &mut AnyConnection| -> Result<OpenedLogin, StoreError> {
            let unionid = login.unionid.as_ref();
            let (user, created) = match Self::user_needing_no_write(conn, &login.openid, unionid)? {
                Some(user) => (user, false),
                None => {
                    Self::create_or_complete_user(conn, &login.openid, unionid, login.created_at)?
                }
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

    fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Self::load_user(&mut *self.conn()?, id)
    }

    fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.writer()?;
        let changes = ProfileChangeset {
            nick_name: update.nick_name.as_ref().map(Option::as_deref),
            avatar_url: update.avatar_url.as_ref().map(Option::as_deref),
            gender: update.gender,
            phone_number: update.phone_number.as_ref().map(Option::as_deref),
            updated_at: now,
        };
        let updated = diesel::update(users::table.filter(users::id.eq(id)))
            .set(&changes)
            .execute(&mut *conn)?;
        if updated == 0 {
            return Ok(None);
        }
        Self::announce(&mut conn, &StoreChange::UserChanged(id.to_owned()));
        Self::load_user(&mut conn, id)
    }

    fn create_session(&self, session: &NewSession) -> Result<Session, StoreError> {
        self.insert_session(&mut *self.writer()?, session)
    }

    fn session_key(&self, session_id: &str) -> Result<Option<SessionKey>, StoreError> {
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

    fn find_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(sessions::table
            .filter(sessions::id.eq(id))
            .select(SessionRow::as_select())
            .get_result(&mut *self.conn()?)
            .optional()?
            .map(Session::from))
    }

    fn latest_live_session(&self, user_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
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

    fn revoke_session(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.writer()?;
        let revoked = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null())
            .set(sessions::revoked_at.eq(now))
            .execute(&mut *conn)?;
        if revoked == 1 {
            Self::announce(&mut conn, &StoreChange::SessionEnded(id.to_owned()));
        }
        Ok(revoked == 1)
    }

    fn expire_session(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.writer()?;
        let shortened = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::expires_at.ge(now))
            .set(sessions::expires_at.eq(now - 1))
            .execute(&mut *conn)?;
        if shortened == 1 {
            Self::announce(&mut conn, &StoreChange::SessionEnded(id.to_owned()));
            return Ok(true);
        }
        // Already expired, or absent: asked on the same connection, so a pool of one suffices.
        let found: i64 = sessions::table
            .filter(sessions::id.eq(id))
            .count()
            .get_result(&mut *conn)?;
        Ok(found > 0)
    }

    fn purge_sessions(&self, before: i64) -> Result<usize, StoreError> {
        Ok(diesel::delete(sessions::table)
            .filter(
                sessions::expires_at
                    .lt(before)
                    .or(sessions::revoked_at.lt(before)),
            )
            .execute(&mut *self.writer()?)?)
    }

    fn ping(&self) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1")
            .execute(&mut *self.conn()?)
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn load_access_token(&self, appid: &str) -> Result<Option<StoredAccessToken>, StoreError> {
        let Some(row) = Self::access_token_row(&mut *self.conn()?, appid)? else {
            return Ok(None);
        };
        if row.token.is_empty() {
            return Ok(None);
        }
        match self.sealer.open(&row.token, appid) {
            Ok(token) => Ok(Some(StoredAccessToken {
                token: AccessToken::new(token),
                use_until: row.expires_at,
                fetches: row.fetches,
            })),
            Err(e) => {
                // Sealed under a key rotated away: as good as no token; a new one replaces it.
                log::warn!("the stored access token of {appid} cannot be opened ({e}); ignored");
                Ok(None)
            }
        }
    }

    fn lease_access_token_refresh(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer()?;
        Self::ensure_access_token_row(&mut conn, appid)?;
        // A single UPDATE decides between racing instances: its WHERE is evaluated on the row
        // as it is when the update runs, so exactly one of them sees a free lease.
        let taken = diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            // A usable token stored by another instance since the caller looked: no lease.
            .filter(access_tokens::expires_at.le(now))
            .filter(
                access_tokens::lease_until
                    .lt(now)
                    .or(access_tokens::lease_owner.eq(owner)),
            )
            .set((
                access_tokens::lease_owner.eq(owner),
                access_tokens::lease_until.eq(until),
            ))
            .execute(&mut *conn)?;
        Ok(taken == 1)
    }

    fn save_access_token(
        &self,
        appid: &str,
        owner: &str,
        token: &AccessToken,
        use_until: i64,
        fetches: i64,
    ) -> Result<i64, StoreError> {
        let sealed = self.sealer.seal(token.expose(), appid)?;
        let mut conn = self.writer()?;
        Self::ensure_access_token_row(&mut conn, appid)?;
        diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .set((
                access_tokens::token.eq(&sealed),
                access_tokens::expires_at.eq(use_until),
                access_tokens::fetches.eq(access_tokens::fetches + fetches),
            ))
            .execute(&mut *conn)?;
        Self::release_lease(&mut conn, appid, owner)?;
        Ok(Self::access_token_row(&mut conn, appid)?.map_or(fetches, |row| row.fetches))
    }

    fn release_access_token_lease(
        &self,
        appid: &str,
        owner: &str,
        fetches: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer()?;
        diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .set(access_tokens::fetches.eq(access_tokens::fetches + fetches))
            .execute(&mut *conn)?;
        Self::release_lease(&mut conn, appid, owner)?;
        Ok(())
    }

    fn expire_access_token(&self, appid: &str, token: &AccessToken) -> Result<bool, StoreError> {
        let mut conn = self.writer()?;
        let Some(row) = Self::access_token_row(&mut conn, appid)? else {
            return Ok(false);
        };
        let is_this_token = self
            .sealer
            .open(&row.token, appid)
            .is_ok_and(|stored| stored == token.expose());
        if !is_this_token {
            return Ok(false);
        }
        // Compare-and-set on the sealed text: if another instance stored a new token since it
        // was read, the text differs and nothing changes.
        let expired = diesel::update(access_tokens::table)
            .filter(access_tokens::appid.eq(appid))
            .filter(access_tokens::token.eq(&row.token))
            .set(access_tokens::expires_at.eq(0))
            .execute(&mut *conn)?;
        Ok(expired == 1)
    }
}
