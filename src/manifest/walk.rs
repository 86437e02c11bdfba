//! Reading a spanned TOML document (`toml::de::DeTable`) by hand, so that one file can report
//! every unknown key, wrong type and missing key at once, each at its own span.
//!
//! Invariants: a table is read by taking its known keys out; whatever is left is reported as
//! unknown, with the nearest known key suggested. Readers never stop at the first problem: they
//! report it and return `None` for that value only.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::diagnostic::{Diagnostics, Pending, Site};
use super::suggest;

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// The diagnostics sink of one file being walked.
pub(crate) struct Cx<'d> {
    pub file: u32,
    pub diagnostics: &'d mut Diagnostics,
}

impl Cx<'_> {
    pub fn site(&self, span: Range<usize>) -> Site {
        Site {
            file: self.file,
            span,
        }
    }

    pub fn error(
        &mut self,
        span: Range<usize>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> &mut Pending {
        let site = self.site(span);
        self.diagnostics.report(site, rule, message)
    }

    /// How many diagnostics the run holds so far (to tell whether a part was read cleanly).
    pub fn count(&self) -> usize {
        self.diagnostics.len()
    }

    fn wrong_type(&mut self, span: Range<usize>, key: &str, expected: &str, found: &DeValue<'_>) {
        self.error(
            span,
            "wrong-type",
            format!(
                "wrong type for {key:?}: expected {expected}, found {}",
                type_name(found)
            ),
        );
    }

    /// A required string; reports a missing key at the table's span and a wrong type at the value.
    pub fn required_string<'i>(
        &mut self,
        fields: &mut Fields<'i>,
        key: &'static str,
    ) -> Option<Spanned<Cow<'i, str>>> {
        match fields.take(key) {
            Some(value) => self.string(value, key),
            None => {
                let (span, what) = (fields.span.clone(), fields.what);
                self.error(
                    span,
                    "missing-key",
                    format!("missing required key {key:?} in {what}"),
                )
                .help(format!("add `{key} = \"...\"`"));
                None
            }
        }
    }

    /// An optional string: `None` when absent or of the wrong type (reported).
    pub fn optional_string<'i>(
        &mut self,
        fields: &mut Fields<'i>,
        key: &'static str,
    ) -> Option<Spanned<Cow<'i, str>>> {
        let value = fields.take(key)?;
        self.string(value, key)
    }

    pub fn string<'i>(&mut self, value: Value<'i>, key: &str) -> Option<Spanned<Cow<'i, str>>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::String(text) => Some(Spanned::new(span, text)),
            other => {
                self.wrong_type(span, key, "a string", &other);
                None
            }
        }
    }

    /// An array of strings: every string element is passed to `each` with its span; elements of
    /// another type are reported. Returns the array's span if it was an array.
    pub fn strings<'v>(
        &mut self,
        value: &'v Value<'_>,
        key: &str,
        mut each: impl FnMut(&mut Self, &'v str, Range<usize>),
    ) -> Option<Range<usize>> {
        let span = value.span();
        match value.get_ref() {
            DeValue::Array(array) => {
                for element in array {
                    let element_span = element.span();
                    match element.get_ref() {
                        DeValue::String(text) => each(self, text, element_span),
                        other => self.wrong_type(
                            element_span,
                            key,
                            &format!("a string in the {key:?} array"),
                            other,
                        ),
                    }
                }
                Some(span)
            }
            other => {
                self.wrong_type(span, key, "an array of strings", other);
                None
            }
        }
    }

    /// An optional table (`[key]` or an inline table).
    pub fn table<'i>(
        &mut self,
        key_span: Range<usize>,
        value: Value<'i>,
        key: &str,
        what: &'static str,
    ) -> Option<Fields<'i>> {
        let span = header_span(key_span, value.span());
        match value.into_inner() {
            DeValue::Table(table) => Some(Fields { span, what, table }),
            other => {
                self.wrong_type(span, key, &format!("a table ({what})"), &other);
                None
            }
        }
    }

    /// An array of tables (`[[key]]` blocks or an inline array of inline tables).
    pub fn tables<'i>(
        &mut self,
        key_span: Range<usize>,
        value: Value<'i>,
        key: &str,
        what: &'static str,
    ) -> Vec<Fields<'i>> {
        let span = header_span(key_span, value.span());
        match value.into_inner() {
            DeValue::Array(array) => tables_of(self, array, key, what),
            other => {
                self.wrong_type(span, key, &format!("an array of tables ({what})"), &other);
                Vec::new()
            }
        }
    }

    /// An optional unsigned 32-bit integer.
    pub fn optional_u32(
        &mut self,
        fields: &mut Fields<'_>,
        key: &'static str,
    ) -> Option<(u32, Range<usize>)> {
        let value = fields.take(key)?;
        let span = value.span();
        match value.get_ref() {
            DeValue::Integer(integer) => {
                match u32::from_str_radix(integer.as_str(), integer.radix()) {
                    Ok(number) => Some((number, span)),
                    Err(_) => {
                        self.error(
                            span,
                            "invalid-setting",
                            format!(
                                "invalid {key} {integer}: expected a whole number from 0 to {}",
                                u32::MAX
                            ),
                        );
                        None
                    }
                }
            }
            other => {
                self.wrong_type(span, key, "an integer", other);
                None
            }
        }
    }
}

