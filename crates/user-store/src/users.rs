//! Accounts and their identities: found by (appid, openid), linked by unionid, merged when a
//! login shows two accounts are one person, edited.

use diesel::prelude::*;
use wxlogin_domain::{
    Cause, Deletion, MergedAccount, OpenId, ProfileUpdate, StoreChange, StoreError, UnionId, User,
};

use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::error::{DbError, DbResult};
use crate::prepared::{Bind, Statement};
use crate::schema::{identities, sessions, users};
use crate::store::Database;

#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: String,
    unionid: Option<String>,
    nick_name: Option<String>,
    avatar_url: Option<String>,
    gender: Option<i32>,
    phone_number: Option<String>,
    created_at: i64,
    updated_at: i64,
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
        }
    }
}

// A `None` is bound as NULL (the column's default) rather than written as `DEFAULT`: the
// SQL text then no longer depends on the values, so diesel caches the prepared statement.
#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct NewUserRow<'a> {
    id: &'a str,
    unionid: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
}

/// A change of profile fields, each with the time it changed (what a WeChat event is compared
/// with: see [`Database::update_profile`]).
#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ProfileChangeset<'a> {
    nick_name: Option<Option<&'a str>>,
    avatar_url: Option<Option<&'a str>>,
    gender: Option<Option<i32>>,
    phone_number: Option<Option<&'a str>>,
    nick_name_changed_at: Option<Option<i64>>,
    avatar_url_changed_at: Option<Option<i64>>,
    phone_number_changed_at: Option<Option<i64>>,
    updated_at: i64,
}

impl<'a> ProfileChangeset<'a> {
    fn new(
        nick_name: Option<Option<&'a str>>,
        avatar_url: Option<Option<&'a str>>,
        gender: Option<Option<i32>>,
        phone_number: Option<Option<&'a str>>,
        now: i64,
    ) -> Self {
        let at = |field: &Option<Option<&str>>| field.is_some().then_some(Some(now));
        Self {
            nick_name_changed_at: at(&nick_name),
            avatar_url_changed_at: at(&avatar_url),
            phone_number_changed_at: at(&phone_number),
            nick_name,
            avatar_url,
            gender,
            phone_number,
            updated_at: now,
        }
    }
}

/// What a login's identity came to.
pub(crate) struct Resolved {
    pub(crate) user: User,
    pub(crate) created: bool,
    pub(crate) merged: Option<MergedAccount>,
}

fn row_by_id(conn: &mut AnyConnection, id: &str) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

fn row_by_unionid(conn: &mut AnyConnection, unionid: &UnionId) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::unionid.eq(unionid.expose()))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

