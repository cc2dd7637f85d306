//! Uploaded avatars: the database as media store, and the records that make sure every file
//! no account shows is found for deletion, whatever path took it out of use.

use wxlogin_domain::{AvatarStore, MediaError, MediaObject, MediaStore, ProfileUpdate, UserStore};
use wxlogin_user_store::DieselStore;
use wxlogin_user_store::testing::{TestDatabase, audit_at};

use crate::support::{APP, NOW, OTHER_APP, login_through, open, openid, person};

contract!(
    the_database_stores_reads_and_deletes_files,
    an_attached_avatar_is_shown_and_the_file_it_replaced_becomes_unused,
    a_file_never_attached_is_unused_only_after_the_grace,
    deleting_the_account_makes_its_file_unused,
    a_new_avatar_url_or_a_wechat_event_makes_the_uploaded_file_unused,
    a_risky_verdict_takes_the_avatar_down_once,
    a_verdict_before_its_check_was_noted_rejects_the_file_when_it_is,
    a_merge_keeps_the_file_the_survivor_shows,
    forgetting_keeps_a_file_in_use;
);

fn jpeg(name: &str) -> MediaObject {
    MediaObject {
        name: format!("avatars/{name}.jpg"),
        content_type: "image/jpeg".into(),
        bytes: vec![0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3],
    }
}

async fn unused(store: &DieselStore) -> Vec<String> {
    let mut names = store.unused_media(NOW - 600, 100).await.expect("query");
    names.sort();
    names
}

async fn upload(store: &DieselStore, user_id: &str, name: &str, at: i64) {
    let file = format!("avatars/{name}.jpg");
    store
        .register_media(&file, user_id, at)
        .await
        .expect("register");
    store
        .attach_avatar(user_id, &file, &format!("https://cdn.example/{file}"), at)
        .await
        .expect("query")
        .expect("attached");
}

async fn the_database_stores_reads_and_deletes_files(store: &DieselStore) {
    let file = jpeg("a1");
    store.put(&file).await.expect("put");
    store
        .put(&file)
        .await
        .expect("putting it again changes nothing");
    assert_eq!(
        store.get(&file.name).await.expect("get"),
        Some(file.clone())
    );
    assert_eq!(store.get("avatars/none.jpg").await.expect("get"), None);
    store.delete(&file.name).await.expect("delete");
    assert_eq!(store.get(&file.name).await.expect("get"), None);
    store
        .delete(&file.name)
        .await
        .expect("deleting a missing file is no error");
    for bad in ["../etc/passwd", "/avatars/a.jpg", "avatars/a b.jpg"] {
        assert!(
            matches!(store.get(bad).await, Err(MediaError::InvalidName)),
            "{bad}"
        );
    }
}

async fn an_attached_avatar_is_shown_and_the_file_it_replaced_becomes_unused(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m1"), None, NOW)
        .await
        .expect("create");
    upload(store, &user.id, "first", NOW).await;
    assert_eq!(
        store
            .find_user(&user.id)
            .await
            .expect("query")
            .and_then(|u| u.avatar_url),
        Some("https://cdn.example/avatars/first.jpg".into())
    );
    assert!(unused(store).await.is_empty(), "shown: in use");
    upload(store, &user.id, "second", NOW + 1).await;
    assert_eq!(unused(store).await, ["avatars/first.jpg"]);
    assert_eq!(
        store
            .attach_avatar(&user.id, "avatars/not-registered.jpg", "x", NOW + 2)
            .await
            .expect("query"),
        None,
        "only a registered file of the account is attached"
    );
    let (other, _) = store
        .find_or_create_user(APP, &openid("m1-other"), None, NOW)
        .await
        .expect("create");
    assert_eq!(
        store
            .attach_avatar(&other.id, "avatars/second.jpg", "x", NOW + 2)
            .await
            .expect("query"),
        None,
        "nor another account's file"
    );
}

async fn a_file_never_attached_is_unused_only_after_the_grace(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m2"), None, NOW)
        .await
        .expect("create");
    store
        .register_media("avatars/in-flight.jpg", &user.id, NOW)
        .await
        .expect("register");
    assert!(
        store.unused_media(NOW, 10).await.expect("query").is_empty(),
        "an upload in flight keeps its file"
    );
    assert_eq!(
        store.unused_media(NOW + 1, 10).await.expect("query"),
        ["avatars/in-flight.jpg"],
        "an upload that never finished leaves its file for collection"
    );
}

async fn deleting_the_account_makes_its_file_unused(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m3"), None, NOW)
        .await
        .expect("create");
    upload(store, &user.id, "gone", NOW).await;
    store
        .delete_account(&user.id, APP, &openid("m3"), &audit_at(NOW))
        .await
        .expect("query")
        .expect("deleted");
    assert_eq!(unused(store).await, ["avatars/gone.jpg"]);
    let forgotten = store
        .forget_media(&["avatars/gone.jpg".to_owned()])
        .await
        .expect("query");
    assert_eq!(forgotten, 1);
    assert!(unused(store).await.is_empty(), "forgotten once deleted");
}

