//! Diagnostics: collected as byte spans while files are walked, resolved to line and column once
//! at the end, rendered rustc-style with annotate-snippets.
//!
//! Invariants: every diagnostic of a run is kept (nothing stops at the first); the final list is
//! ordered by file (sorted by name) then by position; resolving positions reads each source once
//! (a sorted sweep), so thousands of diagnostics on one long line stay linear.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// One problem found in a manifest or seed: where, which rule, what is wrong, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or directory) concerned, as joined from the path the caller gave.
    pub path: PathBuf,
    /// 1-based line; 0 when the diagnostic concerns the whole file or directory.
    pub line: usize,
    /// 1-based column in characters; 0 when the diagnostic concerns the whole file or directory.
    pub column: usize,
    /// A short stable rule ID such as `unknown-key` (see the module documentation for the list).
    pub rule: &'static str,
    /// Lower-case: what is wrong and what is expected.
    pub message: String,
    /// How to fix it, if there is something specific to say.
    pub help: Option<String>,
    /// Further context, such as where a duplicate was first declared.
    pub notes: Vec<String>,
    /// The source line the diagnostic points into, if it points into a file.
    pub snippet: Option<SourceLine>,
}

/// A source line and the byte range the diagnostic marks within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The whole line without its line ending; shared by the diagnostics on the same line.
    pub text: Arc<str>,
    /// The marked bytes, within `text` (empty when the position is at the end of the line).
    pub span: Range<usize>,
}

impl Diagnostic {
    /// A diagnostic about a whole file or directory (IO errors and the like).
    pub(crate) fn whole(path: &Path, rule: &'static str, message: String) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            rule,
            message,
            help: None,
            notes: Vec::new(),
            snippet: None,
        }
    }

    /// Renders this diagnostic like rustc: title, location, source line with a caret, help and
    /// notes. No trailing newline. ANSI colours only when `color` is set.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let path = self.path.display().to_string();
        let title = Level::ERROR.primary_title(&self.message).id(self.rule);
        let window = self.snippet.as_ref().map(Window::of);
        let mut group = match &window {
            Some(window) => title.element(
                Snippet::source(window.text.as_ref())
                    .line_start(self.line)
                    .path(path.as_str())
                    .annotation(AnnotationKind::Primary.span(window.span.clone())),
            ),
            // Whole-file diagnostics name their path in the message.
            None => Group::with_title(title),
        };
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help));
        }
        for note in &self.notes {
            group = group.element(Level::NOTE.message(note));
        }
        let rendered = renderer.render(&[group]);
        match &window {
            // annotate-snippets computed the column within the window: put the real one back.
            Some(window) if window.cut_before => {
                let shown_column = window.text[..window.span.start].chars().count() + 1;
                rendered.replacen(
                    &format!("{path}:{}:{shown_column}\n", self.line),
                    &format!("{path}:{}:{}\n", self.line, self.column),
                    1,
                )
            }
            _ => rendered,
        }
    }
}

/// The part of a source line shown for a diagnostic. Long lines (a compact `members` array can
/// be megabytes) are cut to some context around the span, so rendering stays proportional to
/// what is shown, not to the line.
struct Window<'t> {
    text: std::borrow::Cow<'t, str>,
    span: Range<usize>,
    cut_before: bool,
}

impl<'t> Window<'t> {
    /// Lines up to this many bytes are shown whole.
    const WHOLE_LINE: usize = 240;
    /// Bytes of context kept on each side of the span, and the longest span shown.
    const CONTEXT: usize = 60;
    const LONGEST_SPAN: usize = 120;
    const CUT: &'static str = "...";

