//! The avatar scenarios (wxlogin only): a ~200 KB phone JPEG uploaded one at a time, then on a
//! few more connections than the server decodes at once; uploads sent at one instant; and
//! stored avatars read, with and without `If-None-Match`. Each group runs on servers started
//! for it (`main.rs`), so that a peak of memory is its own and not what a scenario before it
//! left in the allocator.

use std::sync::Barrier;
use std::time::Duration;

use wxlogin_bench::harness::log_in_named_users;

use super::*;
use crate::measure::Answers;
use crate::photo::{self, Photo};
use crate::upload::{UploadBody, Uploader, avatar_name};
use crate::wrk::WrkResult;

/// Connections of the uploads' throughput run: more than the server decodes at once (its cores
/// by default), so that a turn never waits for the next upload to arrive.
const UPLOAD_CONNECTIONS: u32 = 8;
/// Uploads sent at one instant by `avatar-burst`, and how many times.
const BURST_UPLOADS: usize = 16;
const BURST_ROUNDS: usize = 5;
/// Avatars stored before the reads: the names they cycle through.
const MEDIA_FILES: usize = 500;
/// Connections filling the media store.
const FILLING_CONNECTIONS: usize = 4;

const UPLOAD_ROUTE: &str = "/api/me/avatar";
const MEDIA_ROUTE: &str = "/media/avatars/{name}";

/// The upload every avatar scenario sends, made once per run, with its body written where the
/// Lua script reads it.
pub struct AvatarFiles {
    photo: Photo,
    body: UploadBody,
    body_path: String,
}

impl AvatarFiles {
    pub fn create(work: &Path) -> anyhow::Result<Self> {
        step("making a phone photo for the avatar scenarios");
        let photo = photo::phone_jpeg()?;
        let body = UploadBody::jpeg(&photo.bytes)?;
        let path = work.join("avatar-upload.body");
        std::fs::write(&path, &body.bytes)?;
        eprintln!(
            "   ... {}, a multipart body of {} bytes",
            photo.describe(),
            body.bytes.len()
        );
        Ok(Self {
            photo,
            body,
            body_path: path.display().to_string(),
        })
    }
}

/// The avatar scenarios of a run in the groups that share servers: the uploads, the burst,
/// and the reads (`media` and `media-304` read the same stored files), in the run's order.
pub fn avatar_groups(scenarios: &[Scenario]) -> Vec<Vec<Scenario>> {
    let mut groups: Vec<Vec<Scenario>> = Vec::new();
    for &scenario in scenarios.iter().filter(|s| s.is_avatar()) {
        let reads = |s: Scenario| matches!(s, Scenario::Media | Scenario::Media304);
        match groups
            .iter_mut()
            .find(|g| reads(scenario) && g.iter().copied().any(reads))
        {
            Some(group) => group.push(scenario),
            None => groups.push(vec![scenario]),
        }
    }
    groups
}

/// How many uploads the server decodes at once: `AVATAR_UPLOAD_CONCURRENCY` from `--env`, else
/// the server's default, this machine's cores.
fn upload_turns(options: &Options) -> String {
    options
        .server_env
        .iter()
        .rev()
        .find(|(name, _)| name == "AVATAR_UPLOAD_CONCURRENCY")
        .map_or_else(
            || {
                let cores = std::thread::available_parallelism().map_or(2, usize::from);
                format!("{cores} (AVATAR_UPLOAD_CONCURRENCY's default, the cores)")
            },
            |(_, v)| format!("{v} (AVATAR_UPLOAD_CONCURRENCY)"),
        )
}

