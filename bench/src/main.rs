//! `wxlogin-bench`: builds the release server and fake WeChat, starts them as their own processes
//! on loopback against a fresh database holding N users, and drives scenarios with `wrk`:
//! `GET /healthz` (the ceiling of the same run), `GET /api/me` over a rotating set of valid
//! tokens, `POST /api/login` with fresh codes for returning and new users, a burst of sign-ups
//! followed by reads, reads and logins mixed 9 to 1, reads over a working set ten times the
//! session cache with skewed popularity, logins on a week's sessions table, and (asked for)
//! avatar uploads of a phone photo and reads of stored avatars. For each it
//! prints requests/s, latency percentiles, errors, the server's CPU per 1,000 requests (from
//! `/proc/<pid>/stat`), its peak RSS (VmHWM, reset before each scenario) and its session cache
//! (hit rate and size, from its `/metrics`), then every wrk's own figures. `--peer fastify`
//! runs the same scenarios against the peer stack, for the ratios.
//!
//! `wrk` is the load generator (Debian package `wrk`); it rotates tokens and makes fresh codes
//! with the Lua scripts in `bench/lua/`.

mod baseline;
mod measure;
mod options;
mod peer;
mod photo;
mod population;
mod scenarios;
mod servers;
mod skewed;
mod tables;
mod upload;
mod wrk;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use wxlogin_bench::harness::{build, start_fake_from, step, workspace_root};
use wxlogin_user_store::testing::TestDatabase;

use crate::options::{Database, Options};
use crate::scenarios::{AvatarFiles, Bench, Outcome, Scenario, System, Tables, avatar_groups};
use crate::servers::{Launcher, TOKEN_SECRET};

fn main() -> anyhow::Result<()> {
    let options = Options::from_args(std::env::args().skip(1))?;
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed: `apt-get install wrk` (or run `bash bench/run`, which does)");
    }
    let root = workspace_root()?;
    step("building the release server and fake WeChat");
    build(&root)?;
    // The binaries cargo just built are next to this one (whatever CARGO_TARGET_DIR says).
    let bin = std::env::current_exe()?
        .parent()
        .context("the bench binary is in no folder")?
        .to_path_buf();
    let work = WorkDir::create()?;
    let outcome = run(&options, &bin, &work.0);
    if outcome.is_err() {
        work.show_logs();
    }
    outcome
}