fn owner_of_identity(
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

fn complete(conn: &mut AnyConnection, row: UserRow) -> DbResult<User> {
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

fn reload(conn: &mut AnyConnection, id: &str) -> DbResult<User> {
    load_user(conn, id)?.ok_or_else(|| DbError::from(diesel::result::Error::NotFound))
}

/// The account row of an identity, if the identity exists.
fn known_identity_row(
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

/// Runs `work` in a transaction that holds, on PostgreSQL, an advisory lock on `person` (its
/// unionid, else its identity) until the commit: logins of one person on every instance take
/// turns, so two of them cannot both create, link or merge its account. On SQLite the process's
/// write turn, held by the caller, does the same.
pub(crate) fn locked<T>(
    conn: &mut AnyConnection,
    person: &str,
    work: impl FnOnce(&mut AnyConnection) -> DbResult<T>,
) -> DbResult<T> {
    conn.transaction(|conn| {
        if let AnyConnection::Postgresql(c) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(person)
                .execute(c)?;
        }
        work(conn)
    })
}

/// The lock key of the person a login is for: their unionid's when WeChat sent one, else
/// their identity's.
pub(crate) fn person_key(appid: &str, openid: &OpenId, unionid: Option<&UnionId>) -> String {
    match unionid {
        Some(unionid) => unionid_key(unionid.expose()),
        None => identity_key(appid, openid.expose()),
    }
}

fn unionid_key(unionid: &str) -> String {
    format!("wxlogin unionid {unionid}")
}

fn identity_key(appid: &str, openid: &str) -> String {
    format!("wxlogin identity {appid} {openid}")
}

/// Finds, creates, links or merges the account of identity (`appid`, `openid`). Run it
/// [`locked`].
pub(crate) fn resolve(
    conn: &mut AnyConnection,
    appid: &str,
    openid: &OpenId,
    unionid: Option<&UnionId>,
    now: i64,
) -> DbResult<Resolved> {
    let known = match owner_of_identity(conn, appid, openid)? {
        Some(user_id) => row_by_id(conn, &user_id)?,
        None => None,
    };
    let Some(row) = known else {
        return add_identity(conn, appid, openid, unionid, now);
    };
    let unchanged = |conn: &mut AnyConnection, row: UserRow| {
        Ok(Resolved {
            user: complete(conn, row)?,
            created: false,
            merged: None,
        })
    };
    let Some(unionid) = unionid else {
        return unchanged(conn, row);
    };
    if row.unionid.as_deref() == Some(unionid.expose()) {
        return unchanged(conn, row);
    }
    if row.unionid.is_some() {
        // WeChat gives one person one unionid: this would be its mistake, or a rebinding to
        // another Open Platform account. The account keeps the unionid it has.
        log::warn!(
            "a login brought another unionid than its account holds; the account keeps its own"
        );
        return unchanged(conn, row);
    }
    match row_by_unionid(conn, unionid)? {
        Some(holder) => merge(conn, row, holder, unionid, now),
        None => {
            diesel::update(users::table.filter(users::id.eq(&row.id)))
                .set((
                    users::unionid.eq(unionid.expose()),
                    users::updated_at.eq(now),
                ))
                .execute(&mut *conn)?;
            announce(conn, &StoreChange::UserChanged(row.id.clone()))?;
            Ok(Resolved {
                user: reload(conn, &row.id)?,
                created: false,
                merged: None,
            })
        }
    }
}

/// A new identity: it joins the account holding its unionid, or a new account.
fn add_identity(
    conn: &mut AnyConnection,
    appid: &str,
    openid: &OpenId,
    unionid: Option<&UnionId>,
    now: i64,
) -> DbResult<Resolved> {
    let holder = match unionid {
        Some(unionid) => row_by_unionid(conn, unionid)?,
        None => None,
    };
    let (user_id, created) = match holder {
        Some(holder) => (holder.id, false),
        None => create_account(conn, unionid, now)?,
    };
    let identity = (
        identities::appid.eq(appid),
        identities::openid.eq(openid.expose()),
        identities::user_id.eq(&user_id),
        identities::created_at.eq(now),
    );
    // The primary key (appid, openid) decides a race no lock covered (two first logins of one
    // identity without unionid, or an app bound to the Open Platform between two logins): the
    // identity's owner is whoever inserted it first, and an account made here for nothing is
    // removed.
    let inserted = match &mut *conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(identities::table)
            .values(identity)
            .on_conflict((identities::appid, identities::openid))
            .do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(identities::table)
            .values(identity)
            .on_conflict((identities::appid, identities::openid))
            .do_nothing()
            .execute(c)?,
    };
    match (inserted == 1, created) {
        (true, true) => Ok(fresh_account(user_id, unionid, appid, now)),
        (true, false) => Ok(Resolved {
            user: reload(conn, &user_id)?,
            created: false,
            merged: None,
        }),
        (false, _) => lost_race(conn, created.then_some(user_id.as_str()), appid, openid),
    }
}

/// The account just made with its one identity, known without asking the database.
fn fresh_account(id: String, unionid: Option<&UnionId>, appid: &str, now: i64) -> Resolved {
    Resolved {
        user: User {
            id,
            unionid: unionid.cloned(),
            nick_name: None,
            avatar_url: None,
            gender: None,
            phone_number: None,
            apps: vec![appid.to_owned()],
            created_at: now,
            updated_at: now,
        },
        created: true,
        merged: None,
    }
}

/// Another login inserted the identity first: the account made here for nothing (if any) goes,
/// and the identity's owner is the answer.
fn lost_race(
    conn: &mut AnyConnection,
    orphan: Option<&str>,
    appid: &str,
    openid: &OpenId,
) -> DbResult<Resolved> {
    if let Some(orphan) = orphan {
        diesel::delete(users::table.filter(users::id.eq(orphan))).execute(&mut *conn)?;
    }
    let owner = owner_of_identity(conn, appid, openid)?
        .ok_or_else(|| DbError::from(diesel::result::Error::NotFound))?;
    Ok(Resolved {
        user: reload(conn, &owner)?,
        created: false,
        merged: None,
    })
}

/// The session a first login opens, sealed before its account exists (it is sealed for the
/// session), so both go into the database in one statement.
pub(crate) struct FirstSession<'a> {
    pub(crate) id: &'a str,
    pub(crate) session_key: &'a str,
    pub(crate) expires_at: i64,
    pub(crate) login_code: Option<&'a str>,
}

