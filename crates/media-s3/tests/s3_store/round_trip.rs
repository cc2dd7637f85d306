//! Put, get and delete against moto.

use wxlogin_domain::MediaStore;
use wxlogin_media_s3::S3MediaStore;

use crate::avatar;
use wxlogin_media_s3::testing::MotoServer;

#[tokio::test]
async fn a_stored_avatar_comes_back_with_its_bytes_and_content_type() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let store = S3MediaStore::new(moto.settings(&moto.bucket("round-trip"), "media"))
        .expect("settings are valid");
    let jpeg = avatar("avatars/0f3a.jpg", "image/jpeg");
    let webp = avatar("avatars/9b1c.webp", "image/webp");

    store.put(&jpeg).await.expect("put jpeg");
    store.put(&webp).await.expect("put webp");

    assert_eq!(store.get(&jpeg.name).await.expect("get jpeg"), Some(jpeg));
    assert_eq!(store.get(&webp.name).await.expect("get webp"), Some(webp));
}

#[tokio::test]
async fn storing_the_same_avatar_again_is_harmless() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let store = S3MediaStore::new(moto.settings(&moto.bucket("retried-put"), ""))
        .expect("settings are valid");
    let jpeg = avatar("avatars/0f3a.jpg", "image/jpeg");

    store.put(&jpeg).await.expect("first put");
    store.put(&jpeg).await.expect("retried put");

    assert_eq!(store.get(&jpeg.name).await.expect("get"), Some(jpeg));
}

#[tokio::test]
async fn a_name_never_stored_is_none() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let store = S3MediaStore::new(moto.settings(&moto.bucket("missing-name"), "media"))
        .expect("settings are valid");

    assert_eq!(store.get("avatars/never.jpg").await.expect("get"), None);
}

#[tokio::test]
async fn a_deleted_avatar_is_gone() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let store = S3MediaStore::new(moto.settings(&moto.bucket("deletion"), "media"))
        .expect("settings are valid");
    let jpeg = avatar("avatars/0f3a.jpg", "image/jpeg");
    let other = avatar("avatars/other.jpg", "image/jpeg");
    store.put(&jpeg).await.expect("put");
    store.put(&other).await.expect("put other");

    store.delete(&jpeg.name).await.expect("delete");

    assert_eq!(store.get(&jpeg.name).await.expect("get"), None);
    assert_eq!(
        store.get(&other.name).await.expect("get other"),
        Some(other)
    );
}

#[tokio::test]
async fn deleting_a_name_never_stored_succeeds() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let store = S3MediaStore::new(moto.settings(&moto.bucket("missing-delete"), "media"))
        .expect("settings are valid");

    store
        .delete("avatars/never.jpg")
        .await
        .expect("a retried delete must not fail");
}
