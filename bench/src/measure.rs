//! What is measured: wrk's summary line, and the server process's CPU time and peak memory.

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::options::Options;

/// A load scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `GET /healthz`: the server's own ceiling in this run.
    Healthz,
    /// `GET /api/me` with rotating tokens.
    Me,
    /// `POST /api/login` with fresh codes.
    Login,
}

impl Scenario {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        match name.trim() {
            "healthz" => Ok(Self::Healthz),
            "me" => Ok(Self::Me),
            "login" => Ok(Self::Login),
            other => bail!("unknown scenario {other}: use healthz, me, login"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Healthz => "healthz",
            Self::Me => "me",
            Self::Login => "login",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz",
            Self::Me => "GET /api/me",
            Self::Login => "POST /api/login",
        }
    }
}

/// The line `bench/lua/report.lua` prints when wrk is done.
#[derive(Debug, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub socket_errors: u64,
    pub non2xx: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
}

impl WrkResult {
    pub fn parse(stdout: &str) -> anyhow::Result<Self> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("WXBENCH "))
            .with_context(|| format!("wrk printed no WXBENCH line:\n{stdout}"))?;
        Ok(serde_json::from_str(line)?)
    }
}

/// CPU time and peak RSS of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSample {
    /// User + system CPU, in clock ticks.
    pub cpu_ticks: u64,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

impl ProcessSample {
    pub fn read(pid: u32) -> anyhow::Result<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        let cpu_ticks = cpu_ticks(&stat)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let peak_rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(Self {
            cpu_ticks,
            peak_rss_kib,
        })
    }
}

/// The processes measured as one: one server instance (one process), or a peer made of a
/// primary and its workers.
#[derive(Debug, Clone)]
pub struct Instance {
    pub pids: Vec<u32>,
}

/// CPU and memory of every instance under test, at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// All instances' CPU, clock ticks.
    cpu_ticks: u64,
    /// The largest instance's peak RSS (each instance's processes summed), KiB.
    peak_rss_kib: u64,
    /// CPU of every `postgres` process on the machine, clock ticks.
    database_ticks: u64,
}

impl Sample {
    pub fn read(instances: &[Instance]) -> anyhow::Result<Self> {
        let mut all_ticks = 0;
        let mut peak_rss_kib = 0;
        for instance in instances {
            let mut rss = 0;
            for &pid in &instance.pids {
                let p = ProcessSample::read(pid)?;
                all_ticks += p.cpu_ticks;
                rss += p.peak_rss_kib;
            }
            peak_rss_kib = peak_rss_kib.max(rss);
        }
        Ok(Self {
            cpu_ticks: all_ticks,
            peak_rss_kib,
            database_ticks: processes_named("postgres")
                .iter()
                .filter_map(|(_, stat)| cpu_ticks(stat).ok())
                .sum(),
        })
    }
}

/// Resets every instance's VmHWM to its current RSS, so the next reading is this scenario's.
pub fn reset_peak_rss(instances: &[Instance]) {
    for pid in instances.iter().flat_map(|i| &i.pids) {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
}

/// `(pid, stat line)` of every process whose command name is `name`. A PostgreSQL backend lives
/// as long as its pooled connection, so the difference of two readings is the database's CPU
/// for what ran between them (less any backend that ended in between).
fn processes_named(name: &str) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let comm = stat.split_once('(')?.1.rsplit_once(')')?.0;
            (comm == name).then_some((pid, stat))
        })
        .collect()
}

/// The children of `pid` (a peer's workers).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| parent_pid(&stat))
                == Some(pid)
        })
        .collect()
}