/// The account, identity and session of a first login on PostgreSQL: one round trip, one
/// commit. Nothing is inserted but the account when another login inserted the identity first.
const FIRST_LOGIN: &str = "\
    WITH account AS (\
        INSERT INTO users (id, unionid, created_at, updated_at) VALUES (?, NULL, ?, ?) \
        RETURNING id), \
    identity AS (\
        INSERT INTO identities (appid, openid, user_id, created_at) \
        SELECT ?, ?, id, ? FROM account \
        ON CONFLICT (appid, openid) DO NOTHING \
        RETURNING user_id), \
    opened AS (\
        INSERT INTO sessions \
            (id, user_id, appid, session_key, created_at, expires_at, login_code, user_existed) \
        SELECT ?, user_id, ?, ?, ?, ?, ?, FALSE FROM identity \
        RETURNING id) \
    SELECT count(*) AS n FROM opened";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A first login without unionid: nothing to link or merge, so no lock is needed; the
/// identity's primary key decides races. On PostgreSQL account, identity and `session` are one
/// statement; only the loser of a race on the identity makes an account for nothing, and
/// removes it. Whether `session` was opened too (on SQLite, or after a lost race, it was not).
pub(crate) fn add_identity_without_unionid(
    conn: &mut AnyConnection,
    appid: &str,
    openid: &OpenId,
    now: i64,
    session: &FirstSession<'_>,
) -> DbResult<(Resolved, bool)> {
    let AnyConnection::Postgresql(c) = &mut *conn else {
        return Ok((add_identity(conn, appid, openid, None, now)?, false));
    };
    let id = uuid::Uuid::now_v7().to_string();
    let opened = Statement::new(
        FIRST_LOGIN,
        vec![
            Bind::Text(&id),
            Bind::BigInt(now),
            Bind::BigInt(now),
            Bind::Text(appid),
            Bind::Text(openid.expose()),
            Bind::BigInt(now),
            Bind::Text(session.id),
            Bind::Text(appid),
            Bind::Text(session.session_key),
            Bind::BigInt(now),
            Bind::BigInt(session.expires_at),
            Bind::OptionalText(session.login_code),
        ],
    )
    .get_result::<Count>(c)?
    .n;
    if opened == 1 {
        Ok((fresh_account(id, None, appid, now), true))
    } else {
        Ok((lost_race(conn, Some(&id), appid, openid)?, false))
    }
}

/// A new account; with a unionid another instance may have just given an account, whose id
/// then comes back instead (`false`: not created here).
fn create_account(
    conn: &mut AnyConnection,
    unionid: Option<&UnionId>,
    now: i64,
) -> DbResult<(String, bool)> {
    // Time-ordered (v7), so that of two accounts made in the same second the id tells which is
    // older, as a merge must.
    let id = uuid::Uuid::now_v7().to_string();
    let row = NewUserRow {
        id: &id,
        unionid: unionid.map(UnionId::expose),
        created_at: now,
        updated_at: now,
    };
    let inserted = match &mut *conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(users::table)
            .values(&row)
            .on_conflict(users::unionid)
            .do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(users::table)
            .values(&row)
            .on_conflict(users::unionid)
            .do_nothing()
            .execute(c)?,
    };
    if inserted == 1 {
        return Ok((id, true));
    }
    let holder = unionid
        .map(|unionid| row_by_unionid(conn, unionid))
        .transpose()?
        .flatten()
        .ok_or_else(|| DbError::from(diesel::result::Error::NotFound))?;
    Ok((holder.id, false))
}

