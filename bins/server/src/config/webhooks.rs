//! `WEBHOOKS_FILE`: the endpoints that hear of accounts' changes, read once at start.

use wxlogin_domain::WebhookRoutes;
use wxlogin_webhooks::Endpoint;

use super::vars::Vars;

/// The endpoints of `WEBHOOKS_FILE`; none when unset.
pub(super) fn webhook_endpoints(vars: &mut Vars<'_>) -> Vec<Endpoint> {
    let Some(path) = vars.get("WEBHOOKS_FILE") else {
        return Vec::new();
    };
    // The error names the file and what is wrong in it, never a secret (the crate's errors
    // leave them out).
    match wxlogin_webhooks::load_endpoints(std::path::Path::new(path.trim())) {
        Ok(endpoints) => endpoints,
        Err(e) => {
            vars.problem(format!("WEBHOOKS_FILE: {e}"));
            Vec::new()
        }
    }
}

/// Which endpoint wants which event, as the store records them.
pub fn routes_of(endpoints: &[Endpoint]) -> WebhookRoutes {
    WebhookRoutes::new(
        endpoints
            .iter()
            .map(|endpoint| (endpoint.key().to_owned(), endpoint.events().to_vec()))
            .collect(),
    )
}