impl Bench<'_> {
    /// Runs one group of avatar scenarios on `system`, servers started for it: logs in the
    /// token set (the uploaders), then each scenario in turn.
    pub fn run_avatars(
        &self,
        system: &System<'_>,
        group: &[Scenario],
        files: &AvatarFiles,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let options = self.options;
        step(&format!(
            "{}: logging in {} users for the token set",
            system.name, options.tokens
        ));
        let tokens = log_in_token_users(system.addrs[0], options.tokens, &system.run_id)?;
        let tokens_file = self.work.join(format!("tokens-{}.txt", system.run_id));
        std::fs::write(&tokens_file, tokens.join("\n") + "\n")?;
        let tokens_arg = tokens_file.display().to_string();
        // The stored files both reads go over, made for the first of them.
        let mut names: Option<(String, usize)> = None;
        for scenario in group {
            match scenario {
                Scenario::AvatarUpload => self.uploads(system, &tokens_arg, files, out)?,
                Scenario::AvatarBurst => self.burst(system, &tokens, files, out)?,
                Scenario::Media | Scenario::Media304 => {
                    if names.is_none() {
                        names = Some(self.fill_media(system)?);
                    }
                    if let Some((file, count)) = &names {
                        self.reads(system, *scenario, file, *count, out)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `avatar-upload`: one connection (the memory one upload takes), then
    /// [`UPLOAD_CONNECTIONS`] (uploads per second, and per core of the server's CPU).
    fn uploads(
        &self,
        system: &System<'_>,
        tokens: &str,
        files: &AvatarFiles,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let script = self.script("avatar", AVATAR_LUA)?;
        let args = |_: usize| {
            vec![
                tokens.to_owned(),
                files.body_path.clone(),
                UploadBody::boundary().to_owned(),
            ]
        };
        let photo = files.photo.describe();
        let secs = self.options.duration_secs;
        for (key, connections, label) in [
            (
                "avatar-one",
                1,
                format!("POST /api/me/avatar, one at a time ({photo})"),
            ),
            (
                "avatar-upload",
                UPLOAD_CONNECTIONS,
                format!("POST /api/me/avatar, {UPLOAD_CONNECTIONS} connections"),
            ),
        ] {
            let load = Load {
                threads: self.options.threads.min(connections),
                connections,
            };
            let uploads_before = Answers::read(&system.instances, UPLOAD_ROUTE, "POST")?;
            let reads_before = Answers::read(&system.instances, MEDIA_ROUTE, "GET")?;
            self.measured_under(
                system,
                out,
                key,
                label,
                "/api/me/avatar",
                &script,
                secs,
                load,
                args,
            )?;
            let uploads =
                Answers::read(&system.instances, UPLOAD_ROUTE, "POST")?.since(&uploads_before);
            let reads = Answers::read(&system.instances, MEDIA_ROUTE, "GET")?.since(&reads_before);
            let Some(row) = out.rows.last_mut() else {
                continue;
            };
            let note = upload_note(row, connections, &uploads, &reads, self.options);
            row.notes.push(note);
        }
        Ok(())
    }

    /// `avatar-burst`: [`BURST_UPLOADS`] uploads sent at one instant on connections opened
    /// before, all answered before the next instant, [`BURST_ROUNDS`] times: the server's peak
    /// memory with most of them waiting for a turn, and whether any was told to come back (503).
    fn burst(
        &self,
        system: &System<'_>,
        tokens: &[String],
        files: &AvatarFiles,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            tokens.len() >= BURST_UPLOADS,
            "avatar-burst needs --tokens {BURST_UPLOADS} at least"
        );
        let addr = system.addrs[0];
        step(&format!(
            "{}: avatar-burst: {BURST_UPLOADS} uploads at one instant, {BURST_ROUNDS} times, on {addr}",
            system.name
        ));
        let mut uploaders = (0..BURST_UPLOADS)
            .map(|_| Uploader::connect(addr))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = &files.body;
        let barrier = Barrier::new(BURST_UPLOADS);
        let barrier = &barrier;
        measure::reset_peak_rss(&system.instances);
        let answers_before = Answers::read(&system.instances, UPLOAD_ROUTE, "POST")?;
        let before = Sample::read(&system.instances)?;
        let started = Instant::now();
        // Per connection, per round: the status and how long the answer took.
        let outcomes: Vec<Vec<Option<(u16, Duration)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = uploaders
                .iter_mut()
                .zip(tokens)
                .map(|(uploader, token)| {
                    scope.spawn(move || {
                        (0..BURST_ROUNDS)
                            .map(|_| {
                                barrier.wait();
                                let sent = Instant::now();
                                uploader
                                    .upload(token, body)
                                    .ok()
                                    .map(|(status, _)| (status, sent.elapsed()))
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let elapsed = started.elapsed();
        let after = Sample::read(&system.instances)?;
        let answers =
            Answers::read(&system.instances, UPLOAD_ROUTE, "POST")?.since(&answers_before);

        let result = burst_result(&outcomes, elapsed);
        let last_of_round = |round: usize| {
            outcomes
                .iter()
                .filter_map(|o| o.get(round).copied().flatten())
                .map(|(_, d)| d.as_secs_f64() * 1e3)
                .fold(0.0, f64::max)
        };
        let lasts: Vec<f64> = (0..BURST_ROUNDS).map(last_of_round).collect();
        let mut row = Row::new(
            "avatar-burst",
            format!("POST /api/me/avatar, {BURST_UPLOADS} at one instant, {BURST_ROUNDS} times"),
            &result,
            (&before, &after),
            system.database_measured,
            system.cache_mib,
        );
        let peak = row.peak_rss_mib.unwrap_or(0.0);
        let start = row.start_rss_mib.unwrap_or(0.0);
        row.notes.push(format!(
            "avatar-burst: {BURST_UPLOADS} uploads of the photo sent at one instant on \
             connections opened before, {BURST_ROUNDS} times, each time all answered before the \
             next: answers {} ({} told to come back with 503, {} not answered); the last of \
             each instant answered after {} ms; \
             peak RSS {peak:.1} MiB, {:.1} MiB above the {start:.1} MiB when the bursts began, \
             the server decoding {} at once and the others waiting for a turn.",
            answers.describe(),
            answers.count(503),
            result.socket_errors,
            lasts
                .iter()
                .map(|ms| format!("{ms:.0}"))
                .collect::<Vec<_>>()
                .join(" / "),
            peak - start,
            upload_turns(self.options),
        ));
        out.rows.push(row);
        out.runs.push(Run {
            spec: Spec {
                what: format!(
                    "avatar-burst (the bench's own {BURST_UPLOADS} connections, not wrk)"
                ),
                addr,
                path: "/api/me/avatar",
                threads: u32::try_from(BURST_UPLOADS)?,
                connections: u32::try_from(BURST_UPLOADS)?,
                secs: elapsed.as_secs().max(1),
                measured: true,
            },
            result,
            threads: Vec::new(),
        });
        Ok(())
    }

    /// Stores [`MEDIA_FILES`] avatars, each of a user of its own (`av<k>`, whom the upload
    /// scenarios never touch): a 640×480 photo each, which needs no scaling and fills the store
    /// a few times faster than the phone photo. Answers the file of their names and how many.
    fn fill_media(&self, system: &System<'_>) -> anyhow::Result<(String, usize)> {
        let addr = system.addrs[0];
        step(&format!(
            "{}: storing {MEDIA_FILES} avatars (a user each) for the reads",
            system.name
        ));
        let started = Instant::now();
        let tokens = log_in_named_users(addr, "av", MEDIA_FILES, &format!("{}v", system.run_id))?;
        let photo = photo::avatar_sized_jpeg(7)?;
        let body = UploadBody::jpeg(&photo.bytes)?;
        let body = &body;
        let names = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..FILLING_CONNECTIONS)
                .map(|first| {
                    let tokens = &tokens;
                    scope.spawn(move || -> anyhow::Result<Vec<String>> {
                        let mut uploader = Uploader::connect(addr)?;
                        (first..tokens.len())
                            .step_by(FILLING_CONNECTIONS)
                            .map(|k| {
                                let (status, answer) = uploader.upload(&tokens[k], body)?;
                                anyhow::ensure!(
                                    status == 200,
                                    "the upload of av{k}'s avatar answered {status}: {answer}"
                                );
                                avatar_name(&answer)
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| bail!("an uploading thread panicked"))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        let names: Vec<String> = names.into_iter().flatten().collect();
        settle_downloads(system)?;
        let file = self.work.join(format!("media-{}.txt", system.run_id));
        std::fs::write(&file, names.join("\n") + "\n")?;
        eprintln!(
            "   ... {} avatars from {} in {:.1} s",
            names.len(),
            photo.describe(),
            started.elapsed().as_secs_f64()
        );
        Ok((file.display().to_string(), names.len()))
    }

    /// `media` and `media-304`: `GET /media/avatars/{name}` over the stored names in turn,
    /// without and with the `If-None-Match` of each.
    fn reads(
        &self,
        system: &System<'_>,
        scenario: Scenario,
        names: &str,
        count: usize,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let revalidate = scenario == Scenario::Media304;
        let store = self
            .options
            .server_env
            .iter()
            .rev()
            .find(|(name, _)| name == "MEDIA_STORE")
            .map_or_else(|| "the database".to_owned(), |(_, v)| v.clone());
        let (key, label) = if revalidate {
            (
                "media-304",
                format!("GET /media/avatars/{{name}} with If-None-Match, over {count} avatars"),
            )
        } else {
            (
                "media",
                format!("GET /media/avatars/{{name}} over {count} avatars, from {store}"),
            )
        };
        let script = self.script("media", MEDIA_LUA)?;
        let before = Answers::read(&system.instances, MEDIA_ROUTE, "GET")?;
        self.measured(
            system,
            out,
            key,
            label,
            "/media/avatars/",
            &script,
            self.options.duration_secs,
            |_| {
                vec![
                    names.to_owned(),
                    if revalidate { "304" } else { "200" }.into(),
                ]
            },
        )?;
        let answers = Answers::read(&system.instances, MEDIA_ROUTE, "GET")?.since(&before);
        let Some(run) = out.runs.last() else {
            return Ok(());
        };
        let bytes = run.result.bytes as f64;
        let requests = run.result.requests.max(1) as f64;
        let secs = (run.result.duration_us as f64 / 1e6).max(1e-9);
        let note = format!(
            "{key}: answers {}; {:.1} KiB an answer, headers included ({:.0} MiB/s){}",
            answers.describe(),
            bytes / requests / 1024.0,
            bytes / secs / (1024.0 * 1024.0),
            if revalidate {
                ": the store is not read for a 304"
            } else {
                ""
            }
        );
        if let Some(row) = out.rows.last_mut() {
            row.notes.push(note);
        }
        Ok(())
    }
}

/// Waits (at most 30 s) until the fake WeChat's content checks have downloaded what they were
/// asked to (`GET /media/avatars/{name}` stops counting up for a second), so that the reads'
/// rows hold only the reads' answers.
fn settle_downloads(system: &System<'_>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Answers::read(&system.instances, MEDIA_ROUTE, "GET")?.total();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let now = Answers::read(&system.instances, MEDIA_ROUTE, "GET")?.total();
        if now == last {
            break;
        }
        last = now;
    }
    Ok(())
}

/// What the uploads' row says under the table: uploads per second per core of the server's
/// CPU, the memory, and the answers.
fn upload_note(
    row: &Row,
    connections: u32,
    uploads: &Answers,
    reads: &Answers,
    options: &Options,
) -> String {
    let cpu_ms = row.cpu_ms_per_1000.unwrap_or(0.0) / 1e3;
    let cores = row.rate * cpu_ms / 1e3;
    let per_core = if cpu_ms > 0.0 { 1e3 / cpu_ms } else { 0.0 };
    let peak = row.peak_rss_mib.unwrap_or(0.0);
    let start = row.start_rss_mib.unwrap_or(0.0);
    let what = if connections == 1 {
        "one at a time".to_owned()
    } else {
        format!(
            "{connections} connections, the server decoding {} at once",
            upload_turns(options)
        )
    };
    format!(
        "{}: {what}: {:.1} uploads/s using {cores:.2} cores of the server's CPU: **{per_core:.1} \
         uploads/s per core** ({cpu_ms:.1} ms of server CPU an upload, with its WeChat content \
         check: the fake WeChat downloaded {} avatars meanwhile); peak RSS {peak:.1} MiB, \
         {:.1} MiB above the {start:.1} MiB when it began; answers {}.",
        row.key,
        row.rate,
        reads.total(),
        peak - start,
        uploads.describe(),
    )
}

/// The burst's answers as wrk would have summed them up: latencies from each upload's own
/// sending.
fn burst_result(outcomes: &[Vec<Option<(u16, Duration)>>], elapsed: Duration) -> WrkResult {
    let answered: Vec<(u16, Duration)> = outcomes.iter().flatten().flatten().copied().collect();
    let mut micros: Vec<u64> = answered
        .iter()
        .map(|(_, d)| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    micros.sort_unstable();
    let at = |percent: f64| {
        if micros.is_empty() {
            return 0;
        }
        let rank = ((percent / 100.0) * micros.len() as f64).ceil().max(1.0) as usize;
        micros[rank.min(micros.len()) - 1]
    };
    let n = micros.len().max(1) as f64;
    let mean = micros.iter().sum::<u64>() as f64 / n;
    let variance = micros
        .iter()
        .map(|&m| (m as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let sent = outcomes.iter().map(Vec::len).sum::<usize>();
    WrkResult {
        requests: answered.len() as u64,
        duration_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        socket_errors: (sent - answered.len()) as u64,
        non2xx: answered.iter().filter(|(s, _)| *s >= 400).count() as u64,
        p50_us: at(50.0),
        p99_us: at(99.0),
        p999_us: at(99.9),
        max_us: micros.last().copied().unwrap_or(0),
        mean_us: mean,
        stdev_us: variance.sqrt(),
        timeouts: 0,
        bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reads_share_servers_and_the_others_have_their_own() {
        let groups = avatar_groups(&[
            Scenario::Media,
            Scenario::Me,
            Scenario::AvatarUpload,
            Scenario::Media304,
            Scenario::AvatarBurst,
        ]);
        assert_eq!(
            groups,
            [
                vec![Scenario::Media, Scenario::Media304],
                vec![Scenario::AvatarUpload],
                vec![Scenario::AvatarBurst],
            ]
        );
    }

    #[test]
    fn a_burst_counts_what_was_not_answered_as_errors() {
        let ms = Duration::from_millis;
        let outcomes = vec![
            vec![Some((200, ms(100))), Some((503, ms(900)))],
            vec![Some((200, ms(300))), None],
        ];
        let r = burst_result(&outcomes, Duration::from_secs(2));
        assert_eq!((r.requests, r.socket_errors, r.non2xx), (3, 1, 1));
        assert_eq!((r.p50_us, r.max_us), (300_000, 900_000));
    }
}
