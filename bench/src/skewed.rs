//! The skewed working set: the trace `bench/lua/skewed.lua` makes, replayed here through an
//! ideal LRU of the server cache's size, for the hit rate a cache of that many sessions could
//! have had on the very requests wrk sent.

/// One wrk thread's stream of token indices, as `skewed.lua` draws it: xorshift32 seeded with
/// `base + 40503 * id`, token `floor(exp(u * ln(N+1))) - 1` for `u` in [0, 1).
pub struct Draws {
    state: u32,
    log_n: f64,
    n: usize,
}

impl Draws {
    pub fn new(n: usize, base: u64, thread: u32) -> Self {
        let seed = ((base + 40_503 * u64::from(thread)) % (1 << 32)) as u32;
        Self {
            state: if seed == 0 { 1 } else { seed },
            log_n: ((n + 1) as f64).ln(),
            n,
        }
    }
}

impl Iterator for Draws {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        let u = f64::from(x) / 4_294_967_296.0;
        let k = (u * self.log_n).exp().floor() as usize - 1;
        Some(k.min(self.n - 1))
    }
}

/// The share of requests that the `c` most asked-for of `n` tokens get: what a cache that
/// always held exactly those would hit (the best any cache of `c` can do on such a trace).
pub fn best_hit_rate(n: usize, c: usize) -> f64 {
    ((c.min(n) + 1) as f64).ln() / ((n + 1) as f64).ln()
}

/// A least-recently-used set of token indices `0..n`, at most `capacity` of them: a doubly
/// linked list over arrays.
pub struct Lru {
    capacity: usize,
    len: usize,
    held: Vec<bool>,
    prev: Vec<usize>,
    next: Vec<usize>,
    /// Most recent, least recent; `NONE` when empty.
    head: usize,
    tail: usize,
}

const NONE: usize = usize::MAX;

impl Lru {
    pub fn new(n: usize, capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            len: 0,
            held: vec![false; n],
            prev: vec![NONE; n],
            next: vec![NONE; n],
            head: NONE,
            tail: NONE,
        }
    }

    /// Asks for `k`: whether it was held. It is held, as the most recent, afterwards.
    pub fn access(&mut self, k: usize) -> bool {
        let hit = self.held[k];
        if hit {
            self.unlink(k);
        } else {
            self.held[k] = true;
            self.len += 1;
        }
        self.push_front(k);
        if self.len > self.capacity {
            let last = self.tail;
            self.unlink(last);
            self.held[last] = false;
            self.len -= 1;
        }
        hit
    }

    fn unlink(&mut self, k: usize) {
        let (p, n) = (self.prev[k], self.next[k]);
        if p == NONE {
            self.head = n;
        } else {
            self.next[p] = n;
        }
        if n == NONE {
            self.tail = p;
        } else {
            self.prev[n] = p;
        }
        self.prev[k] = NONE;
        self.next[k] = NONE;
    }

    fn push_front(&mut self, k: usize) {
        self.next[k] = self.head;
        self.prev[k] = NONE;
        if self.head == NONE {
            self.tail = k;
        } else {
            self.prev[self.head] = k;
        }
        self.head = k;
    }
}

/// One wrk run of the trace: its seed base and how many draws each of its threads made, with
/// the sum of the indices each thread reported.
pub struct Replay<'a> {
    pub base: u64,
    /// `(draws, sum of indices)` per thread, in thread order.
    pub threads: &'a [(u64, u64)],
}

/// What the replay found.
#[derive(Debug, Clone, Copy)]
pub struct Replayed {
    pub hits: u64,
    pub requests: u64,
    /// Whether every thread's sum of indices matched wrk's: the replayed trace is wrk's.
    pub same_trace: bool,
}

/// Replays `runs` (their threads' draws taken in turn) through `lru`, counting hits only in
/// the runs from `counted_from` on.
pub fn replay(lru: &mut Lru, n: usize, runs: &[Replay<'_>], counted_from: usize) -> Replayed {
    let mut out = Replayed {
        hits: 0,
        requests: 0,
        same_trace: true,
    };
    for (r, run) in runs.iter().enumerate() {
        let mut streams: Vec<(Draws, u64, u64)> = run
            .threads
            .iter()
            .enumerate()
            .map(|(id, &(draws, _))| (Draws::new(n, run.base, id as u32), draws, 0))
            .collect();
        let mut left: u64 = run.threads.iter().map(|t| t.0).sum();
        while left > 0 {
            for (draws, remaining, sum) in &mut streams {
                if *remaining == 0 {
                    continue;
                }
                *remaining -= 1;
                left -= 1;
                let k = draws.next().unwrap_or(0);
                *sum += k as u64;
                let hit = lru.access(k);
                if r >= counted_from {
                    out.requests += 1;
                    out.hits += u64::from(hit);
                }
            }
        }
        out.same_trace &= streams
            .iter()
            .zip(run.threads)
            .all(|((_, _, sum), &(_, wrk_sum))| *sum == wrk_sum);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_favour_the_first_tokens_as_zipf_does() {
        let n = 100_000;
        let draws: Vec<usize> = Draws::new(n, 7, 0).take(200_000).collect();
        assert!(draws.iter().all(|&k| k < n));
        let top_percent = draws.iter().filter(|&&k| k < n / 100).count() as f64 / 2e5;
        // ln(1001) / ln(100001) = 0.60
        assert!((0.58..0.62).contains(&top_percent), "{top_percent}");
        assert!((best_hit_rate(n, n / 100) - 0.60).abs() < 0.01);
    }

    #[test]
    fn the_lru_keeps_the_most_recent() {
        let mut lru = Lru::new(10, 2);
        assert!(!lru.access(1));
        assert!(!lru.access(2));
        assert!(lru.access(1));
        assert!(!lru.access(3)); // pushes out 2, the least recent
        assert!(!lru.access(2));
        assert!(!lru.access(1)); // 1 went when 2 came back
        assert!(lru.access(2));
    }

    #[test]
    fn a_replay_checks_the_trace_against_wrks_sums() {
        let n = 1000;
        let sum: u64 = Draws::new(n, 5, 1).take(100).map(|k| k as u64).sum();
        let threads = [(0, 0), (100, sum)];
        let mut lru = Lru::new(n, 50);
        let out = replay(
            &mut lru,
            n,
            &[Replay {
                base: 5,
                threads: &threads,
            }],
            0,
        );
        assert_eq!(out.requests, 100);
        assert!(out.same_trace);
        let wrong = [(0, 0), (100, sum + 1)];
        let out = replay(
            &mut lru,
            n,
            &[Replay {
                base: 5,
                threads: &wrong,
            }],
            0,
        );
        assert!(!out.same_trace);
    }
}
