//! PostgreSQL: a change and its announcement to the other instances commit together. A logout,
//! profile change or deletion whose `NOTIFY` fails is not made, and the call fails: a success
//! that other instances never hear of would let them serve the ended session for a minute.
//!
//! The announcement is made to fail by a role that may not call `pg_notify`.

use wxlogin_domain::{NewLogin, OpenId, ProfileUpdate, SessionKey, SessionStore, UserStore};
use wxlogin_user_store::testing::{TestDatabase, audit_at, execute_sql, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

const NOW: i64 = 1_800_000_000;
const APP: &str = "wxapp-one";

/// A login role of the test database that may read and write every table but not announce;
/// dropped (with its grants) before the database.
struct Mute {
    admin_db_url: String,
    admin_url: String,
    name: String,
}

impl Mute {
    fn new(db: &TestDatabase) -> Self {
        let admin_url = std::env::var("WXLOGIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("wxlogin_mute_{}", uuid::Uuid::new_v4().simple());
        // A password, so that the role logs in where the cluster asks for one, as on trust.
        execute_sql(
            &admin_url,
            &format!("CREATE ROLE {name} LOGIN PASSWORD 'mute'"),
        );
        execute_sql(
            db.url(),
            &format!(
                "GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}; \
                 GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}; \
                 REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC;"
            ),
        );
        Self {
            admin_db_url: db.url().to_owned(),
            admin_url,
            name,
        }
    }

    fn url(&self) -> String {
        let mut url = url::Url::parse(&self.admin_db_url).expect("test database URL");
        url.set_username(&self.name).expect("user");
        url.set_password(Some("mute")).expect("password");
        url.to_string()
    }
}

impl Drop for Mute {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, PgConnection};
        let name = &self.name;
        if let Ok(mut db) = PgConnection::establish(&self.admin_db_url) {
            let _ = db.batch_execute(&format!("DROP OWNED BY {name}"));
        }
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {name}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_announcement_fails_is_not_made_and_fails() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (admin, _) = DieselStore::open(db.url(), &PoolOptions::default(), test_sealer())
        .await
        .expect("database reachable");
    let openid = OpenId::new("openid-mute");
    let login = |at: i64| NewLogin {
        appid: APP.to_owned(),
        openid: openid.clone(),
        unionid: None,
        session_key: SessionKey::new(format!("key-{at}")),
        created_at: at,
        expires_at: at + 3600,
        login_code: None,
        client_addr: None,
    };
    let first = admin.open_login(&login(NOW)).await.expect("login");
    let second = admin.open_login(&login(NOW + 1)).await.expect("login");

    let mute = Mute::new(&db);
    let store = DieselStore::connect(&mute.url(), &PoolOptions::default(), test_sealer())
        .expect("the role connects");

    // The role may write: a first login announces nothing, and goes in.
    let newcomer = NewLogin {
        openid: OpenId::new("openid-newcomer"),
        ..login(NOW + 2)
    };
    store
        .open_login(&newcomer)
        .await
        .expect("a write that announces nothing succeeds for the role");

    assert!(
        store
            .revoke_session(&first.session.id, &audit_at(NOW + 2))
            .await
            .is_err(),
        "a logout that other instances would not hear of fails"
    );
    assert!(
        store
            .revoke_all_sessions(&first.user.id, &audit_at(NOW + 2))
            .await
            .is_err()
    );
    assert!(
        store
            .expire_session(&first.session.id, NOW + 2)
            .await
            .is_err()
    );
    let rename = ProfileUpdate {
        nick_name: Some(Some("never announced".into())),
        ..ProfileUpdate::default()
    };
    assert!(
        store
            .update_profile(&first.user.id, &rename, NOW + 2)
            .await
            .is_err()
    );
    assert!(
        store
            .delete_account(&first.user.id, APP, &openid, &audit_at(NOW))
            .await
            .is_err(),
        "a deletion never answers done having deleted nothing"
    );
    assert!(
        store
            .delete_identity(APP, &openid, NOW + 2, &audit_at(NOW))
            .await
            .is_err()
    );

    for session in [&first.session.id, &second.session.id] {
        let kept = admin
            .find_session(session)
            .await
            .expect("query")
            .expect("still there");
        assert_eq!(kept.revoked_at, None, "nothing was ended");
        assert_eq!(kept.expires_at, kept.created_at + 3600);
    }
    let user = admin
        .find_user(&first.user.id)
        .await
        .expect("query")
        .expect("the account is still there");
    assert_eq!(user.nick_name, None, "nothing was renamed");
}
