//! `s3://bucket/prefix` plus the `AWS_*` variables, as the server configures the store.

use wxlogin_domain::{MediaStore, error_chain};
use wxlogin_media_s3::{S3ConfigError, S3MediaStore};

use crate::avatar;
use wxlogin_media_s3::testing::MotoServer;

const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

#[tokio::test]
async fn the_url_and_the_aws_variables_configure_the_store() {
    let Some(moto) = MotoServer::shared() else {
        return;
    };
    let bucket = moto.bucket("from-env");
    let endpoint = moto.endpoint();
    let vars = [
        ("AWS_ACCESS_KEY_ID", "wxlogin-test"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_TIMEOUT", "5s"),
        // Not object_store's, and not AWS_: ignored, as from_env ignores them.
        ("AWS_PROFILE", "default"),
        ("HOME", "/root"),
    ];
    let store = S3MediaStore::from_url_and_vars(&format!("s3://{bucket}/prod/wxlogin/"), vars)
        .expect("valid configuration");
    let jpeg = avatar("avatars/0f3a.jpg", "image/jpeg");

    store.put(&jpeg).await.expect("put");

    assert!(
        moto.head(&bucket, "prod/wxlogin/avatars/0f3a.jpg")
            .is_some()
    );
    assert_eq!(store.get(&jpeg.name).await.expect("get"), Some(jpeg));
    let printed = format!("{store:?}");
    assert!(!printed.contains(SECRET), "{printed}");
}

#[test]
fn a_variable_the_client_cannot_read_is_refused_without_showing_the_secret() {
    let vars = [
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_ALLOW_HTTP", "maybe"),
    ];

    let error = S3MediaStore::from_url_and_vars("s3://media/prefix", vars)
        .expect_err("allow_http must be true or false");

    assert!(matches!(error, S3ConfigError::Client(_)), "{error:?}");
    let shown = format!("{} {error:?}", error_chain(&error));
    assert!(!shown.contains(SECRET), "{shown}");
}

#[test]
fn a_key_id_without_its_secret_is_refused() {
    let error =
        S3MediaStore::from_url_and_vars("s3://media", [("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")])
            .expect_err("no secret");

    assert!(matches!(error, S3ConfigError::Client(_)), "{error:?}");
}

#[test]
fn a_url_that_is_not_s3_bucket_prefix_is_refused_without_repeating_it() {
    let url = format!("s3://AKIAEXAMPLE:{SECRET}@media/prefix");

    let error = S3MediaStore::from_url_and_vars(&url, std::iter::empty::<(&str, &str)>())
        .expect_err("credentials are no bucket");

    assert!(matches!(error, S3ConfigError::InvalidBucket), "{error:?}");
    assert!(!error.to_string().contains(SECRET), "{error}");
    assert!(matches!(
        S3MediaStore::from_url_and_vars("https://media.example/prefix", [("AWS_REGION", "x")]),
        Err(S3ConfigError::NotAnS3Url)
    ));
}

#[test]
fn a_store_on_aws_itself_is_set_up_without_a_request() {
    // No endpoint: https to AWS, so rustls is set up (on ring) while nothing is sent.
    let vars = [
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "ap-east-1"),
    ];

    let store = S3MediaStore::from_url_and_vars("s3://wxlogin-media/prod", vars);

    assert!(store.is_ok(), "{store:?}");
}
