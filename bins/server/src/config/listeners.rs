//! Where the server listens and whom it trusts: `BIND_ADDR`, `METRICS_BIND_ADDR`,
//! `TRUSTED_PROXIES`. Dev mode listens on this machine only.

use std::net::SocketAddr;

use super::vars::Vars;
use crate::client_addr::Network;

/// `BIND_ADDR` (127.0.0.1:8080 by default); a loopback address in dev mode.
pub(super) fn bind_addr(dev: bool, vars: &mut Vars<'_>) -> SocketAddr {
    let default = SocketAddr::from(([127, 0, 0, 1], 8080));
    let bind_addr = match vars.get("BIND_ADDR") {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            vars.problem(format!(
                "BIND_ADDR {text:?} is not an address like 127.0.0.1:8080"
            ));
            default
        }),
    };
    if dev && !bind_addr.ip().is_loopback() {
        vars.problem(format!(
            "BIND_ADDR {bind_addr} is not a loopback address, but --dev listens on this \
             machine only (its tokens are signed with a public key): use 127.0.0.1 or drop --dev"
        ));
    }
    bind_addr
}

/// `METRICS_BIND_ADDR`: a listener of its own, never `bind_addr`; none when unset.
pub(super) fn metrics_bind_addr(
    dev: bool,
    vars: &mut Vars<'_>,
    bind_addr: SocketAddr,
) -> Option<SocketAddr> {
    let addr = vars.get("METRICS_BIND_ADDR")?;
    match addr.trim().parse::<SocketAddr>() {
        Ok(parsed) if parsed == bind_addr && parsed.port() != 0 => {
            vars.problem(format!(
                "METRICS_BIND_ADDR {parsed} is BIND_ADDR: metrics are served on a \
                 listener of their own, never the public one"
            ));
            None
        }
        Ok(parsed) if dev && !parsed.ip().is_loopback() => {
            vars.problem(format!(
                "METRICS_BIND_ADDR {parsed} is not a loopback address, but --dev listens \
                 on this machine only: use 127.0.0.1 or drop --dev"
            ));
            None
        }
        Ok(parsed) => Some(parsed),
        Err(_) => {
            vars.problem(format!(
                "METRICS_BIND_ADDR {addr:?} is not an address like 127.0.0.1:9090"
            ));
            None
        }
    }
}

/// `TRUSTED_PROXIES`: addresses or CIDR blocks, comma-separated; none by default.
pub(super) fn trusted_proxies(vars: &mut Vars<'_>) -> Vec<Network> {
    let Some(list) = vars.get("TRUSTED_PROXIES") else {
        return Vec::new();
    };
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let network = Network::parse(entry);
            if network.is_none() {
                vars.problem(format!(
                    "TRUSTED_PROXIES: {entry:?} is neither an address nor a CIDR block \
                     like 10.0.0.0/8"
                ));
            }
            network
        })
        .collect()
}
