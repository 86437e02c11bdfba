//! Placeholder, replaced by the manifest module.
