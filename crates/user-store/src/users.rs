//! Accounts as rows: read by id, unionid or identity, each with the apps it logged in through.
//! Every other file reads accounts through these.

use diesel::prelude::*;
use wxlogin_domain::{OpenId, UnionId, User};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::{DbError, DbResult};
use crate::schema::{identities, users};

#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) unionid: Option<String>,
    pub(crate) nick_name: Option<String>,
    pub(crate) avatar_url: Option<String>,
    pub(crate) gender: Option<i32>,
    pub(crate) phone_number: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) disabled_at: Option<i64>,
    pub(crate) disabled_reason: Option<String>,
}

impl UserRow {
    fn with_apps(self, apps: Vec<String>) -> User {
        User {
            id: self.id,
            unionid: self.unionid.map(UnionId::new),
            nick_name: self.nick_name,
            avatar_url: self.avatar_url,
            gender: self.gender,
            phone_number: self.phone_number,
            apps,
            created_at: self.created_at,
            updated_at: self.updated_at,
            disabled_at: self.disabled_at,
            disabled_reason: self.disabled_reason,
        }
    }
}

pub(crate) fn row_by_id(conn: &mut AnyConnection, id: &str) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub(crate) fn row_by_unionid(
    conn: &mut AnyConnection,
    unionid: &UnionId,
) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::unionid.eq(unionid.expose()))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub(crate) fn owner_of_identity(
    conn: &mut AnyConnection,
    appid: &str,
    openid: &OpenId,
) -> DbResult<Option<String>> {
    Ok(identities::table
        .filter(identities::appid.eq(appid))
        .filter(identities::openid.eq(openid.expose()))
        .select(identities::user_id)
        .get_result(conn)
        .optional()?)
}

fn apps_of(conn: &mut AnyConnection, user_id: &str) -> DbResult<Vec<String>> {
    Ok(identities::table
        .filter(identities::user_id.eq(user_id))
        .order((identities::created_at, identities::appid))
        .select(identities::appid)
        .load(conn)?)
}

pub(crate) fn complete(conn: &mut AnyConnection, row: UserRow) -> DbResult<User> {
    let apps = apps_of(conn, &row.id)?;
    Ok(row.with_apps(apps))
}

/// The rows of a user with each of its apps (one row per identity, oldest first; one row with
/// no app for an account without identity): a user and its apps in one query.
pub(crate) fn fold_user(rows: Vec<(UserRow, Option<String>)>) -> Option<User> {
    let mut rows = rows.into_iter();
    let (row, first) = rows.next()?;
    let apps = first
        .into_iter()
        .chain(rows.filter_map(|(_, app)| app))
        .collect();
    Some(row.with_apps(apps))
}

pub(crate) fn load_user(conn: &mut AnyConnection, id: &str) -> DbResult<Option<User>> {
    let rows = users::table
        .left_join(identities::table)
        .filter(users::id.eq(id))
        .order((identities::created_at, identities::appid))
        .select((UserRow::as_select(), identities::appid.nullable()))
        .load::<(UserRow, Option<String>)>(conn)?;
    Ok(fold_user(rows))
}

pub(crate) fn reload(conn: &mut AnyConnection, id: &str) -> DbResult<User> {
    load_user(conn, id)?.ok_or_else(|| DbError::from(diesel::result::Error::NotFound))
}

/// The account row of an identity, if the identity exists.
pub(crate) fn known_identity_row(
    conn: &mut AnyConnection,
    appid: &str,
    openid: &OpenId,
) -> DbResult<Option<UserRow>> {
    Ok(identities::table
        .inner_join(users::table)
        .filter(identities::appid.eq(appid))
        .filter(identities::openid.eq(openid.expose()))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The account of an identity already known, when this login adds nothing to it (no unionid,
/// or the one the account holds): the common case, one read and no write.
pub(crate) fn known_identity(
    conn: &mut AnyConnection,
    appid: &str,
    openid: &OpenId,
    unionid: Option<&UnionId>,
) -> DbResult<Option<User>> {
    let (mine, theirs) = diesel::alias!(identities as mine, identities as theirs);
    let rows = mine
        .inner_join(users::table.on(users::id.eq(mine.field(identities::user_id))))
        .inner_join(theirs.on(theirs.field(identities::user_id).eq(users::id)))
        .filter(mine.field(identities::appid).eq(appid))
        .filter(mine.field(identities::openid).eq(openid.expose()))
        .order((
            theirs.field(identities::created_at),
            theirs.field(identities::appid),
        ))
        .select((
            UserRow::as_select(),
            theirs.field(identities::appid).nullable(),
        ))
        .load::<(UserRow, Option<String>)>(conn)?;
    Ok(fold_user(rows).filter(|user| unionid.is_none() || user.unionid.as_ref() == unionid))
}

impl Database {
    pub(crate) fn openid(&self, user_id: &str, appid: &str) -> DbResult<Option<OpenId>> {
        Ok(identities::table
            .filter(identities::user_id.eq(user_id))
            .filter(identities::appid.eq(appid))
            .select(identities::openid)
            .get_result::<String>(&mut *self.conn()?)
            .optional()?
            .map(OpenId::new))
    }

    pub(crate) fn find_user(&self, id: &str) -> DbResult<Option<User>> {
        load_user(&mut *self.conn()?, id)
    }

    pub(crate) fn find_by_identity(&self, appid: &str, openid: &OpenId) -> DbResult<Option<User>> {
        known_identity(&mut *self.conn()?, appid, openid, None)
    }
}
