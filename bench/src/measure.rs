//! What is measured besides wrk's figures: the server process's CPU time and peak memory,
//! the database's CPU, and the server's session cache (from its `/metrics`); and the tables
//! they are printed in.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context;
use wxlogin_bench::harness::http;

/// CPU time and peak RSS of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSample {
    /// User + system CPU, in clock ticks.
    pub cpu_ticks: u64,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
pub(crate) const TICKS_PER_SEC: f64 = 100.0;

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
    /// Where its `/metrics` are served (wxlogin's `METRICS_BIND_ADDR`; the peer has none).
    pub metrics: Option<SocketAddr>,
}

/// CPU and memory of every instance under test, at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// All instances' CPU, clock ticks.
    pub(crate) cpu_ticks: u64,
    /// The largest instance's peak RSS (each instance's processes summed), KiB.
    pub(crate) peak_rss_kib: u64,
    /// CPU of every `postgres` process on the machine, clock ticks.
    pub(crate) database_ticks: u64,
    /// The session caches of every instance that serves metrics, added up.
    pub(crate) cache: Option<CacheReading>,
}

impl Sample {
    pub fn read(instances: &[Instance]) -> anyhow::Result<Self> {
        let mut all_ticks = 0;
        let mut peak_rss_kib = 0;
        let mut cache: Option<CacheReading> = None;
        for instance in instances {
            if let Some(addr) = instance.metrics {
                let reading = CacheReading::read(addr)?;
                cache = Some(cache.map_or(reading, |c| c.plus(reading)));
            }
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
            cache,
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

/// The session cache's counters and size, from a server's `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheReading {
    pub hits: u64,
    pub misses: u64,
    /// Sessions and users held.
    pub entries: u64,
    pub bytes: u64,
}

impl CacheReading {
    pub fn read(addr: SocketAddr) -> anyhow::Result<Self> {
        let (status, text) = http(addr, "GET", "/metrics", None, None)
            .with_context(|| format!("reading the metrics at {addr}"))?;
        anyhow::ensure!(status == 200, "/metrics at {addr} answered {status}");
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let value = |name: &str| {
            text.lines()
                .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .find_map(|v| v.trim().parse::<f64>().ok())
                .map_or(0, |v| v as u64)
        };
        Self {
            hits: value("wxlogin_session_cache_hits_total"),
            misses: value("wxlogin_session_cache_misses_total"),
            entries: value("wxlogin_session_cache_entries"),
            bytes: value("wxlogin_session_cache_bytes"),
        }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            hits: self.hits + other.hits,
            misses: self.misses + other.misses,
            entries: self.entries + other.entries,
            bytes: self.bytes + other.bytes,
        }
    }

    /// Sessions held, counting one user per session (as every user of the bench's token sets
    /// has; the logins of returning users share a user among sessions, so there it is fewer).
    pub fn sessions(self) -> u64 {
        self.entries / 2
    }
}

/// The answers of one route and method by status (`wxlogin_http_requests_total` of every
/// instance's `/metrics`, added up), to tell a scenario's 304s and 503s apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers(pub BTreeMap<u16, u64>);

impl Answers {
    pub fn read(instances: &[Instance], route: &str, method: &str) -> anyhow::Result<Self> {
        let mut all = Self::default();
        for addr in instances.iter().filter_map(|i| i.metrics) {
            let (status, text) = http(addr, "GET", "/metrics", None, None)
                .with_context(|| format!("reading the metrics at {addr}"))?;
            anyhow::ensure!(status == 200, "/metrics at {addr} answered {status}");
            for (code, n) in Self::parse(&text, route, method).0 {
                *all.0.entry(code).or_default() += n;
            }
        }
        Ok(all)
    }

    fn parse(text: &str, route: &str, method: &str) -> Self {
        let mut answers = Self::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("wxlogin_http_requests_total{") else {
                continue;
            };
            // The route itself may hold braces (`/media/avatars/{name}`): the labels end at
            // the last one.
            let Some((labels, value)) = rest.rsplit_once("} ") else {
                continue;
            };
            let label = |name: &str| {
                let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
                let len = labels[start..].find('"')?;
                Some(&labels[start..start + len])
            };
            if label("route") == Some(route) && label("method") == Some(method) {
                let (Some(code), Ok(n)) = (
                    label("status").and_then(|s| s.parse::<u16>().ok()),
                    value.trim().parse::<f64>(),
                ) else {
                    continue;
                };
                *answers.0.entry(code).or_default() += n as u64;
            }
        }
        answers
    }

    /// What was answered between `before` and `self`.
    pub fn since(&self, before: &Self) -> Self {
        Self(
            self.0
                .iter()
                .map(|(code, n)| {
                    (
                        *code,
                        n.saturating_sub(before.0.get(code).copied().unwrap_or(0)),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }

    pub fn count(&self, status: u16) -> u64 {
        self.0.get(&status).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `200 × 41, 503 × 2`, or `none`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        self.0
            .iter()
            .map(|(code, n)| format!("{code} × {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
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
    fn the_parent_is_read_after_a_command_name_with_spaces() {
        let stat = "4243 (node worker) S 4242 4242 4242 0 -1";
        assert_eq!(parent_pid(stat), Some(4242));
    }

    #[test]
    fn answers_are_counted_by_status_for_one_route_and_method() {
        let text = "# TYPE wxlogin_http_requests counter\n\
                    wxlogin_http_requests_total{route=\"/media/avatars/{name}\",method=\"GET\",status=\"200\"} 7\n\
                    wxlogin_http_requests_total{route=\"/media/avatars/{name}\",method=\"GET\",status=\"304\"} 90\n\
                    wxlogin_http_requests_total{route=\"/media/avatars/{name}\",method=\"HEAD\",status=\"200\"} 1\n\
                    wxlogin_http_requests_total{route=\"/api/me\",method=\"GET\",status=\"200\"} 5\n";
        let before = Answers::parse(text, "/media/avatars/{name}", "GET");
        assert_eq!(
            (before.count(200), before.count(304), before.total()),
            (7, 90, 97)
        );
        let after = Answers(BTreeMap::from([(200, 7), (304, 100), (503, 1)]));
        let during = after.since(&before);
        assert_eq!(during.describe(), "304 × 10, 503 × 1");
    }

    #[test]
    fn the_cache_is_read_from_the_metrics_text() {
        let text = "# HELP wxlogin_session_cache_hits Sessions answered from the cache.\n\
                    # TYPE wxlogin_session_cache_hits counter\n\
                    wxlogin_session_cache_hits_total 900\n\
                    wxlogin_session_cache_misses_total 100\n\
                    wxlogin_session_cache_entries 20000\n\
                    wxlogin_session_cache_bytes 12000000\n";
        let c = CacheReading::parse(text);
        assert_eq!(
            (c.hits, c.misses, c.sessions(), c.bytes),
            (900, 100, 10_000, 12_000_000)
        );
        let per_10k = crate::tables::mib_per_10k(c).expect("sessions held");
        assert!((per_10k - 11.44).abs() < 0.01, "{per_10k}");
    }
}
