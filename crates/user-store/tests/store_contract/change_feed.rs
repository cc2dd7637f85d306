//! The change feed: every change is announced to every listener.

use wxlogin_domain::{ChangeFeed, ProfileUpdate, SessionStore, StoreChange, UserStore};
use wxlogin_user_store::testing::{TestDatabase, audit_at};

use crate::support::{APP, NOW, new_session, open, openid};

contract!(
    ;
    changes_are_announced_to_every_listener,
);

async fn changes_are_announced_to_every_listener(db: &TestDatabase) {
    let here = open(db).await;
    let elsewhere = open(db).await;
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let listener = here
        .subscribe(Box::new(move |change| {
            let _ = tx.lock().expect("sender").send(change);
        }))
        .expect("listener starts")
        .expect("a feed on either database");
    let heard = || {
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the feed speaks")
    };
    if db.url().starts_with("postgres") {
        assert_eq!(
            heard(),
            StoreChange::Missed,
            "connecting may have missed some"
        );
    }
    // Every 250 ms the feed says it missed nothing.
    assert_eq!(heard(), StoreChange::Heard);
    let next = || loop {
        match heard() {
            StoreChange::Heard => {}
            change => return change,
        }
    };

    let (user, _) = elsewhere
        .find_or_create_user(APP, &openid("n"), None, NOW)
        .await
        .expect("create");
    let first = elsewhere
        .create_session(&new_session(&user.id, "k", NOW))
        .await
        .expect("session");
    let second = elsewhere
        .create_session(&new_session(&user.id, "k", NOW))
        .await
        .expect("session");
    elsewhere
        .revoke_session(&first.id, &audit_at(NOW))
        .await
        .expect("revoke");
    elsewhere
        .revoke_session(&first.id, &audit_at(NOW))
        .await
        .expect("revoked already: no news");
    elsewhere
        .update_profile(
            &user.id,
            &ProfileUpdate {
                nick_name: Some(Some("n".into())),
                ..ProfileUpdate::default()
            },
            NOW,
        )
        .await
        .expect("update");
    elsewhere
        .expire_session(&second.id, NOW + 1)
        .await
        .expect("expire");

    assert_eq!(next(), StoreChange::SessionEnded(first.id));
    assert_eq!(next(), StoreChange::UserChanged(user.id));
    assert_eq!(next(), StoreChange::SessionEnded(second.id));
    drop(listener);
}