    fn of(snippet: &'t SourceLine) -> Window<'t> {
        let text: &str = &snippet.text;
        let span_start = floor_char_boundary(text, snippet.span.start);
        if text.len() <= Self::WHOLE_LINE {
            let span_end = floor_char_boundary(text, snippet.span.end).max(span_start);
            return Window {
                text: text.into(),
                span: span_start..span_end,
                cut_before: false,
            };
        }
        let span_end = floor_char_boundary(
            text,
            snippet
                .span
                .end
                .min(span_start.saturating_add(Self::LONGEST_SPAN)),
        )
        .max(span_start);
        let start = floor_char_boundary(text, span_start.saturating_sub(Self::CONTEXT));
        let end = ceil_char_boundary(text, span_end.saturating_add(Self::CONTEXT));
        let cut_before = start > 0;
        let mut shown = String::with_capacity(end - start + 2 * Self::CUT.len());
        if cut_before {
            shown.push_str(Self::CUT);
        }
        let offset = shown.len();
        shown.push_str(&text[start..end]);
        if end < text.len() {
            shown.push_str(Self::CUT);
        }
        Window {
            text: shown.into(),
            span: (span_start - start + offset)..(span_end - start + offset),
            cut_before,
        }
    }
}

/// Every diagnostic of a failed load. `Display` renders them all without colour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub diagnostics: Vec<Diagnostic>,
}

impl ManifestError {
    /// All diagnostics, rendered and separated by blank lines; no trailing newline.
    pub fn render(&self, color: bool) -> String {
        let rendered: Vec<String> = self.diagnostics.iter().map(|d| d.render(color)).collect();
        rendered.join("\n\n")
    }

    /// The rule IDs, in order (handy in tests and for `--json` output).
    pub fn rules(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.rule).collect()
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for ManifestError {}

/// A position in one of the run's sources: the file's index and a byte span in its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Site {
    pub file: u32,
    pub span: Range<usize>,
}

/// A note still to be resolved.
#[derive(Clone, Debug)]
pub(crate) enum Note {
    Text(String),
    /// "first declared at FILE:LINE:COLUMN" (or "first listed at", for array entries).
    First {
        site: Site,
        verb: &'static str,
    },
}

/// A diagnostic whose position is still a byte span.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub site: Site,
    pub rule: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub notes: Vec<Note>,
}

impl Pending {
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Self {
        self.notes.push(Note::Text(note.into()));
        self
    }

    /// A note pointing at the first declaration of a duplicate.
    pub fn first_declared(&mut self, site: Site) -> &mut Self {
        self.notes.push(Note::First {
            site,
            verb: "declared",
        });
        self
    }

    /// A note pointing at the first occurrence of a duplicate array entry.
    pub fn first_listed(&mut self, site: Site) -> &mut Self {
        self.notes.push(Note::First {
            site,
            verb: "listed",
        });
        self
    }
}

/// The run's sources: the path of each file and its text, kept until diagnostics are resolved.
#[derive(Default)]
pub(crate) struct Sources {
    pub paths: Vec<PathBuf>,
    /// `None` for a file that could not be read or decoded.
    pub texts: Vec<Option<String>>,
}