/// Two accounts of one person become the older one: the other's identities move to it, its
/// empty profile fields are filled from the other's, the other's sessions end, and the other
/// is deleted.
fn merge(
    conn: &mut AnyConnection,
    a: UserRow,
    b: UserRow,
    unionid: &UnionId,
    now: i64,
) -> DbResult<Resolved> {
    let (survivor, other) = if (a.created_at, &a.id) <= (b.created_at, &b.id) {
        (a, b)
    } else {
        (b, a)
    };
    if let AnyConnection::Postgresql(c) = &mut *conn {
        // A returning user's login inserts its session outside any lock, and the foreign key
        // check of that insert takes a share lock on the user's row: holding both rows for
        // update makes such inserts finish before the merge reads the sessions, or wait and
        // then fail (and be resolved again) once the account is gone.
        diesel::sql_query("SELECT id FROM users WHERE id IN ($1, $2) ORDER BY id FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(&survivor.id)
            .bind::<diesel::sql_types::Text, _>(&other.id)
            .execute(c)?;
    }
    let ended: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(&other.id))
        .select(sessions::id)
        .load(&mut *conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(&other.id))).execute(&mut *conn)?;
    diesel::update(identities::table.filter(identities::user_id.eq(&other.id)))
        .set(identities::user_id.eq(&survivor.id))
        .execute(&mut *conn)?;
    // First, so that its unionid is free for the survivor.
    diesel::delete(users::table.filter(users::id.eq(&other.id))).execute(&mut *conn)?;
    let fill = |mine: &Option<String>, theirs: &Option<String>| -> Option<Option<String>> {
        (mine.is_none() && theirs.is_some()).then(|| theirs.clone())
    };
    let (nick_name, avatar_url, phone_number) = (
        fill(&survivor.nick_name, &other.nick_name),
        fill(&survivor.avatar_url, &other.avatar_url),
        fill(&survivor.phone_number, &other.phone_number),
    );
    let filled = ProfileChangeset::new(
        nick_name.as_ref().map(Option::as_deref),
        avatar_url.as_ref().map(Option::as_deref),
        (survivor.gender.is_none() && other.gender.is_some()).then_some(other.gender),
        phone_number.as_ref().map(Option::as_deref),
        now,
    );
    diesel::update(users::table.filter(users::id.eq(&survivor.id)))
        .set((users::unionid.eq(unionid.expose()), &filled))
        .execute(&mut *conn)?;
    for change in [
        StoreChange::UserChanged(survivor.id.clone()),
        StoreChange::UserChanged(other.id.clone()),
    ]
    .into_iter()
    .chain(ended.iter().cloned().map(StoreChange::SessionEnded))
    {
        announce(conn, &change)?;
    }
    log::info!(
        "merged account {} into the older account {} of the same person",
        other.id,
        survivor.id
    );
    Ok(Resolved {
        user: reload(conn, &survivor.id)?,
        created: false,
        merged: Some(MergedAccount {
            user_id: other.id,
            ended_sessions: ended,
        }),
    })
}

impl Database {
    pub(crate) fn find_or_create_user(
        &self,
        appid: &str,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: i64,
    ) -> DbResult<(User, bool)> {
        // Returning users are the common case: a read, without waiting for a write turn.
        if let Some(user) = known_identity(&mut *self.conn()?, appid, openid, unionid)? {
            return Ok((user, false));
        }
        let key = person_key(appid, openid, unionid);
        let resolved = locked(&mut *self.writer()?, &key, |conn| {
            resolve(conn, appid, openid, unionid, now)
        })?;
        Ok((resolved.user, resolved.created))
    }

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

    pub(crate) fn delete_account(
        &self,
        user_id: &str,
        appid: &str,
        openid: &OpenId,
    ) -> DbResult<Option<Deletion>> {
        let mut conn = self.writer()?;
        let deleted = conn.transaction(|conn| {
            let mut target = user_id.to_owned();
            for _ in 0..MERGES_FOLLOWED {
                // The account, or where a merge took the caller's identity.
                let row = match row_by_id(conn, &target)? {
                    Some(row) => row,
                    None => match owner_of_identity(conn, appid, openid)? {
                        Some(owner) => match row_by_id(conn, &owner)? {
                            Some(row) => row,
                            None => return Ok(None),
                        },
                        None => return Ok(None),
                    },
                };
                lock_account(conn, &row)?;
                // Read again under the locks: a merge may have moved it meanwhile.
                if row_by_id(conn, &row.id)?.is_some() {
                    return delete_locked_account(conn, &row.id).map(Some);
                }
                target = row.id;
            }
            Err(DbError::Store(StoreError::Query(Cause::msg(
                "the account kept being merged while it was being deleted; nothing was deleted",
            ))))
        })?;
        // After the write turn is let go: the checkpoint must not hold up other writes.
        drop(conn);
        if deleted.is_some() {
            self.erase_old_pages();
        }
        Ok(deleted)
    }

