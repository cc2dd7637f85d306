//! Idempotent login codes: a copy gets the first answer, within CODE_REPLAY_SECS, here or at
//! another instance, while its session lives.

use wxlogin_e2e::{TestApp, assert_error};
use wxlogin_user_store::testing::TestDatabase;

wxlogin_e2e::on_both_databases!(
    a_code_is_replayed_only_within_code_replay_secs,
    a_code_submitted_twice_gets_the_first_answer,
    a_copy_of_a_code_at_another_instance_gets_the_first_answer,
);

async fn a_code_submitted_twice_gets_the_first_answer(db: &TestDatabase) {
    let app = TestApp::spawn(db.url()).await;

    let replies = futures_util::future::join_all((0..5).map(|_| app.login("nina.1"))).await;
    let again = app.login("nina.1").await;

    let first = &replies[0];
    for reply in replies.iter().chain([&again]) {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["userInfo"]["id"], first.json["userInfo"]["id"]);
        assert_eq!(reply.json["expiresAt"], first.json["expiresAt"]);
        assert_eq!(reply.json["userExist"], false, "the first answer");
        let token = reply.json["token"].as_str().expect("token");
        assert_eq!(app.me(token).await.status, 200);
    }
    assert_eq!(app.fake.code2session_calls(), 1, "one upstream call");
    assert_eq!(
        app.fake.stable_token_calls(),
        0,
        "login needs no access token"
    );
    // A copy of the code is no way back into a session that ended.
    let token = again.json["token"].as_str().expect("token");
    assert_eq!(app.logout(token).await.status, 204);
    assert_error(&app.login("nina.1").await, 400, "invalid_code");
    app.stop().await;
}

async fn a_code_is_replayed_only_within_code_replay_secs(db: &TestDatabase) {
    let app = TestApp::spawn_env(db.url(), &[("CODE_REPLAY_SECS", "0")]).await;
    assert_eq!(app.login("omar.1").await.status, 200);
    // With a window of 0 s, a copy a second later is sent to WeChat, which refuses a used code.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_error(&app.login("omar.1").await, 400, "invalid_code");
    assert_eq!(app.fake.code2session_calls(), 2);
    app.stop().await;
}

/// A copy of a code that reaches another instance of the deployment gets the first answer
/// there too, while its session lives; never once it has ended.
async fn a_copy_of_a_code_at_another_instance_gets_the_first_answer(db: &TestDatabase) {
    let a = TestApp::spawn(db.url()).await;
    let b = a.another_instance(db.url(), &[]).await;
    let first = a.login("nadia.1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let copy = b.login("nadia.1").await;
    assert_eq!(copy.status, 200, "{}", copy.text);
    assert_eq!(copy.json["userExist"], first.json["userExist"]);
    assert_eq!(copy.json["userInfo"]["id"], first.json["userInfo"]["id"]);
    assert_eq!(copy.json["expiresAt"], first.json["expiresAt"]);
    let copied = copy.json["token"].as_str().expect("token");
    assert_eq!(
        a.me(copied).await.status,
        200,
        "the same session, on either instance"
    );

    let token = first.json["token"].as_str().expect("token");
    assert_eq!(a.logout(token).await.status, 204);
    assert_error(&b.login("nadia.1").await, 400, "invalid_code");
    b.stop().await;
    a.stop().await;
}
