//! Running wrk and reading what it printed: the run's summary (wxlogin-bench's `report.lua`)
//! and each thread's own counts, kept per wrk process so that an outlier can be traced to one.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The line `bench/lua/report.lua` prints when wrk is done.
#[derive(Debug, Clone, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub socket_errors: u64,
    pub non2xx: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    #[serde(default)]
    pub max_us: u64,
    #[serde(default)]
    pub mean_us: f64,
    #[serde(default)]
    pub stdev_us: f64,
    #[serde(default)]
    pub timeouts: u64,
    /// Bytes read from the server (answers, headers included).
    #[serde(default)]
    pub bytes: u64,
}

/// One wrk thread's line: the requests its script made, and the script's own counts.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadStats {
    pub id: u32,
    pub sent: u64,
    #[serde(default)]
    pub stats: serde_json::Value,
    /// A latency histogram the script kept (`{"<bucket>": count, …}`), if it kept one.
    #[serde(default)]
    pub latency: serde_json::Value,
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

/// Every WXTHREAD line of wrk's output, in thread order.
pub fn parse_threads(stdout: &str) -> anyhow::Result<Vec<ThreadStats>> {
    let mut threads = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("WXTHREAD "))
        .map(|l| serde_json::from_str(l).with_context(|| format!("a WXTHREAD line: {l}")))
        .collect::<anyhow::Result<Vec<ThreadStats>>>()?;
    threads.sort_by_key(|t| t.id);
    Ok(threads)
}

/// What one wrk process was asked to do.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What the run was for (`me`, `burst`, `skewed warm-up`, …).
    pub what: String,
    pub addr: SocketAddr,
    pub path: &'static str,
    pub threads: u32,
    pub connections: u32,
    pub secs: u64,
    /// Whether its figures are a row of the table (not a warm-up or a burst left out of it).
    pub measured: bool,
}

/// A finished wrk process: what it was asked, and what it reported.
#[derive(Debug, Clone)]
pub struct Run {
    pub spec: Spec,
    pub result: WrkResult,
    pub threads: Vec<ThreadStats>,
}