/// The run's folder (scripts, token files, logs), removed when dropped, failed run or not.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("wxlogin-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    /// The last lines of every log, for a run that failed.
    fn show_logs(&self) {
        let Ok(entries) = std::fs::read_dir(&self.0) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                eprintln!("--- the last lines of {} ---", path.display());
                for line in &lines[lines.len().saturating_sub(15)..] {
                    eprintln!("{line}");
                }
            }
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(options: &Options, bin: &Path, work: &Path) -> anyhow::Result<()> {
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

    let (_fake, fake_addr) = start_fake_from(bin, work)?;
    let run_id = std::process::id().to_string();
    let bench = Bench { options, work };
    let skewed = options.scenarios.contains(&Scenario::Skewed);
    let others: Vec<Scenario> = options
        .scenarios
        .iter()
        .copied()
        .filter(|s| *s != Scenario::Skewed && !s.is_avatar() && !s.has_own_servers())
        .collect();
    let avatars = avatar_groups(&options.scenarios);

    let launcher = Launcher {
        bin,
        work,
        database_url: db.url(),
        fake: fake_addr,
        options,
    };
    // The previous release first: this release then runs on the larger tables.
    let previous = match &options.baseline {
        Some(dir) => Some(baseline::run_previous(
            &bench, &launcher, dir, &others, &run_id,
        )?),
        None => None,
    };
    let mut ours = Outcome::default();
    let mut audit_note = None;
    if !others.is_empty() {
        let servers = launcher.start(None, "")?;
        let system = System {
            name: "wxlogin",
            addrs: servers.addrs.clone(),
            instances: servers.instances.clone(),
            database_measured: options.database == Database::Postgres,
            run_id: run_id.clone(),
            cache_mib: Some(servers.cache_mib),
            tables: Tables::Sessions(db.url()),
        };
        bench.run(&system, &others, &mut ours)?;
        audit_note = Some(baseline::audit_note(db.url())?);
    }
    if others.contains(&Scenario::Me) {
        // The same reads with HS256 tokens, in the same run: what an asymmetric signature
        // costs `/api/me` (its verified-token cache should make it nothing).
        let servers = launcher.start_with(None, "-hs256", &[("TOKEN_ALG", "HS256")])?;
        let system = System {
            name: "wxlogin (TOKEN_ALG=HS256)",
            addrs: servers.addrs.clone(),
            instances: servers.instances.clone(),
            database_measured: options.database == Database::Postgres,
            run_id: format!("{run_id}h"),
            cache_mib: Some(servers.cache_mib),
            tables: Tables::Sessions(db.url()),
        };
        bench.run_reference(&system, &mut ours)?;
    }
    if !avatars.is_empty() {
        let files = AvatarFiles::create(work)?;
        for (k, group) in avatars.iter().enumerate() {
            // Servers of the group's own: a peak of memory is then the group's, not what a
            // scenario before it left in the allocator.
            let servers = launcher.start(None, &format!("-avatars{k}"))?;
            let system = System {
                name: "wxlogin",
                addrs: servers.addrs.clone(),
                instances: servers.instances.clone(),
                database_measured: options.database == Database::Postgres,
                run_id: format!("{run_id}a{k}"),
                cache_mib: Some(servers.cache_mib),
                tables: Tables::Sessions(db.url()),
            };
            bench.run_avatars(&system, group, &files, &mut ours)?;
        }
    }
    // Sections of their own under the runs table (`limits` also adds rows to the table).
    let mut sections = String::new();
    let measured = options.database == Database::Postgres;
    if options.scenarios.contains(&Scenario::Limits) {
        sections.push_str(&bench.run_limits(&launcher, &run_id, measured, &mut ours)?);
    }
    if options.scenarios.contains(&Scenario::Webhooks) {
        sections.push_str(&bench.run_webhooks(&launcher, measured)?);
    }
    if skewed {
        // Fresh servers with a cache a tenth of the working set (the others stop first: a
        // SQLite file is served by one process).
        let servers = launcher.start(Some(servers::tenth_of(options.working_set)), "-skewed")?;
        let system = System {
            name: "wxlogin",
            addrs: servers.addrs.clone(),
            instances: servers.instances.clone(),
            database_measured: options.database == Database::Postgres,
            run_id: format!("{run_id}w"),
            cache_mib: Some(servers.cache_mib),
            tables: Tables::Sessions(db.url()),
        };
        bench.run_skewed(&system, &mut ours)?;
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
    let mut report = tables::table(&title, options, &ours.rows);
    report.push('\n');
    report.push_str(&tables::own_ratios(&ours.rows));
    if let Some(note) = &audit_note {
        report.push_str(&format!("- {note}\n"));
    }
    report.push('\n');
    report.push_str(&tables::runs_table(&ours.runs));
    report.push_str(&sections);
    if let (Some(previous), Some(dir)) = (&previous, &options.baseline) {
        report.push('\n');
        report.push_str(&tables::table(
            &format!(
                "previous release ({}) · {}",
                dir.display(),
                options.database.name()
            ),
            options,
            &previous.rows,
        ));
        report.push('\n');
        report.push_str(&baseline::ratios(&ours.rows, &previous.rows));
    }

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
        let root = wxlogin_bench::harness::workspace_root()?;
        let running = peer::start(&root, work, peer, peer_db.url(), fake_addr, TOKEN_SECRET)?;
        step(&format!(
            "{} peer (pids {:?}) on {}",
            peer.name(),
            running.instance.pids,
            running.addr
        ));
        let system = System {
            name: peer.name(),
            addrs: vec![running.addr],
            instances: vec![running.instance.clone()],
            database_measured: true,
            run_id: format!("{run_id}p"),
            cache_mib: None,
            tables: Tables::PeerUsers(peer_db.url()),
        };
        let mut theirs = Outcome::default();
        if !avatars.is_empty() {
            step(&format!(
                "{}: avatar scenarios: no avatars, skipped",
                peer.name()
            ));
        }
        if !others.is_empty() {
            bench.run(&system, &others, &mut theirs)?;
        }
        if skewed {
            let system = System {
                run_id: format!("{run_id}pw"),
                ..system
            };
            bench.run_skewed(&system, &mut theirs)?;
        }
        drop(running);
        report.push('\n');
        report.push_str(&tables::table(
            &format!("{} peer · PostgreSQL", peer.name()),
            options,
            &theirs.rows,
        ));
        report.push('\n');
        report.push_str(&tables::runs_table(&theirs.runs));
        report.push('\n');
        report.push_str(&tables::ratios(peer.name(), &ours.rows, &theirs.rows));
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
    Ok(())
}
