//! Who a request comes from, for the login rate limit: the TCP peer, or behind trusted reverse
//! proxies the address they forwarded; IPv6 clients by their /64 (one household or one phone
//! holds a whole /64, so limiting single addresses would limit nothing).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Reads `addr` or `addr/prefix`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key the login rate limit counts a client under: its IPv4 address, or its IPv6 /64.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// The client of a request that reached us from `peer` with these `X-Forwarded-For` values:
/// `peer` itself unless it is a trusted proxy; then the right-most forwarded address that is not
/// a trusted proxy (the ones to its left were written by the client and can be anything).
///
/// An entry `ip:port` or `[ipv6]:port` (as some proxies append) counts as its ip. An entry that
/// is no address at all ends the walk: the last trusted hop reached is taken as the client, so
/// that an address left of the garbage, which the client may have written, never is.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[Network],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
    let mut last_trusted = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = forwarded_ip(hop) else {
            return last_trusted;
        };
        if !is_trusted(ip) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

/// The address of one `X-Forwarded-For` entry: `ip`, `ip:port` or `[ipv6]:port`.
fn forwarded_ip(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

/// The client of `req`: its peer, or the address the trusted proxies forwarded it for.
pub fn request_client(req: &actix_web::HttpRequest, trusted: &[Network]) -> Option<IpAddr> {
    req.peer_addr().map(|peer| {
        client_ip(
            peer.ip(),
            req.headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok()),
            trusted,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn networks_contain_what_their_prefix_says() {
        let net = Network::parse("10.1.0.0/16").expect("cidr");
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let one = Network::parse("192.0.2.7").expect("address");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Network::parse("fd00::/8").expect("cidr");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(
            Network::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        for bad in ["", "10.0.0.0/33", "::/129", "nonsense", "10.0.0.0/x"] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            limit_key(ip("2001:db8:1:2::5"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:3::1")),
            limit_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(limit_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let trusted = [Network::parse("10.0.0.0/8").expect("cidr")];
        let peer = ip("10.0.0.2");
        assert_eq!(
            client_ip(peer, ["198.51.100.1, 203.0.113.7"].into_iter(), &trusted),
            ip("203.0.113.7"),
            "the right-most hop is the one our proxy saw"
        );
        assert_eq!(
            client_ip(peer, ["203.0.113.7, 10.0.0.5"].into_iter(), &trusted),
            ip("203.0.113.7"),
            "a chain of trusted proxies is skipped"
        );
        assert_eq!(
            client_ip(ip("203.0.113.50"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.50"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_ip(peer, ["garbage"].into_iter(), &trusted),
            peer,
            "nothing usable: the proxy itself"
        );
        assert_eq!(
            client_ip(peer, ["1.1.1.1", "2.2.2.2"].into_iter(), &trusted),
            ip("2.2.2.2"),
            "several headers read as one list"
        );
        assert_eq!(client_ip(peer, std::iter::empty(), &[]), peer);
    }

    #[test]
    fn forwarded_addresses_with_ports_count_as_their_address() {
        let trusted = [Network::parse("10.0.0.0/8").expect("cidr")];
        let peer = ip("10.0.0.2");
        assert_eq!(
            client_ip(peer, ["1.2.3.4, 198.51.100.7:5555"].into_iter(), &trusted),
            ip("198.51.100.7"),
            "ip:port is the ip, not a hop to skip"
        );
        assert_eq!(
            client_ip(peer, ["1.2.3.4, [2001:db8::7]:443"].into_iter(), &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(peer, ["1.2.3.4, 10.0.0.9:80"].into_iter(), &trusted),
            ip("1.2.3.4"),
            "a trusted proxy with a port is still skipped"
        );
    }

    #[test]
    fn an_entry_that_is_no_address_ends_the_walk_at_the_last_trusted_hop() {
        let trusted = [Network::parse("10.0.0.0/8").expect("cidr")];
        let peer = ip("10.0.0.2");
        assert_eq!(
            client_ip(peer, ["1.2.3.4, unknown"].into_iter(), &trusted),
            peer,
            "the address left of the garbage may be the client's own writing"
        );
        assert_eq!(
            client_ip(peer, ["1.2.3.4, garbage, 10.0.0.5"].into_iter(), &trusted),
            ip("10.0.0.5")
        );
    }
}
