//! What is stored stays: across reopening the database, and across the schema's upgrade to
//! identities.

use wxlogin_domain::{NewLogin, OpenId, SessionKey, SessionStore, UnionId, UserStore};
use wxlogin_user_store::testing::{TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

use crate::support::{APP, NOW, execute, new_session, open, openid};

contract!(
    ;
    data_survives_reopening_the_database,
    the_upgrade_to_identities_keeps_every_user_session_and_sealed_key,
    the_upgrade_moves_the_last_minute_of_login_codes_out_of_sessions,
);

async fn data_survives_reopening_the_database(db: &TestDatabase) {
    let store = open(db).await;
    let (user, _) = store
        .find_or_create_user(APP, &openid("l"), None, NOW)
        .await
        .expect("create");
    let session = store
        .create_session(&new_session(&user.id, "key-l", NOW))
        .await
        .expect("create");
    drop(store);
    let store = open(db).await;
    assert_eq!(store.find_user(&user.id).await.expect("query"), Some(user));
    assert_eq!(
        store.find_session(&session.id).await.expect("query"),
        Some(session)
    );
    assert!(
        store.run_migrations().await.expect("idempotent").is_empty(),
        "nothing left to apply"
    );
    store.ping().await.expect("answers");
}

async fn the_upgrade_to_identities_keeps_every_user_session_and_sealed_key(db: &TestDatabase) {
    let store = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer())
        .expect("database reachable");
    let before = store
        .run_migrations_before("2026-12-02-000001")
        .await
        .expect("the older schema");
    assert_eq!(before.len(), 2, "{before:?}");
    let sealed = test_sealer()
        .seal("tiihtNczf5v6AKRyjwEUhQ==", "u-old")
        .expect("seal");
    execute(
        db,
        &format!(
            "INSERT INTO users (id, openid, unionid, nick_name, avatar_url, gender, phone_number, created_at, updated_at) \
             VALUES ('u-old', 'o-old', NULL, 'Old', NULL, 1, '13800138000', 100, 200), \
                    ('u-union', 'o-union', 'union-w', NULL, NULL, NULL, NULL, 300, 300); \
             INSERT INTO sessions (id, user_id, session_key, created_at, expires_at, revoked_at) \
             VALUES ('s-old', 'u-old', '{sealed}', 100, {far}, NULL), \
                    ('s-ended', 'u-old', '', 100, {far}, 150);",
            far = NOW + 3600
        ),
    );

    let applied = store.run_migrations().await.expect("the upgrade");
    assert_eq!(
        applied,
        [
            "20261202000001",
            "20261202000002",
            "20261204000001",
            "20261205000001",
            "20261206000001",
            "20261206000002",
            "20261206000003",
            "20261206000004",
            "20261206000005"
        ],
        "identities, the login codes (old sessions have none), the profile's change times, \
         the login codes' own table, v3 tokens, avatars, the operators' side, webhooks, \
         shared limits"
    );
    assert_eq!(store.unclaimed_legacy_rows().await.expect("count"), 2);
    assert_eq!(store.claim_legacy_rows("wxlegacy").await.expect("claim"), 2);
    assert_eq!(store.unclaimed_legacy_rows().await.expect("count"), 0);
    assert_eq!(store.claim_legacy_rows("wxlegacy").await.expect("again"), 0);

    let user = store
        .find_user("u-old")
        .await
        .expect("query")
        .expect("kept");
    assert_eq!(
        (
            user.nick_name.as_deref(),
            user.gender,
            user.phone_number.as_deref(),
            user.created_at,
            user.updated_at
        ),
        (Some("Old"), Some(1), Some("13800138000"), 100, 200)
    );
    assert_eq!(user.apps, ["wxlegacy"]);
    assert_eq!(
        store.openid("u-old", "wxlegacy").await.expect("query"),
        Some(OpenId::new("o-old"))
    );
    let session = store
        .find_session("s-old")
        .await
        .expect("query")
        .expect("kept");
    assert_eq!(
        (session.user_id.as_str(), session.appid.as_str()),
        ("u-old", "wxlegacy")
    );
    assert_eq!(
        store.session_key("s-old").await.expect("still opens"),
        Some(SessionKey::new("tiihtNczf5v6AKRyjwEUhQ==")),
        "the sealed value is bound to its user, which kept its id"
    );
    assert_eq!(
        store
            .find_session("s-ended")
            .await
            .expect("query")
            .and_then(|s| s.revoked_at),
        Some(150)
    );
    let returning = store
        .open_login(&NewLogin {
            appid: "wxlegacy".into(),
            openid: OpenId::new("o-old"),
            unionid: None,
            session_key: SessionKey::new("new-key"),
            created_at: NOW,
            expires_at: NOW + 60,
            login_code: None,
            client_addr: None,
        })
        .await
        .expect("login");
    assert_eq!(
        (returning.user.id.as_str(), returning.created),
        ("u-old", false)
    );
    let by_unionid = store
        .open_login(&NewLogin {
            appid: "wxother".into(),
            openid: OpenId::new("o-union-elsewhere"),
            unionid: Some(UnionId::new("union-w")),
            session_key: SessionKey::new("k"),
            created_at: NOW,
            expires_at: NOW + 60,
            login_code: None,
            client_addr: None,
        })
        .await
        .expect("login");
    assert_eq!(
        by_unionid.user.id, "u-union",
        "the unionid it had still links"
    );
}

/// Codes recorded in `sessions` before they had a table of their own: a replay straddling the
/// upgrade is still answered, and codes of long ago are not carried over.
async fn the_upgrade_moves_the_last_minute_of_login_codes_out_of_sessions(db: &TestDatabase) {
    let store = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer())
        .expect("database reachable");
    store
        .run_migrations_before("2026-12-05-000001")
        .await
        .expect("the older schema");
    // The migration compares with the database's own clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    execute(
        db,
        &format!(
            "INSERT INTO users (id, unionid, created_at, updated_at) VALUES ('u-c', NULL, 1, 1); \
             INSERT INTO identities (appid, openid, user_id, created_at) VALUES ('{APP}', 'o-c', 'u-c', 1); \
             INSERT INTO sessions (id, user_id, appid, session_key, created_at, expires_at, login_code, user_existed) \
             VALUES ('s-recent', 'u-c', '{APP}', '', {recent}, {far}, 'digest-recent', FALSE), \
                    ('s-old', 'u-c', '{APP}', '', 100, {far}, 'digest-old', TRUE), \
                    ('s-none', 'u-c', '{APP}', '', {recent}, {far}, NULL, NULL);",
            recent = now - 5,
            far = now + 3600
        ),
    );

    assert_eq!(
        store.run_migrations().await.expect("the upgrade"),
        [
            "20261205000001",
            "20261206000001",
            "20261206000002",
            "20261206000003",
            "20261206000004",
            "20261206000005"
        ]
    );
    let found = store
        .find_login_by_code("digest-recent", now - 10)
        .await
        .expect("query")
        .expect("carried over");
    assert_eq!(found.session.id, "s-recent");
    assert!(!found.user_existed);
    assert_eq!(
        store
            .find_login_by_code("digest-old", 0)
            .await
            .expect("query"),
        None,
        "a code of long ago is past every replay window"
    );
    assert!(
        store.find_session("s-none").await.expect("query").is_some(),
        "sessions stay"
    );
}
