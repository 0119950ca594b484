//! Harness for the end-to-end traffic tests (`tests/e2e_nft.rs`): namespaces, servers and
//! clients. The Python helpers beside this file run inside the namespaces.

pub mod netns;
pub mod traffic;
