//! Serving the fake: its routes, on a port of the caller's runtime or on a thread of its own.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

use crate::{FakeWeChat, business, code2session, content_security, open_data, push};

/// A fake WeChat serving on a local port.
pub struct RunningFake {
    fake: FakeWeChat,
    addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningFake {
    /// The base URL to give a WeChat client, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fake it serves, to set up (a push URL, a verdict) once it runs: clones share state.
    pub fn fake(&self) -> &FakeWeChat {
        &self.fake
    }

    /// Stops it, letting requests in flight finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    /// Serves until stopped by a signal.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// A fake WeChat serving on a thread of its own ([`FakeWeChat::start_in_background`]);
/// dropping it stops the fake.
pub struct BackgroundFake {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundFake {
    /// The base URL to give a WeChat client, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BackgroundFake {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeWeChat {
    /// Mounts the fake's routes on an actix-web app, for embedding it in another server.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            // The business APIs read their JSON bodies whatever the content type says.
            .app_data(web::PayloadConfig::default().limit(64 * 1024))
            .route(
                "/sns/jscode2session",
                web::get().to(code2session::jscode2session),
            )
            .route(
                "/cgi-bin/stable_token",
                web::post().to(business::stable_token),
            )
            .route(
                "/wxa/business/getuserphonenumber",
                web::post().to(business::phone_number),
            )
            .route("/wxa/checksession", web::get().to(business::check_session))
            .route(
                "/wxa/msg_sec_check",
                web::post().to(content_security::msg_sec_check),
            )
            .route(
                "/wxa/media_check_async",
                web::post().to(content_security::media_check_async),
            )
            .route(
                "/fake/userinfo",
                web::post().to(open_data::user_info_endpoint),
            )
            .route(
                "/fake/open-platform",
                web::post().to(code2session::open_platform_endpoint),
            )
            .route("/fake/push", web::post().to(push::push_endpoint));
    }

    /// Serves the fake on `addr` (use port 0 for any free port) until stopped.
    pub async fn start(self, addr: &str) -> std::io::Result<RunningFake> {
        let fake = self.clone();
        let server = HttpServer::new(move || App::new().configure(|cfg| fake.configure(cfg)))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(addr)?;
        let bound = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("the fake WeChat bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(RunningFake {
            fake: self,
            addr: bound,
            handle,
            task,
        })
    }

    /// Serves the fake on `addr` on a thread of its own, with its own actix runtime: for tests
    /// and examples on another runtime (a multi-threaded tokio one, say). Dropping the returned
    /// value stops it and waits for the thread.
    pub fn start_in_background(self, addr: &str) -> std::io::Result<BackgroundFake> {
        let addr = addr.to_owned();
        let (started, on_start) = std::sync::mpsc::channel();
        let (stop, on_stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-wechat".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    match self.start(&addr).await {
                        Ok(running) => {
                            let _ = started.send(Ok(running.addr()));
                            let _ = on_stop.await;
                            running.stop().await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e));
                        }
                    }
                });
            })?;
        let addr = on_start
            .recv()
            .map_err(|_| std::io::Error::other("the fake WeChat thread ended before starting"))??;
        Ok(BackgroundFake {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}
