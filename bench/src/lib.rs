//! What the load benchmark (`wxlogin-bench`) and the fault run (`wxlogin-faults`) share:
//! building the release binaries, starting processes that never outlive the run, and plain
//! HTTP/1.1 requests that need no client library.

pub mod harness {
    //! Processes, addresses and requests.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    use anyhow::{Context, bail};

    /// A child process killed when dropped, so an error never leaves servers behind.
    pub struct Guard(pub Child);

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts the release fake WeChat on a free port, logging to `work/fake.log`, and waits
    /// until it answers.
    pub fn start_fake(root: &Path, work: &Path) -> anyhow::Result<(Guard, SocketAddr)> {
        start_fake_from(&root.join("target/release"), work)
    }

    /// [`start_fake`] with the fake WeChat binary in `bin_dir` (another profile's, or another
    /// target folder's).
    pub fn start_fake_from(bin_dir: &Path, work: &Path) -> anyhow::Result<(Guard, SocketAddr)> {
        let addr = free_addr()?;
        let fake = Guard(
            Command::new(bin_dir.join("wxlogin-fake-wechat"))
                .env("FAKE_WECHAT_ADDR", addr.to_string())
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(work.join("fake.log"))?)
                .spawn()
                .context("starting the fake WeChat")?,
        );
        wait_until_up(addr, "/nothing")?;
        Ok((fake, addr))
    }

    /// Prints a step of the run on stderr.
    pub fn step(what: &str) {
        eprintln!("==> {what}");
    }

    /// The workspace this crate is in.
    pub fn workspace_root() -> anyhow::Result<PathBuf> {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        manifest
            .parent()
            .map(Path::to_path_buf)
            .context("the bench crate has no parent folder")
    }

    /// Builds the release server and fake WeChat.
    pub fn build(root: &Path) -> anyhow::Result<()> {
        build_profile(root, "release")
    }

    /// Builds the server and fake WeChat with a cargo profile of the workspace (`release`, or
    /// `faults`: the same code and optimisation, built faster).
    pub fn build_profile(root: &Path, profile: &str) -> anyhow::Result<()> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root)
            .args([
                "build",
                "--profile",
                profile,
                "--locked",
                "-p",
                "wxlogin-server",
                "-p",
                "wxlogin-fake-wechat",
            ])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --profile {profile} failed");
        }
        Ok(())
    }

    /// A loopback address with a port free right now.
    pub fn free_addr() -> anyhow::Result<SocketAddr> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
    }

    /// Waits (at most 30 s) until `path` on `addr` answers.
    pub fn wait_until_up(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http(addr, "GET", path, None, None).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("nothing answered on {addr} within 30 s")
    }

    /// One HTTP/1.1 request on its own connection; returns the status and body.
    pub fn http(
        addr: SocketAddr,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = body.unwrap_or("");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(token) = auth {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes())?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        let status = reply
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no HTTP status in the reply")?;
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Logs in users `tok0` .. `tok<n-1>` through the server (so they exist as WeChat users of the
    /// fake) and returns a valid token for each. `run` makes the codes this call's own: the fake
    /// refuses a code it has seen. Sixteen keep-alive connections log in at once (10^5 users
    /// take seconds, not minutes); the tokens come back in the users' order.
    pub fn log_in_token_users(
        addr: SocketAddr,
        n: usize,
        run: &str,
    ) -> anyhow::Result<Vec<String>> {
        log_in_users_for(addr, "tok", n, run, "token")
    }

    /// [`log_in_token_users`] for users `<name>0` .. `<name><n-1>`: WeChat users of their own,
    /// whom nothing done to the token set's users touches.
    pub fn log_in_named_users(
        addr: SocketAddr,
        name: &str,
        n: usize,
        run: &str,
    ) -> anyhow::Result<Vec<String>> {
        log_in_users_for(addr, name, n, run, "token")
    }

    /// [`log_in_token_users`], answering each user's refresh token instead (for the refresh
    /// scenario; a system without refresh tokens fails it).
    pub fn log_in_refresh_users(
        addr: SocketAddr,
        n: usize,
        run: &str,
    ) -> anyhow::Result<Vec<String>> {
        log_in_users_for(addr, "tok", n, run, "refreshToken")
    }

    fn log_in_users_for(
        addr: SocketAddr,
        name: &str,
        n: usize,
        run: &str,
        field: &'static str,
    ) -> anyhow::Result<Vec<String>> {
        const CONNECTIONS: usize = 16;
        let connections = CONNECTIONS.min(n.max(1));
        let parts = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..connections)
                .map(|first| {
                    scope.spawn(move || -> anyhow::Result<Vec<String>> {
                        let mut client = KeepAlive::connect(addr)?;
                        (first..n)
                            .step_by(connections)
                            .map(|k| {
                                let body = format!(r#"{{"code":"{name}{k}.setup-{run}"}}"#);
                                let (status, reply) = client.post("/api/login", &body)?;
                                if status != 200 {
                                    bail!("login of {name}{k} answered {status}: {reply}");
                                }
                                let reply: serde_json::Value = serde_json::from_str(&reply)?;
                                reply[field]
                                    .as_str()
                                    .map(str::to_owned)
                                    .with_context(|| format!("no {field} in the login answer"))
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| bail!("a login thread panicked"))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
        Ok((0..n)
            .filter_map(|k| parts[k % connections].next())
            .collect())
    }

    /// One keep-alive HTTP/1.1 connection, for answers that carry a `Content-Length`.
    pub struct KeepAlive {
        addr: SocketAddr,
        reader: BufReader<TcpStream>,
    }

    impl KeepAlive {
        /// Connects to `addr`.
        pub fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
            let stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.set_nodelay(true)?;
            Ok(Self {
                addr,
                reader: BufReader::new(stream),
            })
        }

        /// POSTs the JSON `body` to `path`; the status and body of the answer.
        pub fn post(&mut self, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
            let request = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                self.addr,
                body.len()
            );
            self.reader.get_mut().write_all(request.as_bytes())?;
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("no HTTP status in {line:?}"))?;
            let mut length = None;
            loop {
                line.clear();
                if self.reader.read_line(&mut line)? == 0 {
                    bail!("the connection closed in the headers");
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = Some(value.trim().parse::<usize>()?);
                }
            }
            let mut body = vec![0; length.context("an answer without Content-Length")?];
            self.reader.read_exact(&mut body)?;
            Ok((status, String::from_utf8(body)?))
        }
    }
}
