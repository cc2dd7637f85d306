//! The tables the bench prints: a row per scenario, every wrk on its own, the ratios to a peer,
//! and the notes on memory under them.

use crate::measure::{CacheReading, Sample, TICKS_PER_SEC};
use crate::options::Options;
use crate::wrk::{Histogram, Run, WrkResult};

/// Per 10,000 sessions, in MiB, from the cache's own weighing.
pub(crate) fn mib_per_10k(cache: CacheReading) -> Option<f64> {
    (cache.sessions() > 0).then(|| cache.bytes as f64 / MIB / cache.sessions() as f64 * 1e4)
}

const MIB: f64 = 1024.0 * 1024.0;

/// One line of a table: a scenario, or a part of one (the reads and logins of the mix).
pub struct Row {
    /// The same for both systems, to pair them in the ratios.
    pub key: String,
    pub label: String,
    pub rate: f64,
    pub p99_ms: f64,
    p50_ms: f64,
    p999_ms: f64,
    pub errors: u64,
    pub cpu_ms_per_1000: Option<f64>,
    /// `None` with CPU measured: the database runs in the server (SQLite).
    pub database_cpu_ms_per_1000: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    /// The RSS when the scenario began (its VmHWM just reset).
    pub start_rss_mib: Option<f64>,
    /// Of the `/api/me` lookups during the scenario, the share the cache answered.
    pub hit_rate: Option<f64>,
    /// Those lookups (hits and misses).
    pub lookups: u64,
    /// The cache at the end of the scenario, and what it was configured to hold (MiB).
    pub cache: Option<(CacheReading, u64)>,
    /// Said under the table.
    pub notes: Vec<String>,
}

impl Row {
    /// A scenario's row from its wrk runs and the samples before and after them.
    /// `database_measured`: whether the database runs in processes of its own (PostgreSQL),
    /// so that its CPU is reported apart. `cache_mib`: the cache each instance was given.
    pub fn new(
        key: &str,
        label: String,
        wrk: &WrkResult,
        (before, after): (&Sample, &Sample),
        database_measured: bool,
        cache_mib: Option<u64>,
    ) -> Self {
        let secs = wrk.duration_us as f64 / 1e6;
        let per_1000 =
            |ticks: u64| ticks as f64 / TICKS_PER_SEC * 1e3 / (wrk.requests.max(1) as f64 / 1e3);
        let (hits, lookups) = before.cache.zip(after.cache).map_or((0, 0), |(b, a)| {
            let hits = a.hits.saturating_sub(b.hits);
            (hits, hits + a.misses.saturating_sub(b.misses))
        });
        // Lookups under 1 % of the requests are the previous run's last answers (wrk stops
        // with requests in flight), not this scenario's: a scenario of logins makes none.
        let hit_rate =
            (lookups > 0 && lookups * 100 >= wrk.requests).then(|| hits as f64 / lookups as f64);
        Self {
            key: key.to_owned(),
            label,
            rate: wrk.requests as f64 / secs.max(1e-9),
            p50_ms: wrk.p50_us as f64 / 1e3,
            p99_ms: wrk.p99_us as f64 / 1e3,
            p999_ms: wrk.p999_us as f64 / 1e3,
            errors: wrk.socket_errors + wrk.non2xx,
            cpu_ms_per_1000: Some(per_1000(after.cpu_ticks.saturating_sub(before.cpu_ticks))),
            database_cpu_ms_per_1000: database_measured
                .then(|| per_1000(after.database_ticks.saturating_sub(before.database_ticks))),
            peak_rss_mib: Some(after.peak_rss_kib as f64 / 1024.0),
            start_rss_mib: Some(before.peak_rss_kib as f64 / 1024.0),
            hit_rate,
            lookups,
            cache: after.cache.zip(cache_mib),
            notes: Vec::new(),
        }
    }

