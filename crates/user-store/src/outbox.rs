//! The webhook outbox as rows: written in the transaction of the change that raises the event,
//! one row per endpoint that wants it; claimed by dispatchers with a lease (on PostgreSQL
//! `FOR UPDATE SKIP LOCKED`, so two instances never claim one row), oldest first and one at a
//! time per account and endpoint; deleted once delivered, kept as failed once given up.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use wxlogin_domain::{
    MOST_RETRIED_AT_ONCE, OutboxCounts, WebhookDelivery, WebhookEvent, WebhookRoutes,
};

use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::DbResult;
use crate::schema::webhook_outbox;

/// Records `event` for every endpoint of `routes` that wants it, in the caller's transaction.
///
/// On PostgreSQL it first takes a transaction lock on the account's events: two transactions
/// raising events for one account then insert them in the order they commit, so the outbox's
/// ids (which claims follow) are the order of the changes. The lock is taken last, as the
/// change's audit entry is written, and released at commit.
pub(crate) fn record_event(
    conn: &mut AnyConnection,
    routes: &WebhookRoutes,
    event: &WebhookEvent,
) -> DbResult<()> {
    let mut endpoints = routes.endpoints_for(event.event_type).peekable();
    if endpoints.peek().is_none() {
        return Ok(());
    }
    if let (AnyConnection::Postgresql(c), Some(user_id)) = (&mut *conn, &event.user_id) {
        crate::accounts::advisory_lock(c, &format!("outbox:{user_id}"))?;
    }
    let payload = payload(event);
    for endpoint in endpoints {
        diesel::insert_into(webhook_outbox::table)
            .values((
                webhook_outbox::message_id.eq(message_id()),
                webhook_outbox::endpoint.eq(endpoint),
                webhook_outbox::user_id.eq(event.user_id.as_deref()),
                webhook_outbox::event_type.eq(event.event_type),
                webhook_outbox::payload.eq(&payload),
                webhook_outbox::created_at.eq(event.at),
                webhook_outbox::next_at.eq(event.at),
                webhook_outbox::window_start.eq(event.at),
            ))
            .execute(&mut *conn)?;
    }
    Ok(())
}

/// A new `webhook-id`: `msg_` and a random (v4) UUID, unique whatever database recorded it.
pub(crate) fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// The body receivers get, in the Standard Webhooks shape: `type`, `timestamp`, `data`.
pub(crate) fn payload(event: &WebhookEvent) -> String {
    let mut data = serde_json::Map::new();
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            data.insert(name.to_owned(), value.into());
        }
    };
    put("userId", event.user_id.as_deref());
    put("appid", event.appid.as_deref());
    put("sessionId", event.session_id.as_deref());
    put("reason", event.reason);
    put("mergedUserId", event.merged_user_id.as_deref());
    put("actor", event.actor.as_deref());
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(event.at.max(0).unsigned_abs());
    serde_json::json!({
        "type": event.event_type,
        "timestamp": humantime::format_rfc3339_seconds(at).to_string(),
        "data": data,
    })
    .to_string()
}

#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = webhook_outbox)]
struct DeliveryRow {
    id: i64,
    message_id: String,
    endpoint: String,
    user_id: Option<String>,
    event_type: String,
    payload: String,
    created_at: i64,
    attempts: i32,
    window_start: i64,
    leased_until: i64,
    last_error: Option<String>,
    failed_at: Option<i64>,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(row: DeliveryRow) -> Self {
        Self {
            id: row.id,
            message_id: row.message_id,
            endpoint: row.endpoint,
            user_id: row.user_id,
            event_type: row.event_type,
            payload: row.payload,
            created_at: row.created_at,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            window_start: row.window_start,
            leased_until: row.leased_until,
            last_error: row.last_error,
            failed_at: row.failed_at,
        }
    }
}

/// What is due for one endpoint and claimed by no one, soonest due first, and for each
/// account only the oldest delivery still waiting (one in flight or waiting for its retry
/// holds back the newer ones, which its failure also pushes back, so that the due index
/// mostly finds what can be sent). Rows another dispatcher is claiming are left to it.
///
/// Whether a row is its account's oldest is a scalar subquery (the `min` of the order index,
/// one descent per candidate), not a `NOT EXISTS`: PostgreSQL turns the latter into an anti
/// join whose plan rests on the table's statistics, and an outbox that filled up since its
/// last ANALYZE (a fresh table: none at all) got an inner scan of the endpoint's whole order
/// index per candidate, hundreds of milliseconds a claim once thousands waited. A subquery
/// with an aggregate stays a correlated subplan, its index bounded by the account's rows.
const CLAIM: &str = "\
    UPDATE webhook_outbox SET leased_until = $1 + $2, attempts = attempts + 1 \
    WHERE id IN ( \
        SELECT o.id FROM webhook_outbox o \
        WHERE o.endpoint = $4 AND o.failed_at IS NULL AND o.next_at <= $1 \
          AND o.leased_until <= $1 \
          AND (o.user_id IS NULL OR o.id = ( \
              SELECT min(p.id) FROM webhook_outbox p \
              WHERE p.endpoint = o.endpoint AND p.user_id = o.user_id \
                AND p.failed_at IS NULL)) \
        ORDER BY o.next_at, o.id LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING id, message_id, endpoint, user_id, event_type, payload, created_at, attempts, \
        window_start, leased_until, last_error, failed_at";

