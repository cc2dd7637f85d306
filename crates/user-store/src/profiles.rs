//! Profile edits, and WeChat's events, which change a field only if they are newer than the
//! field's own last change.

use diesel::prelude::*;
use wxlogin_domain::{ProfileUpdate, StoreChange, User};

use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::users;
use crate::users::load_user;

/// A change of profile fields, each with the time it changed (what a WeChat event is compared
/// with: see [`Database::update_profile`]).
#[derive(AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct ProfileChangeset<'a> {
    nick_name: Option<Option<&'a str>>,
    avatar_url: Option<Option<&'a str>>,
    /// Cleared with every new avatar URL: the uploaded file shown before is no longer shown
    /// (and so is collected). An upload sets both through `attach_avatar`.
    avatar_media: Option<Option<&'a str>>,
    gender: Option<Option<i32>>,
    phone_number: Option<Option<&'a str>>,
    nick_name_changed_at: Option<Option<i64>>,
    avatar_url_changed_at: Option<Option<i64>>,
    phone_number_changed_at: Option<Option<i64>>,
    updated_at: i64,
}

impl<'a> ProfileChangeset<'a> {
    pub(crate) fn new(
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
            avatar_media: avatar_url.map(|_| None),
            avatar_url,
            gender,
            phone_number,
            updated_at: now,
        }
    }
}

impl Database {
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
    // One statement per field: each column's own change time, so a macro over the three.
    macro_rules! set_if_older {
        ($field:ident, $changed_at:ident) => {
            match &update.$field {
                Some(value) => diesel::update(
                    users::table
                        .filter(users::id.eq(id))
                        .filter(older(stringify!($field))),
                )
                .set((
                    users::$field.eq(value.as_deref()),
                    users::$changed_at.eq(Some(event_at)),
                    users::updated_at.eq(now),
                ))
                .execute(&mut *conn)?,
                None => 0,
            }
        };
    }
    let avatar = set_if_older!(avatar_url, avatar_url_changed_at);
    if avatar > 0 {
        // The uploaded file it showed, if any, is no longer shown (and so is collected).
        diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::avatar_media.eq(None::<String>))
            .execute(&mut *conn)?;
    }
    let applied = set_if_older!(nick_name, nick_name_changed_at)
        + avatar
        + set_if_older!(phone_number, phone_number_changed_at);
    Ok(applied > 0)
}