fn tables_of<'i>(
    cx: &mut Cx<'_>,
    array: DeArray<'i>,
    key: &str,
    what: &'static str,
) -> Vec<Fields<'i>> {
    let mut out = Vec::with_capacity(array.len());
    for element in array {
        let span = element.span();
        match element.into_inner() {
            DeValue::Table(table) => out.push(Fields { span, what, table }),
            other => cx.wrong_type(span, key, &format!("a table ({what})"), &other),
        }
    }
    out
}

/// The span to point at for a table: its header, or the key when the table has no header of its
/// own (a dotted key such as `pamform.state = ...` makes an implicit table with an empty span).
fn header_span(key_span: Range<usize>, value_span: Range<usize>) -> Range<usize> {
    if value_span.is_empty() {
        key_span
    } else {
        value_span
    }
}

/// "a string", "an integer", ... for messages.
pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A table being read. Known keys are taken out with [`Fields::take`]; [`Fields::finish`]
/// reports the rest as unknown.
pub(crate) struct Fields<'i> {
    /// The header (`[[team]]`) or inline table, pointed at for missing keys.
    pub span: Range<usize>,
    /// How the table is written, for messages: `[[team]]`, `[pamform.target]`, ...
    pub what: &'static str,
    table: DeTable<'i>,
}

impl<'i> Fields<'i> {
    /// The document root.
    pub fn root(table: DeTable<'i>) -> Self {
        Fields {
            span: 0..0,
            what: "the top-level table",
            table,
        }
    }

    pub fn take(&mut self, key: &str) -> Option<Value<'i>> {
        self.table.remove(key)
    }

    /// Like `take`, with the key's own span.
    pub fn take_with_key(&mut self, key: &str) -> Option<(Range<usize>, Value<'i>)> {
        self.table
            .remove_entry(key)
            .map(|(key, value)| (key.span(), value))
    }

    /// Reports every key not taken as unknown, suggesting the nearest of `known`.
    pub fn finish(self, cx: &mut Cx<'_>, known: &[&'static str]) {
        for (key, _) in self.table {
            let span = key.span();
            let name: &str = key.get_ref();
            let help = match suggest::nearest(name, known.iter().copied()) {
                Some(near) => format!("did you mean {near:?}?"),
                None => suggest::one_of(known.iter().copied()),
            };
            cx.error(
                span,
                "unknown-key",
                format!("unknown key {name:?} in {}", self.what),
            )
            .help(help);
        }
    }
}