/// The diagnostics of a run, collected in any order.
#[derive(Default)]
pub(crate) struct Diagnostics {
    pending: Vec<Pending>,
    /// Diagnostics positioned already, with their sort key (file index, byte offset).
    resolved: Vec<((u32, usize), Diagnostic)>,
}

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.resolved.is_empty()
    }

    pub fn len(&self) -> usize {
        self.pending.len() + self.resolved.len()
    }

    /// Records a diagnostic at a span of a source; returns it for adding help and notes.
    pub fn report(
        &mut self,
        site: Site,
        rule: &'static str,
        message: impl Into<String>,
    ) -> &mut Pending {
        self.pending.push(Pending {
            site,
            rule,
            message: message.into(),
            help: None,
            notes: Vec::new(),
        });
        let last = self.pending.len() - 1;
        &mut self.pending[last]
    }

    /// Records a diagnostic positioned already (a file that could not be read or decoded);
    /// `file` and `offset` order it among the others.
    pub fn push_resolved(&mut self, file: u32, offset: usize, diagnostic: Diagnostic) {
        self.resolved.push(((file, offset), diagnostic));
    }

    /// Turns every span into line, column and source line, and returns the diagnostics ordered
    /// by file then position (stable for equal positions).
    pub fn finish(self, sources: &Sources) -> Vec<Diagnostic> {
        let Diagnostics { pending, resolved } = self;
        // Every position to resolve: (file, offset, which diagnostic, which note or the title).
        let mut queries: Vec<(u32, usize, usize, Option<usize>)> = Vec::new();
        for (index, diagnostic) in pending.iter().enumerate() {
            queries.push((
                diagnostic.site.file,
                diagnostic.site.span.start,
                index,
                None,
            ));
            for (note_index, note) in diagnostic.notes.iter().enumerate() {
                if let Note::First { site, .. } = note {
                    queries.push((site.file, site.span.start, index, Some(note_index)));
                }
            }
        }
        queries.sort_unstable_by_key(|&(file, offset, ..)| (file, offset));

        let mut titles: Vec<Option<Position>> = vec![None; pending.len()];
        let mut note_positions: Vec<(usize, usize, Position)> = Vec::new();
        let mut start = 0;
        while start < queries.len() {
            let file = queries[start].0;
            let end = start + queries[start..].partition_point(|q| q.0 == file);
            let text = sources
                .texts
                .get(file as usize)
                .and_then(Option::as_deref)
                .unwrap_or("");
            let mut sweep = Sweep::new(text);
            for &(_, offset, index, note) in &queries[start..end] {
                let position = sweep.position(offset);
                match note {
                    None => titles[index] = Some(position),
                    Some(note_index) => note_positions.push((index, note_index, position)),
                }
            }
            start = end;
        }
        let mut note_lookup: std::collections::HashMap<(usize, usize), Position> = note_positions
            .into_iter()
            .map(|(index, note, position)| ((index, note), position))
            .collect();

        let mut all: Vec<((u32, usize), Diagnostic)> = resolved;
        for (index, (diagnostic, title)) in pending.into_iter().zip(titles).enumerate() {
            let path_of = |file: u32| -> PathBuf {
                sources
                    .paths
                    .get(file as usize)
                    .cloned()
                    .unwrap_or_default()
            };
            let notes = diagnostic
                .notes
                .into_iter()
                .enumerate()
                .map(|(note_index, note)| match note {
                    Note::Text(text) => text,
                    Note::First { site, verb } => match note_lookup.remove(&(index, note_index)) {
                        Some(position) => format!(
                            "first {verb} at {}:{}:{}",
                            path_of(site.file).display(),
                            position.line,
                            position.column
                        ),
                        None => format!("first {verb} in {}", path_of(site.file).display()),
                    },
                })
                .collect();
            let site = diagnostic.site;
            // Invariant: every pending diagnostic had a title query, answered by the sweep.
            let position = title.unwrap_or_default();
            let snippet = position.text.clone().map(|text| {
                let line_len = text.len();
                let start = position.line_offset.min(line_len);
                let span_len = site.span.end.saturating_sub(site.span.start);
                let end = start.saturating_add(span_len).min(line_len);
                let end = floor_char_boundary(&text, end).max(start);
                SourceLine {
                    text,
                    span: start..end,
                }
            });
            all.push((
                (site.file, site.span.start),
                Diagnostic {
                    path: path_of(site.file),
                    line: position.line,
                    column: position.column,
                    rule: diagnostic.rule,
                    message: diagnostic.message,
                    help: diagnostic.help,
                    notes,
                    snippet,
                },
            ));
        }
        all.sort_by_key(|(key, _)| *key);
        all.into_iter().map(|(_, diagnostic)| diagnostic).collect()
    }
}

/// A resolved position: 1-based line and character column, the line's text and the byte offset
/// of the position within it.
#[derive(Clone, Debug, Default)]
struct Position {
    line: usize,
    column: usize,
    text: Option<Arc<str>>,
    line_offset: usize,
}

/// Resolves ascending byte offsets of one text to positions in a single pass.
struct Sweep<'t> {
    text: &'t str,
    line: usize,
    line_start: usize,
    /// Where the current line's `\n` is (or the end of the text).
    line_end: usize,
    /// An offset on the current line whose column is known, and that column.
    cursor: usize,
    column: usize,
    line_text: Option<Arc<str>>,
}

impl<'t> Sweep<'t> {
    fn new(text: &'t str) -> Self {
        Sweep {
            text,
            line: 1,
            line_start: 0,
            line_end: line_end(text, 0),
            cursor: 0,
            column: 1,
            line_text: None,
        }
    }

