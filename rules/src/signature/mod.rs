//! Suricata-syntax signatures.
