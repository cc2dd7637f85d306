//! `POST /api/me/avatar`: what is taken (and what survives of it), what is refused (and that
//! the avatar before stays).

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

use crate::images::{
    GPS_MARKER, contains, decode, gif_red_then_blue, jpeg_with_gps, png, png_bomb, truncated_jpeg,
    webp,
};
use crate::support::{fetch, path_of, upload};

wxlogin_e2e::on_both_databases!(
    a_phone_photo_comes_back_scaled_with_no_exif_and_no_gps,
    png_webp_and_gif_are_taken_and_a_gif_gives_its_first_frame,
    what_is_not_an_avatar_is_refused_and_the_avatar_before_stays,
    uploads_held_open_are_bounded_and_the_next_is_told_to_come_back,
);

async fn a_phone_photo_comes_back_scaled_with_no_exif_and_no_gps(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("ava.1").await;
    let photo = jpeg_with_gps();
    assert!(contains(&photo, GPS_MARKER) && contains(&photo, b"Exif"));

    let reply = upload(&app, &token, &photo, "tmp_5f3a9c.jpg").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let url = reply.json["avatarUrl"]
        .as_str()
        .expect("avatarUrl")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "absolute: {url}");
    assert_eq!(app.me(&token).await.json["avatarUrl"], url.as_str());

    let stored = fetch(&app, &url).await;
    assert!(!contains(&stored, b"Exif"), "no EXIF block survives");
    assert!(!contains(&stored, GPS_MARKER), "no GPS position survives");
    let image = decode(&stored);
    assert_eq!(
        (image.width(), image.height()),
        (640, 480),
        "scaled to fit 640"
    );
}

async fn png_webp_and_gif_are_taken_and_a_gif_gives_its_first_frame(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;
    let token = app.token("ava.2").await;
    for (bytes, name) in [(png(), "a.png"), (webp(), "a.webp")] {
        let reply = upload(&app, &token, &bytes, name).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text);
    }
    let reply = upload(&app, &token, &gif_red_then_blue(), "a.gif").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stored = fetch(&app, reply.json["avatarUrl"].as_str().expect("url")).await;
    let pixel = decode(&stored).to_rgb8().get_pixel(32, 32).0;
    assert!(
        pixel[0] > 200 && pixel[2] < 60,
        "the first frame (red), not the second (blue): {pixel:?}"
    );
}

async fn what_is_not_an_avatar_is_refused_and_the_avatar_before_stays(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("AVATAR_MAX_BYTES", "200000")]).await;
    let token = app.token("ava.3").await;
    let before = upload(&app, &token, &png(), "a.png").await;
    assert_eq!(before.status, 200, "{}", before.text);
    let url = before.json["avatarUrl"].as_str().expect("url").to_owned();

    for (bytes, name, why) in [
        (
            b"hello, I am text".to_vec(),
            "avatar.jpg",
            "a text file named .jpg",
        ),
        (truncated_jpeg(), "cut.jpg", "a truncated JPEG"),
        (png_bomb(), "bomb.png", "a 20000x20000 PNG of a few bytes"),
        (b"BM\x3e\0\0\0".to_vec(), "old.bmp", "a format not taken"),
    ] {
        let refused = upload(&app, &token, &bytes, name).await;
        assert_error(&refused, 400, "invalid_image");
        assert_eq!(
            app.me(&token).await.json["avatarUrl"],
            url.as_str(),
            "{why}"
        );
    }
    let oversized = vec![0xffu8; 300_000];
    assert_error(
        &upload(&app, &token, &oversized, "big.jpg").await,
        413,
        "payload_too_large",
    );
    let no_file = app
        .request_bytes(
            "POST",
            "/api/me/avatar",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "multipart/form-data; boundary=b"),
            ],
            b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n".to_vec(),
        )
        .await;
    assert_error(&no_file, 400, "invalid_request");
    let not_multipart = app
        .request_bytes(
            "POST",
            "/api/me/avatar",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/json"),
            ],
            b"{}".to_vec(),
        )
        .await;
    assert_error(&not_multipart, 400, "invalid_request");
    assert_error(
        &app.request_bytes("POST", "/api/me/avatar", &[], png())
            .await,
        401,
        "not_logged_in",
    );
    assert_eq!(app.me(&token).await.json["avatarUrl"], url.as_str());
    assert_eq!(app.request_raw("GET", &path_of(&url), &[]).await.0, 200);
}

async fn uploads_held_open_are_bounded_and_the_next_is_told_to_come_back(db: &TestDatabase) {
    use std::io::Write;
    // One decoding at once: two uploads may be read at once.
    let app = TestApp::spawn_env(db.url(), &[("AVATAR_UPLOAD_CONCURRENCY", "1")]).await;
    let token = app.token("slow.1").await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
            // A body that says 5 MB and sends a few bytes of it, then nothing.
            write!(
                stream,
                "POST /api/me/avatar HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000000\r\n\r\n\
                 --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n\
                 \u{ff}"
            )
            .expect("written");
            stream
        })
        .collect();
    // Both are being read (holding their turns) before the third comes.
    actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let third = upload(&app, &token, &png(), "c.png").await;
    assert_error(&third, 503, "unavailable");
    drop(held);
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let fourth = upload(&app, &token, &png(), "d.png").await;
    assert_eq!(fourth.status, 200, "turns are given back: {}", fourth.text);
}
