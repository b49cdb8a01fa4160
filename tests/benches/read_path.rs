//! `make bench`: read-path latency at the database level over 100,000 articles, on SQLite and,
//! when `TEST_POSTGRES_URL` is set, on PostgreSQL (in a database of its own, dropped afterwards).
//!
//! It measures exactly the statements the GraphQL resolvers run: the home page (20 newest
//! articles with their channels, sources and tags, as the dataloaders batch them) and an article
//! by slug (the article, its source, its tags and 10 related articles), over random slugs.
//! Timings are printed, never asserted.

use std::time::{Duration, Instant};

use anyhow::Context;
use newsroom_domain::{
    articles::{self, ArticleFilter, ArticleOrder, Audience},
    catalog,
    pagination::PageRequest,
};
use newsroom_tests::{
    Backend, TestDb,
    corpus::{self, ARTICLES},
    postgres_configured,
};
use rand::{SeedableRng, rngs::StdRng, seq::IndexedRandom};

const ITERATIONS: usize = 2_000;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("read-path benchmark: {ARTICLES} articles, {ITERATIONS} iterations per query, {cores} cores");
        run(Backend::Sqlite).await?;
        if postgres_configured() {
            run(Backend::Postgres).await?;
        } else {
            println!("\nPostgreSQL: skipped (set TEST_POSTGRES_URL)");
        }
        anyhow::Ok(())
    })
}

async fn run(backend: Backend) -> anyhow::Result<()> {
    let (test_db, db) = TestDb::create(backend).await?;
    let started = Instant::now();
    let (slugs, now) = corpus::seed(&db).await?;
    println!(
        "\n{backend:?}: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(7);

    let home = measure(|| async {
        let page = articles::list(
            &db,
            now,
            Audience::Reader,
            &ArticleFilter::default(),
            ArticleOrder::Newest,
            &PageRequest::first(20),
        )
        .await?;
        let channel_ids: Vec<i64> = page.items.iter().map(|a| a.channel_id).collect();
        let source_ids: Vec<i64> = page.items.iter().filter_map(|a| a.source_id).collect();
        let article_ids: Vec<i64> = page.items.iter().map(|a| a.id).collect();
        catalog::channels_by_ids(&db, &channel_ids).await?;
        catalog::sources_by_ids(&db, &source_ids).await?;
        catalog::tags_of_articles(&db, &article_ids).await?;
        anyhow::ensure!(page.items.len() == 20, "home page short");
        Ok(())
    })
    .await?;
    report("home page: 20 newest + channels, sources, tags", &home);

    let picks: Vec<String> = (0..ITERATIONS)
        .filter_map(|_| slugs.choose(&mut rng).cloned())
        .collect();
    let mut next = picks.iter().cycle();
    let by_slug = measure(|| {
        let slug = next.next().cloned().unwrap_or_default();
        let db = &db;
        async move {
            let a = articles::by_slug(db, now, Audience::Reader, &slug)
                .await?
                .context("article")?;
            if let Some(source) = a.source_id {
                catalog::sources_by_ids(db, &[source]).await?;
            }
            catalog::tags_of_articles(db, &[a.id]).await?;
            let related = articles::related(db, now, articles::Audience::Reader, &a, 10).await?;
            anyhow::ensure!(related.len() == 10, "related short");
            Ok(())
        }
    })
    .await?;
    report("article by slug + source, tags, 10 related", &by_slug);

    let deep = measure(|| async {
        let filter = ArticleFilter {
            channel: Some("channel-07".into()),
            ..ArticleFilter::default()
        };
        articles::list(
            &db,
            now,
            Audience::Reader,
            &filter,
            ArticleOrder::Newest,
            &PageRequest::first(20),
        )
        .await?;
        Ok(())
    })
    .await?;
    report("channel page: 20 newest in one channel", &deep);
    db.close().await?;
    drop(test_db);
    Ok(())
}

async fn measure<F, Fut>(mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..50 {
        f().await?;
    }
    let mut times = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f().await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

fn report(name: &str, sorted: &[Duration]) {
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    let mean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
    println!(
        "  {name:<48} mean {:>7.3} ms  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        ms(mean),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(sorted[sorted.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