    fn position(&mut self, offset: usize) -> Position {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        while offset > self.line_end {
            self.line += 1;
            self.line_start = self.line_end + 1;
            self.line_end = line_end(self.text, self.line_start);
            self.cursor = self.line_start;
            self.column = 1;
            self.line_text = None;
        }
        if offset >= self.cursor {
            self.column += self.text[self.cursor..offset].chars().count();
        } else {
            // Only reached for an offset inside a multi-byte character's rounding; recount.
            self.column = 1 + self.text[self.line_start..offset].chars().count();
        }
        self.cursor = offset;
        let text = self
            .line_text
            .get_or_insert_with(|| {
                let line = &self.text[self.line_start..self.line_end];
                Arc::from(line.strip_suffix('\r').unwrap_or(line))
            })
            .clone();
        Position {
            line: self.line,
            column: self.column,
            text: Some(text),
            line_offset: offset - self.line_start,
        }
    }
}

fn line_end(text: &str, from: usize) -> usize {
    text[from..].find('\n').map_or(text.len(), |i| from + i)
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

pub(crate) fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(text: &str) -> Sources {
        Sources {
            paths: vec![PathBuf::from("dir/a.toml")],
            texts: vec![Some(text.to_owned())],
        }
    }

    #[test]
    fn positions_are_lines_and_character_columns() {
        let text = "a = 1\r\nb = \"é\" # x\nlast";
        let mut diagnostics = Diagnostics::default();
        for span in [16..17, 0..1, 11..15, 20..24, 100..100] {
            diagnostics.report(Site { file: 0, span }, "rule", "m");
        }
        let out = diagnostics.finish(&sources(text));
        let got: Vec<(usize, usize, &str, Range<usize>)> = out
            .iter()
            .map(|d| {
                let s = d.snippet.as_ref().unwrap();
                (d.line, d.column, &*s.text, s.span.clone())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1, "a = 1", 0..1),
                (2, 5, "b = \"é\" # x", 4..8),
                (2, 9, "b = \"é\" # x", 9..10),
                (3, 1, "last", 0..4),
                (3, 5, "last", 4..4),
            ]
        );
    }

    #[test]
    fn notes_name_the_first_declaration() {
        let text = "x\ny\nz";
        let mut diagnostics = Diagnostics::default();
        diagnostics
            .report(
                Site {
                    file: 0,
                    span: 4..5,
                },
                "duplicate-team",
                "dup",
            )
            .first_declared(Site {
                file: 0,
                span: 2..3,
            });
        let out = diagnostics.finish(&sources(text));
        assert_eq!(
            out[0].notes,
            vec!["first declared at dir/a.toml:2:1".to_owned()]
        );
        let rendered = out[0].render(false);
        assert!(rendered.contains("--> dir/a.toml:3:1"), "{rendered}");
        assert!(
            rendered.contains("= note: first declared at dir/a.toml:2:1"),
            "{rendered}"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_span_and_keep_the_real_column() {
        let line = format!("members = [{}\"b d\"]", "\"é\", ".repeat(10_000));
        let at = line.find("\"b d\"").unwrap();
        let mut diagnostics = Diagnostics::default();
        diagnostics.report(
            Site {
                file: 0,
                span: at..at + 5,
            },
            "invalid-id",
            "bad",
        );
        let out = diagnostics.finish(&sources(&line));
        let column = line[..at].chars().count() + 1;
        assert_eq!(out[0].column, column);
        for color in [false, true] {
            let rendered = out[0].render(color);
            assert!(
                rendered.contains(&format!("dir/a.toml:1:{column}\n")),
                "{rendered}"
            );
            assert!(rendered.len() < 600, "{rendered}");
        }
        let plain = out[0].render(false);
        assert!(plain.contains("1 | ...\"é\", "), "{plain}");
        assert!(plain.contains("\"é\", \"b d\"]\n"), "{plain}");
        assert!(plain.contains("^^^^^"), "{plain}");
    }

    #[test]
    fn whole_file_diagnostics_render_without_a_snippet() {
        let d = Diagnostic::whole(Path::new("m"), "io", "cannot read".into());
        assert_eq!(d.render(false), "error[io]: cannot read");
    }
}
