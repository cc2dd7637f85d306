//! The scenarios, and how each is driven with wrk against one system under test: wxlogin's
//! instances, or the peer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use wxlogin_bench::harness::{log_in_token_users, step};

use crate::measure::{self, Instance, Row, Sample};
use crate::options::Options;
use crate::skewed::{self, Lru, Replay};
use crate::wrk::{self, Histogram, Run, Spec};

const REPORT_LUA: &str = include_str!("../lua/report.lua");
const ME_LUA: &str = include_str!("../lua/me.lua");
const LOGIN_LUA: &str = include_str!("../lua/login.lua");
const MIX_LUA: &str = include_str!("../lua/mix.lua");
const SKEWED_LUA: &str = include_str!("../lua/skewed.lua");

/// A load scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `GET /healthz`: the server's own ceiling in this run.
    Healthz,
    /// `GET /api/me` with rotating tokens.
    Me,
    /// `POST /api/login` with fresh codes.
    Login,
    /// A burst of new users' logins, then `GET /api/me` over the token set.
    BurstMe,
    /// `GET /api/me` and logins at once, 9 to 1, in one wrk.
    Mix,
    /// `GET /api/me` over a working set ten times the cache, a few tokens asked for most.
    Skewed,
    /// The login scenario, with the check that every user of the population has a live
    /// session (a week's table at 10^6 users).
    Week,
}

impl Scenario {
    /// What runs when `--scenarios` is not given.
    pub const DEFAULT: [Self; 6] = [
        Self::Healthz,
        Self::Me,
        Self::Login,
        Self::BurstMe,
        Self::Mix,
        Self::Skewed,
    ];
    /// `--scenarios all`.
    pub const ALL: [Self; 7] = [
        Self::Healthz,
        Self::Me,
        Self::Login,
        Self::BurstMe,
        Self::Mix,
        Self::Week,
        Self::Skewed,
    ];

    pub fn parse(name: &str) -> anyhow::Result<Self> {
        match name.trim() {
            "healthz" => Ok(Self::Healthz),
            "me" => Ok(Self::Me),
            "login" => Ok(Self::Login),
            "burst-me" => Ok(Self::BurstMe),
            "mix" => Ok(Self::Mix),
            "skewed" => Ok(Self::Skewed),
            "week" => Ok(Self::Week),
            other => bail!(
                "unknown scenario {other}: use healthz, me, login, burst-me, mix, skewed, week \
                 (or all)"
            ),
        }
    }
}

/// What the `week` scenario checks in the system's database.
pub enum Tables<'a> {
    /// wxlogin's `sessions`, in the database at this URL.
    Sessions(&'a str),
    /// The peer's `peer_users` (it keeps no sessions).
    PeerUsers(&'a str),
}

/// A system under test.
pub struct System<'a> {
    /// `wxlogin` or the peer's name.
    pub name: &'a str,
    pub addrs: Vec<SocketAddr>,
    pub instances: Vec<Instance>,
    /// Whether the database runs in processes of its own (PostgreSQL), its CPU measured apart.
    pub database_measured: bool,
    /// Makes this system's login codes its own: the fake refuses a code it has seen.
    pub run_id: String,
    /// The session cache each instance was given, MiB; `None` for the peer.
    pub cache_mib: Option<u64>,
    pub tables: Tables<'a>,
}

/// Everything measured of one system: the rows of its table, and every wrk that ran.
#[derive(Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub runs: Vec<Run>,
}

/// Runs scenarios with the run's options, writing scripts and token files in `work`.
pub struct Bench<'a> {
    pub options: &'a Options,
    pub work: &'a Path,
}

