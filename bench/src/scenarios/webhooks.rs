//! The `webhooks` scenario: `user.created` sent through the outbox to a receiver in the bench
//! process (127.0.0.1:0, answering 204 at once, each arrival's time kept by the payload's
//! userId), on a server started with a `WEBHOOKS_FILE` naming it. New users log in through
//! the bench's own keep-alive connections, each answer's time kept by its userId, so that the
//! delay from a login's answer to its webhook is measured per user, on one clock:
//! 1. light load: 100 logins/s for 5 s (the dispatcher idle between its 250 ms polls);
//! 2. full speed: 16 connections for `--duration` s (logins and deliveries at once);
//! 3. the drain: the receiver holds its answers while logins run for 6 s (under the
//!    dispatcher's 10 s timeout, so nothing fails and nothing waits on the retry schedule:
//!    a receiver answering 503 would put each delivery on it, 1 s, then 5 s, …), so the
//!    outbox fills; then it answers, and the backlog's deliveries per second are timed.

use std::fmt::Write as _;
use std::io::Read;
use std::time::Duration;

use anyhow::Context;
use wxlogin_bench::harness::{KeepAlive, http};

use super::*;
use crate::measure::TICKS_PER_SEC;
use crate::servers::Launcher;

mod receiver;

use receiver::Receiver;

/// Connections the full-speed phases log in on (as many as the token set's logins).
const CONNECTIONS: usize = 16;
/// How long the drain's logins run while the receiver holds its answers: under the
/// dispatcher's send timeout (10 s), so that the held deliveries do not fail.
const HOLD: Duration = Duration::from_secs(6);

/// Logs in new users (`<name><connection>x<k>`) on `connections` keep-alive connections until
/// `until`, at `per_sec` logins per second in all if given, else as fast as answered. Each
/// user's id and the instant its answer was read.
fn first_logins(
    addr: SocketAddr,
    name: &str,
    connections: usize,
    until: Instant,
    per_sec: Option<f64>,
) -> anyhow::Result<Vec<(String, Instant)>> {
    let start = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|c| {
                scope.spawn(move || -> anyhow::Result<Vec<(String, Instant)>> {
                    let mut client = KeepAlive::connect(addr)?;
                    let mut answered = Vec::new();
                    for k in 0.. {
                        if let Some(rate) = per_sec {
                            let due = (k * connections + c) as f64 / rate;
                            let at = start + Duration::from_secs_f64(due);
                            std::thread::sleep(at.saturating_duration_since(Instant::now()));
                        }
                        if Instant::now() >= until {
                            break;
                        }
                        let body = format!(r#"{{"code":"{name}{c}x{k}.webhooks"}}"#);
                        let (status, reply) = client.post("/api/login", &body)?;
                        let at = Instant::now();
                        anyhow::ensure!(status == 200, "a login answered {status}: {reply}");
                        let reply: serde_json::Value = serde_json::from_str(&reply)?;
                        anyhow::ensure!(reply["userExist"] == false, "not a first login: {reply}");
                        let id = reply["userInfo"]["id"].as_str().context("no userInfo.id")?;
                        answered.push((id.to_owned(), at));
                    }
                    Ok(answered)
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            let part = worker
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a login thread panicked")))?;
            all.extend(part);
        }
        Ok(all)
    })
}

/// The `p`-th percentile of sorted `values`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied().unwrap_or(f64::NAN)
}

/// A phase's line of the delay table.
fn delay_row(receiver: &Receiver, what: &str, users: &[(String, Instant)], secs: f64) -> String {
    let inbox = receiver.inbox();
    let mut delays: Vec<f64> = users
        .iter()
        .filter_map(|(u, answered)| {
            let arrived = *inbox.arrivals.get(u)?;
            // A webhook before its login's answer was read counts as 0.
            Some(arrived.saturating_duration_since(*answered).as_secs_f64() * 1e3)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    format!(
        "| {what} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} |\n",
        users.len(),
        users.len() as f64 / secs.max(1e-9),
        delays.len(),
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        delays.last().copied().unwrap_or(f64::NAN),
    )
}

/// `whsec_` and the standard base64 of 32 bytes from the system's random source.
fn new_secret() -> anyhow::Result<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = [0_u8; 33];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes[..32])?;
    let mut text = String::from("whsec_");
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            text.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
        }
    }
    // 32 bytes are 43 characters and one `=`: the 33rd byte (a zero) was padding.
    text.pop();
    text.push('=');
    Ok(text)
}

/// One counter of the server's `/metrics` (its first sample whose name contains `name`).
fn metric(instances: &[Instance], name: &str) -> u64 {
    instances
        .iter()
        .filter_map(|i| i.metrics)
        .filter_map(|addr| http(addr, "GET", "/metrics", None, None).ok())
        .filter_map(|(_, text)| {
            text.lines()
                .find(|l| !l.starts_with('#') && l.contains(name))
                .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        })
        .map(|v| v as u64)
        .sum()
}

