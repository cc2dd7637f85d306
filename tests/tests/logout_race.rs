//! A logout holds from the moment it is answered, even while the token is in use by many
//! requests at once and sessions are cached for a minute.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use wxlogin_e2e::TestApp;
use wxlogin_user_store::testing::TestDatabase;

/// The longest a load loop runs, whatever happens: a test never hangs.
const AT_MOST: Duration = Duration::from_secs(30);

/// Hammers `GET /api/me` with `token` from `tasks` loops, recording when each request started
/// and what it got. Each loop stops after its first request that started once the logout was
/// answered (`answered`): every loop then has asked at least once after it, however long the
/// logout took, so the test does not depend on how fast this machine is.
async fn hammer(
    app: Rc<TestApp>,
    token: String,
    tasks: usize,
    answered: Rc<Cell<Option<Instant>>>,
) -> Vec<(Instant, u16)> {
    let loops: Vec<_> = (0..tasks)
        .map(|_| {
            let (app, token, answered) = (Rc::clone(&app), token.clone(), Rc::clone(&answered));
            actix_web::rt::spawn(async move {
                let mut seen = Vec::new();
                let began = Instant::now();
                while began.elapsed() < AT_MOST {
                    let started = Instant::now();
                    let status = app.me(&token).await.status;
                    seen.push((started, status));
                    if answered.get().is_some_and(|at| started > at) {
                        break;
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for l in loops {
        all.extend(l.await.expect("loop"));
    }
    all
}

async fn no_request_started_after_a_logout_is_served_with_its_session(db: &TestDatabase) {
    let app = Rc::new(TestApp::spawn_env(db.url(), &[("SESSION_CACHE_MS", "60000")]).await);
    for round in 0..5 {
        let token = app.token(&format!("racer.{round}")).await;
        let answered_at = Rc::new(Cell::new(None));
        let load = actix_web::rt::spawn(hammer(
            Rc::clone(&app),
            token.clone(),
            8,
            Rc::clone(&answered_at),
        ));
        // Let the load get going (and the session cached) before the logout.
        actix_web::rt::time::sleep(Duration::from_millis(150)).await;
        let reply = app.logout(&token).await;
        let answered = Instant::now();
        answered_at.set(Some(answered));
        assert_eq!(reply.status, 204, "{}", reply.text);
        let seen = load.await.expect("load");
        let late: Vec<_> = seen
            .iter()
            .filter(|(started, status)| *started > answered && *status == 200)
            .collect();
        assert!(
            late.is_empty(),
            "round {round}: {} requests started after the logout's answer were served",
            late.len()
        );
        assert!(
            seen.iter()
                .any(|(started, status)| *started > answered && *status == 401),
            "round {round}: no request after the logout was refused (the load hit {AT_MOST:?})"
        );
    }
    match Rc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("the load still holds the app"),
    }
}

wxlogin_e2e::on_both_databases!(no_request_started_after_a_logout_is_served_with_its_session);
