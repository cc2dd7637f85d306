//! `wxlogin-faults`: the release server on PostgreSQL under a bounded load while, one after
//! another, PostgreSQL restarts, WeChat hangs and then recovers, and the server gets SIGTERM
//! (and is started again, as a supervisor would). Prints what every request got, phase by
//! phase, and fails unless:
//!
//! - no answer was a 5xx other than the contract's 503s (`unavailable`, `wechat_unavailable`);
//! - the server recovered by itself: ready again after PostgreSQL came back, logging in again
//!   after WeChat came back, without a restart;
//! - SIGTERM stopped it cleanly (exit status 0, within its 10 s shutdown timeout);
//! - every session that answered 200 before the faults still answers 200 after them;
//! - nothing acknowledged was lost: every login answered 200 during the faults (its token) still
//!   answers 200 after them.
//!
//! Run by `bash scripts/faults/run`, which gives it a PostgreSQL cluster of its own to restart
//! (`WXLOGIN_TEST_POSTGRES_URL`, and the command in `WXLOGIN_FAULT_PG_RESTART`). The server and
//! fake WeChat are built with the cargo profile this binary was built with (`release`, or
//! `faults` in CI) and run from the same folder.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wxlogin_bench::harness::{
    Guard, build_profile, free_addr, http, log_in_token_users, start_fake_from, step,
    wait_until_up, workspace_root,
};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET};
use wxlogin_user_store::testing::TestDatabase;

const TOKEN_SECRET: &str = "wxlogin-faults token secret, 32+ bytes long";
const PHASES: [&str; 6] = [
    "baseline",
    "PostgreSQL restarting",
    "after PostgreSQL",
    "WeChat hanging",
    "after WeChat",
    "SIGTERM and restart",
];
const WORKERS: usize = 8;
const SESSIONS: usize = 40;

/// What each request got, by phase: `200`, `401 session_revoked`, `transport: refused`, ...
type Tally = Mutex<BTreeMap<(usize, String), u64>>;

struct Load {
    stop: AtomicBool,
    phase: AtomicUsize,
    tally: Tally,
    /// The token of every login the server acknowledged (200) under load: each must outlive
    /// the faults.
    acknowledged: Mutex<Vec<String>>,
}

