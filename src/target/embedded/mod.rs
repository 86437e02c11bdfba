//! Placeholder, replaced by the embedded target.