impl Bench<'_> {
    /// Logs in the token set through the first instance, then runs every scenario but
    /// `skewed` (see [`Bench::run_skewed`]), in order.
    pub fn run(
        &self,
        system: &System<'_>,
        scenarios: &[Scenario],
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let options = self.options;
        step(&format!(
            "{}: logging in {} users for the token set",
            system.name, options.tokens
        ));
        let tokens = log_in_token_users(system.addrs[0], options.tokens, &system.run_id)?;
        let tokens_file = self.work.join(format!("tokens-{}.txt", system.run_id));
        std::fs::write(&tokens_file, tokens.join("\n") + "\n")?;
        let tokens_arg = tokens_file.display().to_string();
        let returning = options.tokens.to_string();
        let run = &system.run_id;
        let secs = options.duration_secs;

        for scenario in scenarios {
            match scenario {
                Scenario::Healthz => {
                    let script = self.script("healthz", "")?;
                    self.measured(
                        system,
                        out,
                        "healthz",
                        "GET /healthz".into(),
                        "/healthz",
                        &script,
                        secs,
                        |_| vec![],
                    )?;
                }
                Scenario::Me => {
                    let script = self.script("me", ME_LUA)?;
                    self.measured(
                        system,
                        out,
                        "me",
                        "GET /api/me".into(),
                        "/api/me",
                        &script,
                        secs,
                        |_| vec![tokens_arg.clone()],
                    )?;
                }
                Scenario::Login | Scenario::Week => {
                    let script = self.script("login", LOGIN_LUA)?;
                    let (key, label, tag) = if *scenario == Scenario::Login {
                        ("login", "POST /api/login".to_owned(), "i")
                    } else {
                        (
                            "week",
                            format!(
                                "POST /api/login, week: {} users with a live session",
                                options.users
                            ),
                            "w",
                        )
                    };
                    // Each wrk its own codes: the same code twice is a replay, not a login.
                    self.measured(system, out, key, label, "/api/login", &script, secs, |k| {
                        vec![returning.clone(), format!("{run}{tag}{k}")]
                    })?;
                    if *scenario == Scenario::Week {
                        let note = week_note(&system.tables, options.users)?;
                        if let Some(row) = out.rows.last_mut() {
                            row.notes.push(note);
                        }
                    }
                }
                Scenario::BurstMe => {
                    let me = self.script("me", ME_LUA)?;
                    let login = self.script("login", LOGIN_LUA)?;
                    // The token set is in use before the burst, as the sessions of people
                    // making requests are: a second of reads, not a row.
                    self.unmeasured(
                        system,
                        out,
                        "burst-me: reads before the burst",
                        "/api/me",
                        &me,
                        1,
                        |_| vec![tokens_arg.clone()],
                    )?;
                    self.measured(
                        system,
                        out,
                        "burst",
                        format!(
                            "POST /api/login, a {} s burst of new users",
                            options.burst_secs
                        ),
                        "/api/login",
                        &login,
                        options.burst_secs,
                        |k| vec!["0".into(), format!("{run}b{k}")],
                    )?;
                    self.measured(
                        system,
                        out,
                        "me-after-burst",
                        "GET /api/me right after the burst".into(),
                        "/api/me",
                        &me,
                        secs,
                        |_| vec![tokens_arg.clone()],
                    )?;
                }
                Scenario::Mix => {
                    let script = self.script("mix", MIX_LUA)?;
                    let first_run = out.runs.len();
                    self.measured(
                        system,
                        out,
                        "mix",
                        "mix: 9 GET /api/me to 1 POST /api/login".into(),
                        "/api/me",
                        &script,
                        secs,
                        |k| vec![tokens_arg.clone(), returning.clone(), format!("{run}m{k}")],
                    )?;
                    self.mix_parts(out, first_run);
                }
                Scenario::Skewed => {}
            }
        }
        Ok(())
    }

    /// The mix's reads and logins as rows of their own, from the scripts' counts.
    fn mix_parts(&self, out: &mut Outcome, first_run: usize) {
        let mut me = (Histogram::default(), 0);
        let mut login = (Histogram::default(), 0);
        let mut untagged = 0;
        let mut duration_us = 0;
        for run in &out.runs[first_run..] {
            duration_us = duration_us.max(run.result.duration_us);
            for thread in &run.threads {
                let count = |name: &str| thread.stats[name].as_u64().unwrap_or(0);
                me.0.add_json(&thread.latency, false);
                login.0.add_json(&thread.latency, true);
                me.1 += count("me_errors");
                login.1 += count("login_errors");
                untagged += count("untagged");
            }
        }
        let answers = me.0.count() + login.0.count();
        let share = login.0.count() as f64 / answers.max(1) as f64;
        let mut note = format!(
            "mix: {:.1} % of the {answers} answers timed by the script were logins",
            100.0 * share
        );
        if untagged > 0 {
            note.push_str(&format!(
                "; {untagged} answers came back without their X-Request-Id, untimed"
            ));
        }
        if let Some(row) = out.rows.last_mut() {
            row.notes.push(note);
        }
        out.rows.push(Row::part(
            "mix-me",
            "… of it GET /api/me".into(),
            &me.0,
            me.1,
            duration_us,
        ));
        out.rows.push(Row::part(
            "mix-login",
            "… of it POST /api/login".into(),
            &login.0,
            login.1,
            duration_us,
        ));
    }

    /// `skewed`: logs in the working set through the first instance, warms up with the same
    /// kind of trace, then measures; for wxlogin, replays both traces through an ideal LRU of
    /// as many sessions as the cache held at the end.
    pub fn run_skewed(&self, system: &System<'_>, out: &mut Outcome) -> anyhow::Result<()> {
        let n = self.options.working_set;
        step(&format!(
            "{}: logging in {n} users for the skewed working set",
            system.name
        ));
        let started = Instant::now();
        let tokens = log_in_token_users(system.addrs[0], n, &system.run_id)?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!("   ... in {secs:.1} s ({:.0} logins/s)", n as f64 / secs);
        let file = self.work.join(format!("working-set-{}.txt", system.run_id));
        std::fs::write(&file, tokens.join("\n") + "\n")?;
        drop(tokens);
        let file = file.display().to_string();
        let script = self.script("skewed", SKEWED_LUA)?;
        // A seed base per phase and wrk, the same in the replay.
        let base = |phase: u64, k: usize| 1 + 1_000_003 * phase + 7_919 * k as u64;
        let warm_secs = self.options.duration_secs.min(5);
        let first_run = out.runs.len();
        self.unmeasured(
            system,
            out,
            "skewed: warm-up",
            "/api/me",
            &script,
            warm_secs,
            |k| vec![file.clone(), base(0, k).to_string()],
        )?;
        let label = format!("GET /api/me, skewed over {n} tokens");
        self.measured(
            system,
            out,
            "skewed",
            label,
            "/api/me",
            &script,
            self.options.duration_secs,
            |k| vec![file.clone(), base(1, k).to_string()],
        )?;
        let Some(row) = out.rows.last() else {
            return Ok(());
        };
        let (Some(hit_rate), Some((cache, _))) = (row.hit_rate, row.cache) else {
            return Ok(());
        };
        // Each instance has its own cache and its own wrk; the logins went through the first.
        let instances = system.addrs.len();
        let capacity = usize::try_from(cache.sessions())? / instances;
        let runs = &out.runs[first_run..];
        let (mut hits, mut requests, mut same_trace) = (0, 0, true);
        for k in 0..instances {
            let mut lru = Lru::new(n, capacity);
            if k == 0 {
                for token in 0..n {
                    lru.access(token);
                }
            }
            let threads = |run: &Run| -> Vec<(u64, u64)> {
                run.threads
                    .iter()
                    .map(|t| (t.sent, t.stats["sum"].as_u64().unwrap_or(u64::MAX)))
                    .collect()
            };
            let (warm, measured) = (threads(&runs[k]), threads(&runs[instances + k]));
            let replayed = skewed::replay(
                &mut lru,
                n,
                &[
                    Replay {
                        base: base(0, k),
                        threads: &warm,
                    },
                    Replay {
                        base: base(1, k),
                        threads: &measured,
                    },
                ],
                1,
            );
            hits += replayed.hits;
            requests += replayed.requests;
            same_trace &= replayed.same_trace;
        }
        let lru_rate = hits as f64 / requests.max(1) as f64;
        let note = format!(
            "skewed: the cache answered {:.1} % of {} lookups, holding {capacity} sessions \
             (a tenth of the working set would be {}); an ideal LRU of {capacity} sessions \
             would have answered {:.1} % of the same {requests} requests{} (replayed after the \
             logins and the warm-up), and a cache always holding the {capacity} most asked-for \
             tokens {:.1} %.",
            100.0 * hit_rate,
            row.lookups,
            n / 10,
            100.0 * lru_rate,
            if same_trace {
                ""
            } else {
                " (WARNING: the replayed trace differs from wrk's: its sums of indices do not match)"
            },
            100.0 * skewed::best_hit_rate(n, capacity),
        );
        if let Some(row) = out.rows.last_mut() {
            row.notes.push(note);
        }
        Ok(())
    }

    /// Writes a scenario's script (with the reporting appended) into the work folder.
    fn script(&self, name: &str, body: &str) -> anyhow::Result<PathBuf> {
        let path = self.work.join(format!("{name}.lua"));
        std::fs::write(&path, format!("{body}\n{REPORT_LUA}"))?;
        Ok(path)
    }

    /// One wrk per instance at once, each with its share of the threads and connections.
    #[allow(clippy::too_many_arguments)]
    fn wrk_all(
        &self,
        system: &System<'_>,
        what: &str,
        measured: bool,
        path: &'static str,
        script: &Path,
        secs: u64,
        args: impl Fn(usize) -> Vec<String>,
    ) -> anyhow::Result<Vec<Run>> {
        let options = self.options;
        let share = u32::try_from(system.addrs.len()).unwrap_or(1);
        step(&format!(
            "{}: {what}: {secs} s, {} threads, {} connections, {} target(s)",
            system.name,
            options.threads,
            options.connections,
            system.addrs.len()
        ));
        let running = system
            .addrs
            .iter()
            .enumerate()
            .map(|(k, addr)| {
                let spec = Spec {
                    what: what.to_owned(),
                    addr: *addr,
                    path,
                    threads: (options.threads / share).max(1),
                    connections: (options.connections / share).max(1),
                    secs,
                    measured,
                };
                wrk::spawn(spec, script, &args(k))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        running.into_iter().map(wrk::Running::finish).collect()
    }

    /// A run that is no row of the table (its wrks are still listed).
    #[allow(clippy::too_many_arguments)]
    fn unmeasured(
        &self,
        system: &System<'_>,
        out: &mut Outcome,
        what: &str,
        path: &'static str,
        script: &Path,
        secs: u64,
        args: impl Fn(usize) -> Vec<String>,
    ) -> anyhow::Result<()> {
        let runs = self.wrk_all(system, what, false, path, script, secs, args)?;
        out.runs.extend(runs);
        Ok(())
    }

    /// A row: wrk on every instance, with the processes' CPU, peak memory and session cache
    /// read before and after.
    #[allow(clippy::too_many_arguments)]
    fn measured(
        &self,
        system: &System<'_>,
        out: &mut Outcome,
        key: &str,
        label: String,
        path: &'static str,
        script: &Path,
        secs: u64,
        args: impl Fn(usize) -> Vec<String>,
    ) -> anyhow::Result<()> {
        measure::reset_peak_rss(&system.instances);
        let before = Sample::read(&system.instances)?;
        let runs = self.wrk_all(system, key, true, path, script, secs, args)?;
        let after = Sample::read(&system.instances)?;
        let results: Vec<_> = runs.iter().map(|r| &r.result).collect();
        out.rows.push(Row::new(
            key,
            label,
            &wrk::combine(&results),
            (&before, &after),
            system.database_measured,
            system.cache_mib,
        ));
        out.runs.extend(runs);
        Ok(())
    }
}

/// What the `week` scenario found in the database after its logins.
fn week_note(tables: &Tables<'_>, users: u64) -> anyhow::Result<String> {
    Ok(match tables {
        Tables::Sessions(url) => {
            let held = crate::population::sessions_held(url)?;
            let size = held.bytes.map_or_else(String::new, |b| {
                format!(", {:.0} MiB with its indexes", b as f64 / 1048576.0)
            });
            format!(
                "week: the sessions table held {} live sessions of {} rows after the logins{size}{}",
                held.live,
                held.rows,
                if held.live < 1_000_000 {
                    format!(
                        " (a week's table is 10^6: --users 1000000; this run has {users} users)"
                    )
                } else {
                    String::new()
                }
            )
        }
        Tables::PeerUsers(url) => {
            let (rows, bytes) = crate::peer::users_held(url)?;
            format!(
                "week: the peer keeps no sessions; its peer_users table held {rows} users, {:.0} MiB with its indexes",
                bytes as f64 / 1048576.0
            )
        }
    })
}
