//! The `newsroom` binary.

use clap::Parser;
use newsroom_gateway::cli::{Cli, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logging starts in `run`, once the configuration says which format to write.
    run(Cli::parse()).await
}
