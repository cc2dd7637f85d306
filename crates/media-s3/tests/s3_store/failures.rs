//! What the store answers when it should not or cannot send a request: refused names,
//! oversized files, endpoints that are down or never answer. No moto needed.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use wxlogin_domain::{MediaError, MediaObject, MediaStore};
use wxlogin_media_s3::{MAX_OBJECT_BYTES, S3MediaStore, S3Secret, S3Settings, S3Timeouts};

use crate::avatar;
use wxlogin_media_s3::testing::free_port;

fn store_at(port: u16, timeouts: S3Timeouts) -> S3MediaStore {
    S3MediaStore::new(S3Settings {
        bucket: "media".to_owned(),
        prefix: "prefix".to_owned(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".to_owned(),
        access_key_id: "wxlogin-test".to_owned(),
        secret_access_key: S3Secret::new("wxlogin-test-secret"),
        allow_http: true,
        timeouts,
    })
    .expect("settings are valid")
}

fn short() -> S3Timeouts {
    S3Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_millis(500),
        retries: 2,
    }
}

/// A listener that never accepts: connections pile up in its backlog, unanswered.
fn silent_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

fn no_connection_was_made(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).expect("non-blocking");
    matches!(listener.accept(), Err(error) if error.kind() == ErrorKind::WouldBlock)
}

#[tokio::test]
async fn names_that_could_leave_the_prefix_are_refused_without_a_request() {
    let (listener, port) = silent_listener();
    let store = store_at(port, short());

    for name in [
        "../x",
        "/x",
        "avatars/../../x",
        "avatars//x.jpg",
        "",
        "avatars/x y.jpg",
    ] {
        let object = avatar(name, "image/jpeg");
        assert!(
            matches!(store.put(&object).await, Err(MediaError::InvalidName)),
            "{name:?}"
        );
        assert!(
            matches!(store.get(name).await, Err(MediaError::InvalidName)),
            "{name:?}"
        );
        assert!(
            matches!(store.delete(name).await, Err(MediaError::InvalidName)),
            "{name:?}"
        );
    }

    assert!(no_connection_was_made(&listener));
}

#[tokio::test]
async fn an_avatar_above_the_size_limit_is_refused_before_it_is_sent() {
    let (listener, port) = silent_listener();
    let store = store_at(port, short());
    let too_large = usize::try_from(MAX_OBJECT_BYTES).expect("fits") + 1;
    let object = MediaObject {
        name: "avatars/huge.jpg".to_owned(),
        content_type: "image/jpeg".to_owned(),
        bytes: vec![0; too_large],
    };

    assert!(matches!(
        store.put(&object).await,
        Err(MediaError::Failed(_))
    ));

    assert!(no_connection_was_made(&listener));
}

#[tokio::test]
async fn a_store_nobody_listens_on_is_unavailable_at_once() {
    let store = store_at(free_port(), short());
    let started = Instant::now();

    let get = store.get("avatars/a.jpg").await;
    let put = store.put(&avatar("avatars/a.jpg", "image/jpeg")).await;
    let delete = store.delete("avatars/a.jpg").await;

    assert!(matches!(get, Err(MediaError::Unavailable(_))), "{get:?}");
    assert!(matches!(put, Err(MediaError::Unavailable(_))), "{put:?}");
    assert!(
        matches!(delete, Err(MediaError::Unavailable(_))),
        "{delete:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_store_that_never_answers_is_unavailable_after_its_time_limit() {
    let (_listener, port) = silent_listener();
    let store = store_at(port, short());
    let started = Instant::now();

    let get = store.get("avatars/a.jpg").await;
    let put = store.put(&avatar("avatars/a.jpg", "image/jpeg")).await;

    assert!(matches!(get, Err(MediaError::Unavailable(_))), "{get:?}");
    assert!(matches!(put, Err(MediaError::Unavailable(_))), "{put:?}");
    // Two calls, each one attempt of 0.5 s and perhaps one retry: nowhere near the minutes
    // object_store would wait by default.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}
