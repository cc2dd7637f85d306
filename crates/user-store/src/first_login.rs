//! A first login on PostgreSQL in one statement: the account, its identity, the session, the
//! code's record, the audit entry and the `user.created` events, in one round trip and one
//! commit.

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use wxlogin_domain::{Actor, Audit, AuditKind, OpenId, WebhookEvent, WebhookRoutes};

use crate::accounts::{Resolved, add_identity, fresh_account, lost_race};
use crate::connection::AnyConnection;
use crate::error::DbResult;
use crate::logins::{audited_login, traced_code};
use crate::prepared::{Bind, Statement};

/// The session a first login opens, sealed before its account exists (it is sealed for the
/// session), so both go into the database in one statement.
pub(crate) struct FirstSession<'a> {
    pub(crate) id: &'a str,
    pub(crate) session_key: &'a str,
    pub(crate) expires_at: i64,
    pub(crate) login_code: Option<&'a str>,
    pub(crate) client_addr: Option<&'a str>,
}

/// The account, identity and session of a first login on PostgreSQL: one round trip, one
/// commit. Nothing is inserted but the account when another login inserted the identity first.
const FIRST_LOGIN: &str = concat!(
    "\
    WITH account AS (\
        INSERT INTO users (id, unionid, created_at, updated_at) VALUES (?, NULL, ?, ?) \
        RETURNING id), \
    identity AS (\
        INSERT INTO identities (appid, openid, user_id, created_at) \
        SELECT ?, ?, id, ? FROM account \
        ON CONFLICT (appid, openid) DO NOTHING \
        RETURNING user_id), \
    opened AS (\
        INSERT INTO sessions (id, user_id, appid, session_key, created_at, expires_at, client_addr) \
        SELECT ?, user_id, ?, ?, ?, ?, ? FROM identity \
        RETURNING id, user_id, created_at), \
    ",
    traced_code!("FALSE"),
    ", ",
    audited_login!("'created'"),
    // `user.created` for each endpoint that wants it (the payload, then the endpoints' keys:
    // none when no endpoint does), in the same statement as the account.
    ", hooked AS (\
        INSERT INTO webhook_outbox (message_id, endpoint, user_id, event_type, payload, \
            created_at, next_at, window_start) \
        SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.endpoint, \
            opened.user_id, 'user.created', ?, opened.created_at, opened.created_at, \
            opened.created_at \
        FROM opened CROSS JOIN unnest(?::text[]) AS e (endpoint)) \
    SELECT count(*) AS n FROM opened"
);

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
    webhooks: Option<&WebhookRoutes>,
) -> DbResult<(Resolved, bool)> {
    let AnyConnection::Postgresql(c) = &mut *conn else {
        return Ok((add_identity(conn, appid, openid, None, now)?, false));
    };
    let id = uuid::Uuid::now_v7().to_string();
    // The event the SQLite path draws from the login's audit entry, drawn from the same entry.
    let created = Audit::new(AuditKind::Login, Actor::User, now)
        .from_addr(session.client_addr.map(str::to_owned))
        .entry(Some(&id), Some(appid), Some(session.id), "created");
    let hook = WebhookEvent::of(&created).map(|event| {
        let endpoints = webhooks
            .map(|routes| routes.endpoints_for(event.event_type).collect::<Vec<_>>())
            .unwrap_or_default();
        (crate::outbox::payload(&event), endpoints)
    });
    let (payload, endpoints) = hook.unwrap_or_default();
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
            Bind::OptionalText(session.client_addr),
            Bind::OptionalText(session.login_code),
            Bind::Text(appid),
            Bind::OptionalText(session.client_addr),
            Bind::Text(&payload),
            Bind::TextArray(endpoints),
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
