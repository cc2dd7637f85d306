//! Where and how the objects land in the bucket: what a CDN in front of it serves.

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use wxlogin_domain::MediaStore;
use wxlogin_media_s3::{CACHE_CONTROL, MAX_OBJECT_BYTES, S3MediaStore};

use crate::avatar;
use wxlogin_media_s3::testing::MotoServer;

/// object_store itself on the bucket, prefix-less: to look at the bucket as it is.
fn raw_bucket(moto: &MotoServer, bucket: &str) -> impl ObjectStore {
    AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id("wxlogin-test")
        .with_secret_access_key("wxlogin-test-secret")
        .build()
        .expect("raw client")
}

#[tokio::test]
async fn avatars_land_under_the_prefix_with_their_type_and_an_immutable_cache_header() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let bucket = moto.bucket("layout");
    let store = S3MediaStore::new(moto.settings(&bucket, "tenant-a/media")).expect("settings");

    store
        .put(&avatar("avatars/0f3a.webp", "image/webp"))
        .await
        .expect("put");

    let listed = raw_bucket(&moto, &bucket)
        .list_with_delimiter(Some(&Path::from("tenant-a/media/avatars")))
        .await
        .expect("list");
    let keys: Vec<String> = listed
        .objects
        .iter()
        .map(|o| o.location.to_string())
        .collect();
    assert_eq!(keys, ["tenant-a/media/avatars/0f3a.webp"]);

    let headers = moto
        .head(&bucket, "tenant-a/media/avatars/0f3a.webp")
        .expect("the object is where the prefix says");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(found, _)| found == name)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(header("content-type"), Some("image/webp"));
    assert_eq!(header("cache-control"), Some(CACHE_CONTROL));
    assert_eq!(CACHE_CONTROL, "public, max-age=31536000, immutable");
}

#[tokio::test]
async fn an_object_copied_in_without_a_type_is_served_by_its_extension() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let bucket = moto.bucket("untyped");
    raw_bucket(&moto, &bucket)
        .put(
            &Path::from("media/avatars/old.jpg"),
            PutPayload::from(vec![0xff, 0xd8, 0xff]),
        )
        .await
        .expect("raw put, no content type");
    let store = S3MediaStore::new(moto.settings(&bucket, "media")).expect("settings");

    let object = store
        .get("avatars/old.jpg")
        .await
        .expect("get")
        .expect("stored");

    assert_eq!(object.content_type, "image/jpeg");
    assert_eq!(object.bytes, [0xff, 0xd8, 0xff]);
}

#[tokio::test]
async fn an_object_above_the_size_limit_is_refused_not_buffered() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let bucket = moto.bucket("oversize");
    let too_large = usize::try_from(MAX_OBJECT_BYTES).expect("fits") + 1;
    raw_bucket(&moto, &bucket)
        .put(
            &Path::from("avatars/huge.jpg"),
            PutPayload::from(vec![0u8; too_large]),
        )
        .await
        .expect("raw put of a huge object");
    let store = S3MediaStore::new(moto.settings(&bucket, "")).expect("settings");

    let result = store.get("avatars/huge.jpg").await;

    assert!(
        matches!(result, Err(wxlogin_domain::MediaError::Failed(_))),
        "{result:?}"
    );
}
