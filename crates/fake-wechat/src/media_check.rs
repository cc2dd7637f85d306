//! A media check after `media_check_async` has answered: the image downloaded the way WeChat
//! fetches it, a verdict decided, and the `wxa_media_check` push sent to the app's push URL.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxlogin_domain::{ContentVerdict, Suggest};
use wxlogin_wechat_protocol::{MEDIA_CHECK_EVENT, MEDIA_UNDOWNLOADABLE};

use crate::business::unix_now;
use crate::content_security::suggest_word;
use crate::{FakeWeChat, PushFormat, PushMessage, PushMode};

/// The largest image WeChat checks (10 MB); a larger one counts as not downloadable.
const MAX_MEDIA_BYTES: usize = 10 * 1024 * 1024;
/// How long the download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// A check `media_check_async` accepted.
pub(crate) struct MediaCheckJob {
    pub(crate) appid: String,
    pub(crate) openid: String,
    pub(crate) media_url: String,
    pub(crate) trace_id: String,
}

/// What became of the `wxa_media_check` push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushDelivery {
    /// The app has no push URL ([`FakeWeChat::set_push_url`]): nothing was sent.
    NoPushUrl,
    /// The push URL answered (a server that took the push answers 200 `success`).
    Answered {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// The push could not be sent, or no answer came (the error's text).
    Failed(String),
}

/// A media check the fake finished: what it decided and what became of its push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedMediaCheck {
    /// The app it was for.
    pub appid: String,
    /// The user it was asked for.
    pub openid: String,
    /// The URL it downloaded.
    pub media_url: String,
    /// The `trace_id` `media_check_async` answered and the push carried.
    pub trace_id: String,
    /// Whether the URL could be downloaded (an HTTP 2xx, at most 10 MB, within 5 s).
    pub downloaded: bool,
    /// The verdict pushed: the user's ([`FakeWeChat::set_media_verdict`]) when downloaded,
    /// else `review` label 100 (with `status_code` -1008).
    pub verdict: ContentVerdict,
    /// What became of the push.
    pub delivery: PushDelivery,
}

impl FakeWeChat {
    /// The media checks finished so far (downloaded or not, pushed or not), oldest first.
    pub fn media_checks_finished(&self) -> Vec<FinishedMediaCheck> {
        Self::lock(&self.state.checks.finished).clone()
    }

    /// Waits until the check of `trace_id` has finished and its push has been answered (or
    /// found no push URL, or failed), for at most `within`. Runs on any tokio runtime.
    pub async fn wait_for_media_check(
        &self,
        trace_id: &str,
        within: Duration,
    ) -> Option<FinishedMediaCheck> {
        let deadline = Instant::now() + within;
        loop {
            let finished = Self::lock(&self.state.checks.finished)
                .iter()
                .find(|check| check.trace_id == trace_id)
                .cloned();
            if finished.is_some() || Instant::now() >= deadline {
                return finished;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Downloads the image, decides, pushes, and records the outcome. On an actix runtime.
    pub(crate) async fn run_media_check(self, job: MediaCheckJob) {
        let url = job.media_url.clone();
        let downloaded = isolated(async move { download(&url).await }).await;
        if let Err(why) = &downloaded {
            log::info!(
                "fake WeChat: media check {} not downloaded: {why}",
                job.trace_id
            );
        }
        let downloaded = downloaded.is_ok();
        let verdict = if downloaded {
            verdict_of(self.media_verdict(&job.openid))
        } else {
            ContentVerdict {
                suggest: Suggest::Review,
                label: 100,
            }
        };
        let delivery = match self.push_url(&job.appid) {
            None => PushDelivery::NoPushUrl,
            Some(url) => {
                let message = media_check_push(&job, downloaded, verdict);
                let fake = self.clone();
                let sent = isolated(async move {
                    fake.send_push(&url, &message)
                        .await
                        .map_err(|e| e.to_string())
                })
                .await;
                match sent {
                    Ok((status, body)) => PushDelivery::Answered { status, body },
                    Err(e) => PushDelivery::Failed(e),
                }
            }
        };
        Self::lock(&self.state.checks.finished).push(FinishedMediaCheck {
            appid: job.appid,
            openid: job.openid,
            media_url: job.media_url,
            trace_id: job.trace_id,
            downloaded,
            verdict,
            delivery,
        });
    }
}

/// Runs `work` as a task of its own, so that a panic in it ends as an error and the check
/// still finishes: awc panics making a client when the process has no rustls crypto provider.
async fn isolated<T: 'static>(
    work: impl Future<Output = Result<T, String>> + 'static,
) -> Result<T, String> {
    actix_web::rt::spawn(work).await.unwrap_or_else(|_| {
        Err("the HTTP client panicked (no rustls crypto provider in this process?)".into())
    })
}

/// The labels the fake gives an image: porn for a risky one, "other" for one to review.
fn verdict_of(suggest: Suggest) -> ContentVerdict {
    let label = match suggest {
        Suggest::Pass => 100,
        Suggest::Review => 21000,
        Suggest::Risky => 20002,
    };
    ContentVerdict { suggest, label }
}

/// Fetches `url` as WeChat does: a GET, a 2xx, at most 10 MB, within 5 s. Answers the size.
async fn download(url: &str) -> Result<usize, String> {
    let mut reply = awc::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .finish()
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !reply.status().is_success() {
        return Err(format!("HTTP {}", reply.status()));
    }
    let body = reply
        .body()
        .limit(MAX_MEDIA_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    if body.is_empty() {
        return Err("an empty body".into());
    }
    Ok(body.len())
}

/// The v2 push of a check: safe mode, JSON, as WeChat sends it. A pass's label is the string
/// `"100"`, as real pushes have carried it; an image not downloaded adds v1's `status_code`
/// -1008 to a `review`.
fn media_check_push(job: &MediaCheckJob, downloaded: bool, verdict: ContentVerdict) -> PushMessage {
    let suggest = suggest_word(verdict.suggest);
    let label: Value = if verdict.suggest == Suggest::Pass {
        verdict.label.to_string().into()
    } else {
        verdict.label.into()
    };
    let mut fields = vec![
        ("ToUserName", json!("gh_fake00000000")),
        ("FromUserName", json!(job.openid)),
        ("CreateTime", json!(unix_now())),
        ("MsgType", json!("event")),
        ("Event", json!(MEDIA_CHECK_EVENT)),
        ("appid", json!(job.appid)),
        ("trace_id", json!(job.trace_id)),
        ("version", json!(2)),
        (
            "detail",
            json!([{ "strategy": "content_model", "errcode": 0, "suggest": suggest,
                     "label": verdict.label, "prob": 90 }]),
        ),
        ("errcode", json!(0)),
        ("errmsg", json!("ok")),
        ("result", json!({ "suggest": suggest, "label": label })),
    ];
    if !downloaded {
        fields.push(("status_code", json!(MEDIA_UNDOWNLOADABLE)));
    }
    PushMessage {
        appid: job.appid.clone(),
        openid: job.openid.clone(),
        fields: fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        mode: PushMode::Safe,
        format: PushFormat::Json,
    }
}
