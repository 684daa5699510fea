//! End-to-end tests: the real `dvx` binary in a sealed environment (private HOME, no
//! global or system git config, fixed identity and clock), against the real `git`.
//!
//! One test binary (faster to link); one module per area.

mod harness;

mod add_status;
mod bad_input;
mod checkout_restore;
mod crash;
mod data_safety;
mod git_integration;
mod history;
mod merge_gc;
mod property;
mod review;
mod tracked_paths;
