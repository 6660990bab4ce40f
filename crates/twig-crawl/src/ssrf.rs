//! SSRF guard: refuse private/internal addresses, also at connect time.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::{Host, Url};

/// True for addresses a crawler must not reach unless private networks are allowed.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local() // includes 169.254.169.254 metadata
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // benchmarking 198.18/15
        || o[0] >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // NAT64 64:ff9b::/96 embeds an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return forbidden_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7 (incl. fd00:ec2::254)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local
        || (s[0] == 0 && s[1] == 0 && s[2..6] == [0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d
}

/// Check a URL's host before connecting; the resolver below enforces it again
/// on the addresses actually used, so DNS rebinding cannot slip through.
pub async fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(d)) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| format!("cannot resolve {d}: {e}"))?
                .collect();
            return match addrs.iter().find(|a| is_forbidden_ip(a.ip())) {
                Some(bad) => Err(format!(
                    "host {d} resolves to non-public address {} (allow_private_networks is off)",
                    bad.ip()
                )),
                None if addrs.is_empty() => Err(format!("host {d} has no addresses")),
                None => Ok(()),
            };
        }
        None => return Err("URL has no host".to_string()),
    };
    if is_forbidden_ip(ip) {
        Err(format!(
            "address {ip} is private/loopback/reserved (allow_private_networks is off)"
        ))
    } else {
        Ok(())
    }
}

/// reqwest DNS resolver that drops forbidden addresses, so reqwest connects
/// only to addresses that passed the check.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    /// When true, nothing is filtered.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || !is_forbidden_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                let msg = format!("{host}: no permitted (public) address");
                return Err(Box::<dyn std::error::Error + Send + Sync>::from(msg));
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(s: &str) -> bool {
        is_forbidden_ip(s.parse().unwrap())
    }

    #[test]
    fn classifies_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(bad(a), "{a} should be forbidden");
        }
        for a in [
            "8.8.8.8",
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(!bad(a), "{a} should be allowed");
        }
    }

    #[tokio::test]
    async fn check_url_refuses_loopback_and_localhost() {
        let u = Url::parse("http://127.0.0.1:9/").unwrap();
        assert!(check_url(&u, false)
            .await
            .unwrap_err()
            .contains("127.0.0.1"));
        assert!(check_url(&u, true).await.is_ok());
        let l = Url::parse("http://localhost:9/").unwrap();
        assert!(check_url(&l, false).await.is_err());
    }

    #[tokio::test]
    async fn resolver_filters_forbidden_addresses() {
        let name = |h: &str| h.parse::<Name>().unwrap();
        let strict = GuardedResolver {
            allow_private: false,
        };
        let err = strict.resolve(name("localhost")).await.err().unwrap();
        assert!(err.to_string().contains("no permitted"));
        let open = GuardedResolver {
            allow_private: true,
        };
        let addrs: Vec<_> = open.resolve(name("localhost")).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
