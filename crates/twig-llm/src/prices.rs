//! Built-in prices of common hosted models, in US dollars per million tokens, as
//! the vendors list them for standard (non-batch, non-cached) use. Prices change:
//! `[llm.prices]` in `twig.toml` overrides any of them and adds others.

use twig_core::llm::Price;

/// (model, input, output) per million tokens.
const BUILTIN: &[(&str, f64, f64)] = &[
    // OpenAI
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.0),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4-turbo", 10.0, 30.0),
    ("gpt-4", 30.0, 60.0),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1", 15.0, 60.0),
    ("o1-mini", 1.10, 4.40),
    ("o3", 2.0, 8.0),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    // Anthropic
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4-1", 15.0, 75.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4-5", 3.0, 15.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-3-5-haiku", 0.80, 4.0),
    ("claude-3-opus", 15.0, 75.0),
    ("claude-3-sonnet", 3.0, 15.0),
    ("claude-3-haiku", 0.25, 1.25),
];

/// The built-in price of `model`; a dated or `-latest` snapshot name
/// (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-20241022`) costs what its family does.
pub fn builtin_price(model: &str) -> Option<Price> {
    let find = |name: &str| {
        BUILTIN
            .iter()
            .find(|(m, _, _)| *m == name)
            .map(|&(_, i, o)| Price {
                input_per_mtok: i,
                output_per_mtok: o,
            })
    };
    find(model).or_else(|| find(strip_snapshot(model)?))
}

/// `name-2024-08-06`, `name-20241022` or `name-latest` -> `name`.
fn strip_snapshot(model: &str) -> Option<&str> {
    if let Some(base) = model.strip_suffix("-latest") {
        return Some(base);
    }
    let (base, tail) = model.rsplit_once('-')?;
    if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) {
        return Some(base);
    }
    // ISO date: the last three dash-separated parts are YYYY, MM, DD.
    let mut parts = model.rsplitn(4, '-');
    let (dd, mm, yyyy, base) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (digits(yyyy, 4) && digits(mm, 2) && digits(dd, 2)).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_snapshots() {
        assert_eq!(builtin_price("gpt-4o").unwrap().input_per_mtok, 2.5);
        assert_eq!(builtin_price("gpt-4o-mini").unwrap().output_per_mtok, 0.6);
        assert_eq!(builtin_price("gpt-4o-2024-08-06"), builtin_price("gpt-4o"));
        assert_eq!(
            builtin_price("claude-3-5-sonnet-20241022"),
            builtin_price("claude-3-5-sonnet")
        );
        assert_eq!(
            builtin_price("claude-3-5-haiku-latest"),
            builtin_price("claude-3-5-haiku")
        );
        assert_eq!(builtin_price("llama3.2"), None);
        assert_eq!(builtin_price("gpt-4o-unknown"), None, "no prefix guessing");
        let names: std::collections::HashSet<_> = BUILTIN.iter().map(|b| b.0).collect();
        assert_eq!(names.len(), BUILTIN.len(), "no duplicate entries");
    }
}
