//! Remotes: where dvx pushes objects and refs and fetches them from, with no server.
//!
//! Owns: the remote abstraction over `object_store` (directory, S3 and S3-compatible,
//! GCS, Azure). The rest of dvx is synchronous; tokio stays inside this room.
//!
//! Rooms: [`url`] (what a remote URL names), [`settings`] (per-remote settings and
//! credentials; secrets never shown), [`backend`] (the client, retries and timeouts),
//! [`pack`] and [`pack_index`] (small objects, many to a remote file), [`large`] (large
//! objects as zstd frames with a seek table), [`layout`] (key names, `dvx-remote.toml`),
//! [`refs`] (branches and tags, moved by create-if-absent).

pub mod backend;
pub mod large;
pub mod layout;
pub mod pack;
pub mod pack_index;
pub mod refs;
pub mod settings;
pub mod url;

pub use backend::Backend;
pub use layout::Manifest;
pub use refs::{RefKind, RemoteRef};
pub use settings::{Credentials, Environment, Secret, Settings};
pub use url::{Kind, RemoteUrl};
