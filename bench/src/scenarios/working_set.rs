//! The skewed working set: servers started again with a cache a tenth of it, the working set
//! logged in, a warm-up, the measured run, and the same trace replayed through an ideal LRU.

use super::*;

impl Bench<'_> {
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
}
