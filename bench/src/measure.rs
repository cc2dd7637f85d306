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

/// Resets VmHWM to the current RSS, so the next reading is this scenario's peak.
pub fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// One scenario's results.
pub struct Row {
    scenario: Scenario,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: u64,
    cpu_ms_per_1000: f64,
    peak_rss_mib: f64,
}

impl Row {
    pub fn new(
        scenario: Scenario,
        wrk: &WrkResult,
        before: &ProcessSample,
        after: &ProcessSample,
    ) -> Self {
        let secs = wrk.duration_us as f64 / 1e6;
        let cpu_secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SEC;
        Self {
            scenario,
            rate: wrk.requests as f64 / secs.max(1e-9),
            p50_ms: wrk.p50_us as f64 / 1e3,
            p99_ms: wrk.p99_us as f64 / 1e3,
            p999_ms: wrk.p999_us as f64 / 1e3,
            errors: wrk.socket_errors + wrk.non2xx,
            cpu_ms_per_1000: cpu_secs * 1e3 / (wrk.requests.max(1) as f64 / 1e3),
            peak_rss_mib: after.peak_rss_kib as f64 / 1024.0,
        }
    }
}

/// The results as a Markdown table, headed by what was run.
pub fn table(options: &Options, rows: &[Row]) -> String {
    let mut out = format!(
        "#### {} · {} users · {} tokens · wrk {} threads / {} connections · {} s each · log {}\n\n",
        options.database.name(),
        options.users,
        options.tokens,
        options.threads,
        options.connections,
        options.duration_secs,
        options.log_level,
    );
    out.push_str("| scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU ms / 1k req | peak RSS MiB |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
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
        out.push_str(&format!(
            "| {} | {:.0}{share} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.1} |\n",
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
}
