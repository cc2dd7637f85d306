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

mod load;
mod phases;
mod report;
mod signals;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use wxlogin_bench::harness::{build_profile, step, workspace_root};
use wxlogin_user_store::testing::TestDatabase;

use crate::phases::run;

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