    pub(crate) fn delete_identity(
        &self,
        appid: &str,
        openid: &OpenId,
        existed_at: i64,
    ) -> DbResult<Option<Deletion>> {
        let mut conn = self.writer()?;
        let deleted = conn.transaction(|conn| {
            let Some(row) = known_identity_row(conn, appid, openid)? else {
                return Ok(None);
            };
            lock_account(conn, &row)?;
            let identity: Option<(String, i64)> = identities::table
                .filter(identities::appid.eq(appid))
                .filter(identities::openid.eq(openid.expose()))
                .select((identities::user_id, identities::created_at))
                .get_result(&mut *conn)
                .optional()?;
            let Some((user_id, _)) = identity
                .filter(|(owner, created_at)| *owner == row.id && *created_at <= existed_at)
            else {
                return Ok(None);
            };
            let others: i64 = identities::table
                .filter(identities::user_id.eq(&user_id))
                .count()
                .get_result(&mut *conn)?;
            if others <= 1 {
                return delete_locked_account(conn, &user_id).map(Some);
            }
            let ended: Vec<String> = sessions::table
                .filter(sessions::user_id.eq(&user_id))
                .filter(sessions::appid.eq(appid))
                .select(sessions::id)
                .load(&mut *conn)?;
            diesel::delete(
                sessions::table
                    .filter(sessions::user_id.eq(&user_id))
                    .filter(sessions::appid.eq(appid)),
            )
            .execute(&mut *conn)?;
            diesel::delete(
                identities::table
                    .filter(identities::appid.eq(appid))
                    .filter(identities::openid.eq(openid.expose())),
            )
            .execute(&mut *conn)?;
            for change in std::iter::once(StoreChange::UserChanged(user_id.clone()))
                .chain(ended.iter().cloned().map(StoreChange::SessionEnded))
            {
                announce(conn, &change)?;
            }
            Ok(Some(Deletion {
                user_id,
                account_deleted: false,
                ended_sessions: ended,
            }))
        })?;
        // After the write turn is let go: the checkpoint must not hold up other writes.
        drop(conn);
        if deleted.is_some() {
            self.erase_old_pages();
        }
        Ok(deleted)
    }

    /// Applies `update`. With [`ProfileUpdate::unless_changed_since`] (a WeChat event made at
    /// that time), each of nickname, avatar and phone number is changed only if it last changed
    /// before then (its own change time, or for rows from before those were kept, the row's
    /// `updated_at`), and is marked as changed at the event's time; gender is left alone. `None`
    /// when nothing was applied, or there is no such account.
    pub(crate) fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> DbResult<Option<User>> {
        self.writer()?.transaction(|conn| {
            let applied = match update.unless_changed_since {
                Some(event_at) => update_older_fields(conn, id, update, event_at, now)?,
                None => {
                    let changes = ProfileChangeset::new(
                        update.nick_name.as_ref().map(Option::as_deref),
                        update.avatar_url.as_ref().map(Option::as_deref),
                        update.gender,
                        update.phone_number.as_ref().map(Option::as_deref),
                        now,
                    );
                    diesel::update(users::table.filter(users::id.eq(id)))
                        .set(&changes)
                        .execute(&mut *conn)?
                        > 0
                }
            };
            if !applied {
                return Ok(None);
            }
            announce(conn, &StoreChange::UserChanged(id.to_owned()))?;
            load_user(conn, id)
        })
    }
}

/// The fields of `update` that last changed before `event_at`, changed, each in one statement
/// whose filter is the check (no change can slip between check and set); whether any was.
fn update_older_fields(
    conn: &mut AnyConnection,
    id: &str,
    update: &ProfileUpdate,
    event_at: i64,
    now: i64,
) -> DbResult<bool> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool};
    // The column names are this code's own, never input.
    let older = |field: &str| {
        sql::<Bool>(&format!("COALESCE({field}_changed_at, updated_at) < "))
            .bind::<BigInt, _>(event_at)
    };
    let mut applied = 0;
    if let Some(value) = &update.nick_name {
        applied += diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(older("nick_name")),
        )
        .set((
            users::nick_name.eq(value.as_deref()),
            users::nick_name_changed_at.eq(Some(event_at)),
            users::updated_at.eq(now),
        ))
        .execute(&mut *conn)?;
    }
    if let Some(value) = &update.avatar_url {
        applied += diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(older("avatar_url")),
        )
        .set((
            users::avatar_url.eq(value.as_deref()),
            users::avatar_url_changed_at.eq(Some(event_at)),
            users::updated_at.eq(now),
        ))
        .execute(&mut *conn)?;
    }
    if let Some(value) = &update.phone_number {
        applied += diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(older("phone_number")),
        )
        .set((
            users::phone_number.eq(value.as_deref()),
            users::phone_number_changed_at.eq(Some(event_at)),
            users::updated_at.eq(now),
        ))
        .execute(&mut *conn)?;
    }
    Ok(applied > 0)
}

