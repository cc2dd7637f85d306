use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use wxlogin_wechat::{OpenId, SessionKey, UnionId};

use crate::connection::{AnyConnection, AnyConnectionManager};
use crate::schema::{sessions, users};
use crate::{
    DatabaseUrl, NewSession, PoolOptions, ProfileUpdate, Session, StoreError, User, UserStore,
};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations across server instances starting at once on one PostgreSQL
/// (an arbitrary constant: "wxlogin" in ASCII).
const MIGRATION_LOCK_ID: i64 = 0x77_78_6c_6f_67_69_6e;

type Pool = r2d2::Pool<AnyConnectionManager>;
type PooledConnection = r2d2::PooledConnection<AnyConnectionManager>;

/// [`UserStore`] on diesel, SQLite or PostgreSQL by URL, pooled with r2d2. Cheap to clone.
#[derive(Clone)]
pub struct DieselUserStore {
    pool: Pool,
    url: DatabaseUrl,
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

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: String,
    user_id: String,
    session_key: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            session_key: SessionKey::new(row.session_key),
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

impl DieselUserStore {
    /// Connects to `url` (`sqlite://<path>` or `postgres://...`) and fills the pool, so an
    /// unreachable database is reported here rather than on the first request.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .build(AnyConnectionManager { url: url.clone() })
            .map_err(|e| StoreError::Unavailable(format!("{url}: {e}")))?;
        Ok(Self { pool, url })
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

    fn conn(&self) -> Result<PooledConnection, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn load_user(conn: &mut AnyConnection, id: &str) -> Result<Option<User>, StoreError> {
        Ok(users::table
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .first(conn)
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
        let mut conn = self.conn()?;
        let id = uuid::Uuid::new_v4().to_string();
        let row = NewUserRow {
            id: &id,
            openid: openid.expose(),
            unionid: unionid.map(UnionId::expose),
            created_at: now,
            updated_at: now,
        };
        // The unique openid decides the race: one insert lands, the others do nothing.
        // The combined connection has no ON CONFLICT, so each backend gets its own statement.
        let inserted = match &mut *conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(users::table)
                .values(&row)
                .on_conflict(users::openid)
                .do_nothing()
                .execute(c)?,
            AnyConnection::Sqlite(c) => diesel::insert_into(users::table)
                .values(&row)
                .on_conflict(users::openid)
                .do_nothing()
                .execute(c)?,
        };
        if inserted == 0
            && let Some(unionid) = unionid
        {
            diesel::update(users::table)
                .filter(users::openid.eq(openid.expose()))
                .filter(users::unionid.is_null())
                .set(users::unionid.eq(unionid.expose()))
                .execute(&mut *conn)?;
        }
        let user = users::table
            .filter(users::openid.eq(openid.expose()))
            .select(UserRow::as_select())
            .first(&mut *conn)?;
        Ok((user.into(), inserted == 1))
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
        let mut conn = self.conn()?;
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
        Self::load_user(&mut conn, id)
    }

    fn create_session(&self, session: &NewSession) -> Result<Session, StoreError> {
        let row = SessionRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: session.user_id.clone(),
            session_key: session.session_key.expose().to_owned(),
            created_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: None,
        };
        diesel::insert_into(sessions::table)
            .values(&row)
            .execute(&mut *self.conn()?)?;
        Ok(row.into())
    }

    fn find_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(sessions::table
            .filter(sessions::id.eq(id))
            .select(SessionRow::as_select())
            .first(&mut *self.conn()?)
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
        let revoked = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null())
            .set(sessions::revoked_at.eq(now))
            .execute(&mut *self.conn()?)?;
        Ok(revoked == 1)
    }

    fn expire_session(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let shortened = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::expires_at.ge(now))
            .set(sessions::expires_at.eq(now - 1))
            .execute(&mut *conn)?;
        if shortened == 1 {
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
            .execute(&mut *self.conn()?)?)
    }

    fn ping(&self) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1")
            .execute(&mut *self.conn()?)
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}
