//! Git hooks that keep data in step with code (filled in by the git-integration work).