fn parent_pid(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime: fields 14 and 15, counted after the `)` that ends the command name (which may
/// itself hold spaces).
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("no ) in stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state), so field n is at index n - 3.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// wrk's results of one scenario, over every wrk process that ran it at once (one per
/// instance): requests and errors add up; percentiles are the worst instance's, since wrk's
/// histograms cannot be merged from its summary.
pub fn combine(results: &[WrkResult]) -> WrkResult {
    WrkResult {
        requests: results.iter().map(|r| r.requests).sum(),
        duration_us: results.iter().map(|r| r.duration_us).max().unwrap_or(0),
        socket_errors: results.iter().map(|r| r.socket_errors).sum(),
        non2xx: results.iter().map(|r| r.non2xx).sum(),
        p50_us: results.iter().map(|r| r.p50_us).max().unwrap_or(0),
        p99_us: results.iter().map(|r| r.p99_us).max().unwrap_or(0),
        p999_us: results.iter().map(|r| r.p999_us).max().unwrap_or(0),
    }
}

/// One scenario's results.
pub struct Row {
    pub scenario: Scenario,
    pub rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: u64,
    pub cpu_ms_per_1000: f64,
    database_cpu_ms_per_1000: Option<f64>,
    peak_rss_mib: f64,
}

impl Row {
    /// `database_measured`: whether the database runs in processes of its own (PostgreSQL),
    /// so that its CPU is reported apart.
    pub fn new(
        scenario: Scenario,
        wrk: &WrkResult,
        before: &Sample,
        after: &Sample,
        database_measured: bool,
    ) -> Self {
        let secs = wrk.duration_us as f64 / 1e6;
        let per_1000 =
            |ticks: u64| ticks as f64 / TICKS_PER_SEC * 1e3 / (wrk.requests.max(1) as f64 / 1e3);
        Self {
            scenario,
            rate: wrk.requests as f64 / secs.max(1e-9),
            p50_ms: wrk.p50_us as f64 / 1e3,
            p99_ms: wrk.p99_us as f64 / 1e3,
            p999_ms: wrk.p999_us as f64 / 1e3,
            errors: wrk.socket_errors + wrk.non2xx,
            cpu_ms_per_1000: per_1000(after.cpu_ticks.saturating_sub(before.cpu_ticks)),
            database_cpu_ms_per_1000: database_measured
                .then(|| per_1000(after.database_ticks.saturating_sub(before.database_ticks))),
            peak_rss_mib: after.peak_rss_kib as f64 / 1024.0,
        }
    }
}

/// The results of one system under test as a Markdown table, headed by what was run.
pub fn table(title: &str, options: &Options, rows: &[Row]) -> String {
    let mut out = format!(
        "#### {title} · {} users · {} tokens · wrk {} threads / {} connections · {} s each · log {}\n\n",
        options.users,
        options.tokens,
        options.threads,
        options.connections,
        options.duration_secs,
        options.log_level,
    );
    out.push_str("| scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU ms / 1k req | database CPU ms / 1k req | peak RSS MiB |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let healthz = rows
        .iter()
        .find(|r| r.scenario == Scenario::Healthz)
        .map(|r| r.rate);
    for row in rows {
        let share = match (healthz, row.scenario) {
            (Some(h), s) if s != Scenario::Healthz && h > 0.0 => {
                format!(" ({:.0}% of healthz)", 100.0 * row.rate / h)
            }
            _ => String::new(),
        };
        let database = row
            .database_cpu_ms_per_1000
            .map_or_else(|| "in process".to_owned(), |ms| format!("{ms:.1}"));
        out.push_str(&format!(
            "| {} | {:.0}{share} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {database} | {:.1} |\n",
            row.scenario.label(),
            row.rate,
            row.p50_ms,
            row.p99_ms,
            row.p999_ms,
            row.errors,
            row.cpu_ms_per_1000,
            row.peak_rss_mib,
        ));
    }
    out
}

/// wxlogin against the peer, scenario by scenario: how many times the peer's rate, and CPU per
/// request.
pub fn ratios(peer: &str, ours: &[Row], theirs: &[Row]) -> String {
    let mut out = format!(
        "| scenario | wxlogin req/s | {peer} req/s | ratio | wxlogin CPU ms / 1k | {peer} CPU ms / 1k |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for row in ours {
        if let Some(peer_row) = theirs.iter().find(|r| r.scenario == row.scenario) {
            out.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.2}× | {:.1} | {:.1} |\n",
                row.scenario.label(),
                row.rate,
                peer_row.rate,
                row.rate / peer_row.rate.max(1e-9),
                row.cpu_ms_per_1000,
                peer_row.cpu_ms_per_1000,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces() {
        let stat = "4242 (wxlogin server) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 567 0 0 20 0 3 0 100 0 0";
        assert_eq!(cpu_ticks(stat).expect("parsed"), 1234 + 567);
    }

    #[test]
    fn the_wrk_summary_line_is_found_among_wrks_output() {
        let out = "Running 1s test @ http://x\n  2 threads\nWXBENCH {\"requests\":10,\"duration_us\":1000000,\"socket_errors\":0,\"non2xx\":1,\"p50_us\":100,\"p99_us\":900,\"p999_us\":1000}\n";
        let r = WrkResult::parse(out).expect("parsed");
        assert_eq!((r.requests, r.non2xx, r.p99_us), (10, 1, 900));
        assert!(WrkResult::parse("no line").is_err());
    }

    #[test]
    fn the_parent_is_read_after_a_command_name_with_spaces() {
        let stat = "4243 (node worker) S 4242 4242 4242 0 -1";
        assert_eq!(parent_pid(stat), Some(4242));
    }

    #[test]
    fn runs_side_by_side_add_requests_and_keep_the_worst_latency() {
        let run = |requests, p99_us| WrkResult {
            requests,
            duration_us: 1_000_000,
            socket_errors: 0,
            non2xx: 1,
            p50_us: 10,
            p99_us,
            p999_us: p99_us,
        };
        let both = combine(&[run(100, 900), run(50, 2000)]);
        assert_eq!((both.requests, both.non2xx, both.p99_us), (150, 2, 2000));
    }
}
