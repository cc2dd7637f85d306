//! The scenarios, and how each is driven with wrk against one system under test: wxlogin's
//! instances, or the peer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use wxlogin_bench::harness::{log_in_refresh_users, log_in_token_users, step};

use crate::measure::{self, Instance, Sample};
use crate::options::Options;
use crate::skewed::{self, Lru, Replay};
use crate::tables::Row;
use crate::wrk::{self, Histogram, Run, Spec};

mod avatars;
mod mix;
mod shared_limits;
mod webhooks;
mod working_set;

pub use avatars::{AvatarFiles, avatar_groups};

const REPORT_LUA: &str = include_str!("../lua/report.lua");
const ME_LUA: &str = include_str!("../lua/me.lua");
const LOGIN_LUA: &str = include_str!("../lua/login.lua");
const MIX_LUA: &str = include_str!("../lua/mix.lua");
const SKEWED_LUA: &str = include_str!("../lua/skewed.lua");
const REFRESH_LUA: &str = include_str!("../lua/refresh.lua");
const AVATAR_LUA: &str = include_str!("../lua/avatar.lua");
const MEDIA_LUA: &str = include_str!("../lua/media.lua");

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
    /// `POST /api/token/refresh`, each request spending a session's current refresh token
    /// (wxlogin only: the peer has none).
    Refresh,
    /// `POST /api/me/avatar` with a ~200 KB phone JPEG: one at a time, then a few more
    /// connections than the server decodes at once (wxlogin only, as are the three below).
    AvatarUpload,
    /// Uploads sent at one instant, a few times over: the server's peak memory with most of
    /// them waiting for a turn.
    AvatarBurst,
    /// `GET /media/avatars/{name}` over many stored avatars, from the media store.
    Media,
    /// The same with the `If-None-Match` of each: 304, the store not read.
    Media304,
    /// Logins with `LOGIN_RATE_LIMIT` counted (so high that nothing is refused) against off,
    /// from one client address and from many, on servers of their own.
    Limits,
    /// `user.created` webhooks to a receiver in the bench: the delay from a login's answer to
    /// its delivery, and the deliveries per second of a backlog, on a server of its own.
    Webhooks,
}

impl Scenario {
    /// What runs when `--scenarios` is not given.
    pub const DEFAULT: [Self; 7] = [
        Self::Healthz,
        Self::Me,
        Self::Login,
        Self::Refresh,
        Self::BurstMe,
        Self::Mix,
        Self::Skewed,
    ];
    /// `--scenarios all`.
    pub const ALL: [Self; 12] = [
        Self::Healthz,
        Self::Me,
        Self::Login,
        Self::Refresh,
        Self::BurstMe,
        Self::Mix,
        Self::Week,
        Self::AvatarUpload,
        Self::AvatarBurst,
        Self::Media,
        Self::Media304,
        Self::Skewed,
    ];
    /// `--scenarios avatars`. Not in [`Self::DEFAULT`]: each runs on servers of its own, and
    /// together they add about a minute to a run.
    pub const AVATARS: [Self; 4] = [
        Self::AvatarUpload,
        Self::AvatarBurst,
        Self::Media,
        Self::Media304,
    ];

    /// One name of `--scenarios`, or `avatars` (the four avatar scenarios).
    pub fn parse_names(name: &str) -> anyhow::Result<Vec<Self>> {
        if name.trim() == "avatars" {
            Ok(Self::AVATARS.to_vec())
        } else {
            Ok(vec![Self::parse(name)?])
        }
    }

    /// Whether this is one of the avatar scenarios (run on servers of their own).
    pub fn is_avatar(self) -> bool {
        Self::AVATARS.contains(&self)
    }

    /// Whether this scenario starts servers of its own (`limits`, `webhooks`).
    pub fn has_own_servers(self) -> bool {
        matches!(self, Self::Limits | Self::Webhooks)
    }

    pub fn parse(name: &str) -> anyhow::Result<Self> {
        match name.trim() {
            "healthz" => Ok(Self::Healthz),
            "me" => Ok(Self::Me),
            "login" => Ok(Self::Login),
            "burst-me" => Ok(Self::BurstMe),
            "mix" => Ok(Self::Mix),
            "skewed" => Ok(Self::Skewed),
            "week" => Ok(Self::Week),
            "refresh" => Ok(Self::Refresh),
            "avatar-upload" => Ok(Self::AvatarUpload),
            "avatar-burst" => Ok(Self::AvatarBurst),
            "media" => Ok(Self::Media),
            "media-304" => Ok(Self::Media304),
            "limits" => Ok(Self::Limits),
            "webhooks" => Ok(Self::Webhooks),
            other => bail!(
                "unknown scenario {other}: use healthz, me, login, refresh, burst-me, mix, \
                 skewed, week, avatar-upload, avatar-burst, media, media-304, limits, webhooks \
                 (or all, or avatars for avatar-upload to media-304)"
            ),
        }
    }
}

