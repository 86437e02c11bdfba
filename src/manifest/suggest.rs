//! "Did you mean ...?" suggestions: the nearest of a set of known words to a misspelt one.
//!
//! Invariant: a suggestion is offered only when it is close (a case-insensitive match, or an edit
//! distance of at most a third of the word's length, at least 1), so help never points far away.

/// The closest candidate to `word`: a case-insensitive exact match first, then the smallest
/// optimal-string-alignment distance (a transposition counts as one edit) within the threshold.
/// Ties go to the earliest candidate, so the answer is deterministic.
pub(crate) fn nearest<'c, I>(word: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
    I::IntoIter: Clone,
{
    let candidates = candidates.into_iter();
    if let Some(exact) = candidates.clone().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(exact);
    }
    let lowered: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let threshold = (lowered.len() / 3).max(1);
    let mut best: Option<(usize, &'c str)> = None;
    for candidate in candidates {
        let other: Vec<char> = candidate.chars().flat_map(char::to_lowercase).collect();
        if other.len().abs_diff(lowered.len()) > threshold {
            continue;
        }
        let distance = edit_distance(&lowered, &other);
        if distance <= threshold && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
/// two adjacent characters each cost one. O(len(a) * len(b)) time, O(len(b)) memory.
pub(crate) fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut before_previous: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(before_previous[j - 2] + 1);
            }
            current[j] = value;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[width - 1]
}

/// `expected one of: a, b, c` for help lines when no single candidate is near.
pub(crate) fn one_of<'c>(candidates: impl IntoIterator<Item = &'c str>) -> String {
    let list: Vec<&str> = candidates.into_iter().collect();
    format!("expected one of: {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b)
    }

    #[test]
    fn distances() {
        for (a, b, expected) in [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("name", "name", 0),
            ("nmae", "name", 1),
            ("member", "members", 1),
            ("kitten", "sitting", 3),
            ("ca", "abc", 3),
            ("é", "e", 1),
        ] {
            assert_eq!(distance(a, b), expected, "{a:?} -> {b:?}");
        }
    }

    #[test]
    fn suggestions() {
        let privileges = ["Approvers", "Requesters", "OTP_Trustees", "Team_Trustees"];
        let cases = [
            ("otp_trustees", Some("OTP_Trustees")),
            ("Team_Trustee", Some("Team_Trustees")),
            ("Requestors", Some("Requesters")),
            ("approver", Some("Approvers")),
            ("Nothing_Like_It", None),
            ("", None),
            ("x", None),
        ];
        for (word, expected) in cases {
            assert_eq!(nearest(word, privileges), expected, "{word:?}");
        }
        assert_eq!(nearest("nmae", ["name", "members"]), Some("name"));
        assert_eq!(
            nearest("descripton", ["id", "description"]),
            Some("description")
        );
        assert_eq!(nearest("id", ["name", "team"]), None);
    }

    #[test]
    fn ties_go_to_the_first_candidate() {
        assert_eq!(nearest("bat", ["cat", "hat"]), Some("cat"));
    }

    #[test]
    fn lists() {
        assert_eq!(one_of(["a", "b"]), "expected one of: a, b");
    }
}
