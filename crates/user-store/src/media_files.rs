//! The records of stored files: which account shows which file as its avatar, which files no
//! account shows (to delete from the media store), and WeChat's content checks of them.

use diesel::prelude::*;
use wxlogin_domain::{StoreChange, User, WebhookEvent, WebhookRoutes};

use crate::accounts::locked;
use crate::changes::announce;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::{media_files, media_verdicts, users};
use crate::users::load_user;

impl Database {
    pub(crate) fn register_media(&self, name: &str, user_id: &str, now: i64) -> DbResult<()> {
        diesel::insert_into(media_files::table)
            .values((
                media_files::name.eq(name),
                media_files::user_id.eq(user_id),
                media_files::created_at.eq(now),
            ))
            .execute(&mut *self.writer()?)?;
        Ok(())
    }

    pub(crate) fn attach_avatar(
        &self,
        user_id: &str,
        name: &str,
        url: &str,
        now: i64,
    ) -> DbResult<Option<User>> {
        self.writer()?.transaction(|conn| {
            let attached = diesel::update(
                media_files::table
                    .filter(media_files::name.eq(name))
                    .filter(media_files::user_id.eq(user_id))
                    .filter(media_files::rejected_at.is_null()),
            )
            .set(media_files::attached_at.eq(now))
            .execute(&mut *conn)?;
            if attached == 0 {
                return Ok(None);
            }
            // The file shown before, if any, now has no account: unused, collected.
            let updated = diesel::update(users::table.filter(users::id.eq(user_id)))
                .set((
                    users::avatar_url.eq(url),
                    users::avatar_media.eq(name),
                    users::avatar_url_changed_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(&mut *conn)?;
            if updated == 0 {
                return Ok(None);
            }
            announce(conn, &StoreChange::UserChanged(user_id.to_owned()))?;
            load_user(conn, user_id)
        })
    }

    pub(crate) fn note_media_check(&self, name: &str, trace_id: &str, now: i64) -> DbResult<bool> {
        let mut conn = self.writer()?;
        locked(&mut conn, &trace_key(trace_id), |conn| {
            diesel::update(media_files::table.filter(media_files::name.eq(name)))
                .set(media_files::check_trace_id.eq(trace_id))
                .execute(&mut *conn)?;
            // WeChat may have answered before this was noted: its verdict waited here.
            let waited =
                diesel::delete(media_verdicts::table.filter(media_verdicts::trace_id.eq(trace_id)))
                    .execute(&mut *conn)?;
            if waited == 0 {
                return Ok(false);
            }
            reject(conn, self.webhooks.get(), name, now)?;
            Ok(true)
        })
    }

    pub(crate) fn take_down_checked_avatar(
        &self,
        trace_id: &str,
        now: i64,
    ) -> DbResult<Option<String>> {
        let mut conn = self.writer()?;
        locked(&mut conn, &trace_key(trace_id), |conn| {
            let Some(name) = media_files::table
                .filter(media_files::check_trace_id.eq(trace_id))
                .select(media_files::name)
                .first::<String>(&mut *conn)
                .optional()?
            else {
                // Not noted yet (or never ours): kept for the noting to apply, for a day.
                diesel::delete(
                    media_verdicts::table
                        .filter(media_verdicts::created_at.lt(now - VERDICT_KEPT_SECS)),
                )
                .execute(&mut *conn)?;
                let insert = diesel::insert_into(media_verdicts::table).values((
                    media_verdicts::trace_id.eq(trace_id),
                    media_verdicts::created_at.eq(now),
                ));
                match &mut *conn {
                    AnyConnection::Postgresql(c) => insert.on_conflict_do_nothing().execute(c)?,
                    AnyConnection::Sqlite(c) => insert.on_conflict_do_nothing().execute(c)?,
                };
                return Ok(None);
            };
            reject(conn, self.webhooks.get(), &name, now)
        })
    }

    pub(crate) fn unused_media(
        &self,
        unattached_before: i64,
        limit: usize,
    ) -> DbResult<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let in_use = users::table
            .filter(users::avatar_media.is_not_null())
            .select(users::avatar_media.assume_not_null());
        Ok(media_files::table
            .filter(
                media_files::attached_at
                    .is_not_null()
                    .or(media_files::rejected_at.is_not_null())
                    .or(media_files::created_at.lt(unattached_before)),
            )
            .filter(media_files::name.ne_all(in_use))
            .select(media_files::name)
            .order(media_files::created_at.asc())
            .limit(limit)
            .load::<String>(&mut *self.conn()?)?)
    }

    pub(crate) fn forget_media(&self, names: &[String]) -> DbResult<usize> {
        let in_use = users::table
            .filter(users::avatar_media.is_not_null())
            .select(users::avatar_media.assume_not_null());
        Ok(diesel::delete(
            media_files::table
                .filter(media_files::name.eq_any(names))
                .filter(media_files::name.ne_all(in_use)),
        )
        .execute(&mut *self.writer()?)?)
    }
}

/// The lock both the noting of a check and its verdict take: on PostgreSQL, without it, a
/// verdict arriving while its check is being noted could miss the note (not committed yet),
/// and the note miss the verdict (not committed yet either), and a risky avatar be shown.
fn trace_key(trace_id: &str) -> String {
    format!("media-check:{trace_id}")
}

/// How long a verdict that arrived before its check was noted is kept: the noting follows
/// within a second; a day is for a database that was down meanwhile.
const VERDICT_KEPT_SECS: i64 = 24 * 3600;

/// Marks file `name` rejected (never shown again) and takes it down from the account that
/// shows it, if one does; answers that account.
/// Takes `name` down: no account shows it any more, and each that did raises
/// `avatar.rejected` for `webhooks`, in the caller's transaction.
fn reject(
    conn: &mut AnyConnection,
    webhooks: Option<&WebhookRoutes>,
    name: &str,
    now: i64,
) -> DbResult<Option<String>> {
    diesel::update(media_files::table.filter(media_files::name.eq(name)))
        .set(media_files::rejected_at.eq(now))
        .execute(&mut *conn)?;
    let shown_by = diesel::update(users::table.filter(users::avatar_media.eq(name)))
        .set((
            users::avatar_url.eq(None::<String>),
            users::avatar_media.eq(None::<String>),
            users::avatar_url_changed_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::id)
        .get_results::<String>(&mut *conn)?;
    for id in &shown_by {
        announce(conn, &StoreChange::UserChanged(id.clone()))?;
        if let Some(routes) = webhooks {
            crate::outbox::record_event(conn, routes, &WebhookEvent::avatar_rejected(id, now))?;
        }
    }
    Ok(shown_by.into_iter().next())
}
