//! A whole login in the store, in one direction: the returning user's one statement on
//! PostgreSQL, the first login's, and otherwise the account resolved, linked or merged
//! (`accounts.rs`) and its session inserted (`sessions.rs`). Group commit (`group_commit.rs`)
//! runs these for each login of a batch.

use crate::sessions::NewSession;
use diesel::prelude::*;
use wxlogin_domain::{
    Actor, Audit, AuditEntry, AuditKind, NewLogin, OpenedLogin, Session, StoreError, UnionId, User,
};

use crate::accounts::{Resolved, locked, person_key, resolve};
use crate::audit::write_entries;
use crate::connection::AnyConnection;
use crate::database::Database;
use crate::error::{DbError, DbResult};
use crate::first_login::{FirstSession, add_identity_without_unionid};
use crate::login_codes::LoginTrace;
use crate::prepared::{Bind, Statement, only_on_postgres};
use crate::sessions::SealedSession;
use crate::users::{UserRow, fold_user, known_identity};

/// What the statement that opens a known identity's login found.
enum KnownLogin {
    /// Its account, and the session opened for it.
    Opened(Box<User>),
    /// The identity is known but this login adds to its account (a unionid it does not hold
    /// yet): resolved under the person's lock.
    Resolve,
    /// No such identity: a first login.
    Unknown,
    /// Its account is banned: no session was opened.
    Disabled,
}

/// One row of that statement: the account with one of its apps, and whether the session went in.
#[derive(QueryableByName)]
struct KnownLoginRow {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    app: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    opened: bool,
}

/// The part of a login's statement that records its code (the last `?`; NULL records nothing)
/// for the session `opened` inserted, with whether the login found an existing account.
macro_rules! traced_code {
    ($user_existed:literal) => {
        concat!(
            "traced AS (\
                INSERT INTO login_codes (code, session_id, user_existed, created_at) \
                SELECT trace.code, opened.id, ",
            $user_existed,
            ", opened.created_at \
                FROM opened CROSS JOIN (VALUES (?::text)) AS trace (code) \
                WHERE trace.code IS NOT NULL) "
        )
    };
}

pub(crate) use traced_code;

/// The part of a login's statement that writes its audit entry for the session `opened`
/// inserted, in the same statement (the appid and the client address are the last two `?`).
macro_rules! audited_login {
    ($outcome:literal) => {
        concat!(
            "audited AS (\
                INSERT INTO audit_log (at, kind, user_id, appid, session_id, client_addr, outcome, actor) \
                SELECT opened.created_at, 'login', opened.user_id, ?, opened.id, ?, ",
            $outcome,
            ", 'user' FROM opened) "
        )
    };
}
pub(crate) use audited_login;

/// A returning user's login on PostgreSQL in one statement (one round trip, one commit): the
/// identity's account is read and the session inserted for it, unless the login carries a
/// unionid the account does not hold, or the account is banned; then the account with its apps
/// comes back. The account's row is key-share locked as it is read: a ban, which holds the row
/// for update, either committed first (the lock waits for it, and READ COMMITTED then reads the
/// row as the ban left it: no session) or waits for this login's commit, and ends its session.
const OPEN_KNOWN_LOGIN: &str = concat!(
    "\
    WITH account AS (\
        SELECT u.id, u.unionid, u.disabled_at FROM identities mine JOIN users u ON u.id = mine.user_id \
        WHERE mine.appid = ? AND mine.openid = ? FOR KEY SHARE OF u), \
    opened AS (\
        INSERT INTO sessions (id, user_id, appid, session_key, created_at, expires_at, client_addr) \
        SELECT ?, account.id, ?, ?, ?, ?, ? FROM account \
        WHERE (?::text IS NULL OR account.unionid = ?) AND account.disabled_at IS NULL \
        RETURNING id, user_id, created_at), \
    ",
    traced_code!("TRUE"),
    ", ",
    audited_login!("'ok'"),
    "\
    SELECT u.id, u.unionid, u.nick_name, u.avatar_url, u.gender, u.phone_number, u.created_at, \
        u.updated_at, account.disabled_at, u.disabled_reason, theirs.appid AS app, \
        EXISTS (SELECT 1 FROM opened) AS opened \
    FROM account JOIN users u ON u.id = account.id \
        JOIN identities theirs ON theirs.user_id = u.id \
    ORDER BY theirs.created_at, theirs.appid"
);