    /// A part of a scenario (one kind of request of the mix): its answers over `duration_us`
    /// and its latencies; CPU and memory are the scenario's, on its own row.
    pub fn part(
        key: &str,
        label: String,
        histogram: &Histogram,
        errors: u64,
        duration_us: u64,
    ) -> Self {
        let ms = |p| histogram.percentile_us(p) as f64 / 1e3;
        Self {
            key: key.to_owned(),
            label,
            rate: histogram.count() as f64 / (duration_us as f64 / 1e6).max(1e-9),
            p50_ms: ms(50.0),
            p99_ms: ms(99.0),
            p999_ms: ms(99.9),
            errors,
            cpu_ms_per_1000: None,
            database_cpu_ms_per_1000: None,
            peak_rss_mib: None,
            start_rss_mib: None,
            hit_rate: None,
            lookups: 0,
            cache: None,
            notes: Vec::new(),
        }
    }
}

fn or_dash(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), format)
}

/// The results of one system under test as a Markdown table, headed by what was run, with
/// the notes of its rows under it.
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
    let cached = rows.iter().any(|r| r.cache.is_some());
    out.push_str("| scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU ms / 1k req | database CPU ms / 1k req | peak RSS MiB |");
    out.push_str(if cached {
        " cache hits | cache MiB (sessions) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    } else {
        "\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    });
    let healthz = rows.iter().find(|r| r.key == "healthz").map(|r| r.rate);
    for row in rows {
        let share = match healthz {
            Some(h) if row.key != "healthz" && h > 0.0 => {
                format!(" ({:.0}% of healthz)", 100.0 * row.rate / h)
            }
            _ => String::new(),
        };
        let database = match (row.cpu_ms_per_1000, row.database_cpu_ms_per_1000) {
            (_, Some(ms)) => format!("{ms:.1}"),
            (Some(_), None) => "in process".to_owned(),
            (None, None) => "–".to_owned(),
        };
        out.push_str(&format!(
            "| {} | {:.0}{share} | {:.2} | {:.2} | {:.2} | {} | {} | {database} | {} |",
            row.label,
            row.rate,
            row.p50_ms,
            row.p99_ms,
            row.p999_ms,
            row.errors,
            or_dash(row.cpu_ms_per_1000, |v| format!("{v:.1}")),
            or_dash(row.peak_rss_mib, |v| format!("{v:.1}")),
        ));
        if cached {
            out.push_str(&format!(
                " {} | {} |",
                or_dash(row.hit_rate, |v| format!(
                    "{:.1}% of {}",
                    100.0 * v,
                    row.lookups
                )),
                row.cache.map_or_else(
                    || "–".to_owned(),
                    |(c, _)| format!("{:.1} ({})", c.bytes as f64 / MIB, c.sessions())
                ),
            ));
        }
        out.push('\n');
    }
    let notes: Vec<&String> = rows.iter().flat_map(|r| &r.notes).collect();
    if !notes.is_empty() || cached {
        out.push('\n');
    }
    for note in notes {
        out.push_str(&format!("- {note}\n"));
    }
    if let Some(memory) = memory_note(rows) {
        out.push_str(&format!("- {memory}\n"));
    }
    out
}

/// The cache's memory per 10,000 sessions (from `skewed`, whose sessions have a user each,
/// else from the scenario whose cache weighed the most), and the largest peak RSS less the
/// cache configured.
fn memory_note(rows: &[Row]) -> Option<String> {
    let with_cache = || rows.iter().filter_map(|r| r.cache.map(|(c, _)| (r, c)));
    let (row, cache) = with_cache()
        .find(|(r, _)| r.key == "skewed")
        .or_else(|| with_cache().max_by_key(|(_, c)| c.bytes))?;
    let per_10k = mib_per_10k(cache)?;
    let rss = row.peak_rss_mib?;
    let cache_mib = cache.bytes as f64 / MIB;
    // The avatar scenarios' memory is images being decoded, said in their own notes.
    let worst = rows
        .iter()
        .filter(|r| !crate::scenarios::is_avatar_row(&r.key))
        .filter_map(|r| Some((r, r.peak_rss_mib?, r.cache?.1)))
        .max_by(|a, b| (a.1 - a.2 as f64).total_cmp(&(b.1 - b.2 as f64)));
    let mut note = format!(
        "Cache memory: {cache_mib:.1} MiB for {} sessions with their users at the end of \"{}\" \
         (its own weighing): {per_10k:.2} MiB per 10,000 sessions; peak RSS {rss:.1} MiB \
         ({:.1} MiB when the scenario began), {:.1} MiB besides the cache.",
        cache.sessions(),
        row.label,
        row.start_rss_mib.unwrap_or(0.0),
        rss - cache_mib,
    );
    if let Some((r, rss, configured_mib)) = worst {
        note.push_str(&format!(
            " Peak RSS less the configured cache, at most: {:.1} MiB (\"{}\", {rss:.1} MiB with {configured_mib} MiB configured).",
            rss - configured_mib as f64,
            r.label
        ));
    }
    Some(note)
}

/// Every wrk process of a system's run with its own figures, so that a percentile in the
/// table can be traced to the wrk (and the thread) it came from.
pub fn runs_table(runs: &[Run]) -> String {
    let mut out = String::from(
        "| wrk run | target | threads / conns | s | requests | req/s | p50 ms | p99 ms | p99.9 ms | max ms | mean ± stdev ms | errors (socket, timeouts, status ≥ 400) | requests sent per thread |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for run in runs {
        let r = &run.result;
        let secs = r.duration_us as f64 / 1e6;
        let per_thread: Vec<String> = run.threads.iter().map(|t| t.sent.to_string()).collect();
        out.push_str(&format!(
            "| {}{} | {} | {} / {} | {:.1} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} ± {:.2} | {}, {}, {} | {} |\n",
            run.spec.what,
            if run.spec.measured { "" } else { " (not a row)" },
            run.spec.addr,
            run.spec.threads,
            run.spec.connections,
            secs,
            r.requests,
            r.requests as f64 / secs.max(1e-9),
            r.p50_us as f64 / 1e3,
            r.p99_us as f64 / 1e3,
            r.p999_us as f64 / 1e3,
            r.max_us as f64 / 1e3,
            r.mean_us / 1e3,
            r.stdev_us / 1e3,
            r.socket_errors,
            r.timeouts,
            r.non2xx,
            if run.threads.iter().all(|t| t.sent == 0) {
                "–".to_owned()
            } else {
                per_thread.join(" / ")
            },
        ));
    }
    out
}

/// wxlogin against the peer, row by row: how many times the peer's rate, latency, and CPU per
/// request.
pub fn ratios(peer: &str, ours: &[Row], theirs: &[Row]) -> String {
    let mut out = format!(
        "| scenario | wxlogin req/s | {peer} req/s | ratio | wxlogin p99 ms | {peer} p99 ms | wxlogin CPU ms / 1k | {peer} CPU ms / 1k |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for row in ours {
        if let Some(peer_row) = theirs.iter().find(|r| r.key == row.key) {
            out.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.2}× | {:.2} | {:.2} | {} | {} |\n",
                row.label,
                row.rate,
                peer_row.rate,
                row.rate / peer_row.rate.max(1e-9),
                row.p99_ms,
                peer_row.p99_ms,
                or_dash(row.cpu_ms_per_1000, |v| format!("{v:.1}")),
                or_dash(peer_row.cpu_ms_per_1000, |v| format!("{v:.1}")),
            ));
        }
    }
    out
}

/// wxlogin's own comparisons within the run: `/api/me` against its HS256 reference, and a
/// refresh against a login (the contract's targets: within 10 %, and at least 3×).
pub fn own_ratios(rows: &[Row]) -> String {
    let rate = |key: &str| rows.iter().find(|r| r.key == key).map(|r| r.rate);
    let mut out = String::new();
    for (what, over, under) in [
        ("GET /api/me, EdDSA tokens / HS256 tokens", "me", "me-hs256"),
        (
            "POST /api/token/refresh / POST /api/login",
            "refresh",
            "login",
        ),
    ] {
        if let (Some(a), Some(b)) = (rate(over), rate(under)) {
            out.push_str(&format!("- {what}: {:.2}×\n", a / b.max(1e-9)));
        }
    }
    out
}