async fn a_new_avatar_url_or_a_wechat_event_makes_the_uploaded_file_unused(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m4"), None, NOW)
        .await
        .expect("create");
    upload(store, &user.id, "by-url", NOW).await;
    let external = ProfileUpdate {
        avatar_url: Some(Some("https://elsewhere.example/a.png".into())),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &external, NOW + 1)
        .await
        .expect("query")
        .expect("updated");
    assert_eq!(unused(store).await, ["avatars/by-url.jpg"]);

    upload(store, &user.id, "by-event", NOW + 2).await;
    let late_event = ProfileUpdate {
        avatar_url: Some(None),
        unless_changed_since: Some(NOW + 1),
        ..ProfileUpdate::default()
    };
    store
        .update_profile(&user.id, &late_event, NOW + 3)
        .await
        .expect("query");
    assert_eq!(
        unused(store).await,
        ["avatars/by-url.jpg"],
        "an event older than the upload leaves it"
    );
    let event = ProfileUpdate {
        unless_changed_since: Some(NOW + 5),
        ..late_event
    };
    store
        .update_profile(&user.id, &event, NOW + 6)
        .await
        .expect("query")
        .expect("applied");
    assert_eq!(
        unused(store).await,
        ["avatars/by-event.jpg", "avatars/by-url.jpg"]
    );
}

async fn a_risky_verdict_takes_the_avatar_down_once(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m5"), None, NOW)
        .await
        .expect("create");
    upload(store, &user.id, "risky", NOW).await;
    store
        .note_media_check("avatars/risky.jpg", "trace-1", NOW)
        .await
        .expect("note");
    assert_eq!(
        store
            .take_down_checked_avatar("trace-unknown", NOW + 1)
            .await
            .expect("query"),
        None
    );
    assert_eq!(
        store
            .take_down_checked_avatar("trace-1", NOW + 1)
            .await
            .expect("query"),
        Some(user.id.clone())
    );
    let shown = store
        .find_user(&user.id)
        .await
        .expect("query")
        .expect("user");
    assert_eq!(shown.avatar_url, None);
    assert_eq!(unused(store).await, ["avatars/risky.jpg"]);
    assert_eq!(
        store
            .take_down_checked_avatar("trace-1", NOW + 2)
            .await
            .expect("query"),
        None,
        "a replayed verdict does nothing"
    );

    upload(store, &user.id, "checked-then-replaced", NOW + 3).await;
    store
        .note_media_check("avatars/checked-then-replaced.jpg", "trace-2", NOW + 3)
        .await
        .expect("note");
    upload(store, &user.id, "newest", NOW + 4).await;
    assert_eq!(
        store
            .take_down_checked_avatar("trace-2", NOW + 5)
            .await
            .expect("query"),
        None,
        "a verdict on a replaced avatar leaves the new one"
    );
    let shown = store
        .find_user(&user.id)
        .await
        .expect("query")
        .expect("user");
    assert_eq!(
        shown.avatar_url.as_deref(),
        Some("https://cdn.example/avatars/newest.jpg")
    );
}

async fn a_verdict_before_its_check_was_noted_rejects_the_file_when_it_is(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m8"), None, NOW)
        .await
        .expect("create");
    let file = "avatars/fast-verdict.jpg";
    store
        .register_media(file, &user.id, NOW)
        .await
        .expect("register");
    assert_eq!(
        store
            .take_down_checked_avatar("trace-fast", NOW)
            .await
            .expect("query"),
        None,
        "not noted yet: kept"
    );
    assert!(
        store
            .note_media_check(file, "trace-fast", NOW)
            .await
            .expect("note"),
        "the verdict that waited applies"
    );
    assert_eq!(
        store
            .attach_avatar(&user.id, file, "https://cdn.example/x", NOW)
            .await
            .expect("query"),
        None,
        "a rejected file is never shown"
    );
    assert_eq!(
        store.unused_media(NOW - 600, 10).await.expect("query"),
        [file],
        "and is deleted at once, not after the grace of uploads in flight"
    );
    assert!(
        !store
            .note_media_check("avatars/other.jpg", "trace-other", NOW)
            .await
            .expect("note"),
        "no verdict waits for another trace"
    );
}

async fn a_merge_keeps_the_file_the_survivor_shows(store: &DieselStore) {
    let older = login_through(store, APP, "m6", Some(person("m6")), NOW).await;
    let newer = login_through(store, OTHER_APP, "m6", None, NOW + 10).await;
    upload(store, &newer.user.id, "merged-in", NOW + 11).await;
    let merged = login_through(store, OTHER_APP, "m6", Some(person("m6")), NOW + 20).await;
    assert_eq!(merged.user.id, older.user.id);
    assert_eq!(
        merged.user.avatar_url.as_deref(),
        Some("https://cdn.example/avatars/merged-in.jpg"),
        "the survivor takes the other's avatar"
    );
    assert!(
        unused(store).await.is_empty(),
        "the file the survivor now shows is in use"
    );
}

async fn forgetting_keeps_a_file_in_use(store: &DieselStore) {
    let (user, _) = store
        .find_or_create_user(APP, &openid("m7"), None, NOW)
        .await
        .expect("create");
    upload(store, &user.id, "kept", NOW).await;
    assert_eq!(
        store
            .forget_media(&["avatars/kept.jpg".to_owned()])
            .await
            .expect("query"),
        0
    );
    upload(store, &user.id, "kept-2", NOW + 1).await;
    assert_eq!(unused(store).await, ["avatars/kept.jpg"]);
}
