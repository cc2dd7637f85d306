//! wxlogin's server instances: started as processes of their own on the run's database and
//! fake WeChat, each with its metrics on a listener of its own, killed when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wxlogin_bench::harness::{Guard, free_addr, http, step};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET};

use crate::measure::Instance;
use crate::options::Options;

pub const TOKEN_SECRET: &str = "wxlogin-bench token secret, 32+ bytes long";

/// `SESSION_CACHE_MB` when it is not set (the server's default).
const SERVER_DEFAULT_CACHE_MIB: u64 = 32;

/// What a session with its user weighs in the cache, about (`SESSION_CACHE_MB`'s doc).
const SESSION_BYTES: f64 = 1.2 * 1024.0;

/// The cache that holds about a tenth of `working_set` sessions, MiB (at least 1).
pub fn tenth_of(working_set: usize) -> u64 {
    ((working_set as f64 * SESSION_BYTES / 10.0 / (1024.0 * 1024.0)).round() as u64).max(1)
}

/// How to start the instances.
pub struct Launcher<'a> {
    /// The folder of the release binaries.
    pub bin: &'a Path,
    pub work: &'a Path,
    pub database_url: &'a str,
    pub fake: SocketAddr,
    pub options: &'a Options,
}

/// Running instances.
pub struct Servers {
    _processes: Vec<Guard>,
    pub addrs: Vec<SocketAddr>,
    pub instances: Vec<Instance>,
    /// The session cache each was given, MiB.
    pub cache_mib: u64,
}

impl Launcher<'_> {
    /// Starts `--instances` servers, with `SESSION_CACHE_MB=cache_mib` unless `--env` sets
    /// it. `tag` names their logs.
    pub fn start(&self, cache_mib: Option<u64>, tag: &str) -> anyhow::Result<Servers> {
        self.start_with(cache_mib, tag, &[])
    }

    /// [`Self::start`] with `env` on top of the run's (`--env` still wins).
    pub fn start_with(
        &self,
        cache_mib: Option<u64>,
        tag: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Servers> {
        let options = self.options;
        let configured = options
            .server_env
            .iter()
            .rev()
            .find(|(name, _)| name == "SESSION_CACHE_MB")
            .map(|(_, v)| v.parse::<u64>())
            .transpose()
            .context("--env SESSION_CACHE_MB: not a number")?;
        let mut servers = Servers {
            _processes: Vec::new(),
            addrs: Vec::new(),
            instances: Vec::new(),
            cache_mib: configured.or(cache_mib).unwrap_or(SERVER_DEFAULT_CACHE_MIB),
        };
        for k in 0..options.instances {
            let addr = free_addr()?;
            let metrics = free_addr()?;
            let log_path = self.work.join(format!("server{tag}-{k}.log"));
            let mut command = Command::new(self.bin.join("wxlogin-server"));
            command
                .env_clear()
                .env("WECHAT_APPID", DEV_APPID)
                .env("WECHAT_SECRET", DEV_SECRET)
                .env("WECHAT_API_BASE", format!("http://{}", self.fake))
                .env("TOKEN_SECRET", TOKEN_SECRET)
                .env("DATABASE_URL", self.database_url)
                .env("BIND_ADDR", addr.to_string())
                .env("METRICS_BIND_ADDR", metrics.to_string())
                .env("LOGIN_RATE_LIMIT", "0")
                .env("RUST_LOG", &options.log_level)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log_path)?);
            if let Some(mib) = cache_mib {
                command.env("SESSION_CACHE_MB", mib.to_string());
            }
            for (name, value) in env {
                command.env(name, value);
            }
            for (name, value) in &options.server_env {
                command.env(name, value);
            }
            let mut server = Guard(command.spawn().context("starting wxlogin-server")?);
            wait_for(&mut server, addr, "/healthz")?;
            wait_for(&mut server, metrics, "/metrics")?;
            step(&format!(
                "server pid {} on {addr} (metrics on {metrics}, session cache {} MiB), log at {}",
                server.0.id(),
                servers.cache_mib,
                log_path.display()
            ));
            servers.instances.push(Instance {
                pids: vec![server.0.id()],
                metrics: Some(metrics),
            });
            servers.addrs.push(addr);
            servers._processes.push(server);
        }
        Ok(servers)
    }
}

/// Waits (at most 30 s) until `path` on `addr` answers, or the server ends (a configuration
/// it refuses: its log says why).
fn wait_for(server: &mut Guard, addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http(addr, "GET", path, None, None).is_ok() {
            return Ok(());
        }
        if let Some(status) = server.0.try_wait()? {
            bail!("wxlogin-server ended before it answered on {addr} ({status})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing answered on {addr}{path} within 30 s")
}
