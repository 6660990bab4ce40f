//! Minimal robots.txt parser (RFC 9309 subset plus Crawl-delay and Sitemap).

use crate::patterns::wildcard_match;
use url::Url;

/// Parsed rules for one user-agent token.
#[derive(Debug, Clone, Default)]
pub struct Robots {
    /// (allow, pattern) rules of the selected group(s).
    rules: Vec<(bool, String)>,
    /// Crawl-delay in seconds, if given for our group.
    crawl_delay: Option<f64>,
    /// `Sitemap:` URLs (global, not per group).
    sitemaps: Vec<String>,
    /// Disallow everything (robots.txt unreachable with a server error).
    disallow_all: bool,
}

impl Robots {
    /// Rules allowing everything (robots.txt missing).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Rules disallowing everything (robots.txt answered 5xx / unreachable).
    pub fn disallow_all() -> Self {
        Self {
            disallow_all: true,
            ..Self::default()
        }
    }

    /// Parse `body` and keep the groups for `agent` (falling back to `*`).
    pub fn parse(body: &str, agent: &str) -> Self {
        let agent = agent.to_ascii_lowercase();
        let mut robots = Robots::default();
        // Rules/delay of groups naming us, and of `*` groups, kept apart.
        let (mut ours, mut star) = (Group::default(), Group::default());
        let (mut found_ours, mut group_ours, mut group_star) = (false, false, false);
        let mut in_agents = false;
        for raw in body.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        // A new group starts after any rule line.
                        group_ours = false;
                        group_star = false;
                    }
                    in_agents = true;
                    let token = value
                        .split('/')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    if token == "*" {
                        group_star = true;
                    } else if !token.is_empty() && token == agent {
                        group_ours = true;
                        found_ours = true;
                    }
                }
                "allow" | "disallow" | "crawl-delay" => {
                    in_agents = false;
                    for (active, g) in [(group_ours, &mut ours), (group_star, &mut star)] {
                        if active {
                            g.add(&key, value);
                        }
                    }
                }
                "sitemap" if !value.is_empty() => robots.sitemaps.push(value.to_string()),
                _ => {}
            }
        }
        let chosen = if found_ours { ours } else { star };
        robots.rules = chosen.rules;
        robots.crawl_delay = chosen.delay;
        robots
    }

    /// Whether `url` may be fetched: longest matching rule wins, Allow wins ties.
    pub fn allowed(&self, url: &Url) -> bool {
        if url.path() == "/robots.txt" {
            return true;
        }
        if self.disallow_all {
            return false;
        }
        let target = crate::patterns::path_and_query(url);
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if rule_matches(pattern, &target) {
                let len = pattern.len();
                let better = match best {
                    None => true,
                    Some((l, a)) => len > l || (len == l && *allow && !a),
                };
                if better {
                    best = Some((len, *allow));
                }
            }
        }
        best.map(|(_, allow)| allow).unwrap_or(true)
    }

    /// True when built by [`Robots::disallow_all`] (robots.txt unavailable).
    pub fn is_unavailable(&self) -> bool {
        self.disallow_all
    }

    /// Crawl-delay in seconds for our group, if any.
    pub fn crawl_delay(&self) -> Option<f64> {
        self.crawl_delay
    }

    /// Sitemap URLs listed in the file.
    pub fn sitemaps(&self) -> &[String] {
        &self.sitemaps
    }
}

#[derive(Default)]
struct Group {
    rules: Vec<(bool, String)>,
    delay: Option<f64>,
}

impl Group {
    fn add(&mut self, key: &str, value: &str) {
        match key {
            "allow" if !value.is_empty() => self.rules.push((true, value.to_string())),
            // An empty Disallow means "allow all" and adds no rule.
            "disallow" if !value.is_empty() => self.rules.push((false, value.to_string())),
            "crawl-delay" => {
                if let Ok(d) = value.parse::<f64>() {
                    if d.is_finite() && d >= 0.0 {
                        self.delay = Some(self.delay.map_or(d, |old: f64| old.max(d)));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Robots patterns are prefix matches unless they end with `$`.
fn rule_matches(pattern: &str, target: &str) -> bool {
    match pattern.strip_suffix('$') {
        Some(anchored) => wildcard_match(anchored, target),
        None => wildcard_match(&format!("{pattern}*"), target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: &Robots, path: &str) -> bool {
        r.allowed(&Url::parse(&format!("http://h{path}")).unwrap())
    }

    #[test]
    fn longest_match_and_wildcards() {
        let txt = "User-agent: *\nDisallow: /private\nAllow: /private/open\n\
                   Disallow: /*.gif$\nDisallow: /tmp/*/x\nSitemap: http://h/s.xml\n";
        let r = Robots::parse(txt, "TwigBot");
        assert!(!ok(&r, "/private/a"));
        assert!(ok(&r, "/private/open/a"));
        assert!(!ok(&r, "/img/a.gif"));
        assert!(ok(&r, "/img/a.gif?x=1"));
        assert!(!ok(&r, "/tmp/1/x/2"));
        assert!(ok(&r, "/public"));
        assert!(ok(&r, "/robots.txt"));
        assert_eq!(r.sitemaps(), ["http://h/s.xml"]);
    }

    #[test]
    fn specific_agent_group_wins_over_star() {
        let txt = "User-agent: *\nDisallow: /\n\nUser-agent: OtherBot\nUser-agent: TwigBot/1.0\n\
                   Disallow: /no\nCrawl-delay: 2.5\n";
        let r = Robots::parse(txt, "TwigBot");
        assert!(ok(&r, "/yes"));
        assert!(!ok(&r, "/no"));
        assert_eq!(r.crawl_delay(), Some(2.5));
        let other = Robots::parse(txt, "Nobody");
        assert!(!ok(&other, "/yes"));
    }

    #[test]
    fn tie_prefers_allow_and_empty_disallow_allows() {
        let r = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "TwigBot");
        assert!(ok(&r, "/a"));
        let r = Robots::parse("User-agent: *\nDisallow:\n", "TwigBot");
        assert!(ok(&r, "/anything"));
        assert!(!ok(&Robots::disallow_all(), "/x"));
    }
}
