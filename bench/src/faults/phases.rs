//! The run: the sessions logged in and the load started, then each fault in turn, the
//! server's recovery from it polled for, and what must have survived checked at the end.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wxlogin_bench::harness::{
    Guard, free_addr, http, log_in_token_users, start_fake_from, step, wait_until_up,
};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET};
use wxlogin_user_store::testing::TestDatabase;

use crate::load::{Load, drive, not_answering};
use crate::report::report;
use crate::signals::{signal, wait_for_exit};
use crate::{PHASES, SESSIONS, TOKEN_SECRET, WORKERS};

pub fn run(
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

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
