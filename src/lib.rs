//! dvx: data versioning inside a git repository.
//!
//! A content-addressed object store (BLAKE3), a commit graph of dataset versions with
//! branches and tags, and a lazy working tree. The modules below are listed in dependency
//! order: each uses only the ones above it. The library never prints; the `dvx` binary's
//! `cli` turns the reports these functions return into text, JSON and progress bars.

// Tests build states by hand (hostile work trees, damaged stores) with plain `std::fs`.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

// Fault injection must never ship: a build with it is a test build.
#[cfg(all(feature = "failpoints", not(debug_assertions)))]
compile_error!("the `failpoints` feature is for tests only; release builds never contain it");

pub mod atomic;
pub mod progress;
pub mod hash;
pub mod stat;
pub mod path;
pub mod object;
pub mod store;
pub mod refs;
pub mod repo;
pub mod git;
pub mod index;
pub mod fsmonitor;
pub mod history;
pub mod workspace;
pub mod gc;
pub mod remote;
pub mod flow;
pub mod lineage;
pub mod lazy;
pub mod sync;
