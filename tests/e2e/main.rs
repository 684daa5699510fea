//! End-to-end tests: the real `dvx` binary in a sealed environment (private HOME, no
//! global or system git config, fixed identity and clock), against the real `git`.
//!
//! One test binary (faster to link); one module per area.

// Tests build hostile and damaged states by hand with plain `std::fs`; only dvx itself
// must write through `dvx::atomic`.
#![allow(clippy::disallowed_methods)]

mod harness;
mod s3_server;

mod add_links;
mod add_status;
mod bad_input;
mod checkout_force;
mod checkout_restore;
mod completion;
mod concurrency;
mod crash;
mod crash_points;
mod data_safety;
mod disk_full;
mod fault_proxy;
mod decoders;
mod fixtures;
mod fsmonitor;
mod follow_git;
mod git_integration;
mod git_pin;
mod hardening;
mod history;
mod hostile_trees;
mod hostile_worktree;
mod lineage;
mod lineage_errors;
mod merge_gc;
mod merge_per_file;
mod object_source;
mod property;
mod races;
mod remote_bytes;
mod remote_config;
mod remote_conformance;
mod remote_faults;
mod reset;
mod review;
mod rough_edges;
mod secrets;
mod symlinked_dirs;
mod sync;
mod sync_errors;
mod sync_setup;
mod tracked_paths;
mod worktree_branches;
