//! Profile updates: partial, null clears, and never older than a field's last change.

use wxlogin_domain::{ProfileUpdate, UserStore};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::TestDatabase;

use crate::support::{APP, NOW, open, openid};

contract!(
    profile_updates_are_partial_and_null_clears,
    an_update_older_than_the_profiles_last_change_is_not_applied;
);

async fn profile_updates_are_partial_and_null_clears(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("f"), None, NOW)
        .await
        .expect("create");
    let update = ProfileUpdate {
        nick_name: Some(Some("小明 🐼".into())),
        avatar_url: Some(Some("https://example.com/a.png".into())),
        gender: Some(Some(1)),
        phone_number: Some(Some("+1 650-555-0100".into())),
        unless_changed_since: None,
    };
    let updated = store
        .update_profile(&user.id, &update, NOW + 10)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(updated.nick_name.as_deref(), Some("小明 🐼"));
    assert_eq!(updated.gender, Some(1));
    assert_eq!(updated.phone_number.as_deref(), Some("+1 650-555-0100"));
    assert_eq!((updated.created_at, updated.updated_at), (NOW, NOW + 10));

    let clear_avatar = ProfileUpdate {
        avatar_url: Some(None),
        ..ProfileUpdate::default()
    };
    let updated = store
        .update_profile(&user.id, &clear_avatar, NOW + 20)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(updated.avatar_url, None);
    assert_eq!(
        updated.nick_name.as_deref(),
        Some("小明 🐼"),
        "absent fields stay"
    );
    assert_eq!(
        store.find_user(&user.id).await.expect("query"),
        Some(updated)
    );

    assert_eq!(
        store
            .update_profile("nobody", &clear_avatar, NOW)
            .await
            .expect("query"),
        None
    );
}

/// What a push of WeChat does to a profile is conditional on the event being newer than the
/// last change of each field it names: a late or replayed event never undoes a change made
/// after it, and a change of another field does not stop it.
async fn an_update_older_than_the_profiles_last_change_is_not_applied(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("late"), None, NOW)
        .await
        .expect("create");
    let set_name = ProfileUpdate {
        nick_name: Some(Some("Set at NOW+10".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &set_name, NOW + 10)
        .await
        .expect("update")
        .expect("exists");
    let clear_as_of = |at: i64| ProfileUpdate {
        nick_name: Some(None),
        unless_changed_since: Some(at),
        ..ProfileUpdate::default()
    };
    for older in [NOW + 5, NOW + 10] {
        assert_eq!(
            store
                .update_profile(&user.id, &clear_as_of(older), NOW + 20)
                .await
                .expect("update"),
            None,
            "an event of {older} is not newer than the change of NOW+10"
        );
    }
    let kept = store
        .find_user(&user.id)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(kept.nick_name.as_deref(), Some("Set at NOW+10"));
    assert_eq!(kept.updated_at, NOW + 10, "nothing was written");

    // Another field changed after the event does not keep it from the nickname: each field
    // is compared with its own last change.
    let phone = ProfileUpdate {
        phone_number: Some(Some("13800000000".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &phone, NOW + 30)
        .await
        .expect("update")
        .expect("exists");
    let cleared = store
        .update_profile(&user.id, &clear_as_of(NOW + 11), NOW + 40)
        .await
        .expect("update")
        .expect("a newer event applies");
    assert_eq!(cleared.nick_name, None);
    assert_eq!(cleared.phone_number.as_deref(), Some("13800000000"));
    let revoke_phone = ProfileUpdate {
        phone_number: Some(None),
        unless_changed_since: Some(NOW + 25),
        ..ProfileUpdate::default()
    };
    assert_eq!(
        store
            .update_profile(&user.id, &revoke_phone, NOW + 40)
            .await
            .expect("update"),
        None,
        "the phone number was bound again after that revocation"
    );
}