impl Database {
    /// On SQLite, after a deletion: the pages as they were before it (the person's rows) are
    /// still in the write-ahead log and the main file until a checkpoint copies the zeroed pages
    /// over them (`secure_delete` zeroes only the new versions). A checkpoint that truncates the
    /// log does, now, outside the process's write turn and waiting at most 100 ms for readers.
    /// Best effort: a reader holding an old snapshot makes it stop short, and a later one
    /// finishes the job.
    fn erase_old_pages(&self) {
        use diesel::connection::SimpleConnection;
        let Ok(mut conn) = self.conn() else {
            return;
        };
        let AnyConnection::Sqlite(c) = &mut *conn else {
            return;
        };
        let checkpoint = c
            .batch_execute("PRAGMA busy_timeout = 100")
            .and_then(|()| c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)"));
        // Back to what `SQLITE_PRAGMAS` sets for every connection.
        let restored = c.batch_execute("PRAGMA busy_timeout = 5000");
        if let Err(e) = checkpoint.and(restored) {
            log::warn!("the checkpoint after a deletion failed: {e}");
        }
    }
}

/// How many merges a deletion follows before it gives up (each needs a login of the person
/// between two statements of the deletion).
const MERGES_FOLLOWED: usize = 4;

/// The lock keys of every way a login can reach the account: its unionid and each identity,
/// sorted, so that a deletion takes them in the same order whoever else wants them.
fn account_keys(conn: &mut AnyConnection, row: &UserRow) -> DbResult<Vec<String>> {
    let identities: Vec<(String, String)> = identities::table
        .filter(identities::user_id.eq(&row.id))
        .select((identities::appid, identities::openid))
        .load(&mut *conn)?;
    let mut keys: Vec<String> = identities
        .iter()
        .map(|(appid, openid)| identity_key(appid, openid))
        .chain(row.unionid.as_deref().map(unionid_key))
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// On PostgreSQL, takes the lock of every way to the account, then its row for update: logins
/// of the person wait until the deletion commits, and a returning login's session insert
/// (which share-locks the row through its foreign key) either lands first and is deleted too,
/// or fails and is resolved again, finding nobody. The caller holds a transaction.
fn lock_account(conn: &mut AnyConnection, row: &UserRow) -> DbResult<()> {
    let keys = account_keys(conn, row)?;
    if let AnyConnection::Postgresql(c) = conn {
        for key in keys {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(&mut *c)?;
        }
        diesel::sql_query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(&row.id)
            .execute(c)?;
    }
    Ok(())
}

/// Deletes `user_id` with its identities and sessions, in the caller's transaction, after
/// [`lock_account`].
fn delete_locked_account(conn: &mut AnyConnection, user_id: &str) -> DbResult<Deletion> {
    let ended: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(sessions::id)
        .load(&mut *conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(&mut *conn)?;
    diesel::delete(identities::table.filter(identities::user_id.eq(user_id)))
        .execute(&mut *conn)?;
    diesel::delete(users::table.filter(users::id.eq(user_id))).execute(&mut *conn)?;
    for change in std::iter::once(StoreChange::UserChanged(user_id.to_owned()))
        .chain(ended.iter().cloned().map(StoreChange::SessionEnded))
    {
        announce(conn, &change)?;
    }
    Ok(Deletion {
        user_id: user_id.to_owned(),
        account_deleted: true,
        ended_sessions: ended,
    })
}

/// Rows made before identities existed (appid `''`), given to the app they came from.
pub(crate) fn claim_legacy_rows(conn: &mut AnyConnection, appid: &str) -> DbResult<usize> {
    if appid.is_empty() {
        return Ok(0);
    }
    conn.transaction(|conn| {
        let claimed = diesel::update(identities::table.filter(identities::appid.eq("")))
            .set(identities::appid.eq(appid))
            .execute(&mut *conn)?;
        diesel::update(sessions::table.filter(sessions::appid.eq("")))
            .set(sessions::appid.eq(appid))
            .execute(&mut *conn)?;
        Ok(claimed)
    })
}

/// How many identities still wait for the app they came from.
pub(crate) fn unclaimed_legacy_rows(conn: &mut AnyConnection) -> DbResult<i64> {
    Ok(identities::table
        .filter(identities::appid.eq(""))
        .count()
        .get_result(conn)?)
}
