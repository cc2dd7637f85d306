//! The `limits` scenario: what counting `LOGIN_RATE_LIMIT` costs a login. On PostgreSQL every
//! attempt is one GCRA upsert in an UNLOGGED table shared by the deployment; on SQLite the
//! limiter is the process's own. The server has no switch that keeps the limit but counts it
//! per process on PostgreSQL, so the comparison is the limit off (`LOGIN_RATE_LIMIT=0`: no
//! counter touched) against a limit so high that nothing is refused but every login spends
//! it, on the same database and population, in the same run.
//!
//! Both with every login from 127.0.0.1 (one counter row, updated by every login at once)
//! and from many client addresses behind a trusted proxy (`X-Forwarded-For`, a row each).
//! Servers are started in the order off, on, on, off, so that a drift of the machine or
//! the growing tables weighs on both sides alike.

use std::fmt::Write as _;

use super::*;
use crate::servers::Launcher;

/// The limit that refuses nothing at this machine's login rates (per client per minute; the
/// server accepts at most 10^6) yet makes every login spend the counter.
const HIGH_LIMIT: &str = "1000000";

/// Client addresses the many-address runs rotate through (10.0.0.0 to 10.0.255.255): more
/// than a run's logins, so about every login is a client's first of the minute (a new row).
const ADDRESSES: u32 = 65_536;

/// One run's figures: logins/s, and server and database CPU ms per 1,000 logins.
struct Figures {
    rate: f64,
    cpu: Option<f64>,
    database_cpu: Option<f64>,
    errors: u64,
}

impl Bench<'_> {
    /// The login rate with the limit on (never refusing) and off, one address and many; the
    /// rows go to `out`, and the ratios come back as a section of the report.
    pub fn run_limits(
        &self,
        launcher: &Launcher<'_>,
        run_id: &str,
        database_measured: bool,
        out: &mut Outcome,
    ) -> anyhow::Result<String> {
        let options = self.options;
        let script = self.script("login-from", LOGIN_LUA)?;
        let returning = options.tokens.to_string();
        // (limit on, many addresses): the figures of each run of that kind.
        let mut figures: Vec<((bool, bool), Figures)> = Vec::new();
        let plan = [
            (false, [false, true]),
            (true, [false, true]),
            (true, [true, false]),
            (false, [true, false]),
        ];
        for (k, (on, spreads)) in plan.into_iter().enumerate() {
            let limit = if on { HIGH_LIMIT } else { "0" };
            let servers = launcher.start_with(
                None,
                &format!("-limits{k}"),
                &[
                    ("LOGIN_RATE_LIMIT", limit),
                    ("TRUSTED_PROXIES", "127.0.0.1"),
                ],
            )?;
            let system = System {
                name: "wxlogin",
                addrs: servers.addrs.clone(),
                instances: servers.instances.clone(),
                database_measured,
                run_id: format!("{run_id}L{k}"),
                cache_mib: Some(servers.cache_mib),
                tables: Tables::Sessions(launcher.database_url),
            };
            if k == 0 {
                step(&format!(
                    "limits: logging in {} users for the returning logins",
                    options.tokens
                ));
                log_in_token_users(system.addrs[0], options.tokens, &system.run_id)?;
            }
            // A second of logins first, not measured: the pool's connections open, and the
            // previous server's database backends are gone before the database's CPU is read.
            self.unmeasured(
                &system,
                out,
                "limits warm-up",
                "/api/login",
                &script,
                1,
                |w| {
                    vec![
                        returning.clone(),
                        format!("{}u{w}", system.run_id),
                        "0".into(),
                    ]
                },
            )?;
            for many in spreads {
                let key = format!(
                    "limits-{}-{}",
                    if on { "on" } else { "off" },
                    if many { "many" } else { "one" }
                );
                let label = format!(
                    "POST /api/login, LOGIN_RATE_LIMIT={limit}, {} (server {})",
                    if many {
                        "65,536 client addresses"
                    } else {
                        "one client address"
                    },
                    k + 1
                );
                let spread = if many { ADDRESSES } else { 0 };
                let run = format!("{}{}", system.run_id, if many { "m" } else { "s" });
                self.measured(
                    &system,
                    out,
                    &key,
                    label,
                    "/api/login",
                    &script,
                    options.duration_secs,
                    |w| vec![returning.clone(), format!("{run}w{w}"), spread.to_string()],
                )?;
                if let Some(row) = out.rows.last() {
                    figures.push((
                        (on, many),
                        Figures {
                            rate: row.rate,
                            cpu: row.cpu_ms_per_1000,
                            database_cpu: row.database_cpu_ms_per_1000,
                            errors: row.errors,
                        },
                    ));
                }
            }
        }
        Ok(summary(launcher.options, &figures))
    }
}

/// The mean of `f` over the runs of one kind.
fn mean(
    figures: &[((bool, bool), Figures)],
    kind: (bool, bool),
    f: impl Fn(&Figures) -> Option<f64>,
) -> Option<f64> {
    let values: Vec<f64> = figures
        .iter()
        .filter(|(k, _)| *k == kind)
        .filter_map(|(_, x)| f(x))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn summary(options: &Options, figures: &[((bool, bool), Figures)]) -> String {
    let shared = options.database == crate::options::Database::Postgres;
    let mut text = format!(
        "\n### The login rate limit counted ({}), on against off\n\n\
         LOGIN_RATE_LIMIT={HIGH_LIMIT} (nothing refused, every login spends the counter) against \
         LOGIN_RATE_LIMIT=0, TRUSTED_PROXIES=127.0.0.1 on both; two servers of each, started \
         off, on, on, off, each running both address patterns for {} s.\n\n\
         | clients | logins/s off | logins/s on | on / off | server CPU ms/1000 off → on | database CPU ms/1000 off → on | errors on |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        if shared {
            "every login counted in PostgreSQL's shared table, the attempts of a moment in one statement"
        } else {
            "SQLite: the process's own limiter"
        },
        options.duration_secs
    );
    for many in [false, true] {
        let rate = |on| mean(figures, (on, many), |f| Some(f.rate)).unwrap_or(0.0);
        let cpu = |on| mean(figures, (on, many), |f| f.cpu);
        let db = |on| mean(figures, (on, many), |f| f.database_cpu);
        let shown = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0}"));
        let errors: u64 = figures
            .iter()
            .filter(|(k, _)| *k == (true, many))
            .map(|(_, f)| f.errors)
            .sum();
        let ratio = rate(true) / rate(false).max(1e-9);
        let _ = writeln!(
            text,
            "| {} | {:.0} | {:.0} | {:.3} ({:+.1} %) | {} → {} | {} → {} | {errors} |",
            if many {
                "65,536 addresses (X-Forwarded-For)"
            } else {
                "one address (127.0.0.1)"
            },
            rate(false),
            rate(true),
            ratio,
            (ratio - 1.0) * 100.0,
            shown(cpu(false)),
            shown(cpu(true)),
            shown(db(false)),
            shown(db(true)),
        );
    }
    text.push_str(
        "\nTarget: on at most 10 % slower than off. The rates are the means of the two runs of \
         each kind; each run's own figures are rows of the table above.\n",
    );
    text
}
