//! User accounts: found or created by openid, read by public id, edited.

use diesel::prelude::*;
use wxlogin_domain::{OpenId, ProfileUpdate, StoreChange, UnionId, User};

use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::error::{DbError, DbResult};
use crate::schema::users;
use crate::store::Database;

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
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

fn user_by_openid(conn: &mut AnyConnection, openid: &OpenId) -> DbResult<Option<User>> {
    Ok(users::table
        .filter(users::openid.eq(openid.expose()))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?
        .map(User::from))
}

/// The user with this openid if it exists and already has any `unionid` given: a login that
/// changes nothing about the user.
pub(crate) fn user_needing_no_write(
    conn: &mut AnyConnection,
    openid: &OpenId,
    unionid: Option<&UnionId>,
) -> DbResult<Option<User>> {
    Ok(user_by_openid(conn, openid)?.filter(|user| unionid.is_none() || user.unionid.is_some()))
}

/// Creates the user, or (losing a race, or filling in a unionid) completes and reads it.
pub(crate) fn create_or_complete_user(
    conn: &mut AnyConnection,
    openid: &OpenId,
    unionid: Option<&UnionId>,
    now: i64,
) -> DbResult<(User, bool)> {
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
    let user =
        user_by_openid(conn, openid)?.ok_or(DbError::from(diesel::result::Error::NotFound))?;
    Ok((user, false))
}

pub(crate) fn load_user(conn: &mut AnyConnection, id: &str) -> DbResult<Option<User>> {
    Ok(users::table
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?
        .map(User::from))
}

impl Database {
    pub(crate) fn find_or_create_user(
        &self,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: i64,
    ) -> DbResult<(User, bool)> {
        // Returning users are the common case: a read, without waiting for a write turn.
        if let Some(user) = user_needing_no_write(&mut *self.conn()?, openid, unionid)? {
            return Ok((user, false));
        }
        create_or_complete_user(&mut *self.writer()?, openid, unionid, now)
    }

    pub(crate) fn find_user(&self, id: &str) -> DbResult<Option<User>> {
        load_user(&mut *self.conn()?, id)
    }

    pub(crate) fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> DbResult<Option<User>> {
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
        announce(&mut conn, &StoreChange::UserChanged(id.to_owned()));
        load_user(&mut conn, id)
    }
}
