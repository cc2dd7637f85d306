//! `wxlogin-bench`: builds the release server and fake WeChat, starts them as their own processes
//! on loopback against a fresh database holding N users, and drives three scenarios with `wrk`:
//! `GET /healthz` (the ceiling of the same run), `GET /api/me` over a rotating set of valid
//! tokens, and `POST /api/login` with fresh codes for returning and new users. For each it prints
//! requests/s, latency percentiles, errors, the server's CPU per 1,000 requests (from
//! `/proc/<pid>/stat`) and its peak RSS (VmHWM, reset before each scenario).
//!
//! `wrk` is the load generator (Debian package `wrk`); it rotates tokens and makes fresh codes
//! with the Lua scripts in `bench/lua/`.

mod measure;
mod options;
mod population;

use wxlogin_bench::harness::{
    Guard, build, free_addr, log_in_token_users, start_fake, step, wait_until_up, workspace_root,
};

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET};
use wxlogin_store::testing::TestDatabase;

use crate::measure::{ProcessSample, Scenario, WrkResult};
use crate::options::{Database, Options};

const REPORT_LUA: &str = include_str!("../lua/report.lua");
const ME_LUA: &str = include_str!("../lua/me.lua");
const LOGIN_LUA: &str = include_str!("../lua/login.lua");
const TOKEN_SECRET: &str = "wxlogin-bench token secret, 32+ bytes long";

fn main() -> anyhow::Result<()> {
    let options = Options::from_args(std::env::args().skip(1))?;
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed: `apt-get install wrk` (or run `bash bench/run`, which does)");
    }
    let root = workspace_root()?;
    step("building the release server and fake WeChat");
    build(&root)?;
    let work = std::env::temp_dir().join(format!("wxlogin-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    let db = match options.database {
        Database::Sqlite => TestDatabase::sqlite(),
        Database::Postgres => TestDatabase::postgres()
            .context("PostgreSQL is not reachable at WXLOGIN_TEST_POSTGRES_URL")?,
    };
    step(&format!(
        "populating {} with {} users",
        options.database.name(),
        options.users
    ));
    let started = Instant::now();
    population::populate(db.url(), options.users)?;
    eprintln!("   ... in {:.1} s", started.elapsed().as_secs_f64());

    let (_fake, fake_addr) = start_fake(&root, &work)?;

    let addr = free_addr()?;
    let log_path = work.join("server.log");
    let mut server_cmd = Command::new(root.join("target/release/wxlogin-server"));
    server_cmd
        .env_clear()
        .env("WECHAT_APPID", DEV_APPID)
        .env("WECHAT_SECRET", DEV_SECRET)
        .env("WECHAT_API_BASE", format!("http://{fake_addr}"))
        .env("TOKEN_SECRET", TOKEN_SECRET)
        .env("DATABASE_URL", db.url())
        .env("BIND_ADDR", addr.to_string())
        .env("LOGIN_RATE_LIMIT", "0")
        .env("RUST_LOG", &options.log_level)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path)?);
    for (name, value) in &options.server_env {
        server_cmd.env(name, value);
    }
    let server = Guard(server_cmd.spawn().context("starting wxlogin-server")?);
    let pid = server.0.id();
    wait_until_up(addr, "/healthz")?;
    step(&format!(
        "server pid {pid} on {addr}, log at {}",
        log_path.display()
    ));

    step(&format!(
        "logging in {} users for the token set",
        options.tokens
    ));
    let tokens = log_in_token_users(addr, options.tokens)?;
    let tokens_file = work.join("tokens.txt");
    std::fs::write(&tokens_file, tokens.join("\n") + "\n")?;

    let run_id = format!("{}", std::process::id());
    let mut results = Vec::new();
    for scenario in &options.scenarios {
        let (script, path, args): (&str, &str, Vec<String>) = match scenario {
            Scenario::Healthz => ("", "/healthz", vec![]),
            Scenario::Me => (ME_LUA, "/api/me", vec![tokens_file.display().to_string()]),
            Scenario::Login => (
                LOGIN_LUA,
                "/api/login",
                vec![options.tokens.to_string(), run_id.clone()],
            ),
        };
        let script_path = work.join(format!("{}.lua", scenario.name()));
        std::fs::write(&script_path, format!("{script}\n{REPORT_LUA}"))?;
        step(&format!(
            "{}: {} s, {} threads, {} connections",
            scenario.name(),
            options.duration_secs,
            options.threads,
            options.connections
        ));
        measure::reset_peak_rss(pid);
        let before = ProcessSample::read(pid)?;
        let wrk = run_wrk(&options, addr, path, &script_path, &args)?;
        let after = ProcessSample::read(pid)?;
        results.push(measure::Row::new(*scenario, &wrk, &before, &after));
    }

    let table = measure::table(&options, &results);
    println!("\n{table}");
    if let Some(path) = &options.markdown {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "{table}")?;
        step(&format!("appended to {}", path.display()));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn run_wrk(
    options: &Options,
    addr: SocketAddr,
    path: &str,
    script: &Path,
    args: &[String],
) -> anyhow::Result<WrkResult> {
    let output = Command::new("wrk")
        .arg(format!("-t{}", options.threads))
        .arg(format!("-c{}", options.connections))
        .arg(format!("-d{}s", options.duration_secs))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}{path}"))
        .arg("--")
        .args(args)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    WrkResult::parse(&stdout)
}
