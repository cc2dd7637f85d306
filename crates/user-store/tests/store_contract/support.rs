//! What the parts of the contract share: the apps, the clock, opening the store, logging in,
//! and raw SQL on the test database.

use wxlogin_domain::{NewLogin, OpenId, OpenedLogin, SessionKey, SessionStore, UnionId};
use wxlogin_user_store::testing::{NewSession, TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

pub(crate) const NOW: i64 = 1_800_000_000;
/// The mini program most cases log in through.
pub(crate) const APP: &str = "wxapp-one";
/// A second mini program of the same Open Platform account.
pub(crate) const OTHER_APP: &str = "wxapp-two";

pub(crate) async fn open(db: &TestDatabase) -> DieselStore {
    open_with(db, PoolOptions::default()).await
}

pub(crate) async fn open_with(db: &TestDatabase, pool: PoolOptions) -> DieselStore {
    let store = DieselStore::connect(db.url(), &pool, test_sealer()).expect("database reachable");
    store.run_migrations().await.expect("migrations apply");
    store
}

pub(crate) fn openid(name: &str) -> OpenId {
    OpenId::new(format!("openid-{name}"))
}

pub(crate) fn new_session(user_id: &str, key: &str, created_at: i64) -> NewSession {
    NewSession {
        user_id: user_id.to_owned(),
        appid: APP.to_owned(),
        session_key: SessionKey::new(key),
        created_at,
        expires_at: created_at + 3600,
        client_addr: None,
    }
}

pub(crate) fn person(name: &str) -> UnionId {
    UnionId::new(format!("union-{name}"))
}

pub(crate) async fn login_through(
    store: &DieselStore,
    appid: &str,
    name: &str,
    unionid: Option<UnionId>,
    at: i64,
) -> OpenedLogin {
    open_login_of(store, appid, name, unionid, at)
        .await
        .expect("login")
}

/// [`login_through`] without unionid, answered as the store answers it (a refusal included).
pub(crate) async fn try_login_through(
    store: &DieselStore,
    appid: &str,
    name: &str,
    at: i64,
) -> Result<OpenedLogin, wxlogin_domain::StoreError> {
    open_login_of(store, appid, name, None, at).await
}

async fn open_login_of(
    store: &DieselStore,
    appid: &str,
    name: &str,
    unionid: Option<UnionId>,
    at: i64,
) -> Result<OpenedLogin, wxlogin_domain::StoreError> {
    store
        .open_login(&NewLogin {
            appid: appid.to_owned(),
            openid: OpenId::new(format!("openid-{appid}-{name}")),
            unionid,
            session_key: SessionKey::new(format!("key-{appid}-{name}-{at}")),
            created_at: at,
            expires_at: at + 3600,
            login_code: None,
            client_addr: None,
        })
        .await
}

pub(crate) fn raw_session_key(db: &TestDatabase, session_id: &str) -> String {
    raw_text(
        db,
        &format!("SELECT session_key AS text FROM sessions WHERE id = '{session_id}'"),
    )
}

/// Raw SQL on the test database, outside the store: for rows of an older schema.
pub(crate) fn execute(db: &TestDatabase, sql: &str) {
    use diesel::prelude::*;
    let url = db.url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
        diesel::connection::SimpleConnection::batch_execute(&mut conn, sql).expect(sql);
    } else {
        let mut conn = diesel::PgConnection::establish(url).expect("postgres");
        diesel::connection::SimpleConnection::batch_execute(&mut conn, sql).expect(sql);
    }
}

/// The first row's `text` column of a raw query on the test database, outside the store.
pub(crate) fn raw_text(db: &TestDatabase, query: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Raw {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    let url = db.url();
    let rows: Vec<Raw> = if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
        diesel::sql_query(query).load(&mut conn).expect("select")
    } else {
        let mut conn = diesel::PgConnection::establish(url).expect("postgres");
        diesel::sql_query(query).load(&mut conn).expect("select")
    };
    rows.into_iter().next().expect("a row").text
}
