//! What the UDP shims (udp4, udp6) add to the shared shim core: where
//! names are found (PROTOCOL.md §4.3).

pub mod directory;
