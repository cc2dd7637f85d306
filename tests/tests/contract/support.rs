//! Reading the metrics a server exposes.

use wxlogin_e2e::TestApp;

/// Reads one sample of the text exposition: the value of `name{labels}` (labels as printed).
pub(crate) fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub(crate) async fn scrape(app: &TestApp) -> String {
    let url = format!(
        "{}/metrics",
        app.metrics.as_deref().expect("metrics listen")
    );
    let mut reply = awc::Client::default()
        .get(url)
        .send()
        .await
        .expect("scraped");
    assert_eq!(reply.status().as_u16(), 200);
    String::from_utf8(reply.body().await.expect("body").to_vec()).expect("UTF-8")
}
