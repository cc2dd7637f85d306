//! Editing the profile: validated before the store sees it, and an empty edit touches nothing.

use wxlogin_core::{CoreError, ProfileEdit};
use wxlogin_domain::User;

use crate::support::{APP, Mocks, NOW, user};

#[tokio::test]
async fn a_profile_edit_is_validated_before_the_store_sees_it() {
    let mut m = Mocks::new();
    m.users.expect_update_profile().never();
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
        client: None,
    };
    let edit = ProfileEdit {
        avatar_url: Some(Some("javascript:alert(1)".into())),
        ..ProfileEdit::default()
    };
    assert!(matches!(
        m.service().update_profile(&caller, edit).await,
        Err(CoreError::InvalidProfile(_))
    ));
}

#[tokio::test]
async fn a_valid_profile_edit_reaches_the_store_and_returns_the_new_profile() {
    let mut m = Mocks::new();
    m.users
        .expect_update_profile()
        .withf(|id, update, now| {
            id == "u1" && update.nick_name == Some(Some("小明".into())) && *now == NOW
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(Some(User {
                nick_name: Some("小明".into()),
                ..user("u1")
            }))
        });
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
        client: None,
    };
    let edit = ProfileEdit {
        nick_name: Some(Some("小明".into())),
        ..ProfileEdit::default()
    };
    let updated = m
        .service()
        .update_profile(&caller, edit)
        .await
        .expect("updated");
    assert_eq!(updated.nick_name.as_deref(), Some("小明"));
}

#[tokio::test]
async fn an_empty_profile_edit_touches_nothing() {
    let mut m = Mocks::new();
    m.users.expect_update_profile().never();
    let caller = wxlogin_core::Caller {
        user: user("u1"),
        session_id: "s1".into(),
        appid: APP.into(),
        client: None,
    };
    let same = m
        .service()
        .update_profile(&caller, ProfileEdit::default())
        .await
        .expect("ok");
    assert_eq!(same, user("u1"));
}