/// A running wrk, killed if it is dropped before it is waited for (an error elsewhere).
pub struct Running {
    spec: Spec,
    child: Option<Child>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts wrk with `script` (the script's `init` gets `args`).
pub fn spawn(spec: Spec, script: &Path, args: &[String]) -> anyhow::Result<Running> {
    let child = Command::new("wrk")
        .arg(format!("-t{}", spec.threads))
        .arg(format!("-c{}", spec.connections))
        .arg(format!("-d{}s", spec.secs))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(format!("http://{}{}", spec.addr, spec.path))
        .arg("--")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running wrk")?;
    Ok(Running {
        spec,
        child: Some(child),
    })
}

impl Running {
    /// Waits for wrk to end and reads its lines.
    pub fn finish(mut self) -> anyhow::Result<Run> {
        let mut child = self.child.take().context("wrk already waited for")?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(out) = &mut child.stdout {
            out.read_to_string(&mut stdout)?;
        }
        if let Some(err) = &mut child.stderr {
            err.read_to_string(&mut stderr)?;
        }
        let status = child.wait().context("waiting for wrk")?;
        if !status.success() {
            bail!("wrk ({}) failed: {stdout}{stderr}", self.spec.what);
        }
        Ok(Run {
            spec: self.spec.clone(),
            result: WrkResult::parse(&stdout)?,
            threads: parse_threads(&stdout)?,
        })
    }
}

/// wrk's results of one scenario, over every wrk process that ran it at once (one per
/// instance): requests and errors add up; percentiles are the worst instance's, since wrk's
/// histograms cannot be merged from its summary.
pub fn combine(results: &[&WrkResult]) -> WrkResult {
    WrkResult {
        requests: results.iter().map(|r| r.requests).sum(),
        duration_us: results.iter().map(|r| r.duration_us).max().unwrap_or(0),
        socket_errors: results.iter().map(|r| r.socket_errors).sum(),
        non2xx: results.iter().map(|r| r.non2xx).sum(),
        p50_us: results.iter().map(|r| r.p50_us).max().unwrap_or(0),
        p99_us: results.iter().map(|r| r.p99_us).max().unwrap_or(0),
        p999_us: results.iter().map(|r| r.p999_us).max().unwrap_or(0),
        max_us: results.iter().map(|r| r.max_us).max().unwrap_or(0),
        mean_us: results.iter().map(|r| r.mean_us).fold(0.0, f64::max),
        stdev_us: results.iter().map(|r| r.stdev_us).fold(0.0, f64::max),
        timeouts: results.iter().map(|r| r.timeouts).sum(),
        bytes: results.iter().map(|r| r.bytes).sum(),
    }
}

/// A latency histogram in buckets 1 % wide, as `bench/lua/mix.lua` keeps one per kind:
/// bucket `b` holds latencies up to 1.01^(b+1) µs. The script counts its second kind at
/// bucket `KIND_OFFSET + b`.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    buckets: std::collections::BTreeMap<u32, u64>,
}

/// Where a script's histogram of its second kind of request starts.
pub const KIND_OFFSET: u32 = 100_000;

impl Histogram {
    /// Adds a script's `{"<bucket>": count, …}`: its first kind's buckets (`second`: false)
    /// or its second kind's.
    pub fn add_json(&mut self, value: &serde_json::Value, second: bool) {
        if let Some(map) = value.as_object() {
            for (bucket, count) in map {
                if let (Ok(b), Some(n)) = (bucket.parse::<u32>(), count.as_u64())
                    && (b >= KIND_OFFSET) == second
                {
                    let b = if second { b - KIND_OFFSET } else { b };
                    *self.buckets.entry(b).or_default() += n;
                }
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The latency, µs, under which `percent` of the counted ones fall (a bucket's upper end).
    pub fn percentile_us(&self, percent: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((percent / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (&bucket, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return 1.01_f64
                    .powi(i32::try_from(bucket).unwrap_or(i32::MAX) + 1)
                    .round() as u64;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrk_summary_line_is_found_among_wrks_output() {
        let out = "Running 1s test @ http://x\n  2 threads\nWXBENCH {\"requests\":10,\"duration_us\":1000000,\"socket_errors\":0,\"non2xx\":1,\"p50_us\":100,\"p99_us\":900,\"p999_us\":1000}\n";
        let r = WrkResult::parse(out).expect("parsed");
        assert_eq!((r.requests, r.non2xx, r.p99_us), (10, 1, 900));
        assert!(WrkResult::parse("no line").is_err());
    }

    #[test]
    fn thread_lines_are_read_in_thread_order() {
        let out = "WXTHREAD {\"id\":1,\"sent\":5,\"stats\":{\"sum\":7},\"latency\":{}}\nWXTHREAD {\"id\":0,\"sent\":3,\"stats\":{},\"latency\":{}}\n";
        let threads = parse_threads(out).expect("parsed");
        assert_eq!(threads.iter().map(|t| t.sent).collect::<Vec<_>>(), [3, 5]);
        assert_eq!(threads[1].stats["sum"].as_u64(), Some(7));
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
            max_us: p99_us,
            mean_us: 10.0,
            stdev_us: 1.0,
            timeouts: 0,
            bytes: 0,
        };
        let both = combine(&[&run(100, 900), &run(50, 2000)]);
        assert_eq!((both.requests, both.non2xx, both.p99_us), (150, 2, 2000));
    }

    #[test]
    fn percentiles_are_read_from_the_buckets() {
        let mut h = Histogram::default();
        // 99 answers at about 100 µs (bucket 462: 1.01^463 ≈ 100) and one at about 10 ms.
        let both = serde_json::json!({"462": 99, "925": 1, "100462": 7});
        h.add_json(&both, false);
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile_us(50.0), 100);
        assert_eq!(h.percentile_us(99.0), 100);
        assert!((9_900..10_100).contains(&h.percentile_us(99.9)));
        let mut second = Histogram::default();
        second.add_json(&both, true);
        assert_eq!((second.count(), second.percentile_us(50.0)), (7, 100));
    }
}
