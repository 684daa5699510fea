//! `dvx install-hooks` and `dvx uninstall-hooks`.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use super::hint::Hinted;

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Hooks check out data fully instead of lazily.
    #[arg(long)]
    eager: bool,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {}

pub fn install(_ctx: &Ctx, _args: InstallArgs) -> Result<ExitCode> {
    Err(Hinted::new("install-hooks is not available yet", "see the README").into())
}

pub fn uninstall(_ctx: &Ctx, _args: UninstallArgs) -> Result<ExitCode> {
    Err(Hinted::new("uninstall-hooks is not available yet", "see the README").into())
}
