//! A media check over real HTTP: the fake downloads the image from a server of the test's,
//! then pushes its verdict there, signed and encrypted as WeChat does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use wxlogin_domain::{ContentVerdict, Suggest};
use wxlogin_fake_wechat::{
    DEV_APPID, DEV_SECRET, FakeWeChat, FakeWeChatConfig, PushDelivery, RunningFake,
};
use wxlogin_wechat_protocol::{MediaCheckOutcome, MediaCheckResult, parse_push_body};

/// A push as the test's server received it: its query and its body.
type Received = Arc<Mutex<Vec<(HashMap<String, String>, String)>>>;

/// The app's server, as far as a media check sees it: it serves the image at
/// `/media/avatar.png` (anything else is a 404) and takes pushes at `/wechat/push/{appid}`.
/// Stopped when dropped.
struct AppServer {
    base: String,
    pushes: Received,
    handle: ServerHandle,
}

impl AppServer {
    async fn start() -> Self {
        let pushes = Received::default();
        let received = Arc::clone(&pushes);
        let server = HttpServer::new(move || {
            let received = Arc::clone(&received);
            App::new()
                .route(
                    "/media/avatar.png",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("image/png")
                            .body(&b"\x89PNG\r\n\x1a\n a few bytes"[..])
                    }),
                )
                .route(
                    "/wechat/push/{appid}",
                    web::post().to(
                        move |query: web::Query<HashMap<String, String>>, body: String| {
                            let received = Arc::clone(&received);
                            async move {
                                received
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .push((query.into_inner(), body));
                                HttpResponse::Ok().body("success")
                            }
                        },
                    ),
                )
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("bind");
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base,
            pushes,
            handle,
        }
    }

    fn push_url(&self) -> String {
        format!("{}/wechat/push/{DEV_APPID}", self.base)
    }

    fn pushes(&self) -> Vec<(HashMap<String, String>, String)> {
        self.pushes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        // The stop command is sent at once; waiting for it is not needed.
        drop(self.handle.stop(false));
    }
}

async fn fake_pushing_to(server: &AppServer) -> (FakeWeChat, RunningFake) {
    let fake = FakeWeChat::new(FakeWeChatConfig::default());
    let running = fake
        .clone()
        .start("127.0.0.1:0")
        .await
        .expect("fake starts");
    assert!(fake.set_push_url(DEV_APPID, &server.push_url()));
    (fake, running)
}

async fn post(url: &str, body: Value) -> Value {
    awc::Client::default()
        .post(url)
        .send_json(&body)
        .await
        .expect("the fake answers")
        .json::<Value>()
        .await
        .expect("JSON")
}

/// Asks the fake to check `media_url` for alice, as a server would: the trace_id answered.
async fn media_check_async(fake: &FakeWeChat, running: &RunningFake, media_url: &str) -> String {
    let token = post(
        &format!("{}/cgi-bin/stable_token", running.base_url()),
        json!({"grant_type": "client_credential", "appid": DEV_APPID, "secret": DEV_SECRET}),
    )
    .await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let reply = post(
        &format!(
            "{}/wxa/media_check_async?access_token={token}",
            running.base_url()
        ),
        json!({"media_url": media_url, "media_type": 2, "version": 2, "scene": 1,
               "openid": fake.openid_for("alice")}),
    )
    .await;
    assert_eq!(reply["errcode"], 0, "{reply}");
    reply["trace_id"].as_str().expect("a trace_id").to_owned()
}