fn open_known_login(
    conn: &mut AnyConnection,
    login: &NewLogin,
    sealed: &SealedSession,
) -> DbResult<KnownLogin> {
    let AnyConnection::Postgresql(c) = conn else {
        return Err(only_on_postgres());
    };
    let unionid = login.unionid.as_ref().map(UnionId::expose);
    let rows = Statement::new(
        OPEN_KNOWN_LOGIN,
        vec![
            Bind::Text(&login.appid),
            Bind::Text(login.openid.expose()),
            Bind::Text(&sealed.id),
            Bind::Text(&login.appid),
            Bind::Text(&sealed.session_key),
            Bind::BigInt(login.created_at),
            Bind::BigInt(login.expires_at),
            Bind::OptionalText(login.client_addr.as_deref()),
            Bind::OptionalText(unionid),
            Bind::OptionalText(unionid),
            Bind::OptionalText(login.login_code.as_deref()),
            Bind::Text(&login.appid),
            Bind::OptionalText(login.client_addr.as_deref()),
        ],
    )
    .load::<KnownLoginRow>(c)?;
    let opened = rows.first().map(|row| row.opened);
    let user = fold_user(rows.into_iter().map(|row| (row.user, row.app)).collect());
    Ok(match (user, opened) {
        (Some(user), Some(true)) => KnownLogin::Opened(Box::new(user)),
        (Some(user), _) if user.is_disabled() => KnownLogin::Disabled,
        (Some(_), _) => KnownLogin::Resolve,
        (None, _) => KnownLogin::Unknown,
    })
}

impl Database {
    pub(crate) fn open_login(&self, login: &NewLogin) -> DbResult<OpenedLogin> {
        let mut conn = self.writer()?;
        self.open_login_on(&mut conn, login, false)
    }

