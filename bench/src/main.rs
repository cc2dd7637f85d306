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
mod peer;
mod population;

use wxlogin_bench::harness::{
    Guard, build, free_addr, log_in_token_users, step, wait_until_up, workspace_root,
};

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET};
use wxlogin_user_store::testing::TestDatabase;

use crate::measure::{Instance, Row, Sample, Scenario, WrkResult};
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

    let bin = std::env::current_exe()?
        .parent()
        .context("the bench binary is in no folder")?
        .to_path_buf();
    let (_fake, fake_addr) = wxlogin_bench::harness::start_fake_from(&bin, &work)?;
    let run_id = std::process::id().to_string();
    let database_measured = options.database == Database::Postgres;

    let mut servers = Vec::new();
    let mut instances = Vec::new();
    let mut addrs = Vec::new();
    for k in 0..options.instances {
        let addr = free_addr()?;
        let log_path = work.join(format!("server-{k}.log"));
        let mut server_cmd = Command::new(bin.join("wxlogin-server"));
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
        wait_until_up(addr, "/healthz")?;
        step(&format!(
            "server pid {} on {addr}, log at {}",
            server.0.id(),
            log_path.display()
        ));
        instances.push(Instance {
            pids: vec![server.0.id()],
        });
        addrs.push(addr);
        servers.push(server);
    }

    let title = if options.instances > 1 {
        format!(
            "{} · {} instances",
            options.database.name(),
            options.instances
        )
    } else {
        options.database.name().to_owned()
    };
    let ours = run_scenarios(
        &options,
        &work,
        &addrs,
        &instances,
        database_measured,
        &run_id,
    )?;
    drop(servers);
    let mut report = measure::table(&title, &options, &ours);

    if let Some(peer) = options.peer {
        let peer_db = TestDatabase::postgres().context(
            "the peer runs on PostgreSQL, which is not reachable at WXLOGIN_TEST_POSTGRES_URL",
        )?;
        step(&format!(
            "populating the {} peer's PostgreSQL with {} users",
            peer.name(),
            options.users
        ));
        peer::populate(peer_db.url(), options.users)?;
        let running = peer::start(&root, &work, peer, peer_db.url(), fake_addr, TOKEN_SECRET)?;
        step(&format!(
            "{} peer (pids {:?}) on {}",
            peer.name(),
            running.instance.pids,
            running.addr
        ));
        let theirs = run_scenarios(
            &options,
            &work,
            &[running.addr],
            std::slice::from_ref(&running.instance),
            true,
            &format!("{run_id}p"),
        )?;
        drop(running);
        report.push('\n');
        report.push_str(&measure::table(
            &format!("{} peer · PostgreSQL", peer.name()),
            &options,
            &theirs,
        ));
        report.push('\n');
        report.push_str(&measure::ratios(peer.name(), &ours, &theirs));
    }

    println!("\n{report}");
    if let Some(path) = &options.markdown {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "{report}")?;
        step(&format!("appended to {}", path.display()));
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Logs in the token set through the first of `addrs`, then runs every scenario with one wrk
/// per address at once, the threads and connections shared among them.
fn run_scenarios(
    options: &Options,
    work: &Path,
    addrs: &[SocketAddr],
    instances: &[Instance],
    database_measured: bool,
    run_id: &str,
) -> anyhow::Result<Vec<Row>> {
    step(&format!(
        "logging in {} users for the token set",
        options.tokens
    ));
    let tokens = log_in_token_users(addrs[0], options.tokens, run_id)?;
    let tokens_file = work.join(format!("tokens-{run_id}.txt"));
    std::fs::write(&tokens_file, tokens.join("\n") + "\n")?;

    let mut rows = Vec::new();
    for scenario in &options.scenarios {
        let script = match scenario {
            Scenario::Healthz => "",
            Scenario::Me => ME_LUA,
            Scenario::Login => LOGIN_LUA,
        };
        let script_path = work.join(format!("{}.lua", scenario.name()));
        std::fs::write(&script_path, format!("{script}\n{REPORT_LUA}"))?;
        step(&format!(
            "{}: {} s, {} threads, {} connections, {} target(s)",
            scenario.name(),
            options.duration_secs,
            options.threads,
            options.connections,
            addrs.len()
        ));
        measure::reset_peak_rss(instances);
        let before = Sample::read(instances)?;
        let share = u32::try_from(addrs.len()).unwrap_or(1);
        let runs = addrs
            .iter()
            .enumerate()
            .map(|(k, addr)| {
                let (path, args) = match scenario {
                    Scenario::Healthz => ("/healthz", vec![]),
                    Scenario::Me => ("/api/me", vec![tokens_file.display().to_string()]),
                    // Each wrk its own codes: the same code twice is a replay, not a login.
                    Scenario::Login => (
                        "/api/login",
                        vec![options.tokens.to_string(), format!("{run_id}i{k}")],
                    ),
                };
                spawn_wrk(options, share, *addr, path, &script_path, &args)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let results = runs
            .into_iter()
            .map(finish_wrk)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let after = Sample::read(instances)?;
        rows.push(Row::new(
            *scenario,
            &measure::combine(&results),
            &before,
            &after,
            database_measured,
        ));
    }
    Ok(rows)
}

/// Starts wrk against one target with its share (`1/share`) of the threads and connections.
fn spawn_wrk(
    options: &Options,
    share: u32,
    addr: SocketAddr,
    path: &str,
    script: &Path,
    args: &[String],
) -> anyhow::Result<std::process::Child> {
    Command::new("wrk")
        .arg(format!("-t{}", (options.threads / share).max(1)))
        .arg(format!("-c{}", (options.connections / share).max(1)))
        .arg(format!("-d{}s", options.duration_secs))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}{path}"))
        .arg("--")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running wrk")
}

fn finish_wrk(wrk: std::process::Child) -> anyhow::Result<WrkResult> {
    let output = wrk.wait_with_output().context("waiting for wrk")?;
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
