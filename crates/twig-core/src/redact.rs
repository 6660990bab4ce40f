//! Secrets left out of what is shown or logged.

/// `url` without the password of its user part, for messages and logs.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_left_out_of_urls() {
        assert_eq!(
            super::url("postgres://twig:s3cret@db:5432/twig"),
            "postgres://twig:***@db:5432/twig"
        );
        assert_eq!(
            super::url("redis://:s3cret@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert_eq!(super::url("postgres://db/twig"), "postgres://db/twig");
        assert_eq!(super::url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
