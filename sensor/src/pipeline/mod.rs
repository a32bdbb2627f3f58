//! pipeline stage.
