//! Application-layer parsers, one folder per protocol.
