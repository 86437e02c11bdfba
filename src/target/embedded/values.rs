//! Fresh values the embedded target mints: unguessable identifiers, random passwords and one-time
//! passwords, and timestamps.
//!
//! Invariants: every identifier carries 122 random bits (UUID v4), so IDs are unique and cannot be
//! guessed from earlier ones; passwords come from the thread-local CSPRNG and use an alphabet that
//! needs no quoting in a shell or a CSV field. Times are whole seconds since the Unix epoch (UTC).

use rand::Rng;

use crate::secret::Secret;

/// Length of every generated password and one-time password.
pub const PASSWORD_LEN: usize = 24;

/// Letters and digits without look-alikes, plus punctuation that needs no quoting.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.+=@";

/// An identifier such as `BATCH-3F2A...`: a prefix and 32 upper-case hexadecimal digits.
pub fn new_id(prefix: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("{prefix}-{uuid}")
}

/// A GUID in the product's form: upper-case, hyphenated.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}

/// A new random password (also used for one-time passwords).
pub fn new_password() -> Secret {
    let mut rng = rand::rng();
    let text: String = (0..PASSWORD_LEN)
        .map(|_| char::from(PASSWORD_ALPHABET[rng.random_range(0..PASSWORD_ALPHABET.len())]))
        .collect();
    Secret::new(text)
}

/// Seconds since the Unix epoch, from the system clock.
pub fn system_now() -> i64 {
    crate::clock::unix_now()
}

/// `2024-05-01T12:34:56Z` for seconds since the Unix epoch.
pub fn rfc3339(seconds: i64) -> String {
    crate::clock::format_unix(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_714_566_896), "2024-05-01T12:34:56Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn passwords_are_long_random_and_plain() {
        let a = new_password();
        let b = new_password();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), PASSWORD_LEN);
        assert!(a.expose().bytes().all(|c| PASSWORD_ALPHABET.contains(&c)));
    }

    #[test]
    fn identifiers_are_unique_and_prefixed() {
        let a = new_id("BATCH");
        assert!(a.starts_with("BATCH-"));
        assert_eq!(a.len(), "BATCH-".len() + 32);
        assert_ne!(a, new_id("BATCH"));
        assert_eq!(new_guid().len(), 36);
    }
}
