//! Bans over HTTP: every session ended on every instance within a second (a second instance
//! on PostgreSQL), logins and refreshes refused with 403 until unbanned; one session ended by
//! an operator, everywhere.

use std::time::{Duration, Instant};

use wxlogin_e2e::assert_error;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{KEY, KeysFile, Login, ban, refresh, spawn_admin};

wxlogin_e2e::on_both_databases!(
    a_ban_ends_every_session_everywhere_and_refuses_logins_and_refreshes_until_unbanned,
);

async fn a_ban_ends_every_session_everywhere_and_refuses_logins_and_refreshes_until_unbanned(
    db: &TestDatabase,
) {
    let keys = KeysFile::new(&[KEY]);
    let a = spawn_admin(db, &keys).await;
    // Another instance caching sessions for a minute: only the change feed tells it.
    let b = match db.url().starts_with("postgres") {
        true => Some(
            a.another_instance(db.url(), &[("SESSION_CACHE_MS", "60000")])
                .await,
        ),
        false => None,
    };
    let other = b.as_ref().unwrap_or(&a);
    let Login {
        user,
        token,
        refresh: refresh_token,
    } = a.log_in("bob.1").await;
    let second = a.token("bob.2").await;
    assert_eq!(
        other.me(&token).await.status,
        200,
        "cached on the other instance"
    );
    assert_eq!(other.me(&second).await.status, 200);

    let banned = ban(&a, &user).await;
    assert_eq!(banned.status, 200, "{}", banned.text);
    assert_eq!(banned.json["status"], "disabled");
    assert_eq!(banned.json["disabledReason"], "spam");
    let since = Instant::now();
    for token in [&token, &second] {
        other
            .assert_revoked_within(token, since, Duration::from_secs(1))
            .await;
    }
    assert_error(&other.login("bob.6").await, 403, "account_disabled");
    assert_error(
        &refresh(other, &refresh_token).await,
        403,
        "account_disabled",
    );
    assert_error(&a.login("bob.4").await, 403, "account_disabled");

    let unbanned = a
        .admin_request(
            "POST",
            &format!("/admin/users/{user}/unban"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(unbanned.status, 200, "{}", unbanned.text);
    assert_eq!(unbanned.json["status"], "active");
    let back = other.login("bob.5").await;
    assert_eq!(back.status, 200, "logins work again: {}", back.text);
    assert_eq!(
        back.json["userInfo"]["id"],
        user.as_str(),
        "the same account"
    );
    // The sessions the ban ended stay ended; the client treats 403 as final, the server keeps
    // answering it the same way meanwhile.
    assert_error(&other.me(&token).await, 401, "session_revoked");
    assert_error(
        &refresh(other, &refresh_token).await,
        401,
        "session_revoked",
    );
    if let Some(b) = b {
        b.stop().await;
    }
    a.stop().await;
}
