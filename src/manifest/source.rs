//! Getting manifest text off the disk: listing a directory's `*.toml` files, reading each under
//! the size limit, decoding UTF-8 (a leading BOM is dropped) and parsing TOML with spans.
//!
//! Invariants: no file larger than the limit is read into memory (the size is checked before
//! reading and the read itself is capped); every failure becomes a diagnostic naming the path
//! and the cause, never a panic.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::diagnostic::{Diagnostic, Diagnostics, Site, floor_char_boundary};

/// Files larger than this are refused (64 MiB).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The `*.toml` files directly in `dir` (regular files, symlinks followed), sorted by name.
pub(crate) fn list_toml_files(dir: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let entries = fs::read_dir(dir).map_err(|e| {
        whole(
            dir,
            "io",
            format!("cannot read manifest directory {}: {e}", dir.display()),
        )
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            whole(
                dir,
                "io",
                format!("cannot list manifest directory {}: {e}", dir.display()),
            )
        })?;
        let name = entry.file_name();
        if Path::new(&name).extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let path = dir.join(&name);
        // Follow symlinks; skip directories and other non-files named *.toml.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => names.push(name),
            Ok(_) => {}
            Err(e) => {
                return Err(whole(
                    &path,
                    "io",
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        }
    }
    names.sort();
    Ok(names.into_iter().map(|name| dir.join(name)).collect())
}

fn whole(path: &Path, rule: &'static str, message: String) -> Box<Diagnostic> {
    Box::new(Diagnostic::whole(path, rule, message))
}

/// Reads a file of at most `limit` bytes.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, Box<Diagnostic>> {
    let io_error =
        |e: std::io::Error| whole(path, "io", format!("cannot read {}: {e}", path.display()));
    let too_large = |size: u64| {
        let mut d = whole(
            path,
            "file-too-large",
            format!(
                "file {} is {size} bytes, over the limit of {limit} bytes ({} MiB) per file",
                path.display(),
                limit / (1024 * 1024)
            ),
        );
        d.help = Some("split the declarations over several files".into());
        d
    };
    let file = fs::File::open(path).map_err(io_error)?;
    let size = file.metadata().map_err(io_error)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let capacity = usize::try_from(size).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Decodes UTF-8 and drops a leading byte order mark. On invalid UTF-8, the diagnostic points at
/// the first bad byte.
pub(crate) fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Box<Diagnostic>> {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line_start = bytes[..valid]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let line_end = bytes[valid..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| valid + i);
            let prefix = String::from_utf8_lossy(&bytes[line_start..valid]);
            let line = 1 + bytes[..line_start].iter().filter(|&&b| b == b'\n').count();
            let column = 1 + prefix.chars().count();
            let mut d = whole(
                path,
                "encoding",
                format!(
                    "file {} is not valid UTF-8: invalid byte 0x{:02x} at byte offset {valid}",
                    path.display(),
                    bytes.get(valid).copied().unwrap_or(0)
                ),
            );
            d.line = line;
            d.column = column;
            // Show the line decoded lossily, capped so a huge binary "line" stays readable.
            let shown_end = line_end.min(valid + 80);
            let text = String::from_utf8_lossy(&bytes[line_start..shown_end]);
            let text = text.strip_suffix('\r').unwrap_or(&text);
            let start = prefix.len().min(text.len());
            let end = floor_char_boundary(
                text,
                start + text[start..].chars().next().map_or(0, char::len_utf8),
            );
            d.snippet = Some(super::SourceLine {
                text: text.into(),
                span: start..end,
            });
            d.help = Some("save the file as UTF-8".into());
            Err(d)
        }
    }
}

/// Parses TOML keeping spans; a syntax error is reported at its span.
pub(crate) fn parse<'i>(
    text: &'i str,
    file: u32,
    diagnostics: &mut Diagnostics,
) -> Option<DeTable<'i>> {
    match DeTable::parse(text) {
        Ok(table) => Some(table.into_inner()),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end();
            let message = lower_first(message);
            diagnostics.report(
                Site { file, span },
                "syntax",
                format!("invalid TOML: {message}"),
            );
            None
        }
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first)
            if first.is_uppercase() && !chars.clone().next().is_some_and(char::is_uppercase) =>
        {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_checked_before_and_during_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        fs::write(&path, "x = 1\n").unwrap();
        assert_eq!(read_limited(&path, 6).unwrap(), b"x = 1\n");
        let err = read_limited(&path, 5).unwrap_err();
        assert_eq!(err.rule, "file-too-large");
        assert!(err.message.contains("6 bytes"), "{}", err.message);
    }

    #[test]
    fn bom_is_dropped_and_bad_utf8_is_located() {
        let text = decode(Path::new("a.toml"), b"\xef\xbb\xbfx = 1".to_vec()).unwrap();
        assert_eq!(text, "x = 1");
        let err = decode(Path::new("a.toml"), b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        assert_eq!((err.rule, err.line, err.column), ("encoding", 2, 6));
        assert!(err.message.contains("0xff"), "{}", err.message);
    }

    #[test]
    fn messages_start_lower_case() {
        assert_eq!(lower_first("Invalid key"), "invalid key");
        assert_eq!(lower_first("TOML thing"), "TOML thing");
        assert_eq!(lower_first(""), "");
    }
}
