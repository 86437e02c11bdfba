//! Per-value authenticated encryption of secrets at rest (XChaCha20-Poly1305) and the key files
//! that hold the 32-byte keys.
//!
//! Invariants: a sealed value is `24-byte random nonce || ciphertext+tag`, bound by associated data
//! to the place it is stored, so a value moved to another row or field fails to open. A key never
//! prints itself (`Debug` is redacted) and is wiped on drop; key files are created with mode 0600
//! whatever the umask, and appear whole (written under a temporary name, then linked into place)
//! so concurrent creators agree on one key. No error message ever contains key material or a
//! secret.

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::Secret;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the random nonce that starts every sealed value.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag that ends every sealed value.
pub const TAG_LEN: usize = 16;

/// A 256-bit encryption key. Wiped on drop; `Debug` never shows it.
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    /// A fresh key from the operating system's CSPRNG (through `rand`'s thread-local generator).
    pub fn generate() -> Key {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        Key(bytes)
    }

    /// Parses 64 hexadecimal characters (surrounding white space ignored). Errors never echo the
    /// input.
    pub fn from_hex(text: &str) -> anyhow::Result<Key> {
        let text = text.trim();
        let count = text.chars().count();
        if count != KEY_LEN * 2 {
            bail!(
                "a key must be {} hexadecimal characters ({KEY_LEN} bytes), found {count} characters",
                KEY_LEN * 2
            );
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        let digits = text.as_bytes();
        for (i, byte) in bytes.iter_mut().enumerate() {
            let high = hex_value(digits[2 * i]);
            let low = hex_value(digits[2 * i + 1]);
            match (high, low) {
                (Some(high), Some(low)) => *byte = (high << 4) | low,
                _ => bail!(
                    "a key must be {} hexadecimal characters; the character at position {} is not 0-9 or a-f",
                    KEY_LEN * 2,
                    if high.is_none() { 2 * i + 1 } else { 2 * i + 2 }
                ),
            }
        }
        Ok(Key(bytes))
    }

    /// The key as 64 lower-case hexadecimal characters.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(KEY_LEN * 2);
        for byte in self.0.iter() {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// Reads the key file at `path`, or creates it with a new key (mode 0600, parent directories
    /// created). Returns whether this call created it. Safe against concurrent creators: the file
    /// is written under a temporary name and linked into place, so it appears whole, and a loser
    /// of the race reads the winner's key.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(Key, bool)> {
        match Key::load(path) {
            Ok(key) => return Ok((key, false)),
            Err(error) if !is_not_found(&error) => return Err(error),
            Err(_) => {}
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        let key = Key::generate();
        let temporary = temporary_sibling(path);
        let written = write_private_file(&temporary, &key).and_then(|()| {
            match fs::hard_link(&temporary, path) {
                Ok(()) => Ok(true),
                Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(false),
                Err(error) => {
                    Err(error).with_context(|| format!("cannot create key file {}", path.display()))
                }
            }
        });
        let _ = fs::remove_file(&temporary);
        if written? {
            Ok((key, true))
        } else {
            // Another process created it first: use its key.
            Ok((Key::load(path)?, false))
        }
    }

    /// Reads a key file (64 hexadecimal characters and a newline).
    pub fn load(path: &Path) -> anyhow::Result<Key> {
        let text = Zeroizing::new(
            fs::read_to_string(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?,
        );
        Key::from_hex(&text).with_context(|| format!("key file {} is not valid", path.display()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Encrypts `secret`, bound to `aad` (where it is stored, e.g. `account:<guid>/password`).
pub fn seal(key: &Key, aad: &str, secret: &Secret) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ciphertext = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret.expose().as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        // Invariant: XChaCha20-Poly1305 refuses only plaintexts over 256 GiB; secrets are short.
        .expect("XChaCha20-Poly1305 encrypts any plaintext under 256 GiB");
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Decrypts a value sealed by [`seal`] with the same key and `aad`. A wrong key, a different
/// `aad`, a changed byte or a short input all give the same clear error, never garbage.
pub fn open(key: &Key, aad: &str, sealed: &[u8]) -> anyhow::Result<Secret> {
    let failure = || {
        anyhow!(
            "cannot decrypt the secret stored at {aad} (wrong key, or the value was moved or altered)"
        )
    };
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(failure());
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let plaintext = key
        .cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| failure())?;
    match String::from_utf8(plaintext) {
        Ok(text) => Ok(Secret::new(text)),
        Err(error) => {
            error.into_bytes().zeroize();
            Err(anyhow!(
                "the secret stored at {aad} decrypted to bytes that are not UTF-8"
            ))
        }
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == ErrorKind::NotFound)
}

/// Creates a directory and its parents; new directories get mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

fn write_private_file(path: &Path, key: &Key) -> anyhow::Result<()> {
    let context = || format!("cannot create key file {}", path.display());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(context)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .with_context(context)?;
    let mut text = Zeroizing::new(key.to_hex());
    text.push('\n');
    file.write_all(text.as_bytes()).with_context(context)?;
    file.sync_all().with_context(context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> Secret {
        Secret::new(text.to_owned())
    }

    #[test]
    fn round_trip() {
        let key = Key::generate();
        let sealed = seal(&key, "account:G1/password", &secret("hunter2"));
        assert_eq!(sealed.len(), NONCE_LEN + "hunter2".len() + TAG_LEN);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        let opened = open(&key, "account:G1/password", &sealed).unwrap();
        assert_eq!(opened.expose(), "hunter2");
        // Random nonces: the same value seals differently every time.
        assert_ne!(
            sealed,
            seal(&key, "account:G1/password", &secret("hunter2"))
        );
    }

    #[test]
    fn wrong_key_wrong_aad_and_tampering_fail_clearly() {
        let key = Key::generate();
        let sealed = seal(&key, "a", &secret("hunter2"));
        let check = |result: anyhow::Result<Secret>| {
            let message = format!("{:#}", result.unwrap_err());
            assert!(message.contains("cannot decrypt"), "{message}");
            assert!(message.contains("wrong key"), "{message}");
            assert!(!message.contains("hunter2"));
        };
        check(open(&Key::generate(), "a", &sealed));
        check(open(&key, "b", &sealed));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            check(open(&key, "a", &tampered));
        }
        for len in 0..sealed.len() {
            check(open(&key, "a", &sealed[..len]));
        }
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let key = Key::generate();
        let text = key.to_hex();
        assert_eq!(text.len(), 64);
        let again = Key::from_hex(&format!("  {text}\n")).unwrap();
        assert_eq!(again.to_hex(), text);
        assert_eq!(Key::from_hex(&text.to_uppercase()).unwrap().to_hex(), text);

        let short = Key::from_hex("abcd").unwrap_err().to_string();
        assert!(short.contains("64 hexadecimal"), "{short}");
        assert!(!short.contains("abcd"));
        let bad = format!("{}zz", &text[..62]);
        let message = Key::from_hex(&bad).unwrap_err().to_string();
        assert!(message.contains("position 63"), "{message}");
        assert!(!message.contains(&text[..62]));
        // Multi-byte characters count as characters, not bytes.
        let wide = "é".repeat(64);
        assert!(Key::from_hex(&wide).is_err());
        assert!(Key::from_hex(&"é".repeat(32)).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let key = Key::generate();
        let shown = format!("{key:?}");
        assert_eq!(shown, "Key(<redacted>)");
        assert!(!shown.contains(&key.to_hex()));
    }

    #[test]
    fn key_file_is_created_private_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/target.db.key");
        let (key, created) = Key::load_or_create(&path).unwrap();
        assert!(created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", key.to_hex()));
        let (again, created) = Key::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.to_hex(), key.to_hex());
        assert_eq!(Key::load(&path).unwrap().to_hex(), key.to_hex());
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let keys: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| Key::load_or_create(&path).unwrap()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().0.to_hex())
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        assert_eq!(Key::load(&path).unwrap().to_hex(), keys[0]);
    }

    #[test]
    fn bad_key_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(&path, "not a key").unwrap();
        let message = format!("{:#}", Key::load(&path).unwrap_err());
        assert!(message.contains("bad.key"), "{message}");
        assert!(!message.contains("not a key"), "{message}");
        let message = format!("{:#}", Key::load_or_create(&path).unwrap_err());
        assert!(message.contains("bad.key"), "{message}");
        let missing = dir.path().join("missing.key");
        let message = format!("{:#}", Key::load(&missing).unwrap_err());
        assert!(message.contains("missing.key"), "{message}");
    }
}
