//! Renderers: each writes one format of a value to a `Write`, and nothing else.
//!
//! Invariants: no renderer reads the clock, the environment or a file; data goes to the writer it
//! is given (the CLI passes stdout), so output is deterministic and testable.

pub mod json;
pub mod markdown;
pub mod text;

pub use text::Styles;
