//! `twig`: the server, and the operator commands that act on its data directory.

mod analytics_bench;
mod bench;
mod bench_answer;
mod bench_ingest;
mod bench_scale;
mod cli;
mod config;
mod ingest;
mod metrics;
mod models;
mod rerank;
mod retrieval;
mod serve;
mod slack;
mod telemetry;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