fn main() -> anyhow::Result<()> {
    let restart_pg = std::env::var("WXLOGIN_FAULT_PG_RESTART")
        .context("WXLOGIN_FAULT_PG_RESTART (the command that restarts PostgreSQL) is not set: run `bash scripts/faults/run`")?;
    let markdown = std::env::args().skip(1).collect::<Vec<_>>();
    let markdown = match markdown.as_slice() {
        [flag, path] if flag == "--markdown" => Some(PathBuf::from(path)),
        [] => None,
        _ => bail!("usage: wxlogin-faults [--markdown <file to append the report to>]"),
    };
    let root = workspace_root()?;
    let (bin_dir, profile) = own_profile()?;
    step(&format!(
        "building the server and fake WeChat (profile {profile})"
    ));
    build_profile(&root, &profile)?;
    let db = TestDatabase::postgres()
        .context("PostgreSQL is not reachable at WXLOGIN_TEST_POSTGRES_URL")?;
    let work = std::env::temp_dir().join(format!("wxlogin-faults-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let outcome = run(&bin_dir, &db, &work, &restart_pg, markdown.as_deref());
    if outcome.is_err() {
        // The logs go with the work folder: show their ends first, so that a failure in CI can
        // be understood from its output alone.
        for log in ["server.log", "fake.log"] {
            print_tail(&work.join(log), 40);
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

fn print_tail(path: &Path, lines: usize) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let all: Vec<&str> = text.lines().collect();
    eprintln!("--- the last {lines} lines of {} ---", path.display());
    for line in &all[all.len().saturating_sub(lines)..] {
        eprintln!("{line}");
    }
}

/// The folder this binary runs from and the cargo profile that built it: `cargo run --profile
/// faults` runs `<target>/faults/wxlogin-faults`, and the server it tests must come from the
/// same build (same profile, same target folder, whatever CARGO_TARGET_DIR says).
fn own_profile() -> anyhow::Result<(PathBuf, String)> {
    let exe = std::env::current_exe().context("locating the wxlogin-faults binary")?;
    let dir = exe
        .parent()
        .context("the wxlogin-faults binary is in no folder")?
        .to_path_buf();
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => bail!("cannot tell the cargo profile from {}", dir.display()),
    };
    Ok((dir, profile))
}

fn run(
    bin_dir: &Path,
    db: &TestDatabase,
    work: &Path,
    restart_pg: &str,
    markdown: Option<&Path>,
) -> anyhow::Result<()> {
    let (fake, fake_addr) = start_fake_from(bin_dir, work)?;
    let addr = free_addr()?;
    let start_server = || -> anyhow::Result<Child> {
        Command::new(bin_dir.join("wxlogin-server"))
            .env_clear()
            .env("WECHAT_APPID", DEV_APPID)
            .env("WECHAT_SECRET", DEV_SECRET)
            .env("WECHAT_API_BASE", format!("http://{fake_addr}"))
            .env("WECHAT_TIMEOUT_SECS", "2")
            .env("TOKEN_SECRET", TOKEN_SECRET)
            .env("DATABASE_URL", db.url())
            .env("BIND_ADDR", addr.to_string())
            .env("LOGIN_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(work.join("server.log"))?,
            )
            .spawn()
            .context("starting wxlogin-server")
    };
    let mut server = Guard(start_server()?);
    wait_until_up(addr, "/healthz")?;
    step(&format!(
        "logging in {SESSIONS} sessions that must outlive every fault"
    ));
    let tokens = Arc::new(log_in_token_users(
        addr,
        SESSIONS,
        &std::process::id().to_string(),
    )?);

    let load = Arc::new(Load {
        stop: AtomicBool::new(false),
        phase: AtomicUsize::new(0),
        tally: Mutex::default(),
        acknowledged: Mutex::default(),
    });
    step(&format!(
        "load: {WORKERS} clients, GET /api/me (4 in 5) and POST /api/login"
    ));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (load, tokens) = (Arc::clone(&load), Arc::clone(&tokens));
            std::thread::spawn(move || drive(addr, w, &load, &tokens))
        })
        .collect();
    let phase = |n: usize, secs: u64| {
        load.phase.store(n, Ordering::SeqCst);
        step(PHASES[n]);
        std::thread::sleep(Duration::from_secs(secs));
    };
    let mut problems = Vec::new();

    phase(0, 5);
    load.phase.store(1, Ordering::SeqCst);
    step(&format!("{}: {restart_pg}", PHASES[1]));
    let restarted = Command::new("sh").arg("-c").arg(restart_pg).status()?;
    if !restarted.success() {
        bail!("restarting PostgreSQL failed: {restarted}");
    }
    let ready = poll(Duration::from_secs(15), || {
        matches!(http(addr, "GET", "/readyz", None, None), Ok((200, _)))
    });
    match ready {
        Some(after) => step(&format!(
            "ready again {} ms after PostgreSQL was",
            after.as_millis()
        )),
        None => problems.push("not ready within 15 s of PostgreSQL's restart".to_owned()),
    }
    phase(2, 5);

    load.phase.store(3, Ordering::SeqCst);
    step(PHASES[3]);
    signal(fake.0.id(), "STOP")?;
    std::thread::sleep(Duration::from_secs(6));
    signal(fake.0.id(), "CONT")?;
    let recovered = poll(Duration::from_secs(15), || {
        let code = format!(r#"{{"code":"recovery.{}"}}"#, uuid_ish());
        matches!(
            http(addr, "POST", "/api/login", None, Some(&code)),
            Ok((200, _))
        )
    });
    match recovered {
        Some(after) => step(&format!(
            "logging in again {} ms after WeChat answered",
            after.as_millis()
        )),
        None => problems.push("no login within 15 s of WeChat answering again".to_owned()),
    }
    phase(4, 5);

    load.phase.store(5, Ordering::SeqCst);
    step(PHASES[5]);
    std::thread::sleep(Duration::from_secs(2));
    let term = Instant::now();
    signal(server.0.id(), "TERM")?;
    let status = wait_for_exit(&mut server.0, Duration::from_secs(15))?;
    step(&format!(
        "stopped in {} ms: {status:?}",
        term.elapsed().as_millis()
    ));
    if status != Some(0) {
        problems.push(format!("SIGTERM ended the server with {status:?}, not 0"));
    }
    server = Guard(start_server()?);
    wait_until_up(addr, "/healthz")?;
    std::thread::sleep(Duration::from_secs(3));
    load.stop.store(true, Ordering::SeqCst);
    for worker in workers {
        let _ = worker.join();
    }

    let lost: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, token)| {
            !matches!(
                http(addr, "GET", "/api/me", Some(token), None),
                Ok((200, _))
            )
        })
        .map(|(k, _)| k)
        .collect();
    if !lost.is_empty() {
        problems.push(format!(
            "{} of {SESSIONS} sessions were lost: {lost:?}",
            lost.len()
        ));
    }
    let acknowledged = std::mem::take(
        &mut *load
            .acknowledged
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    let forgotten = not_answering(addr, &acknowledged);
    step(&format!(
        "{} of {} logins acknowledged under load still answer 200",
        acknowledged.len() - forgotten.len(),
        acknowledged.len()
    ));
    if acknowledged.is_empty() {
        problems.push("no login was acknowledged under load: nothing was tested".to_owned());
    }
    if !forgotten.is_empty() {
        problems.push(format!(
            "{} of {} logins acknowledged under load were lost, e.g. {}",
            forgotten.len(),
            acknowledged.len(),
            forgotten[0]
        ));
    }
    let tally = load
        .tally
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for ((phase, outcome), count) in &tally {
        let status: u16 = outcome
            .split(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let allowed = !(500..600).contains(&status)
            || outcome == "503 unavailable"
            || outcome == "503 wechat_unavailable";
        if !allowed {
            problems.push(format!("{count} answers {outcome} in {}", PHASES[*phase]));
        }
    }
    drop(server);
    drop(fake);

    let report = report(&tally, &lost, (acknowledged.len(), &forgotten), &problems);
    println!("\n{report}");
    if let Some(path) = markdown {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{report}")?;
    }
    if !problems.is_empty() {
        bail!("{} problems: {}", problems.len(), problems.join("; "));
    }
    Ok(())
}

/// One client: requests until told to stop, each outcome counted under the current phase.
fn drive(addr: SocketAddr, worker: usize, load: &Load, tokens: &[String]) {
    let mut n = 0usize;
    while !load.stop.load(Ordering::SeqCst) {
        n += 1;
        let phase = load.phase.load(Ordering::SeqCst);
        let outcome = if n.is_multiple_of(5) {
            let body = format!(r#"{{"code":"load{worker}.{n}-{}"}}"#, std::process::id());
            http(addr, "POST", "/api/login", None, Some(&body))
        } else {
            let token = &tokens[(worker * 7 + n) % tokens.len()];
            http(addr, "GET", "/api/me", Some(token), None)
        };
        let key = match outcome {
            Ok((status, body)) => {
                let reply = serde_json::from_str::<serde_json::Value>(&body).ok();
                if status == 200
                    && let Some(token) = reply.as_ref().and_then(|v| v["token"].as_str())
                {
                    load.acknowledged
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(token.to_owned());
                }
                let kind = reply.and_then(|v| v["error"].as_str().map(str::to_owned));
                match kind {
                    Some(kind) => format!("{status} {kind}"),
                    None => status.to_string(),
                }
            }
            Err(e) => {
                let refused = e
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
                if refused {
                    // The server is down (between SIGTERM and its restart): back off a little.
                    std::thread::sleep(Duration::from_millis(20));
                    "no server (connection refused)".to_owned()
                } else {
                    "connection lost mid-request".to_owned()
                }
            }
        };
        *load
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((phase, key))
            .or_default() += 1;
    }
}

/// What each token that no longer answers 200 got instead (checked by `WORKERS` clients at once:
/// there can be thousands).
fn not_answering(addr: SocketAddr, tokens: &[String]) -> Vec<String> {
    let chunk = tokens.len().div_ceil(WORKERS).max(1);
    std::thread::scope(|scope| {
        let checkers: Vec<_> = tokens
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(
                            |token| match http(addr, "GET", "/api/me", Some(token), None) {
                                Ok((200, _)) => None,
                                Ok((status, body)) => Some(format!("{status} {body}")),
                                Err(e) => Some(format!("transport: {e}")),
                            },
                        )
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        checkers
            .into_iter()
            .flat_map(|c| {
                c.join()
                    .unwrap_or_else(|_| vec!["a checker panicked".to_owned()])
            })
            .collect()
    })
}

fn report(
    tally: &BTreeMap<(usize, String), u64>,
    lost: &[usize],
    (acknowledged, forgotten): (usize, &[String]),
    problems: &[String],
) -> String {
    let mut text = String::from("| phase | answers |\n| --- | --- |\n");
    for (n, name) in PHASES.iter().enumerate() {
        let row: Vec<String> = tally
            .iter()
            .filter(|((phase, _), _)| *phase == n)
            .map(|((_, outcome), count)| format!("{outcome}: {count}"))
            .collect();
        text.push_str(&format!("| {name} | {} |\n", row.join(", ")));
    }
    text.push_str(&format!(
        "\nSessions from before the faults that still answer 200: {} of {SESSIONS}.\n",
        SESSIONS - lost.len()
    ));
    text.push_str(&format!(
        "Logins acknowledged under load whose token still answers 200: {} of {acknowledged}.\n",
        acknowledged - forgotten.len()
    ));
    if problems.is_empty() {
        text.push_str("Every check held.\n");
    } else {
        for problem in problems {
            text.push_str(&format!("- PROBLEM: {problem}\n"));
        }
    }
    text
}

/// How long `ok` took to hold, polled every 100 ms for at most `within`.
fn poll(within: Duration, mut ok: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if ok() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

fn wait_for_exit(child: &mut Child, within: Duration) -> anyhow::Result<Option<i32>> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "the server did not stop within {} s of SIGTERM",
        within.as_secs()
    )
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
