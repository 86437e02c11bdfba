//! Placeholder, replaced by the crypto module.
