//! The files behind `avatarUrl`: served for ever-caching, and deleted once no account shows
//! them (replaced, the account deleted by its owner or by WeChat's cancellation push).

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_fake_wechat::{PushFormat, PushMode};
use wxlogin_user_store::testing::TestDatabase;

use crate::images::{png, webp};
use crate::support::{path_of, upload};

wxlogin_e2e::on_both_databases!(
    a_file_is_served_for_ever_caching_and_revalidated_by_its_etag,
    a_replaced_avatar_and_a_deleted_accounts_file_are_deleted,
);

async fn a_file_is_served_for_ever_caching_and_revalidated_by_its_etag(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("file.1").await;
    let reply = upload(&app, &token, &png(), "a.png").await;
    let path = path_of(reply.json["avatarUrl"].as_str().expect("url"));

    let (status, bytes, headers) = app.request_raw("GET", &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(bytes.starts_with(&[0xff, 0xd8]), "a JPEG");
    let etag = headers["etag"].clone();
    let (status, bytes, _) = app
        .request_raw("GET", &path, &[("If-None-Match", &etag)])
        .await;
    assert_eq!((status, bytes.len()), (304, 0));
    let (status, _, _) = app
        .request_raw("GET", &path, &[("If-None-Match", "\"another\"")])
        .await;
    assert_eq!(status, 200);

    for missing in [
        "/media/avatars/0123456789abcdef0123456789abcdef.jpg",
        "/media/avatars/..%2F..%2Fetc%2Fpasswd",
        "/media/avatars/a%20b.jpg",
    ] {
        let reply = app.request("GET", missing, None, None).await;
        assert_error(&reply, 404, "not_found");
    }
}

async fn a_replaced_avatar_and_a_deleted_accounts_file_are_deleted(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("file.2").await;
    let first = path_of(
        upload(&app, &token, &png(), "a.png").await.json["avatarUrl"]
            .as_str()
            .expect("url"),
    );
    let second = path_of(
        upload(&app, &token, &webp(), "b.webp").await.json["avatarUrl"]
            .as_str()
            .expect("url"),
    );
    assert_eq!(
        app.request_raw("GET", &first, &[]).await.0,
        404,
        "replaced: deleted"
    );
    assert_eq!(app.request_raw("GET", &second, &[]).await.0, 200);

    let external = app
        .put_me(
            &token,
            r#"{"avatarUrl":"https://thirdwx.qlogo.cn/mmopen/x/132"}"#,
        )
        .await;
    assert_eq!(external.status, 200);
    assert_eq!(
        app.request_raw("GET", &second, &[]).await.0,
        404,
        "an external URL replaces it too"
    );

    let third = path_of(
        upload(&app, &token, &png(), "c.png").await.json["avatarUrl"]
            .as_str()
            .expect("url"),
    );
    let deleted = app
        .request(
            "DELETE",
            "/api/me",
            Some(&format!("Bearer {token}")),
            Some(r#"{"code":"file.2b"}"#),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(
        app.request_raw("GET", &third, &[]).await.0,
        404,
        "a deleted account leaves no file"
    );

    // WeChat's cancellation push deletes the account, and its file with it.
    let token = app.token("gone.1").await;
    let pushed = path_of(
        upload(&app, &token, &png(), "d.png").await.json["avatarUrl"]
            .as_str()
            .expect("url"),
    );
    let push = wxlogin_fake_wechat::FakePush {
        appid: None,
        user: "gone".into(),
        event: "user_authorization_cancellation".into(),
        revoke_info: None,
        create_time: None,
        mode: PushMode::Safe,
        format: PushFormat::Json,
    };
    let (status, body) = app.fake.push(&app.base, &push).await.expect("push sent");
    assert_eq!((status, body.as_str()), (200, "success"));
    assert_error(&app.me(&token).await, 401, "session_revoked");
    assert_eq!(app.request_raw("GET", &pushed, &[]).await.0, 404);
}
