//! The same avatars kept in S3-compatible object storage (`MEDIA_STORE=s3://...`): a real S3
//! server (moto's), started for the test. Served through the server, and gone from the bucket
//! once no account shows them.

use wxlogin_e2e::TestApp;
use wxlogin_media_s3::testing::MotoServer;
use wxlogin_user_store::testing::TestDatabase;

use crate::images::{GPS_MARKER, contains, jpeg_with_gps, png};
use crate::support::{fetch, path_of, upload};

wxlogin_e2e::on_both_databases!(avatars_live_in_the_bucket_and_leave_it_with_their_account);

/// The object key of an avatar URL in `bucket` under `prefix`.
fn key_of(prefix: &str, avatar_url: &str) -> String {
    format!(
        "{prefix}/{}",
        path_of(avatar_url).trim_start_matches("/media/")
    )
}

async fn avatars_live_in_the_bucket_and_leave_it_with_their_account(db: &TestDatabase) {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bucket = moto.bucket(&format!("wxlogin-e2e-{}-{n}", std::process::id()));
    let store = format!("s3://{bucket}/avatars-test");
    let endpoint = moto.endpoint();
    let app = TestApp::spawn_env(
        db.url(),
        &[
            ("MEDIA_STORE", &store),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "wxlogin-test"),
            ("AWS_SECRET_ACCESS_KEY", "wxlogin-test-secret"),
        ],
    )
    .await;
    let token = app.token("s3.1").await;
    let first = upload(&app, &token, &jpeg_with_gps(), "a.jpg").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json["avatarUrl"].as_str().expect("url").to_owned();
    let stored = fetch(&app, &first).await;
    assert!(
        !contains(&stored, GPS_MARKER),
        "no GPS in the bucket either"
    );
    let headers = moto
        .head(&bucket, &key_of("avatars-test", &first))
        .expect("in the bucket");
    assert!(
        headers
            .iter()
            .any(|(name, value)| name == "cache-control" && value.contains("immutable")),
        "a CDN in front of the bucket caches it for ever: {headers:?}"
    );

    let second = upload(&app, &token, &png(), "b.png").await;
    let second = second.json["avatarUrl"].as_str().expect("url").to_owned();
    assert!(
        moto.head(&bucket, &key_of("avatars-test", &first))
            .is_none(),
        "replaced: gone"
    );
    assert!(
        moto.head(&bucket, &key_of("avatars-test", &second))
            .is_some()
    );

    let deleted = app
        .request(
            "DELETE",
            "/api/me",
            Some(&format!("Bearer {token}")),
            Some(r#"{"code":"s3.2"}"#),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(
        moto.head(&bucket, &key_of("avatars-test", &second))
            .is_none(),
        "a deleted account leaves no object in the bucket"
    );
    app.stop().await;
}
