//! For tests (feature `test-support`), here and in other crates: a real S3-compatible server, moto's (`moto_server`, Python), started on a
//! free port and killed when the last test holding it lets go, even a failing one.
//!
//! Without `moto_server` on the PATH the tests are skipped with a loud message, unless
//! `CI=true`: then they fail (`.ci/run` installs it).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::{S3Secret, S3Settings, S3Timeouts};

/// How long moto may take to answer after it starts (a few seconds of Python imports, more
/// on a busy 2-core machine).
const STARTUP: Duration = Duration::from_secs(60);

/// The server the tests running now share. Only a `Weak`: a static is never dropped, so a
/// strong reference here would leave moto running after the tests.
static SHARED: Mutex<Weak<MotoServer>> = Mutex::new(Weak::new());

/// A running `moto_server`, killed on drop.
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// The server of the tests running now, started if there is none; `None` (after a loud
    /// message) when moto is not installed and this is not CI.
    pub fn shared() -> Option<Arc<Self>> {
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(server) = shared.upgrade() {
            return Some(server);
        }
        let server = Arc::new(Self::start()?);
        *shared = Arc::downgrade(&server);
        Some(server)
    }

    fn start() -> Option<Self> {
        // The port is free when we look, but another process may take it before moto binds
        // it: then moto exits, and we try another.
        for _ in 0..3 {
            let port = free_port();
            let child = match Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                // moto logs every request; a pipe nobody reads would fill and stall it.
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "moto_server is not installed, and CI does not skip the S3 tests \
                         (python3 -m pip install 'moto[server]==5.2.1')"
                    );
                    eprintln!(
                        "\n\n!!!!! SKIPPED: moto_server is not installed, so the S3 media \
                         store is not tested against a real S3 server. Install it with \
                         python3 -m pip install 'moto[server]==5.2.1' !!!!!\n"
                    );
                    return None;
                }
                Err(error) => panic!("moto_server could not be started: {error}"),
            };
            // From here on, a panic drops the server, which kills it.
            let mut server = Self { child, port };
            if server.wait_until_it_answers() {
                return Some(server);
            }
        }
        panic!("moto_server exited on start three times, on three free ports");
    }

    /// True once moto answers HTTP, false if it exited first.
    fn wait_until_it_answers(&mut self) -> bool {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.request("GET", "/", &[]).is_ok() {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {} within {STARTUP:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new, empty bucket (S3 has no other way to make one than asking the server).
    pub fn bucket(&self, name: &str) -> String {
        let (status, _) = self
            .request("PUT", &format!("/{name}"), &[])
            .expect("moto answers");
        assert_eq!(status, 200, "creating bucket {name}");
        name.to_owned()
    }

    /// Settings for a store on `bucket` of this server, under `prefix`.
    pub fn settings(&self, bucket: &str, prefix: &str) -> S3Settings {
        S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: Some(self.endpoint()),
            region: "us-east-1".to_owned(),
            access_key_id: "wxlogin-test".to_owned(),
            secret_access_key: S3Secret::new("wxlogin-test-secret"),
            allow_http: true,
            timeouts: S3Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(10),
                retries: 1,
            },
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The headers of the object at `key` (lower-case names), as a CDN in front of the
    /// bucket would see them; `None` when there is no such object.
    pub fn head(&self, bucket: &str, key: &str) -> Option<Vec<(String, String)>> {
        // moto answers anonymous reads of a private object with 403; it does not check
        // signatures, so any SigV4-looking Authorization will do.
        let authorization = "Authorization: AWS4-HMAC-SHA256 \
             Credential=wxlogin-test/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature=0";
        let (status, headers) = self
            .request("HEAD", &format!("/{bucket}/{key}"), &[authorization])
            .expect("moto answers");
        match status {
            200 => Some(headers),
            404 => None,
            other => panic!("HEAD /{bucket}/{key}: {other}"),
        }
    }

    /// One HTTP/1.1 request over a plain socket: the status and the headers of the answer.
    fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[&str],
    ) -> std::io::Result<(u16, Vec<(String, String)>)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n",
            self.port
        );
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let answer = String::from_utf8_lossy(&answer);
        let head = answer.split("\r\n\r\n").next().unwrap_or_default();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Ok((status, headers))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGKILL: moto may take seconds to stop on SIGTERM, and keeps nothing worth saving.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
