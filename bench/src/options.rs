//! Command-line options.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::scenarios::Scenario;

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database (at `WXLOGIN_TEST_POSTGRES_URL`).
    Postgres,
}

impl Database {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// What to run.
#[derive(Debug)]
pub struct Options {
    pub database: Database,
    pub users: u64,
    pub tokens: usize,
    pub duration_secs: u64,
    pub threads: u32,
    pub connections: u32,
    pub scenarios: Vec<Scenario>,
    /// How long the login burst of `burst-me` lasts.
    pub burst_secs: u64,
    /// Tokens of the `skewed` scenario.
    pub working_set: usize,
    pub log_level: String,
    pub server_env: Vec<(String, String)>,
    pub markdown: Option<PathBuf>,
    /// Server instances on the one database, each driven by its own wrk.
    pub instances: u32,
    /// A peer stack measured after wxlogin in the same run.
    pub peer: Option<Peer>,
    /// A folder holding a previous release's `wxlogin-server`: its login and refresh measured
    /// in the same run, on the same database, before this release's.
    pub baseline: Option<PathBuf>,
}

/// A peer stack in `bench/peers/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// fastify 5 + fast-jwt + pg + undici, one worker per core, on PostgreSQL.
    Fastify,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fastify => "fastify",
        }
    }
}

const USAGE: &str = "usage: wxlogin-bench [--db sqlite|postgres] [--users N] [--tokens N] \
[--duration SECS] [--threads N] [--connections N] \
[--scenarios healthz,me,login,refresh,burst-me,mix,skewed,week,avatar-upload,avatar-burst,\
media,media-304,limits,webhooks | avatars | all] [--burst SECS] [--working-set N] \
[--log LEVEL] [--env NAME=VALUE]... [--instances N] [--peer fastify] [--baseline DIR] \
[--markdown FILE]

--baseline DIR: the folder of a previous release's wxlogin-server (build one with
  `bash bench/baseline <git rev>`): its login and refresh scenarios run first, on the same
  database, and the report compares this release's rates with its

scenarios (default healthz,me,login,refresh,burst-me,mix,skewed; `all` adds week and the four
avatar scenarios, `avatars` is those four):
  healthz   GET /healthz: the server's ceiling in this run
  me        GET /api/me over the token set (--tokens), rotating
  login     POST /api/login with fresh codes, half returning users, half new
  burst-me  a burst of new users' logins (--burst SECS, default 3), then GET /api/me over the
            token set: both rows measured
  mix       one wrk: 9 of 10 requests GET /api/me, 1 a fresh-code login; reads and logins
            timed and counted apart
  skewed    GET /api/me over --working-set N tokens (default 100000) with skewed popularity, on
            servers restarted with a session cache of a tenth of N (1.2 KiB a session;
            --env SESSION_CACHE_MB=.. overrides): the cache's hit rate against an ideal LRU
            of the same size on the same trace. Always runs last.
  week      the login scenario, with a check of the live sessions the table holds (every one of
            --users users has one: use --users 1000000 for a week's table)
  avatar-upload  POST /api/me/avatar with a ~200 KB 1600x1200 phone JPEG (made by the bench),
            one connection (the memory of one upload), then 8 (uploads/s per core of server
            CPU); a server of its own, as each avatar group has
  avatar-burst   16 uploads sent at one instant, 5 times: peak RSS, and any 503s
  media     GET /media/avatars/{name} over 500 stored avatars (stored first, a user each)
  media-304 the same with each one's If-None-Match: 304 without reading the store
  limits    logins with LOGIN_RATE_LIMIT=1000000 (counted, never refusing) against 0 (off), from
            one client address and from 65,536 (X-Forwarded-For, TRUSTED_PROXIES=127.0.0.1);
            servers started off, on, on, off; the ratio on / off (not in all)
  webhooks  user.created to a receiver in the bench: the delay from each login's answer to its
            delivery (100 logins/s, then full speed), and the deliveries/s of a backlog built
            with the receiver holding its answers (not in all)";

impl Options {
    pub fn from_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut options = Self {
            database: Database::Sqlite,
            users: 1_000,
            tokens: 1_000,
            duration_secs: 10,
            threads: 2,
            connections: 64,
            scenarios: Scenario::DEFAULT.to_vec(),
            burst_secs: 3,
            working_set: 100_000,
            log_level: "info".into(),
            server_env: Vec::new(),
            markdown: None,
            instances: 1,
            peer: None,
            baseline: None,
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
            let number = |v: &str| -> anyhow::Result<u64> {
                v.replace('_', "")
                    .parse()
                    .with_context(|| format!("{flag} {v}: not a number"))
            };
            match flag.as_str() {
                "--db" => {
                    options.database = match value.as_str() {
                        "sqlite" => Database::Sqlite,
                        "postgres" | "postgresql" => Database::Postgres,
                        other => bail!("--db {other}: use sqlite or postgres"),
                    }
                }
                "--users" => options.users = number(&value)?,
                "--tokens" => options.tokens = usize::try_from(number(&value)?.max(1))?,
                "--duration" => options.duration_secs = number(&value)?.max(1),
                "--threads" => options.threads = u32::try_from(number(&value)?.max(1))?,
                "--connections" => options.connections = u32::try_from(number(&value)?.max(1))?,
                "--scenarios" => {
                    options.scenarios = if value == "all" {
                        Scenario::ALL.to_vec()
                    } else {
                        let mut scenarios = Vec::new();
                        for name in value.split(',') {
                            scenarios.extend(Scenario::parse_names(name)?);
                        }
                        scenarios
                    };
                }
                "--burst" => options.burst_secs = number(&value)?.max(1),
                "--working-set" => options.working_set = usize::try_from(number(&value)?.max(2))?,
                "--log" => options.log_level = value,
                "--env" => {
                    let (name, v) = value
                        .split_once('=')
                        .with_context(|| format!("--env {value}: use NAME=VALUE"))?;
                    options.server_env.push((name.to_owned(), v.to_owned()));
                }
                "--markdown" => options.markdown = Some(PathBuf::from(value)),
                "--baseline" => options.baseline = Some(PathBuf::from(value)),
                "--instances" => {
                    options.instances = u32::try_from(number(&value)?.clamp(1, 16))?;
                }
                "--peer" => {
                    options.peer = match value.as_str() {
                        "fastify" => Some(Peer::Fastify),
                        other => bail!("--peer {other}: the peer there is is fastify"),
                    }
                }
                other => bail!("unknown option {other}\n{USAGE}"),
            }
        }
        if options.instances > 1 && options.database != Database::Postgres {
            bail!(
                "--instances {} needs --db postgres: instances share users through PostgreSQL",
                options.instances
            );
        }
        Ok(options)
    }
}
