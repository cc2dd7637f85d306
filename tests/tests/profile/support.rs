//! Uploading as `wx.uploadFile` does (multipart, the file in the part `file`, its `formData`
//! beside it), and fetching what `avatarUrl` names.

use wxlogin_e2e::{Reply, TestApp};

/// `POST /api/me/avatar` with `bytes` as the part `file` (named `filename`), and a `formData`
/// part beside it, as wx.uploadFile sends them.
pub(crate) async fn upload(app: &TestApp, token: &str, bytes: &[u8], filename: &str) -> Reply {
    let boundary = "----wxuploadfileboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"scene\"\r\n\r\nprofile\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.request_bytes(
        "POST",
        "/api/me/avatar",
        &[
            ("Authorization", &format!("Bearer {token}")),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        body,
    )
    .await
}

/// The path of an `avatarUrl` on the test server (`/media/avatars/...`).
pub(crate) fn path_of(avatar_url: &str) -> String {
    let at = avatar_url
        .find("/media/")
        .expect("an avatarUrl of this server");
    avatar_url[at..].to_owned()
}

/// The bytes `avatarUrl` serves, checking the answer is an immutable image.
pub(crate) async fn fetch(app: &TestApp, avatar_url: &str) -> Vec<u8> {
    let reply = app.request_raw("GET", &path_of(avatar_url), &[]).await;
    assert_eq!(reply.0, 200, "{avatar_url}");
    reply.1
}
