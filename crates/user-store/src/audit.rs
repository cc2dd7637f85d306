//! The audit log as rows: written in the caller's transaction with the change it records, or
//! alone for what changes nothing; listed by cursor; purged in bounded batches.

use diesel::prelude::*;
use wxlogin_domain::{
    AuditEntry, AuditKind, AuditQuery, Cause, StoreError, WebhookEvent, WebhookRoutes,
};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::{DbError, DbResult};
use crate::schema::audit_log;

/// `None` is bound as NULL, not left to the column's default: the statement's text is then the
/// same whatever is missing, and diesel prepares it once per connection (with defaults it
/// cannot cache it, and SQLite would parse it for every entry).
#[derive(Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewEntry<'a> {
    at: i64,
    kind: &'a str,
    user_id: Option<&'a str>,
    appid: Option<&'a str>,
    session_id: Option<&'a str>,
    client_addr: Option<&'a str>,
    outcome: &'a str,
    actor: Option<&'a str>,
}

impl<'a> From<&'a AuditEntry> for NewEntry<'a> {
    fn from(entry: &'a AuditEntry) -> Self {
        Self {
            at: entry.at,
            kind: entry.kind.as_str(),
            user_id: entry.user_id.as_deref(),
            appid: entry.appid.as_deref(),
            session_id: entry.session_id.as_deref(),
            client_addr: entry.client_addr.as_deref(),
            outcome: &entry.outcome,
            actor: entry.actor.as_deref(),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct EntryRow {
    id: i64,
    at: i64,
    kind: String,
    user_id: Option<String>,
    appid: Option<String>,
    session_id: Option<String>,
    client_addr: Option<String>,
    outcome: String,
    actor: Option<String>,
}

impl TryFrom<EntryRow> for AuditEntry {
    type Error = DbError;

    fn try_from(row: EntryRow) -> DbResult<Self> {
        let kind = AuditKind::parse(&row.kind).ok_or_else(|| {
            DbError::Store(StoreError::Query(Cause::msg(
                "an audit entry of a kind this release does not know",
            )))
        })?;
        Ok(AuditEntry {
            id: row.id,
            at: row.at,
            kind,
            user_id: row.user_id,
            appid: row.appid,
            session_id: row.session_id,
            client_addr: row.client_addr,
            outcome: row.outcome,
            actor: row.actor,
        })
    }
}

/// Writes `entries` in the caller's transaction, and the webhook events they raise for the
/// endpoints of `webhooks` that want them: the change, its entry and its events commit or
/// roll back together.
pub(crate) fn write_entries(
    conn: &mut AnyConnection,
    webhooks: Option<&WebhookRoutes>,
    entries: &[AuditEntry],
) -> DbResult<()> {
    // One statement each: the multi-backend connection takes no multi-row insert, and a
    // change records one or two.
    for entry in entries {
        diesel::insert_into(audit_log::table)
            .values(NewEntry::from(entry))
            .execute(&mut *conn)?;
        if let (Some(routes), Some(event)) = (webhooks, WebhookEvent::of(entry)) {
            crate::outbox::record_event(conn, routes, &event)?;
        }
    }
    Ok(())
}

/// The most entries one listing answers.
pub const MOST_LISTED: usize = 1000;

impl Database {
    pub(crate) fn record_audit(&self, entry: &AuditEntry) -> DbResult<()> {
        let mut conn = self.writer()?;
        write_entries(&mut conn, self.webhooks.get(), std::slice::from_ref(entry))
    }

    pub(crate) fn audit_entries(&self, query: &AuditQuery) -> DbResult<Vec<AuditEntry>> {
        let mut select = audit_log::table
            .filter(audit_log::id.gt(query.after))
            .order(audit_log::id)
            .limit(query.limit.clamp(1, MOST_LISTED) as i64)
            .select(EntryRow::as_select())
            .into_boxed();
        if let Some(user_id) = &query.user_id {
            select = select.filter(audit_log::user_id.eq(user_id.clone()));
        }
        if let Some(kind) = query.kind {
            select = select.filter(audit_log::kind.eq(kind.as_str()));
        }
        let rows: Vec<EntryRow> = select.load(&mut *self.conn()?)?;
        // An entry of a kind a newer release writes (during a rolling upgrade) is left out,
        // not a failure of the whole page.
        Ok(rows
            .into_iter()
            .filter_map(|row| match AuditEntry::try_from(row) {
                Ok(entry) => Some(entry),
                Err(_) => {
                    log::warn!("an audit entry of a kind this release does not know was skipped");
                    None
                }
            })
            .collect())
    }

    pub(crate) fn purge_audit(&self, before: i64, most: usize) -> DbResult<usize> {
        let mut conn = self.writer()?;
        // The oldest ids are the oldest entries (ids grow with time; entries of one moment
        // may commit a little out of order, and one a little newer stops the walk until it
        // ages too): the batch is the run of the oldest `most` made before `before`, found on
        // the primary key, then deleted by one ranged statement.
        let oldest: Vec<(i64, i64)> = audit_log::table
            .order(audit_log::id)
            .limit(most.max(1) as i64)
            .select((audit_log::id, audit_log::at))
            .load(&mut *conn)?;
        let Some(last) = oldest
            .iter()
            .take_while(|(_, at)| *at < before)
            .last()
            .map(|(id, _)| *id)
        else {
            return Ok(0);
        };
        // The newest entry stays, whatever its age: SQLite's ids (rowids) start again after
        // the largest left, and a cursor must never see them go back.
        let newest: Option<i64> = audit_log::table
            .select(diesel::dsl::max(audit_log::id))
            .first(&mut *conn)?;
        let last = last.min(newest.unwrap_or(0) - 1);
        Ok(diesel::delete(
            audit_log::table
                .filter(audit_log::id.le(last))
                .filter(audit_log::at.lt(before)),
        )
        .execute(&mut *conn)?)
    }
}