/// The row as `delivery`'s claim left it: settling names the claim, so a claim that outlived
/// its lease and was claimed again elsewhere settles nothing.
fn claimed(
    delivery: &WebhookDelivery,
) -> diesel::dsl::Filter<
    diesel::dsl::Find<webhook_outbox::table, i64>,
    diesel::dsl::Eq<webhook_outbox::leased_until, i64>,
> {
    webhook_outbox::table
        .find(delivery.id)
        .filter(webhook_outbox::leased_until.eq(delivery.leased_until))
}

impl Database {
    pub(crate) fn claim_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        lease_secs: i64,
        most: usize,
    ) -> DbResult<Vec<WebhookDelivery>> {
        let most = i64::try_from(most).unwrap_or(i64::MAX);
        let mut conn = self.writer()?;
        let mut rows: Vec<DeliveryRow> = match &mut *conn {
            AnyConnection::Postgresql(c) => diesel::sql_query(CLAIM)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(lease_secs)
                .bind::<BigInt, _>(most)
                .bind::<Text, _>(endpoint)
                .load(c)?,
            // One process, whose writers take turns: nothing to skip. `?N` is SQLite's
            // numbered parameter.
            AnyConnection::Sqlite(c) => diesel::sql_query(
                CLAIM
                    .replace(" FOR UPDATE SKIP LOCKED", "")
                    .replace('$', "?"),
            )
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(lease_secs)
            .bind::<BigInt, _>(most)
            .bind::<Text, _>(endpoint)
            .load(c)?,
        };
        rows.sort_by_key(|row| row.id);
        Ok(rows.into_iter().map(WebhookDelivery::from).collect())
    }

    /// Deletes the `deliveries` whose claims still stand: one statement per lease (a round's
    /// claims share one), so a round settles in one round trip and one commit, not one each.
    pub(crate) fn delivered(&self, deliveries: &[WebhookDelivery]) -> DbResult<()> {
        let mut by_lease: Vec<(i64, Vec<i64>)> = Vec::new();
        for delivery in deliveries {
            match by_lease
                .iter_mut()
                .find(|(lease, _)| *lease == delivery.leased_until)
            {
                Some((_, ids)) => ids.push(delivery.id),
                None => by_lease.push((delivery.leased_until, vec![delivery.id])),
            }
        }
        let delete = |conn: &mut AnyConnection, lease: i64, ids: &[i64]| {
            diesel::delete(
                webhook_outbox::table
                    .filter(webhook_outbox::id.eq_any(ids))
                    .filter(webhook_outbox::leased_until.eq(lease)),
            )
            .execute(conn)
            .map(|_| ())
        };
        let mut conn = self.writer()?;
        match by_lease.as_slice() {
            [] => {}
            [(lease, ids)] => delete(&mut conn, *lease, ids)?,
            _ => conn.transaction(|conn| {
                by_lease
                    .iter()
                    .try_for_each(|(lease, ids)| delete(conn, *lease, ids))
            })?,
        }
        Ok(())
    }

    pub(crate) fn attempt_failed(
        &self,
        delivery: &WebhookDelivery,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> DbResult<()> {
        let error = error.chars().take(500).collect::<String>();
        let mut conn = self.writer()?;
        conn.transaction(|conn| {
            let Some(at) = retry_at else {
                diesel::update(claimed(delivery))
                    .set((
                        webhook_outbox::failed_at.eq(now),
                        webhook_outbox::leased_until.eq(0),
                        webhook_outbox::last_error.eq(&error),
                    ))
                    .execute(&mut *conn)?;
                return Ok(());
            };
            let settled = diesel::update(claimed(delivery))
                .set((
                    webhook_outbox::next_at.eq(at),
                    webhook_outbox::leased_until.eq(0),
                    webhook_outbox::last_error.eq(&error),
                ))
                .execute(&mut *conn)?;
            // The account's newer deliveries to this endpoint wait behind it anyway: due no
            // sooner, they are not walked over by every claim until then.
            if settled == 1
                && let Some(user_id) = &delivery.user_id
            {
                diesel::update(
                    webhook_outbox::table
                        .filter(webhook_outbox::endpoint.eq(&delivery.endpoint))
                        .filter(webhook_outbox::user_id.eq(user_id))
                        .filter(webhook_outbox::id.gt(delivery.id))
                        .filter(webhook_outbox::failed_at.is_null())
                        .filter(webhook_outbox::next_at.lt(at)),
                )
                .set(webhook_outbox::next_at.eq(at))
                .execute(&mut *conn)?;
            }
            Ok(())
        })
    }

    pub(crate) fn give_up_unrouted(
        &self,
        known: &[String],
        recorded_before: i64,
        now: i64,
    ) -> DbResult<u64> {
        let mut conn = self.writer()?;
        let count = diesel::update(
            webhook_outbox::table
                .filter(webhook_outbox::failed_at.is_null())
                .filter(webhook_outbox::window_start.lt(recorded_before))
                .filter(webhook_outbox::endpoint.ne_all(known)),
        )
        .set((
            webhook_outbox::failed_at.eq(now),
            webhook_outbox::last_error.eq("the endpoint is in no instance's WEBHOOKS_FILE"),
        ))
        .execute(&mut *conn)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    pub(crate) fn failed_deliveries(
        &self,
        after: i64,
        limit: usize,
    ) -> DbResult<Vec<WebhookDelivery>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<DeliveryRow> = webhook_outbox::table
            .filter(webhook_outbox::failed_at.is_not_null())
            .filter(webhook_outbox::id.gt(after))
            .order(webhook_outbox::id)
            .limit(limit)
            .select(DeliveryRow::as_select())
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().map(WebhookDelivery::from).collect())
    }

    pub(crate) fn retry_failed(&self, id: Option<i64>, now: i64) -> DbResult<u64> {
        let mut conn = self.writer()?;
        let back = (
            webhook_outbox::failed_at.eq(None::<i64>),
            webhook_outbox::next_at.eq(now),
            webhook_outbox::window_start.eq(now),
            webhook_outbox::leased_until.eq(0),
            webhook_outbox::attempts.eq(0),
        );
        let failed = webhook_outbox::table.filter(webhook_outbox::failed_at.is_not_null());
        let count = match id {
            Some(id) => diesel::update(failed.filter(webhook_outbox::id.eq(id)))
                .set(back)
                .execute(&mut *conn)?,
            None => {
                let oldest = failed
                    .select(webhook_outbox::id)
                    .order(webhook_outbox::id)
                    .limit(i64::try_from(MOST_RETRIED_AT_ONCE).unwrap_or(i64::MAX))
                    .load::<i64>(&mut *conn)?;
                diesel::update(webhook_outbox::table.filter(webhook_outbox::id.eq_any(oldest)))
                    .set(back)
                    .execute(&mut *conn)?
            }
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }

    pub(crate) fn purge_failed(&self, failed_before: i64, most: usize) -> DbResult<u64> {
        let mut conn = self.writer()?;
        let oldest = webhook_outbox::table
            .filter(webhook_outbox::failed_at.lt(failed_before))
            .select(webhook_outbox::id)
            .order(webhook_outbox::failed_at)
            .limit(i64::try_from(most).unwrap_or(i64::MAX))
            .load::<i64>(&mut *conn)?;
        let count = diesel::delete(webhook_outbox::table.filter(webhook_outbox::id.eq_any(oldest)))
            .execute(&mut *conn)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    pub(crate) fn outbox_counts(&self) -> DbResult<OutboxCounts> {
        let mut conn = self.conn()?;
        let pending: i64 = webhook_outbox::table
            .filter(webhook_outbox::failed_at.is_null())
            .count()
            .get_result(&mut *conn)?;
        let failed: i64 = webhook_outbox::table
            .filter(webhook_outbox::failed_at.is_not_null())
            .count()
            .get_result(&mut *conn)?;
        Ok(OutboxCounts {
            pending: u64::try_from(pending).unwrap_or(0),
            failed: u64::try_from(failed).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_has_the_standard_shape_and_public_ids_only() {
        let event = WebhookEvent {
            event_type: "session.revoked",
            at: 1_614_265_330,
            user_id: Some("u1".into()),
            appid: Some("wxapp".into()),
            session_id: None,
            reason: Some("logout_everywhere"),
            merged_user_id: None,
            actor: Some("user".into()),
        };
        let body: serde_json::Value =
            serde_json::from_str(&payload(&event)).expect("the payload is JSON");
        assert_eq!(
            body,
            serde_json::json!({
                "type": "session.revoked",
                "timestamp": "2021-02-25T15:02:10Z",
                "data": {
                    "userId": "u1",
                    "appid": "wxapp",
                    "reason": "logout_everywhere",
                    "actor": "user",
                },
            })
        );
    }
}