impl Bench<'_> {
    /// The three phases on a server of their own; the section of the report they make.
    pub fn run_webhooks(
        &self,
        launcher: &Launcher<'_>,
        database_measured: bool,
    ) -> anyhow::Result<String> {
        let receiver = Receiver::start()?;
        let file = self.work.join("webhooks.toml");
        std::fs::write(
            &file,
            format!(
                "[[webhook]]\nurl = \"http://{}/hook\"\nsecret = \"{}\"\nevents = [\"user.created\"]\n",
                receiver.addr,
                new_secret()?
            ),
        )?;
        let file = file.display().to_string();
        let servers = launcher.start_with(None, "-webhooks", &[("WEBHOOKS_FILE", &file)])?;
        let addr = servers.addrs[0];
        let secs = self.options.duration_secs;
        let mut text = format!(
            "\n### Webhooks ({}): user.created to a receiver on loopback\n\n\
             Delay: from the instant the login's answer was read to the webhook's arrival, per user.\n\n\
             | phase | first logins | logins/s | delivered | delay p50 ms | p99 ms | max ms |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            self.options.database.name()
        );

        step("webhooks: light load, 100 first logins/s for 5 s");
        let light = first_logins(
            addr,
            "whl",
            4,
            Instant::now() + Duration::from_secs(5),
            Some(100.0),
        )?;
        receiver.wait_for(&light, Duration::from_secs(30));
        text.push_str(&delay_row(&receiver, "100 logins/s, 5 s", &light, 5.0));

        step(&format!(
            "webhooks: full speed, {CONNECTIONS} connections for {secs} s"
        ));
        let started = Instant::now();
        let full = first_logins(
            addr,
            "whf",
            CONNECTIONS,
            started + Duration::from_secs(secs),
            None,
        )?;
        let took = started.elapsed().as_secs_f64();
        receiver.wait_for(&full, Duration::from_secs(120));
        text.push_str(&delay_row(
            &receiver,
            &format!("full speed, {CONNECTIONS} connections, {secs} s"),
            &full,
            took,
        ));

        step(&format!(
            "webhooks: the receiver holds its answers while new users log in for {} s",
            HOLD.as_secs()
        ));
        receiver.hold(true);
        let backlog = first_logins(addr, "whd", CONNECTIONS, Instant::now() + HOLD, None)?;
        let before = Sample::read(&servers.instances)?;
        let released = Instant::now();
        receiver.hold(false);
        receiver.wait_for(&backlog, Duration::from_secs(180));
        let after = Sample::read(&servers.instances)?;
        let (delivered, last) = {
            let inbox = receiver.inbox();
            let arrivals: Vec<Instant> = backlog
                .iter()
                .filter_map(|(u, _)| inbox.arrivals.get(u).copied())
                .collect();
            (
                arrivals.len(),
                arrivals.into_iter().max().unwrap_or(released),
            )
        };
        let drain = last.saturating_duration_since(released).as_secs_f64();
        let per_1000 = |ticks: u64| ticks as f64 / TICKS_PER_SEC * 1e6 / delivered.max(1) as f64;
        let cpu = per_1000(after.cpu_ticks.saturating_sub(before.cpu_ticks));
        let database = per_1000(after.database_ticks.saturating_sub(before.database_ticks));
        let failed = metric(&servers.instances, "webhooks_attempts_failed");
        let given_up = metric(&servers.instances, "webhooks_given_up");
        let sent = metric(&servers.instances, "webhooks_delivered");
        drop(servers);
        let inbox = receiver.inbox();
        let _ = write!(
            text,
            "\nThe drain: {} user.created waited in the outbox after {} s of logins with the \
             receiver holding its answers; {delivered} of them arrived in {drain:.2} s once it \
             answered: **{:.0} deliveries/s** (the dispatcher: {} at once per round, rounds \
             back to back while full), the server's CPU {cpu:.0} ms per 1,000 deliveries{}.\n\n\
             Over the run: the server counted {sent} delivered, {failed} failed attempts, \
             {given_up} given up; the receiver saw {} webhook-ids, {} of them more than once, \
             {} deliveries without a userId.\n",
            backlog.len(),
            HOLD.as_secs(),
            delivered as f64 / drain.max(1e-9),
            64,
            if database_measured {
                format!(" and PostgreSQL's {database:.0} ms")
            } else {
                " (SQLite inside it)".to_owned()
            },
            inbox.ids.len(),
            inbox.duplicates,
            inbox.strays,
        );
        Ok(text)
    }
}
