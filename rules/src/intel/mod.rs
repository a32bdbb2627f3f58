//! Indicator sets and their loaders.
