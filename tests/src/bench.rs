//! What the benchmarks share: running on each backend in turn and printing timings.

use std::time::Duration;

use crate::{Backend, postgres_configured};

/// Runs `run` on SQLite and, when `TEST_POSTGRES_URL` is set, on PostgreSQL, on a two-thread
/// runtime, after printing `banner` and the number of cores.
pub fn on_each_backend<F, Fut>(banner: &str, run: F) -> anyhow::Result<()>
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("{banner}, {cores} cores");
        // `BENCH_BACKENDS=postgres` (or `sqlite`) runs one of them only.
        let only = std::env::var("BENCH_BACKENDS").unwrap_or_default();
        let wanted = |name: &str| only.is_empty() || only.split(',').any(|b| b.trim() == name);
        if wanted("sqlite") {
            run(Backend::Sqlite).await?;
        }
        if wanted("postgres") {
            if postgres_configured() {
                run(Backend::Postgres).await?;
            } else {
                println!("\nPostgreSQL: skipped (set TEST_POSTGRES_URL)");
            }
        }
        anyhow::Ok(())
    })
}

/// Prints the mean, median, 99th percentile and maximum of `times` (sorting them).
pub fn report(name: &str, times: &mut [Duration]) {
    if times.is_empty() {
        println!("  {name}: no samples");
        return;
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "  {name:<48} mean {:>7.3} ms  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        ms(mean),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(times[times.len() - 1])
    );
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