    /// [`Self::open_login`] on a connection the caller holds for writing (on SQLite, with the
    /// write turn). Group commit runs it for each login of a batch (`batched`): on PostgreSQL a
    /// batched login then never takes a person's lock (held to the batch's commit, two batches
    /// could deadlock on two people) nor goes on after an error (the batch's transaction is
    /// broken until it, or the login's savepoint, is rolled back); it fails instead, and is
    /// opened again alone once the batch is committed. A batched login asks to be opened alone
    /// ([`DbError::OpenAlone`]) only before it wrote anything: the batch may go on without a
    /// savepoint around it.
    pub(crate) fn open_login_on(
        &self,
        conn: &mut AnyConnection,
        login: &NewLogin,
        batched: bool,
    ) -> DbResult<OpenedLogin> {
        let (appid, openid, unionid) = (&login.appid, &login.openid, login.unionid.as_ref());
        let open = |conn: &mut AnyConnection, resolved: Resolved| -> DbResult<OpenedLogin> {
            if resolved.user.is_disabled() || banned_now(conn, &resolved.user.id)? {
                return Err(DbError::Store(StoreError::AccountDisabled));
            }
            let session = self.insert_session(
                conn,
                &NewSession {
                    user_id: resolved.user.id.clone(),
                    appid: appid.clone(),
                    session_key: login.session_key.clone(),
                    created_at: login.created_at,
                    expires_at: login.expires_at,
                    client_addr: login.client_addr.clone(),
                },
                login.login_code.as_deref().map(|login_code| LoginTrace {
                    login_code,
                    user_existed: !resolved.created,
                }),
            )?;
            write_entries(
                conn,
                self.webhooks.get(),
                &login_entries(login, &resolved, &session.id),
            )?;
            Ok(OpenedLogin {
                user: resolved.user,
                created: resolved.created,
                session,
                merged: resolved.merged,
            })
        };
        let returning = |user| Resolved {
            user,
            created: false,
            merged: None,
        };
        let key = person_key(appid, openid, unionid);
        match &*conn {
            // One transaction, one commit: SQLite's cost is per commit, and the process's write
            // turn (held) already makes logins take turns.
            AnyConnection::Sqlite(_) => conn.transaction(|conn| {
                let resolved = match known_identity(conn, appid, openid, unionid)? {
                    Some(user) => returning(user),
                    None => resolve(conn, appid, openid, unionid, login.created_at)?,
                };
                open(conn, resolved)
            }),
            // A returning user's login is one statement; PostgreSQL's cost is per round trip.
            // Anything that creates, links or merges an account runs in a transaction under
            // the person's lock.
            AnyConnection::Postgresql(_) => {
                let sealed = self.seal_session(&login.session_key)?;
                // The session opened in the same statement as the account was found or made.
                let opened_for = |user: User, created: bool| OpenedLogin {
                    session: Session {
                        id: sealed.id.clone(),
                        user_id: user.id.clone(),
                        appid: appid.clone(),
                        created_at: login.created_at,
                        expires_at: login.expires_at,
                        revoked_at: None,
                    },
                    user,
                    created,
                    merged: None,
                };
                let known = match open_known_login(conn, login, &sealed) {
                    // Its account was merged into another, or deleted, since it was read:
                    // resolved again, under the lock.
                    Err(e) if e.is_foreign_key_violation() && !batched => KnownLogin::Resolve,
                    known => known?,
                };
                match known {
                    KnownLogin::Opened(user) => return Ok(opened_for(*user, false)),
                    KnownLogin::Disabled => {
                        return Err(DbError::Store(StoreError::AccountDisabled));
                    }
                    // No identity, and no unionid to link it by: a first login.
                    KnownLogin::Unknown if unionid.is_none() => {
                        let (resolved, opened) = add_identity_without_unionid(
                            conn,
                            appid,
                            openid,
                            login.created_at,
                            &FirstSession {
                                id: &sealed.id,
                                session_key: &sealed.session_key,
                                expires_at: login.expires_at,
                                login_code: login.login_code.as_deref(),
                                client_addr: login.client_addr.as_deref(),
                            },
                            self.webhooks.get(),
                        )?;
                        return if opened {
                            Ok(opened_for(resolved.user, true))
                        } else {
                            // The session and its code's record go in together.
                            conn.transaction(|conn| open(conn, resolved))
                        };
                    }
                    // The rest links or merges, under the person's lock: not in a batch.
                    _ if batched => return Err(DbError::OpenAlone),
                    KnownLogin::Resolve | KnownLogin::Unknown => {}
                }
                locked(conn, &key, |conn| {
                    let resolved = resolve(conn, appid, openid, unionid, login.created_at)?;
                    open(conn, resolved)
                })
            }
        }
    }
}

/// Whether the account is banned, read on PostgreSQL under a key-share lock of its row: a ban
/// (which holds the row for update) either committed before, and is seen here, or waits until
/// this login's session is in, and ends it. On SQLite the process's write turn, held, already
/// keeps a ban from landing between the account's read and the session's insert.
fn banned_now(conn: &mut AnyConnection, user_id: &str) -> DbResult<bool> {
    let AnyConnection::Postgresql(c) = conn else {
        return Ok(false);
    };
    #[derive(QueryableByName)]
    struct Mark {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        disabled_at: Option<i64>,
    }
    let mark: Option<Mark> =
        diesel::sql_query("SELECT disabled_at FROM users WHERE id = $1 FOR KEY SHARE")
            .bind::<diesel::sql_types::Text, _>(user_id)
            .get_result(c)
            .optional()?;
    Ok(mark.is_some_and(|m| m.disabled_at.is_some()))
}

/// The audit entries of a login the store resolved (not one of its one-statement paths, which
/// write theirs in the statement): the login, and the merge it made, if any.
fn login_entries(login: &NewLogin, resolved: &Resolved, session_id: &str) -> Vec<AuditEntry> {
    let note =
        |kind| Audit::new(kind, Actor::User, login.created_at).from_addr(login.client_addr.clone());
    let user_id = Some(resolved.user.id.as_str());
    let appid = Some(login.appid.as_str());
    let outcome = if resolved.created { "created" } else { "ok" };
    let mut entries = vec![note(AuditKind::Login).entry(user_id, appid, Some(session_id), outcome)];
    if let Some(merged) = &resolved.merged {
        entries.push(note(AuditKind::Merge).entry(
            user_id,
            appid,
            Some(session_id),
            &format!("merged {}", merged.user_id),
        ));
    }
    entries
}
