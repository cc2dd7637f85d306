//! Prometheus metrics, served in the text format at `GET /metrics` on `METRICS_BIND_ADDR`, a
//! listener of its own (never the public one): logins by outcome, WeChat calls by API and
//! errcode with their latency, access-token fetches, the session cache, the database pool,
//! and HTTP requests by route and status.
//!
//! Labels only take values from fixed sets (route patterns, error kinds, known errcodes), so
//! that no client and no upstream can grow the number of series.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use wxlogin_core::LoginService;
use wxlogin_user_store::DieselStore;

mod listener;
pub(crate) use listener::serve_metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    /// `ok`, or the error kind answered.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WeChatLabels {
    appid: String,
    api: &'static str,
    /// `0` for success, WeChat's errcode for the known ones, else what failed.
    errcode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WeChatApiLabels {
    appid: String,
    api: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The route's pattern (`/wechat/push/{appid}`), or `unmatched`.
    route: String,
    method: &'static str,
    status: u16,
}

/// Every metric of one process.
pub struct Metrics {
    registry: Registry,
    logins: Family<LoginLabels, Counter>,
    refreshes: Family<LoginLabels, Counter>,
    key_rotations: Counter,
    admin_refused: Counter,
    wechat_calls: Family<WeChatLabels, Counter>,
    wechat_seconds: Family<WeChatApiLabels, Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    observed: Arc<Observed>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets for WeChat calls, in seconds: from a fast loopback answer to the timeout.
const WECHAT_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

impl Metrics {
    /// The metrics of a process, none counted yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wxlogin");
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "logins",
            "Logins by outcome (ok, or the error kind answered)",
            logins.clone(),
        );
        let refreshes = Family::<LoginLabels, Counter>::default();
        registry.register(
            "token_refreshes",
            "Refreshes by outcome (ok, or the error kind answered: refresh_token_reused counts \
             the reuse detections, each of which ended a session)",
            refreshes.clone(),
        );
        let key_rotations = Counter::default();
        registry.register(
            "token_keys_made",
            "Token signing keys this instance made (the first, and each rotation)",
            key_rotations.clone(),
        );
        let admin_refused = Counter::default();
        registry.register(
            "admin_unauthorized",
            "Admin API requests refused for a missing or wrong key",
            admin_refused.clone(),
        );
        let wechat_calls = Family::<WeChatLabels, Counter>::default();
        registry.register(
            "wechat_calls",
            "Calls of the WeChat API by app, API and errcode (0: success; retries included)",
            wechat_calls.clone(),
        );
        let wechat_seconds = Family::<WeChatApiLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(WECHAT_BUCKETS)
        });
        registry.register(
            "wechat_call_duration_seconds",
            "How long WeChat API calls took, retries included",
            wechat_seconds.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route pattern, method and status",
            http_requests.clone(),
        );
        let observed = Arc::new(Observed::default());
        registry.register_collector(Box::new(Arc::clone(&observed)));
        Self {
            registry,
            logins,
            refreshes,
            key_rotations,
            admin_refused,
            wechat_calls,
            wechat_seconds,
            http_requests,
            observed,
        }
    }

    /// Reports, from now on, what is read at each scrape: the service's session cache and
    /// access-token fetches, and the store's pool. (The service is built with clients that
    /// count into these metrics, so it comes after them.)
    pub fn observe(&self, service: Arc<LoginService>, store: Arc<DieselStore>) {
        let _ = self.observed.service.set(service);
        let _ = self.observed.store.set(store);
    }

    /// Reports the webhook dispatcher's counts too.
    pub fn observe_webhooks(&self, webhooks: Arc<crate::webhooks::Webhooks>) {
        let _ = self.observed.webhooks.set(webhooks);
    }

    /// Counts a login's outcome: `ok`, or the error kind answered.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&LoginLabels { outcome }).inc();
    }

    /// Counts a refresh's outcome: `ok`, or the error kind answered.
    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&LoginLabels { outcome }).inc();
    }

    /// Counts an admin request refused for its key.
    pub fn admin_refused(&self) {
        self.admin_refused.inc();
    }

    /// Counts a signing key made here.
    pub fn key_made(&self) {
        self.key_rotations.inc();
    }

    /// Counts an answered request.
    pub fn http_request(
        &self,
        route: Option<String>,
        method: &actix_web::http::Method,
        status: u16,
    ) {
        let method = match method.as_str() {
            "GET" => "GET",
            "HEAD" => "HEAD",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "PATCH" => "PATCH",
            "OPTIONS" => "OPTIONS",
            _ => "other",
        };
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.unwrap_or_else(|| "unmatched".into()),
                method,
                status,
            })
            .inc();
    }

    pub(crate) fn wechat_call(
        &self,
        appid: &str,
        api: &'static str,
        errcode: &'static str,
        started: Instant,
    ) {
        self.wechat_calls
            .get_or_create(&WeChatLabels {
                appid: appid.to_owned(),
                api,
                errcode,
            })
            .inc();
        self.wechat_seconds
            .get_or_create(&WeChatApiLabels {
                appid: appid.to_owned(),
                api,
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Values owned by the service and the store, read at each scrape.
#[derive(Default)]
struct Observed {
    service: OnceLock<Arc<LoginService>>,
    store: OnceLock<Arc<DieselStore>>,
    webhooks: OnceLock<Arc<crate::webhooks::Webhooks>>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed").finish_non_exhaustive()
    }
}

impl Collector for Observed {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(service) = self.service.get() else {
            return Ok(());
        };
        let cache = service.session_cache_stats();
        counter(
            &mut encoder,
            "session_cache_hits",
            "Sessions answered from the cache",
            cache.hits,
        )?;
        counter(
            &mut encoder,
            "session_cache_misses",
            "Sessions read from the database",
            cache.misses,
        )?;
        gauge(
            &mut encoder,
            "session_cache_entries",
            "Sessions and users the session cache holds",
            i64::try_from(cache.entries).unwrap_or(i64::MAX),
        )?;
        gauge(
            &mut encoder,
            "session_cache_bytes",
            "Their weight in bytes, at most SESSION_CACHE_MB",
            i64::try_from(cache.bytes).unwrap_or(i64::MAX),
        )?;
        let fetches = service.access_token_fetches();
        counter(
            &mut encoder,
            "access_token_fetches",
            "WeChat access tokens fetched by this process",
            fetches.here,
        )?;
        gauge(
            &mut encoder,
            "access_token_fetches_all_instances",
            "WeChat access tokens fetched by all instances on the database, as last seen",
            fetches.total,
        )?;
        let checks = service.content_check_stats();
        for (name, help, value) in [
            (
                "content_checks_passed",
                "WeChat content checks that passed",
                checks.passed,
            ),
            (
                "content_checks_review",
                "Checks WeChat was unsure of (let through)",
                checks.reviewed,
            ),
            (
                "content_checks_risky",
                "Nicknames refused and avatars taken down",
                checks.risky,
            ),
            (
                "content_checks_failed",
                "Checks WeChat did not answer",
                checks.failed,
            ),
            (
                "content_checks_quota_paused",
                "Checks not asked: the app's quota was spent this minute",
                checks.quota_paused,
            ),
        ] {
            counter(&mut encoder, name, help, value)?;
        }
        counter(
            &mut encoder,
            "limits_fallbacks",
            "Rate-limit decisions made by this process alone: the shared counters could not be read",
            service.limits().fallbacks(),
        )?;
        if let Some(store) = self.store.get() {
            let pool = store.pool_state();
            gauge(
                &mut encoder,
                "db_pool_max",
                "The most connections the pool opens",
                pool.max_size,
            )?;
            gauge(
                &mut encoder,
                "db_pool_connections",
                "Database connections open",
                pool.connections,
            )?;
            gauge(
                &mut encoder,
                "db_pool_idle",
                "Open connections no call is using",
                pool.idle,
            )?;
            gauge(
                &mut encoder,
                "db_pool_in_use",
                "Calls holding the database (running or about to)",
                pool.in_use,
            )?;
        }
        match self.webhooks.get() {
            Some(webhooks) => webhooks.encode(encoder),
            None => Ok(()),
        }
    }
}

pub(crate) fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

pub(crate) fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl Into<i64>,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value.into());
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}
