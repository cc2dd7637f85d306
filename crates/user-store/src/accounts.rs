//! Which account an identity is: found, created, linked to its unionid, or merged with another
//! account of the same person, under the person's lock so that logins of one person on every
//! instance take turns.

use diesel::prelude::*;
use wxlogin_domain::{MergedAccount, OpenId, StoreChange, UnionId, User};

use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::error::{DbError, DbResult};
use crate::profiles::ProfileChangeset;
use crate::schema::{identities, users};
use crate::sessions::delete_sessions;
use crate::users::{UserRow, complete, owner_of_identity, reload, row_by_id, row_by_unionid};

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

/// What a login's identity came to.
pub(crate) struct Resolved {
    pub(crate) user: User,
    pub(crate) created: bool,
    pub(crate) merged: Option<MergedAccount>,
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
            advisory_lock(c, person)?;
        }
        work(conn)
    })
}

/// Takes PostgreSQL's advisory lock of `key` until the transaction ends.
pub(crate) fn advisory_lock(c: &mut diesel::PgConnection, key: &str) -> DbResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(c)?;
    Ok(())
}

/// The lock key of the person a login is for: their unionid's when WeChat sent one, else
/// their identity's.
pub(crate) fn person_key(appid: &str, openid: &OpenId, unionid: Option<&UnionId>) -> String {
    match unionid {
        Some(unionid) => unionid_key(unionid.expose()),
        None => identity_key(appid, openid.expose()),
    }
}

pub(crate) fn unionid_key(unionid: &str) -> String {
    format!("wxlogin unionid {unionid}")
}

pub(crate) fn identity_key(appid: &str, openid: &str) -> String {
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
pub(crate) fn add_identity(
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
pub(crate) fn fresh_account(
    id: String,
    unionid: Option<&UnionId>,
    appid: &str,
    now: i64,
) -> Resolved {
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
            disabled_at: None,
            disabled_reason: None,
        },
        created: true,
        merged: None,
    }
}

/// Another login inserted the identity first: the account made here for nothing (if any) goes,
/// and the identity's owner is the answer.
pub(crate) fn lost_race(
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
    let ended = delete_sessions(conn, &other.id, None)?;
    diesel::update(identities::table.filter(identities::user_id.eq(&other.id)))
        .set(identities::user_id.eq(&survivor.id))
        .execute(&mut *conn)?;
    // The uploaded file the other shows, which the survivor shows if it takes its avatar.
    let other_media: Option<String> = users::table
        .filter(users::id.eq(&other.id))
        .select(users::avatar_media)
        .first(&mut *conn)?;
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
    let takes_avatar = avatar_url.is_some();
    diesel::update(users::table.filter(users::id.eq(&survivor.id)))
        .set((users::unionid.eq(unionid.expose()), &filled))
        .execute(&mut *conn)?;
    if takes_avatar {
        diesel::update(users::table.filter(users::id.eq(&survivor.id)))
            .set(users::avatar_media.eq(other_media))
            .execute(&mut *conn)?;
    }
    // A ban is the person's: a banned account merged away bans the one it joins (the login
    // that would merge them is then refused, and nothing is merged).
    if survivor.disabled_at.is_none() && other.disabled_at.is_some() {
        diesel::update(users::table.filter(users::id.eq(&survivor.id)))
            .set((
                users::disabled_at.eq(other.disabled_at),
                users::disabled_reason.eq(&other.disabled_reason),
            ))
            .execute(&mut *conn)?;
    }
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