/// Whether a row is one of the avatar scenarios' (whose memory is said in their own notes).
pub fn is_avatar_row(key: &str) -> bool {
    key.starts_with("avatar") || key.starts_with("media")
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

/// wrk's threads and connections for a run, shared out among the instances' wrks.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
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
                Scenario::Refresh if system.cache_mib.is_none() => {
                    step(&format!(
                        "{}: refresh: no refresh tokens, skipped",
                        system.name
                    ));
                }
                Scenario::Refresh => {
                    step(&format!(
                        "{}: logging in {} users for the refresh tokens",
                        system.name, options.tokens
                    ));
                    let refresh =
                        log_in_refresh_users(system.addrs[0], options.tokens, &format!("{run}r"))?;
                    let file = self.work.join(format!("refresh-{run}.txt"));
                    std::fs::write(&file, refresh.join("\n") + "\n")?;
                    let file = file.display().to_string();
                    let script = self.script("refresh", REFRESH_LUA)?;
                    let wrks = system.addrs.len();
                    let threads = (options.threads / u32::try_from(wrks).unwrap_or(1)).max(1);
                    self.measured(
                        system,
                        out,
                        "refresh",
                        "POST /api/token/refresh".into(),
                        "/api/token/refresh",
                        &script,
                        secs,
                        |k| {
                            vec![
                                file.clone(),
                                threads.to_string(),
                                k.to_string(),
                                wrks.to_string(),
                            ]
                        },
                    )?;
                }
                // On servers of their own: `run_skewed`, `run_avatars`.
                Scenario::Skewed
                | Scenario::AvatarUpload
                | Scenario::AvatarBurst
                | Scenario::Media
                | Scenario::Media304
                | Scenario::Limits
                | Scenario::Webhooks => {}
            }
        }
        Ok(())
    }

    /// `GET /api/me` over a token set of its own, as the row `me-hs256`: the reference the
    /// `me` row is compared with, run on servers started with `TOKEN_ALG=HS256`.
    pub fn run_reference(&self, system: &System<'_>, out: &mut Outcome) -> anyhow::Result<()> {
        step(&format!(
            "{}: logging in {} users for the token set",
            system.name, self.options.tokens
        ));
        let tokens = log_in_token_users(system.addrs[0], self.options.tokens, &system.run_id)?;
        let file = self.work.join(format!("tokens-{}.txt", system.run_id));
        std::fs::write(&file, tokens.join("\n") + "\n")?;
        let file = file.display().to_string();
        let script = self.script("me", ME_LUA)?;
        self.measured(
            system,
            out,
            "me-hs256",
            "GET /api/me, HS256 tokens (reference for the row me)".into(),
            "/api/me",
            &script,
            self.options.duration_secs,
            |_| vec![file.clone()],
        )
    }

    /// Writes a scenario's script (with the reporting appended) into the work folder.
    fn script(&self, name: &str, body: &str) -> anyhow::Result<PathBuf> {
        let path = self.work.join(format!("{name}.lua"));
        std::fs::write(&path, format!("{body}\n{REPORT_LUA}"))?;
        Ok(path)
    }

    /// The run's `--threads` and `--connections`.
    fn load(&self) -> Load {
        Load {
            threads: self.options.threads,
            connections: self.options.connections,
        }
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
        load: Load,
        args: impl Fn(usize) -> Vec<String>,
    ) -> anyhow::Result<Vec<Run>> {
        let share = u32::try_from(system.addrs.len()).unwrap_or(1);
        step(&format!(
            "{}: {what}: {secs} s, {} threads, {} connections, {} target(s)",
            system.name,
            load.threads,
            load.connections,
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
                    threads: (load.threads / share).max(1),
                    connections: (load.connections / share).max(1),
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
        let runs = self.wrk_all(system, what, false, path, script, secs, self.load(), args)?;
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
        let load = self.load();
        self.measured_under(system, out, key, label, path, script, secs, load, args)
    }

    /// [`Self::measured`] with threads and connections of its own.
    #[allow(clippy::too_many_arguments)]
    fn measured_under(
        &self,
        system: &System<'_>,
        out: &mut Outcome,
        key: &str,
        label: String,
        path: &'static str,
        script: &Path,
        secs: u64,
        load: Load,
        args: impl Fn(usize) -> Vec<String>,
    ) -> anyhow::Result<()> {
        measure::reset_peak_rss(&system.instances);
        let before = Sample::read(&system.instances)?;
        let runs = self.wrk_all(system, key, true, path, script, secs, load, args)?;
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
