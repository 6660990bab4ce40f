//! "Same registrable domain" without a public-suffix-list dependency.

use url::{Host, Url};

/// Two-label public suffixes (ccTLD second levels and shared hosting) that
/// must not be treated as registrable domains. A heuristic, not the full PSL.
const MULTI_LABEL_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "me.uk",
    "net.uk",
    "ltd.uk",
    "plc.uk",
    "com.au",
    "net.au",
    "org.au",
    "edu.au",
    "gov.au",
    "co.nz",
    "org.nz",
    "govt.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "go.jp",
    "com.br",
    "net.br",
    "org.br",
    "gov.br",
    "co.za",
    "org.za",
    "co.in",
    "net.in",
    "org.in",
    "gov.in",
    "ac.in",
    "com.cn",
    "net.cn",
    "org.cn",
    "gov.cn",
    "com.mx",
    "com.ar",
    "com.tr",
    "com.tw",
    "com.hk",
    "com.sg",
    "com.my",
    "co.kr",
    "or.kr",
    "co.il",
    "org.il",
    "co.id",
    "com.ua",
    "com.pl",
    "co.at",
    "or.at",
    "com.es",
    "com.pt",
    "github.io",
    "gitlab.io",
    "herokuapp.com",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "workers.dev",
    "blogspot.com",
    "appspot.com",
    "cloudfront.net",
    "azurewebsites.net",
    "s3.amazonaws.com",
    "firebaseapp.com",
    "web.app",
    "fly.dev",
    "onrender.com",
];

/// Site identity: the registrable domain for DNS names, or `host:port` for IP
/// literals, `localhost` and single-label hosts.
pub fn site_key(url: &Url) -> Option<String> {
    let port = url.port_or_known_default().unwrap_or(0);
    match url.host()? {
        Host::Ipv4(ip) => Some(format!("{ip}:{port}")),
        Host::Ipv6(ip) => Some(format!("[{ip}]:{port}")),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let labels: Vec<&str> = d.split('.').collect();
            if labels.len() < 2 || d == "localhost" {
                return Some(format!("{d}:{port}"));
            }
            let last2 = labels[labels.len() - 2..].join(".");
            let take = if labels.len() >= 3 && MULTI_LABEL_SUFFIXES.contains(&last2.as_str()) {
                3
            } else if labels.len() >= 4 {
                // Three-label suffixes in the list, e.g. s3.amazonaws.com.
                let last3 = labels[labels.len() - 3..].join(".");
                if MULTI_LABEL_SUFFIXES.contains(&last3.as_str()) {
                    4
                } else {
                    2
                }
            } else {
                2
            };
            Some(labels[labels.len() - take.min(labels.len())..].join("."))
        }
    }
}

/// True when both URLs belong to the same site (see [`site_key`]).
pub fn same_site(a: &Url, b: &Url) -> bool {
    match (site_key(a), site_key(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> String {
        site_key(&Url::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(k("https://docs.example.com/x"), "example.com");
        assert_eq!(k("http://a.b.example.co.uk/"), "example.co.uk");
        assert_eq!(k("https://alice.github.io/"), "alice.github.io");
        assert_eq!(k("https://x.b.s3.amazonaws.com/"), "b.s3.amazonaws.com");
        assert_eq!(k("http://127.0.0.1:8080/"), "127.0.0.1:8080");
        assert_eq!(k("http://localhost/"), "localhost:80");
    }

    #[test]
    fn same_site_rules() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_site(
            &u("https://www.example.com/"),
            &u("http://blog.example.com/a")
        ));
        assert!(!same_site(
            &u("https://example.com/"),
            &u("https://example.org/")
        ));
        assert!(!same_site(
            &u("https://alice.github.io/"),
            &u("https://bob.github.io/")
        ));
        assert!(!same_site(
            &u("http://127.0.0.1:1/"),
            &u("http://127.0.0.1:2/")
        ));
        assert!(!same_site(
            &u("http://127.0.0.1:1/"),
            &u("http://127.0.0.2:1/")
        ));
    }
}
