//! "Did you mean ...?" hints for names and values that are close to a valid one.

use std::fmt;

/// A suggestion for a mistyped name or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    suggestion: String,
    /// The input differs from the suggestion only in letter case.
    case_only: bool,
    /// What is being corrected: "values" or "names".
    noun: &'static str,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.case_only {
            write!(
                f,
                " ({} are case-sensitive: did you mean '{}'?)",
                self.noun, self.suggestion
            )
        } else {
            write!(f, " (did you mean '{}'?)", self.suggestion)
        }
    }
}

/// Longest input for which typo hints are computed; longer inputs are not names.
const MAX_HINT_INPUT: usize = 64;
/// Edits allowed for a typo hint: enough for a swapped or missing letter, not for a new word.
const MAX_EDITS: usize = 2;

/// A hint for a value (ENVIRONMENT value, ...): same word in another case, or a close typo.
pub(crate) fn value_hint(input: &str, candidates: &[&str]) -> Option<Hint> {
    hint(input, candidates, "values")
}

/// A hint for a name (mechanism, property key, ...).
pub(crate) fn case_hint(input: &str, candidates: &[&str]) -> Option<Hint> {
    hint(input, candidates, "names")
}

fn hint(input: &str, candidates: &[&str], noun: &'static str) -> Option<Hint> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(input)) {
        return Some(Hint {
            suggestion: (*c).to_owned(),
            case_only: true,
            noun,
        });
    }
    if input.len() < 3 || input.len() > MAX_HINT_INPUT {
        return None;
    }
    let lower = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= MAX_EDITS && *d < c.len() / 2 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| Hint {
            suggestion: (*c).to_owned(),
            case_only: false,
            noun,
        })
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        let envs = ["test", "azure", "gcp", "k8s"];
        assert_eq!(
            value_hint("Azure", &envs).unwrap().to_string(),
            " (values are case-sensitive: did you mean 'azure'?)"
        );
        assert_eq!(
            value_hint("azrue", &envs).unwrap().to_string(),
            " (did you mean 'azure'?)"
        );
        assert_eq!(value_hint("invalid", &envs), None);
        assert_eq!(value_hint("aws", &envs), None);
    }
}