/// Checks the one push `server` received is WeChat's, signed and encrypted with the dev push
/// settings, and reads it.
fn the_push(fake: &FakeWeChat, server: &AppServer) -> MediaCheckResult {
    let pushes = server.pushes();
    assert_eq!(pushes.len(), 1, "one push");
    let (query, body) = &pushes[0];
    assert_eq!(query.get("encrypt_type").map(String::as_str), Some("aes"));
    let settings = fake.push_settings();
    let outer = parse_push_body(body.as_bytes()).expect("a push body");
    let encrypt = outer.get("Encrypt").expect("safe mode");
    assert!(settings.verify_msg_signature(
        &query["msg_signature"],
        &query["timestamp"],
        &query["nonce"],
        encrypt
    ));
    assert!(settings.verify_signature(&query["signature"], &query["timestamp"], &query["nonce"]));
    assert_eq!(query.get("openid"), Some(&fake.openid_for("alice")));
    let message = settings.decrypt(encrypt, DEV_APPID).expect("decrypts");
    let fields = parse_push_body(message.as_bytes()).expect("the message");
    assert_eq!(fields.get("MsgType"), Some("event"));
    assert_eq!(fields.get("version"), Some("2"));
    MediaCheckResult::from_fields(&fields).expect("a media check's push")
}

#[actix_rt::test]
async fn a_media_check_downloads_the_image_and_pushes_a_pass_to_the_apps_push_url() {
    let server = AppServer::start().await;
    let (fake, running) = fake_pushing_to(&server).await;
    let media_url = format!("{}/media/avatar.png", server.base);

    let trace_id = media_check_async(&fake, &running, &media_url).await;
    let finished = fake
        .wait_for_media_check(&trace_id, Duration::from_secs(10))
        .await
        .expect("the check finishes");

    assert!(finished.downloaded);
    assert_eq!(finished.media_url, media_url);
    assert_eq!(
        finished.delivery,
        PushDelivery::Answered {
            status: 200,
            body: "success".into()
        }
    );
    let push = the_push(&fake, &server);
    assert_eq!(push.trace_id, trace_id);
    assert_eq!(push.appid.as_deref(), Some(DEV_APPID));
    assert_eq!(
        push.outcome,
        MediaCheckOutcome::Checked(ContentVerdict {
            suggest: Suggest::Pass,
            label: 100
        })
    );
}

#[actix_rt::test]
async fn an_image_of_a_user_marked_risky_is_pushed_as_risky() {
    let server = AppServer::start().await;
    let (fake, running) = fake_pushing_to(&server).await;
    fake.set_media_verdict(&fake.openid_for("alice"), Suggest::Risky);

    let trace_id = media_check_async(
        &fake,
        &running,
        &format!("{}/media/avatar.png", server.base),
    )
    .await;
    fake.wait_for_media_check(&trace_id, Duration::from_secs(10))
        .await
        .expect("the check finishes");

    let push = the_push(&fake, &server);
    assert_eq!(push.trace_id, trace_id);
    assert_eq!(
        push.outcome,
        MediaCheckOutcome::Checked(ContentVerdict {
            suggest: Suggest::Risky,
            label: 20002
        })
    );
}

#[actix_rt::test]
async fn an_image_that_cannot_be_downloaded_is_pushed_as_undownloadable() {
    let server = AppServer::start().await;
    let (fake, running) = fake_pushing_to(&server).await;

    let trace_id =
        media_check_async(&fake, &running, &format!("{}/media/gone.png", server.base)).await;
    let finished = fake
        .wait_for_media_check(&trace_id, Duration::from_secs(10))
        .await
        .expect("the check finishes");

    assert!(!finished.downloaded);
    assert_eq!(
        the_push(&fake, &server).outcome,
        MediaCheckOutcome::Undownloadable
    );
}

#[actix_rt::test]
async fn without_a_push_url_the_check_finishes_and_nothing_is_sent() {
    let server = AppServer::start().await;
    let fake = FakeWeChat::new(FakeWeChatConfig::default());
    let running = fake
        .clone()
        .start("127.0.0.1:0")
        .await
        .expect("fake starts");

    let trace_id = media_check_async(
        &fake,
        &running,
        &format!("{}/media/avatar.png", server.base),
    )
    .await;
    let finished = fake
        .wait_for_media_check(&trace_id, Duration::from_secs(10))
        .await
        .expect("the check finishes");

    assert_eq!(finished.delivery, PushDelivery::NoPushUrl);
    assert!(server.pushes().is_empty());
    assert!(!fake.set_push_url("wxnotplayed", &server.push_url()));
}
